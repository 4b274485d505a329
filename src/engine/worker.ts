/**
 * The worker: one process schedules, marks late runs, dispatches, executes, renews leases and
 * reaps dead holders. Event-driven: a finished run triggers dispatch at once, and changes made by
 * other processes are noticed through the store's data version within about POLL_MS.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { StoreError } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import type { Clock, TimerHandle } from '../time/clock.js';
import type { ExecutableRun, Outcome, RunHandle, Runner } from './runner.js';
import { schedulerPass } from './scheduler.js';

export interface WorkerOptions {
  pool: string;
  queues?: string[];
  /** Most runs this worker executes at once (Infinity = no worker limit). */
  limit: number;
  leaseSeconds: number;
  runOnce?: boolean;
  /** Extra environment for every flow process (agent socket, home...). */
  flowEnv: Record<string, string>;
  name?: string;
  pollMs?: number;
  schedulerEveryMs?: number;
}

export interface WorkerEvents {
  transition: [{ runId: string; runName: string; deployment: string; state: string; message?: string }];
  log: [{ runId: string; stream: 'stdout' | 'stderr'; line: string }];
  error: [Error];
  idle: [];
}

const DEFAULT_POLL_MS = 50;
const MAX_IDLE_MS = 250;
const LATE_EVERY_MS = 1000;
const LOG_FLUSH_MS = 100;
/** Longest pause between retries of a store write that must not be lost. */
const RETRY_MAX_BACKOFF_MS = 2000;
const ACTIVE_STATE_TYPES = new Set(['PENDING', 'RUNNING', 'CANCELLING']);

/** "database is locked" past the busy timeout: worth retrying, unlike a corrupt or newer database. */
function isLockContention(error: unknown): boolean {
  const code = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return error instanceof StoreError && typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)/.test(code);
}

interface Active {
  run: ExecutableRun;
  handle?: RunHandle;
  cancelling: boolean;
  /** Its process has ended and its final state is being recorded. */
  finishing?: boolean;
}

export class Worker extends EventEmitter<WorkerEvents> {
  readonly id = randomUUID();
  private readonly active = new Map<string, Active>();
  private stopping = false;
  private ticking = false;
  private again = false;
  private timer: TimerHandle | undefined;
  private lastDataVersion = -1;
  private lastScheduler = -Infinity;
  private lastLate = -Infinity;
  private lastHeartbeat = -Infinity;
  private readonly logBuffer = new Map<string, { timestamp: number; stream: 'stdout' | 'stderr'; line: string }[]>();
  private logTimer: TimerHandle | undefined;
  private finishedWaiters: (() => void)[] = [];
  private finishedCount = 0;
  /** runOnce calls in flight: stop() lets them finish so no claimed run is left behind. */
  private readonly steps = new Set<Promise<void>>();
  readonly stats = { claimed: 0, completed: 0, failed: 0, crashed: 0, cancelled: 0, awaiting: 0, late: 0 };

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly runner: Runner,
    private readonly opts: WorkerOptions,
  ) {
    super();
  }

  get activeCount(): number {
    return this.active.size;
  }

  async start(): Promise<void> {
    await this.store.registerWorker({ id: this.id, name: this.opts.name ?? `${os.hostname()}-${process.pid}`, pool: this.opts.pool, pid: process.pid }, this.clock.now());
    this.lastHeartbeat = this.clock.now();
    this.wake();
  }

  /** One deterministic step: schedule, mark late, dispatch and start what may start. */
  async runOnce(): Promise<void> {
    const step = this.step();
    this.steps.add(step);
    try {
      await step;
    } finally {
      this.steps.delete(step);
    }
  }

  private async step(): Promise<void> {
    const now = this.clock.now();
    if (!this.stopping && now - this.lastScheduler >= (this.opts.schedulerEveryMs ?? 10_000)) {
      this.lastScheduler = now;
      const pass = await schedulerPass(this.store, now, this.opts.pool);
      for (const e of pass.errors) this.emit('error', new Error(`schedule ${e.scheduleId}: ${e.message}`));
    }
    if (now - this.lastLate >= LATE_EVERY_MS) {
      this.lastLate = now;
      this.stats.late += (await this.store.markLateRuns(now)).length;
    }
    if (now - this.lastHeartbeat >= (this.opts.leaseSeconds * 1000) / 3) {
      // a fresh time: the calls above may have waited for the lock; a failed heartbeat is retried next step
      const at = this.clock.now();
      await this.store.heartbeatWorker(this.id, at + this.opts.leaseSeconds * 1000, at);
      this.lastHeartbeat = at;
    }
    await this.handleCancels();
    if (this.stopping) return;
    const capacity = Math.max(0, this.opts.limit - this.active.size);
    const result = await this.store.dispatch(
      { pool: this.opts.pool, workerId: this.id, capacity, leaseMs: this.opts.leaseSeconds * 1000, ...(this.opts.queues ? { queues: this.opts.queues } : {}) },
      this.clock.now(), // not `now`: a lease dated before earlier calls waited for the lock could be born expired
    );
    this.stats.awaiting += result.awaiting.length;
    for (const id of [...result.cancelled, ...result.awaiting, ...result.reaped.crashed]) void this.announce(id);
    for (const id of result.claimed) await this.execute(id);
  }

  /** Repeats runOnce until nothing is due and no run is active (tests and --run-once). */
  async runUntilIdle(): Promise<void> {
    for (;;) {
      const finishedBefore = this.finishedCount;
      await this.runOnce();
      // a run that finished during the step freed a slot the step could not see: step again
      if (this.finishedCount !== finishedBefore) continue;
      if (this.active.size === 0) return;
      await new Promise<void>((resolve) => this.finishedWaiters.push(resolve));
    }
  }

  /** Stop taking runs; wait up to graceMs for running flows, then terminate them. No run is left Pending or Running. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    // a step in flight may be starting runs it claimed: let it, so they are all in `active` below
    await Promise.allSettled([...this.steps]);
    const deadline = this.clock.now() + graceMs;
    while (this.active.size > 0 && this.clock.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = this.clock.setTimeout(resolve, Math.min(200, deadline - this.clock.now()));
        this.finishedWaiters.push(() => {
          this.clock.clearTimeout(t);
          resolve();
        });
      });
    }
    for (const a of this.active.values()) a.handle?.terminate('shutdown', 3000);
    while (this.active.size > 0) await new Promise<void>((resolve) => this.finishedWaiters.push(resolve));
    await this.flushLogs();
    await this.store.stopWorker(this.id, this.clock.now());
  }

  /** Ask for a tick as soon as possible. */
  wake(): void {
    if (this.ticking) {
      this.again = true;
      return;
    }
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => void this.loop(), 0);
  }

  private async loop(): Promise<void> {
    this.timer = undefined;
    if (this.ticking) return;
    this.ticking = true;
    try {
      do {
        this.again = false;
        await this.runOnce();
      } while (this.again && !this.stopping);
    } catch (error) {
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.ticking = false;
    }
    if (this.opts.runOnce && this.active.size === 0) {
      this.emit('idle');
      return;
    }
    if (!this.stopping) this.timer = this.clock.setTimeout(() => void this.poll(this.clock.now()), this.opts.pollMs ?? DEFAULT_POLL_MS);
  }

  /** Cheap probe: tick when another process committed something, or at least every MAX_IDLE_MS. */
  private async poll(since: number): Promise<void> {
    this.timer = undefined;
    if (this.stopping) return;
    try {
      const version = await this.store.dataVersion();
      if (version !== this.lastDataVersion || this.clock.now() - since >= MAX_IDLE_MS) {
        this.lastDataVersion = version;
        return void this.loop();
      }
    } catch (error) {
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
    }
    this.timer = this.clock.setTimeout(() => void this.poll(since), this.opts.pollMs ?? DEFAULT_POLL_MS);
  }

  private async handleCancels(): Promise<void> {
    if (this.active.size === 0) return;
    const cancelling = await this.store.runsOfWorker(this.id, 'CANCELLING');
    for (const id of cancelling) {
      const a = this.active.get(id);
      if (a && !a.cancelling) {
        a.cancelling = true;
        a.handle?.terminate('cancel');
      }
    }
    // A run another worker reaped (this one's heartbeats failed for a whole lease) has lost its
    // slots: stop it here, or it would run beside the run that took its place.
    for (const [id, a] of this.active) {
      if (a.cancelling || a.finishing || !a.handle) continue;
      const s = await this.store.runState(id);
      if (s && ACTIVE_STATE_TYPES.has(s.state_type)) continue;
      a.cancelling = true;
      a.handle.terminate('cancel');
    }
  }

  /**
   * A store call whose effect must not be lost: "database is locked" past the busy timeout is
   * retried with a capped backoff. While stopping it gives up after a few tries; the run's lease then
   * expires and the next worker's reaper records it as Crashed, so nothing stays Running forever.
   */
  private async persist<T>(what: string, op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (error) {
        if (!isLockContention(error) || (this.stopping && attempt >= 3)) throw error;
        this.emit('error', new Error(`${what}: ${(error as Error).message}; retrying`));
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, Math.min(RETRY_MAX_BACKOFF_MS, 50 * 2 ** attempt)));
      }
    }
  }

  private async execute(runId: string): Promise<void> {
    const details = await this.persist(`read claimed run ${runId}`, () => this.store.getRun(runId, this.clock.now()));
    const dep = await this.persist(`read the deployment of run ${runId}`, () => this.store.getDeploymentById(details.run.deployment_id));
    if (!dep) return;
    const run: ExecutableRun = {
      id: runId,
      name: details.run.name,
      deploymentName: dep.full_name,
      entrypoint: dep.entrypoint,
      projectDir: dep.project_dir,
      parameters: details.run.parameters,
      jobVariables: dep.job_variables,
    };
    if (this.stopping) {
      // claimed just before stop(): give it back (slots freed, FIFO place kept) instead of starting it
      await this.store.finishRun(runId, { type: 'SCHEDULED', name: 'Scheduled', message: 'The worker stopped before starting this run; it waits for the next worker.' }, this.clock.now());
      return;
    }
    const entry: Active = { run, cancelling: false };
    this.active.set(runId, entry);
    this.stats.claimed++;
    try {
      entry.handle = await this.runner.start(run, { ...this.opts.flowEnv, FLOWDECK_FLOW_RUN_ID: runId }, {
        onLog: (stream, line) => this.bufferLog(runId, stream, line),
      });
    } catch (error) {
      await this.finish(entry, { kind: 'failed', message: `Could not start the flow process: ${(error as Error).message}` });
      return;
    }
    let started = false;
    try {
      started = await this.persist(`record run ${runId} as Running`, () => this.store.startRun(runId, entry.handle!.pid, this.clock.now()));
    } catch (error) {
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
    }
    if (!started) {
      // cancelled (or reaped) between claim and start
      entry.cancelling = true;
      entry.handle.terminate('cancel');
    } else {
      this.emit('transition', { runId, runName: run.name, deployment: run.deploymentName, state: 'Running' });
    }
    void entry.handle.done.then((outcome) => this.finish(entry, outcome));
  }

  private async finish(entry: Active, outcome: Outcome): Promise<void> {
    entry.finishing = true;
    await this.flushLogs(entry.run.id);
    const to =
      outcome.kind === 'completed'
        ? ({ type: 'COMPLETED', name: 'Completed', message: null } as const)
        : outcome.kind === 'failed'
          ? ({ type: 'FAILED', name: 'Failed', message: outcome.message } as const)
          : outcome.kind === 'cancelled'
            ? ({ type: 'CANCELLED', name: 'Cancelled', message: outcome.message } as const)
            : ({ type: 'CRASHED', name: 'Crashed', message: outcome.message } as const);
    try {
      await this.persist(`record run ${entry.run.id} as ${to.name}`, () => this.store.finishRun(entry.run.id, to, this.clock.now()));
      this.stats[outcome.kind === 'completed' ? 'completed' : outcome.kind]++;
      this.emit('transition', { runId: entry.run.id, runName: entry.run.name, deployment: entry.run.deploymentName, state: to.name, ...(to.message ? { message: to.message } : {}) });
    } catch (error) {
      this.emit('error', error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.active.delete(entry.run.id);
      this.finishedCount++;
      const waiters = this.finishedWaiters;
      this.finishedWaiters = [];
      waiters.forEach((w) => w());
      if (!this.stopping) this.wake();
    }
  }

  private async announce(runId: string): Promise<void> {
    try {
      const d = await this.store.getRun(runId, this.clock.now());
      this.emit('transition', { runId, runName: d.run.name, deployment: d.run.deployment_name, state: d.run.state_name, ...(d.run.state_message ? { message: d.run.state_message } : {}) });
    } catch {
      // the run was deleted meanwhile; nothing to announce
    }
  }

  private bufferLog(runId: string, stream: 'stdout' | 'stderr', line: string): void {
    this.emit('log', { runId, stream, line });
    const list = this.logBuffer.get(runId) ?? [];
    list.push({ timestamp: this.clock.now(), stream, line });
    this.logBuffer.set(runId, list);
    this.logTimer ??= this.clock.setTimeout(() => void this.flushLogs(), LOG_FLUSH_MS);
  }

  private async flushLogs(onlyRun?: string): Promise<void> {
    if (!onlyRun && this.logTimer) {
      this.clock.clearTimeout(this.logTimer);
      this.logTimer = undefined;
    }
    const ids = onlyRun ? [onlyRun] : [...this.logBuffer.keys()];
    for (const id of ids) {
      const lines = this.logBuffer.get(id);
      this.logBuffer.delete(id);
      if (lines && lines.length > 0) await this.store.appendLogs(id, lines).catch((e: Error) => this.emit('error', e));
    }
  }
}
