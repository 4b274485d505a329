/** Fixtures shared by the flowdeck scenarios: a project with trivial flows, deployments, runners, clocks. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = path.resolve(BENCH_DIR, '..');
/** The engine under test: run.mjs points this at its snapshot of the build (lib/snapshot.mjs). */
export const ENGINE_ROOT = process.env.FLOWDECK_BENCH_ENGINE_ROOT || REPO_ROOT;
export const CLI = path.join(ENGINE_ROOT, 'bin', 'flowdeck.js');
export const PY_RUNNER = path.join(ENGINE_ROOT, 'runtimes', 'python', 'flowdeck_runner.py');

const dist = (p) => import(path.join(ENGINE_ROOT, 'dist', 'src', p));
export const { SqliteStore } = await dist('store/store.js');
export const { Worker } = await dist('engine/worker.js');
export const { ProcessRunner } = await dist('engine/runner.js');
export const { schedulerPass } = await dist('engine/scheduler.js');
export const { systemClock } = await dist('time/clock.js');

export const PY_ENTRY = 'flows/noop.py:noop';
export const JS_ENTRY = 'flows/noop.mjs:noop';

/** A project folder with the trivial flows every scenario (and every peer) runs. */
export function writeProject(dir) {
  mkdirSync(path.join(dir, 'flows'), { recursive: true });
  writeFileSync(path.join(dir, 'flows', 'noop.py'), 'def noop():\n    """A trivial flow: returns at once."""\n    return None\n');
  writeFileSync(path.join(dir, 'flows', 'noop.mjs'), '// A trivial flow: returns at once.\nexport async function noop() {}\n');
  return dir;
}

/**
 * The Clock the engine runs on, with sub-millisecond "now" so that start/end times stored in the
 * database resolve handoff gaps below 1 ms (timers are the system clock's).
 */
export const preciseClock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
  clearTimeout: (h) => systemClock.clearTimeout(h),
};

/** A DeploymentInput (DeploymentSpec + project_dir) as config/translate would produce it. */
export function deploymentInput({ flow = 'bench', name, entrypoint = PY_ENTRY, projectDir, pool = 'bench-pool', limit = null, strategy = 'ENQUEUE', schedules = [] }) {
  return {
    name,
    flow_name: flow,
    full_name: `${flow}/${name}`,
    entrypoint,
    description: null,
    version: null,
    tags: [],
    parameters: {},
    work_pool_name: pool,
    work_queue_name: null,
    job_variables: {},
    concurrency_limit: limit,
    concurrency_options: limit === null ? null : { collision_strategy: strategy },
    paused: false,
    enforce_parameter_schema: false,
    schedules,
    project_dir: projectDir,
  };
}

export function intervalSchedule(seconds, anchorIso) {
  return { schedule: { interval: seconds, anchor_date: anchorIso, timezone: 'UTC' }, active: true, parameters: {}, slug: null };
}

/** A Runner that completes every run in process on the next turn of the event loop: orchestration alone. */
export class InProcessRunner {
  started = 0;
  async start() {
    this.started++;
    return {
      pid: process.pid,
      done: new Promise((resolve) => setImmediate(() => resolve({ kind: 'completed' }))),
      terminate() {},
    };
  }
}

const TERMINAL = new Set(['Completed', 'Failed', 'Crashed', 'Cancelled']);

/**
 * Follows a worker's 'transition' events: runs in flight per deployment and in the pool (Running
 * until a final state), their maxima, and a promise for "n runs reached a final state".
 */
export class TransitionTracker {
  perDeployment = new Map();
  maxPerDeployment = new Map();
  inFlight = 0;
  maxInFlight = 0;
  finals = 0;
  byState = {};
  transitions = 0;
  #running = new Set();
  #waiters = [];

  attach(worker) {
    worker.on('transition', (t) => this.record(t));
    return this;
  }

  record(t) {
    this.transitions++;
    this.byState[t.state] = (this.byState[t.state] ?? 0) + 1;
    if (t.state === 'Running') {
      this.#running.add(t.runId);
      const n = (this.perDeployment.get(t.deployment) ?? 0) + 1;
      this.perDeployment.set(t.deployment, n);
      this.maxPerDeployment.set(t.deployment, Math.max(n, this.maxPerDeployment.get(t.deployment) ?? 0));
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    } else if (TERMINAL.has(t.state)) {
      if (this.#running.delete(t.runId)) {
        this.perDeployment.set(t.deployment, this.perDeployment.get(t.deployment) - 1);
        this.inFlight--;
      }
      this.finals++;
      this.#waiters = this.#waiters.filter((w) => (this.finals >= w.n ? (w.resolve(), false) : true));
    }
  }

  untilFinals(n, timeoutMs) {
    if (this.finals >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms: ${this.finals} of ${n} runs finished`)), timeoutMs);
      this.#waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  maxDeploymentConcurrency() {
    return Math.max(0, ...this.maxPerDeployment.values());
  }
}

/**
 * Highest concurrency per deployment and in the pool from the database's own history: a run holds
 * its slots from its PENDING transition (the claim) to its final state. The history is replayed in
 * flow_run_state.id order, which is commit order (ids are assigned under the write lock); the
 * timestamps are not, across processes: each is the writer's clock read before it waited for the lock.
 */
export function concurrencyFromHistory(db) {
  const rows = db
    .prepare(
      `SELECT r.deployment_id AS dep, s.flow_run_id AS run, s.type FROM flow_run_state s JOIN flow_run r ON r.id = s.flow_run_id
       WHERE s.type IN ('PENDING', 'COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED') ORDER BY s.id`,
    )
    .all();
  const holding = new Set();
  let pool = 0;
  let maxPool = 0;
  const dep = new Map();
  let maxDep = 0;
  for (const r of rows) {
    let d = 0;
    if (r.type === 'PENDING' && !holding.has(r.run)) {
      holding.add(r.run);
      d = 1;
    } else if (r.type !== 'PENDING' && holding.delete(r.run)) d = -1;
    if (d === 0) continue;
    pool += d;
    maxPool = Math.max(maxPool, pool);
    const n = (dep.get(r.dep) ?? 0) + d;
    dep.set(r.dep, n);
    maxDep = Math.max(maxDep, n);
  }
  return { maxPool, maxDeployment: maxDep };
}

/** Integrity of a finished batch: every run completed exactly once (one RUNNING entry each). */
export function integrity(db, expected) {
  const completed = db.prepare(`SELECT COUNT(*) AS n FROM flow_run WHERE state_type = 'COMPLETED'`).get().n;
  const notCompleted = db.prepare(`SELECT state_name, COUNT(*) AS n FROM flow_run WHERE state_type <> 'COMPLETED' GROUP BY state_name`).all();
  const twice = db.prepare(`SELECT COUNT(*) AS n FROM (SELECT flow_run_id FROM flow_run_state WHERE type = 'RUNNING' GROUP BY flow_run_id HAVING COUNT(*) > 1)`).get().n;
  return { ok: completed === expected && twice === 0, completed, expected, startedTwice: twice, other: notCompleted };
}
