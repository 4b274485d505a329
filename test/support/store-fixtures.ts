/** Small builders for store and engine tests: deployments, manual runs, and a fake Runner. */
import type { DeploymentScheduleSpec } from '../../src/domain/types.js';
import type { ExecutableRun, Outcome, RunHandle, Runner } from '../../src/engine/runner.js';
import type { DeploymentInput, Store } from '../../src/store/store.js';
import type { TestClock } from '../../src/time/test-clock.js';
import { deferred, type Deferred } from './wait-for.js';

export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
export const SEC = 1000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;

/** A deployment spec with no schedules and no limit; override what the test is about. */
export function spec(name: string, over: Partial<DeploymentInput> = {}): DeploymentInput {
  const flow = over.flow_name ?? 'etl';
  return {
    name,
    flow_name: flow,
    full_name: `${flow}/${name}`,
    entrypoint: 'flows/etl.py:etl',
    project_dir: '/tmp/flowdeck-project',
    description: null,
    version: null,
    tags: [],
    parameters: {},
    work_pool_name: 'local',
    work_queue_name: null,
    job_variables: {},
    concurrency_limit: null,
    concurrency_options: null,
    paused: false,
    enforce_parameter_schema: true,
    schedules: [],
    ...over,
  };
}

export function limited(name: string, limit: number, strategy: 'ENQUEUE' | 'CANCEL_NEW' = 'ENQUEUE', over: Partial<DeploymentInput> = {}): DeploymentInput {
  return spec(name, { concurrency_limit: limit, concurrency_options: { collision_strategy: strategy }, ...over });
}

export function intervalSchedule(seconds: number, anchorMs: number, over: Partial<DeploymentScheduleSpec> = {}): DeploymentScheduleSpec {
  return { schedule: { interval: seconds, anchor_date: new Date(anchorMs).toISOString(), timezone: 'UTC' }, active: true, parameters: {}, slug: null, ...over };
}

/** Deploys and returns the ids by short name. */
export async function deploy(store: Store, specs: DeploymentInput[], now = T0): Promise<Record<string, string>> {
  const res = await store.applyDeployments(specs, now);
  return Object.fromEntries(res.deployments.map((d) => [d.full_name.split('/')[1]!, d.id]));
}

/** Creates manual runs of `fullName` due at the given times; creation times are now, now+1, ... in order. */
export async function manualRuns(store: Store, fullName: string, expected: number[], now = T0): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, at] of expected.entries()) ids.push(await store.createManualRun(fullName, {}, at, now + i));
  return ids;
}

export async function stateOf(store: Store, runId: string): Promise<string> {
  return (await store.getRun(runId, T0)).run.state_name;
}

export function dispatchReq(over: Partial<{ pool: string; workerId: string; capacity: number; leaseMs: number; queues: string[] }> = {}) {
  return { pool: 'local', workerId: 'worker-a', capacity: 100, leaseMs: 30 * SEC, ...over };
}

export interface FakeRun {
  run: ExecutableRun;
  env: Record<string, string>;
  done: Deferred<Outcome>;
  terminatedFor?: 'cancel' | 'shutdown';
  finished: boolean;
}

/** A Runner whose runs finish only when the test resolves their Deferred (or terminates them). */
export class FakeRunner implements Runner {
  readonly runs: FakeRun[] = [];
  maxActive = 0;
  /** When set, every run completes as soon as it starts. */
  constructor(private readonly autoComplete = false) {}

  get active(): number {
    return this.runs.filter((r) => !r.finished).length;
  }

  byId(id: string): FakeRun {
    const r = this.runs.find((x) => x.run.id === id);
    if (!r) throw new Error(`run ${id} was never started`);
    return r;
  }

  complete(id: string): void {
    this.byId(id).done.resolve({ kind: 'completed' });
  }

  async start(run: ExecutableRun, env: Record<string, string>): Promise<RunHandle> {
    const done = deferred<Outcome>();
    const entry: FakeRun = { run, env, done, finished: false };
    void done.promise.then(() => (entry.finished = true));
    this.runs.push(entry);
    this.maxActive = Math.max(this.maxActive, this.active);
    if (this.autoComplete) done.resolve({ kind: 'completed' });
    return {
      pid: 10_000 + this.runs.length,
      done: done.promise,
      terminate: (reason) => {
        entry.terminatedFor ??= reason;
        done.resolve(reason === 'cancel' ? { kind: 'cancelled', message: 'Cancelled on request.' } : { kind: 'crashed', message: 'Terminated at worker shutdown.' });
      },
    };
  }
}

/** Lets pending promise callbacks and I/O run (not a timed sleep). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Yields to pending callbacks until `probe` holds (bounded by turns, not by wall time). */
export async function until(probe: () => boolean | Promise<boolean>, what = 'a condition', maxTurns = 2000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (await probe()) return;
    await turn();
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Moves a TestClock in small steps, letting callbacks run between steps, until `p` settles. */
export async function drive<T>(clock: TestClock, p: Promise<T>, stepMs = 10, maxSteps = 5000): Promise<T> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < maxSteps && !settled; i++) {
    await turn();
    if (!settled) clock.tick(stepMs);
  }
  return p;
}
