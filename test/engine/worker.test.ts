// The Worker on a TestClock with a fake Runner: runs start when due, hand over slots at once, stop cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExecutableRun } from '../../src/engine/runner.js';
import { Worker, type WorkerOptions } from '../../src/engine/worker.js';
import type { SqliteStore } from '../../src/store/store.js';
import { TestClock } from '../../src/time/test-clock.js';
import { openTempStore } from '../support/temp-home.js';
import { deploy, drive, FakeRunner, intervalSchedule, limited, manualRuns, spec, T0, turn, until } from '../support/store-fixtures.js';

interface Rig {
  store: SqliteStore;
  clock: TestClock;
  runner: FakeRunner;
  worker: Worker;
}

async function withWorker(opts: Partial<WorkerOptions> & { autoComplete?: boolean }, fn: (rig: Rig) => Promise<void>): Promise<void> {
  const t = openTempStore();
  const clock = new TestClock(T0);
  const runner = new FakeRunner(opts.autoComplete ?? false);
  const worker = new Worker(t.store, clock, runner, { pool: 'local', limit: Infinity, leaseSeconds: 30, flowEnv: { FLOWDECK_HOME: t.dir }, ...opts });
  const errors: Error[] = [];
  worker.on('error', (e) => errors.push(e));
  try {
    await fn({ store: t.store, clock, runner, worker });
    assert.deepEqual(errors, [], 'the worker reported no errors');
  } finally {
    await t.close();
  }
}

const stateNames = async (store: SqliteStore, ids: string[]) => Promise.all(ids.map(async (id) => (await store.getRun(id, T0)).run.state_name));

async function activeRuns(store: SqliteStore): Promise<string[]> {
  const all = await store.listRuns({ limit: 1000 });
  return all.filter((r) => r.state_type === 'PENDING' || r.state_type === 'RUNNING').map((r) => `${r.id} ${r.state_name}`);
}

test('runUntilIdle runs every due run and returns when they have finished', () =>
  withWorker({}, async ({ store, runner, worker }) => {
    await deploy(store, [spec('a', { parameters: { x: 1 } })]);
    const ids = await manualRuns(store, 'etl/a', [T0 - 2000, T0 - 1000, T0]);
    const [later] = await manualRuns(store, 'etl/a', [T0 + 60_000], T0 + 10);
    let returned = false;
    const idle = worker.runUntilIdle().then(() => (returned = true));
    await until(() => runner.runs.length === 3, 'three runs started');
    assert.deepEqual(runner.runs.map((r) => r.run.id), ids);
    assert.deepEqual(await stateNames(store, ids), ['Running', 'Running', 'Running']);
    assert.deepEqual(runner.runs[0]!.run.parameters, { x: 1 });
    assert.equal(runner.runs[0]!.env.FLOWDECK_FLOW_RUN_ID, ids[0]);
    assert.ok(runner.runs[0]!.env.FLOWDECK_HOME);
    for (const id of ids.slice(0, 2)) runner.complete(id);
    await until(() => runner.active === 1, 'two finished');
    assert.equal(returned, false, 'still waiting for the last run');
    runner.byId(ids[2]!).done.resolve({ kind: 'failed', message: 'exit code 1: boom' });
    await idle;
    assert.deepEqual(await stateNames(store, ids), ['Completed', 'Completed', 'Failed']);
    assert.equal((await store.getRun(ids[2]!, T0)).run.state_message, 'exit code 1: boom');
    assert.equal((await store.getRun(later!, T0)).run.state_name, 'Scheduled', 'a future run is not started');
    assert.deepEqual([worker.stats.completed, worker.stats.failed], [2, 1]);
    assert.equal((await store.getPool('local', T0)).slots_in_use, 0);
  }));

test('a finished run starts the oldest waiting run at once: FIFO, never above the limit, no clock time needed', () =>
  withWorker({}, async ({ store, clock, runner, worker }) => {
    await deploy(store, [limited('a', 1)]);
    const ids = await manualRuns(store, 'etl/a', [T0 - 3000, T0 - 1000, T0 - 2000, T0]);
    const fifo = [ids[0], ids[2], ids[1], ids[3]];
    const idle = worker.runUntilIdle();
    for (let k = 0; k < fifo.length; k++) {
      await until(() => runner.runs.length === k + 1, `run ${k + 1} started`);
      assert.equal(runner.runs[k]!.run.id, fifo[k]);
      if (k === 0) assert.deepEqual(await stateNames(store, fifo.slice(1) as string[]), Array(3).fill('AwaitingConcurrencySlot'));
      runner.complete(fifo[k]!);
    }
    await idle;
    assert.equal(runner.maxActive, 1);
    assert.equal(clock.now(), T0, 'the hand-over did not wait for any timer');
    assert.deepEqual(await stateNames(store, fifo as string[]), Array(4).fill('Completed'));
  }));

test('runUntilIdle drains a queue of runs that finish as soon as they start', () =>
  withWorker({ autoComplete: true }, async ({ store, runner, worker }) => {
    await deploy(store, [limited('a', 1)]);
    const ids = await manualRuns(store, 'etl/a', [T0, T0, T0, T0, T0]);
    await worker.runUntilIdle();
    assert.deepEqual(runner.runs.map((r) => r.run.id), ids);
    assert.deepEqual(await stateNames(store, ids), Array(5).fill('Completed'));
  }));

test('the worker limit caps how many runs it executes at once', () =>
  withWorker({ limit: 2 }, async ({ store, runner, worker }) => {
    await deploy(store, [spec('a'), spec('b'), spec('c')]);
    const ids = [...(await manualRuns(store, 'etl/a', [T0])), ...(await manualRuns(store, 'etl/b', [T0])), ...(await manualRuns(store, 'etl/c', [T0]))];
    const idle = worker.runUntilIdle();
    await until(() => runner.runs.length === 2, 'two started');
    assert.equal((await store.getRun(ids[2]!, T0)).run.state_name, 'Scheduled');
    runner.complete(runner.runs[0]!.run.id);
    await until(() => runner.runs.length === 3, 'the third started');
    for (const r of runner.runs) runner.complete(r.run.id);
    await idle;
    assert.equal(runner.maxActive, 2);
  }));

test('the worker schedules its pool\'s deployments and runs what is due', () =>
  withWorker({}, async ({ store, runner, worker }) => {
    await deploy(store, [spec('every-hour', { schedules: [intervalSchedule(3600, T0)] }), spec('elsewhere', { work_pool_name: 'other', schedules: [intervalSchedule(3600, T0)] })]);
    const idle = worker.runUntilIdle();
    await until(() => runner.runs.length === 1, 'the due scheduled run started');
    assert.equal(runner.runs[0]!.run.deploymentName, 'etl/every-hour');
    runner.complete(runner.runs[0]!.run.id);
    await idle;
    assert.equal((await store.listRuns({ deployment: 'etl/every-hour', limit: 10 })).length, 3);
    assert.equal((await store.listRuns({ deployment: 'etl/elsewhere', limit: 10 })).length, 0);
  }));

test('a cancel request terminates the flow and the run ends Cancelled', () =>
  withWorker({}, async ({ store, runner, worker }) => {
    await deploy(store, [spec('a')]);
    const [id] = await manualRuns(store, 'etl/a', [T0]);
    const idle = worker.runUntilIdle();
    await until(() => runner.runs.length === 1, 'started');
    assert.equal((await store.requestCancel(id!, T0)).outcome, 'cancelling');
    await worker.runOnce();
    await idle;
    assert.equal(runner.runs[0]!.terminatedFor, 'cancel');
    const run = (await store.getRun(id!, T0)).run;
    assert.deepEqual([run.state_type, run.state_name], ['CANCELLED', 'Cancelled']);
    assert.deepEqual(await activeRuns(store), []);
  }));

test('a flow that cannot be started is Failed with the reason', () =>
  withWorker({}, async ({ store }) => {
    await deploy(store, [spec('a')]);
    const [id] = await manualRuns(store, 'etl/a', [T0]);
    const broken = new Worker(store, new TestClock(T0), { start: () => Promise.reject(new Error('python3 not found')) }, { pool: 'local', limit: Infinity, leaseSeconds: 30, flowEnv: {} });
    await broken.runUntilIdle();
    const run = (await store.getRun(id!, T0)).run;
    assert.equal(run.state_name, 'Failed');
    assert.match(run.state_message ?? '', /python3 not found/);
  }));

test('stop(grace) terminates runs still going after the grace period and leaves none Pending or Running', () =>
  withWorker({}, async ({ store, clock, runner, worker }) => {
    await deploy(store, [limited('a', 1), spec('b'), spec('c')]);
    const [a1, a2] = await manualRuns(store, 'etl/a', [T0, T0]);
    const [b] = await manualRuns(store, 'etl/b', [T0]);
    const [c] = await manualRuns(store, 'etl/c', [T0]);
    await worker.start();
    const idle = worker.runUntilIdle();
    await until(() => runner.runs.length === 3, 'three started');
    const stopping = worker.stop(5000);
    // one run finishes within the grace period and keeps its real outcome
    await turn();
    clock.tick(1000);
    runner.complete(c!);
    const stopped = drive(clock, stopping, 100);
    await stopped;
    await idle;
    assert.ok(clock.now() - T0 >= 5000, 'the grace period was given');
    assert.equal(runner.byId(a1!).terminatedFor, 'shutdown');
    assert.equal(runner.byId(b!).terminatedFor, 'shutdown');
    assert.equal(runner.byId(c!).terminatedFor, undefined);
    assert.deepEqual(await stateNames(store, [a1!, b!, c!]), ['Crashed', 'Crashed', 'Completed']);
    assert.equal((await store.getRun(a2!, T0)).run.state_name, 'AwaitingConcurrencySlot', 'no new run was taken while stopping');
    assert.deepEqual(await activeRuns(store), []);
    assert.equal((await store.getPool('local', clock.now())).slots_in_use, 0);
    assert.equal((await store.getPool('local', clock.now())).status, 'NOT_READY', 'the worker is marked stopped');
  }));

test('stop without running flows returns at once', () =>
  withWorker({}, async ({ worker, clock }) => {
    await worker.start();
    await worker.stop(10_000);
    assert.equal(clock.now(), T0);
  }));

test('runs claimed while the worker is stopping are not left Pending: the starting one is stopped, the rest go back to Scheduled', () =>
  withWorker({}, async ({ store, runner, worker, clock }) => {
    await deploy(store, [spec('a')]);
    const ids = await manualRuns(store, 'etl/a', [T0, T0, T0]);
    // the runner is slow to start the first flow; stop() is called meanwhile
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const original = runner.start.bind(runner);
    let calls = 0;
    runner.start = async (run: ExecutableRun, env: Record<string, string>) => {
      if (++calls === 1) await gate;
      return original(run, env);
    };
    const idle = worker.runUntilIdle();
    await until(() => calls === 1, 'first start requested');
    const stopping = worker.stop(0);
    release();
    await drive(clock, stopping, 100);
    await idle;
    assert.deepEqual(await activeRuns(store), []);
    assert.deepEqual(await stateNames(store, ids), ['Crashed', 'Scheduled', 'Scheduled']);
    assert.equal(runner.runs.length, 1, 'no new flow was started after stop()');
    assert.equal((await store.getPool('local', clock.now())).slots_in_use, 0);
    // the returned runs are dispatched again by the next worker, in their original order
    const next = await store.dispatch({ pool: 'local', workerId: 'next', capacity: 1, leaseMs: 30_000 }, clock.now());
    assert.deepEqual(next.claimed, [ids[1]]);
  }));
