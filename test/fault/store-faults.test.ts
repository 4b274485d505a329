/**
 * The worker against a store that misbehaves the way a contended SQLite file does: a write that waits
 * so long the clock moves on, and writes that fail with "database is locked" (SQLITE_BUSY past the busy
 * timeout). In process, on a TestClock with a fake runner: no sleeps. A state change must never be
 * lost, a claimed run never stranded, and a run whose lease another worker reaped must not keep running.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StoreError } from '../../src/domain/errors.js';
import { Worker } from '../../src/engine/worker.js';
import type { SqliteStore, Store } from '../../src/store/store.js';
import { TestClock } from '../../src/time/test-clock.js';
import { deploy, drive, FakeRunner, limited, manualRuns, SEC, T0, until } from '../support/store-fixtures.js';
import { openTempStore } from '../support/temp-home.js';

type Hook = (call: number) => void;

/** Wraps a store so that named methods run a hook first (which may throw or move the clock). */
function faulty(store: SqliteStore, hooks: Partial<Record<keyof Store, Hook>>): Store {
  const calls = new Map<string, number>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      const hook = hooks[prop as keyof Store];
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (hook) {
          const n = (calls.get(String(prop)) ?? 0) + 1;
          calls.set(String(prop), n);
          try {
            hook(n);
          } catch (error) {
            return Promise.reject(error);
          }
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Store;
}

const busy = () =>
  new StoreError('the database flowdeck.db is locked by another process (waited past the busy timeout)', {
    cause: Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }),
  });

async function rig(hooks: (clock: TestClock) => Partial<Record<keyof Store, Hook>>, leaseSeconds = 30) {
  const t = openTempStore();
  const clock = new TestClock(T0);
  const runner = new FakeRunner();
  const worker = new Worker(faulty(t.store, hooks(clock)), clock, runner, { pool: 'local', limit: Infinity, leaseSeconds, flowEnv: {}, schedulerEveryMs: 3_600_000 });
  const errors: string[] = [];
  worker.on('error', (e) => errors.push(e.message));
  await deploy(t.store, [limited('a', 1)]);
  return { t, clock, runner, worker, errors, store: t.store };
}

const state = async (store: SqliteStore, id: string) => (await store.getRun(id, T0)).run.state_name;

describe('the worker against a slow or locked store', () => {
  test('a claim made after a slow store call still gets a full lease, so no other worker reaps it at once', async () => {
    // markLateRuns waits 40 s (longer than the 30 s lease) before the dispatch in the same step
    const r = await rig((clock) => ({ markLateRuns: () => clock.tick(40 * SEC) }));
    try {
      const [id] = await manualRuns(r.store, 'etl/a', [T0]);
      await r.worker.runOnce();
      assert.equal(await state(r.store, id!), 'Running');
      const lease = r.store.db.prepare('SELECT expires_at FROM lease WHERE flow_run_id = ?').get(id) as { expires_at: number };
      assert.ok(lease.expires_at >= r.clock.now() + 29 * SEC, `lease expires ${(lease.expires_at - r.clock.now()) / 1000} s after the claim`);
      // another worker's reaper, at the same instant, must leave the fresh run alone
      const reaped = await r.store.reapExpired(r.clock.now());
      assert.deepEqual(reaped.crashed, []);
      r.runner.complete(id!);
      await until(async () => (await state(r.store, id!)) === 'Completed', 'the run to complete');
    } finally {
      await r.worker.stop(0);
      await r.t.close();
    }
  });

  test('finishing a run while the database is locked is retried: the final state is not lost and the slot frees', async () => {
    const r = await rig(() => ({ finishRun: (n) => {
      if (n <= 3) throw busy();
    } }));
    try {
      const [first, second] = await manualRuns(r.store, 'etl/a', [T0, T0 + 1]);
      await r.worker.runOnce();
      r.runner.complete(first!);
      await drive(r.clock, until(async () => (await state(r.store, first!)) === 'Completed', 'the first run to be recorded Completed', 500));
      assert.ok(r.errors.some((e) => /locked/.test(e)), 'the failures were reported');
      await drive(r.clock, until(() => r.runner.runs.length === 2, 'the queued run to start', 500));
      assert.equal(r.runner.runs[1]!.run.id, second);
      r.runner.complete(second!);
      await drive(r.clock, until(async () => (await state(r.store, second!)) === 'Completed', 'the second run to complete', 500));
      assert.equal(r.runner.maxActive, 1);
    } finally {
      await r.worker.stop(0);
      await r.t.close();
    }
  });

  test('recording Running while the database is locked is retried: the claimed run is neither stranded nor lost', async () => {
    const r = await rig(() => ({ startRun: (n) => {
      if (n <= 2) throw busy();
    } }));
    try {
      const [id] = await manualRuns(r.store, 'etl/a', [T0]);
      await drive(r.clock, r.worker.runOnce().catch((e: Error) => r.errors.push(`runOnce rejected: ${e.message}`)));
      await drive(r.clock, until(async () => (await state(r.store, id!)) === 'Running', 'the run to be recorded Running', 500));
      r.runner.complete(id!);
      await drive(r.clock, until(async () => (await state(r.store, id!)) === 'Completed', 'the run to complete', 500));
      assert.equal(r.worker.activeCount, 0);
      await r.worker.stop(0);
    } finally {
      await r.t.close();
    }
  });

  test('reading the claimed run while the database is locked is retried: the run is not left Pending', async () => {
    const r = await rig(() => ({ getRun: (n) => {
      if (n <= 2) throw busy();
    } }));
    try {
      const [id] = await manualRuns(r.store, 'etl/a', [T0]);
      await drive(r.clock, r.worker.runOnce().catch((e: Error) => r.errors.push(`runOnce rejected: ${e.message}`)));
      await drive(r.clock, until(() => r.runner.runs.length === 1, 'the run to start', 500));
      r.runner.complete(id!);
      await drive(r.clock, until(async () => (await state(r.store, id!)) === 'Completed', 'the run to complete', 500));
      await r.worker.stop(0);
    } finally {
      await r.t.close();
    }
  });

  test('a run whose lease another worker reaped (heartbeats failed) is stopped here, so its slot is not used twice', async () => {
    let locked = false;
    const r = await rig(() => ({ heartbeatWorker: () => {
      if (locked) throw busy();
    } }), 3);
    try {
      const [first, second] = await manualRuns(r.store, 'etl/a', [T0, T0 + 1]);
      await r.worker.start();
      await drive(r.clock, until(() => r.runner.runs.length === 1, 'the first run to start', 500));
      locked = true;
      // heartbeats fail for longer than the lease; another worker gets the lock first, reaps the run and takes the slot
      await drive(r.clock, until(() => r.clock.now() >= T0 + 5 * SEC, 'time to pass', 1000));
      const other = await r.store.dispatch({ pool: 'local', workerId: 'other-worker', capacity: 10, leaseMs: 3 * SEC }, r.clock.now());
      assert.deepEqual(other.reaped.crashed, [first]);
      assert.deepEqual(other.claimed, [second]);
      locked = false;
      // this worker must notice and stop its copy of the reaped run
      await drive(r.clock, until(() => r.runner.byId(first!).finished, 'the reaped run’s process to be stopped', 1000));
      assert.equal(r.runner.byId(first!).terminatedFor, 'cancel');
      assert.equal(await state(r.store, first!), 'Crashed', 'the reaper’s verdict stands');
      assert.equal(r.runner.runs.length, 1, 'the run the other worker claimed is not started here too');
    } finally {
      await r.worker.stop(0);
      await r.t.close();
    }
  });
});
