/**
 * Shared pieces of the fault suite (test/fault): a temporary project with the fault flows, the CLI
 * run without blocking the event loop, a direct read-only view of the state database, process
 * liveness, interval overlap, and a seeded PRNG so every randomised case can be replayed.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { BIN, REPO, cliEnv, startCli, type CliResult } from './run-cli.js';

export const FAULT_FULL = process.env.FLOWDECK_FAULT_FULL === '1';
export const FAULT_FLOWS = path.join(REPO, 'test', 'fixtures', 'projects', 'fault');
export const FINAL_TYPES = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED']);
export const ACTIVE_TYPES = new Set(['PENDING', 'RUNNING', 'CANCELLING']);

/** A Node stack frame ("    at fn (file:1:2)") or a Python traceback header. */
export const STACK_TRACE = /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$|Traceback \(most recent call last\)/m;

export interface Project {
  cwd: string;
  home: string;
  /** Removes the folder (workers must be stopped first). */
  dispose(): void;
}

/** A temp project folder holding the fault flows (flows/*.py, *.mjs) and, if given, a prefect.yaml. */
export function makeProject(prefectYaml?: string): Project {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-fault-'));
  cpSync(FAULT_FLOWS, cwd, { recursive: true });
  if (prefectYaml !== undefined) writeFileSync(path.join(cwd, 'prefect.yaml'), prefectYaml);
  return { cwd, home: path.join(cwd, '.state'), dispose: () => rmSync(cwd, { recursive: true, force: true }) };
}

/** Runs the CLI to completion without blocking this process (so timers and other children keep going). */
export function cli(args: string[], p: { cwd: string; home: string }, opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<CliResult & { ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: p.cwd, env: cliEnv(p.home, opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? -1 : null), stdout: stripVTControlCharacters(stdout), stderr: stripVTControlCharacters(stderr), ms: Date.now() - started });
    });
  });
}

/** Like cli() but the command must succeed; returns stdout. */
export async function cliOk(args: string[], p: { cwd: string; home: string }, env?: Record<string, string>): Promise<string> {
  const r = await cli(args, p, env ? { env } : {});
  if (r.code !== 0) throw new Error(`flowdeck ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Runs `tasks` with at most `width` at once. */
export async function inParallel<T, R>(items: readonly T[], width: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i]!, i);
      }
    }),
  );
  return out;
}

export interface WorkerProcess {
  pid: number;
  output(): string;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

export function startWorker(p: Project, pool: string, extra: string[] = [], env?: Record<string, string>): WorkerProcess {
  const w = startCli(['worker', 'start', '--pool', pool, '--no-live', ...extra], { ...p, ...(env ? { env } : {}) });
  return { pid: w.child.pid!, output: w.output, exited: w.exited, kill: (s) => void w.child.kill(s) };
}

/** Stops workers with SIGTERM and returns their exit codes. */
export async function stopWorkers(workers: WorkerProcess[]): Promise<(number | null)[]> {
  for (const w of workers) w.kill('SIGTERM');
  return Promise.all(workers.map((w) => w.exited));
}

export interface RunRow {
  id: string;
  deployment: string;
  deployment_id: string;
  work_queue_name: string;
  work_pool_name: string;
  state_type: string;
  state_name: string;
  state_message: string | null;
  expected_start_time: number;
  start_time: number | null;
  end_time: number | null;
  pending_time: number | null;
  pid: number | null;
  worker_id: string | null;
}

/** A direct view of the state database (the CLI would cost a process per look). */
export class StateDb {
  readonly db: Database.Database;
  constructor(home: string) {
    this.db = new Database(path.join(home, 'flowdeck.db'), { fileMustExist: true, timeout: 10_000 });
  }

  runs(): RunRow[] {
    return this.db
      .prepare(
        `SELECT r.id, d.flow_name || '/' || d.name AS deployment, r.deployment_id, r.work_queue_name, r.work_pool_name, r.state_type, r.state_name,
           r.state_message, r.expected_start_time, r.start_time, r.end_time, r.pid, r.worker_id,
           (SELECT MIN(s.timestamp) FROM flow_run_state s WHERE s.flow_run_id = r.id AND s.type = 'PENDING') AS pending_time
         FROM flow_run r JOIN deployment d ON d.id = r.deployment_id`,
      )
      .all() as RunRow[];
  }

  run(id: string): RunRow {
    const r = this.runs().find((x) => x.id === id);
    if (!r) throw new Error(`no run ${id}`);
    return r;
  }

  /** Slots held, by level: [{kind, name, slots}] (deployment, queue, pool, gcl). */
  slots(): { kind: string; name: string; slots: number; flow_run_id: string | null }[] {
    return this.db
      .prepare(
        `SELECT s.resource_kind AS kind, COALESCE(d.flow_name || '/' || d.name, q.name, p.name, g.name) AS name, s.slots, l.flow_run_id
         FROM lease_slot s JOIN lease l ON l.id = s.lease_id
         LEFT JOIN deployment d ON s.resource_kind = 'deployment' AND d.id = s.resource_id
         LEFT JOIN work_queue q ON s.resource_kind = 'queue' AND q.id = s.resource_id
         LEFT JOIN work_pool p ON s.resource_kind = 'pool' AND p.id = s.resource_id
         LEFT JOIN global_concurrency_limit g ON s.resource_kind = 'gcl' AND g.id = s.resource_id`,
      )
      .all() as { kind: string; name: string; slots: number; flow_run_id: string | null }[];
  }

  /** Slots in use right now per `kind:name` (one consistent snapshot of the lease rows). */
  slotCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const s of this.slots()) counts.set(`${s.kind}:${s.name}`, (counts.get(`${s.kind}:${s.name}`) ?? 0) + s.slots);
    return counts;
  }

  integrity(): string {
    return (this.db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** Samples slot counts every few ms while work goes on; `stop()` returns the highest seen per `kind:name`. */
export function sampleSlots(state: StateDb, everyMs = 5): { stop(): Map<string, number>; samples(): number } {
  const highest = new Map<string, number>();
  let samples = 0;
  const timer = setInterval(() => {
    samples++;
    for (const [k, n] of state.slotCounts()) highest.set(k, Math.max(highest.get(k) ?? 0, n));
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return highest;
    },
    samples: () => samples,
  };
}

/** True while `pid` is a live process (a zombie waiting to be reaped counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!existsSync('/proc/self')) return true; // no /proc: cannot tell a zombie apart
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false; // exited between the two looks
  }
}

/** Highest number of [start, end) intervals open at once (an end and a start at the same instant do not overlap). */
export function highestOverlap(intervals: readonly [number, number][]): number {
  const events: [number, number][] = [];
  for (const [s, e] of intervals) events.push([s, 1], [e, -1]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let open = 0;
  let best = 0;
  for (const [, d] of events) best = Math.max(best, (open += d));
  return best;
}

/** mulberry32: a tiny seeded PRNG, so a failing seed can be replayed exactly. */
export function prng(seed: number): { next(): number; int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    chance: (p) => next() < p,
  };
}

/** Ledger lines written by flows/work.*: `<run id> enter|exit <ms> <tag>`. */
export function readLedger(cwd: string): { id: string; what: 'enter' | 'exit'; at: number }[] {
  const file = path.join(cwd, 'ledger.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [id, what, at] = l.split(' ');
      return { id: id!, what: what as 'enter' | 'exit', at: Number(at) };
    });
}

/** Lines written by flows/hold.py: `<run id> acquired|started <ms>`. */
export function readEvents(cwd: string): { id: string; what: string; at: number }[] {
  const file = path.join(cwd, 'events.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [id, what, at] = l.split(' ');
      return { id: id!, what: what!, at: Number(at) };
    });
}
