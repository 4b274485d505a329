// Leases: a dead worker's runs become Crashed (or Cancelled) and every slot they held is freed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SqliteStore } from '../../src/store/store.js';
import { openTempStore } from '../support/temp-home.js';
import { deploy, dispatchReq, limited, manualRuns, SEC, stateOf, T0 } from '../support/store-fixtures.js';

async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const t = openTempStore();
  try {
    await fn(t.store);
  } finally {
    await t.close();
  }
}

const LEASE = 30 * SEC;
/** When the dead worker's claim was made (its lease expires at CLAIM + LEASE). */
const CLAIM = T0 + 1;
const count = (store: SqliteStore, sql: string) => (store.db.prepare(sql).get() as { n: number }).n;

/** A limit-1 ENQUEUE deployment in a pool and queue limited to 1, with a global limit held by the run's flow. */
async function deadWorkerScenario(store: SqliteStore) {
  await deploy(store, [limited('a', 1)]);
  await store.updatePool('local', { concurrencyLimit: 1 }, T0);
  await store.updateQueue('local', 'default', { concurrencyLimit: 1 }, T0);
  await store.createGcl({ name: 'db', limit: 1, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, T0);
  const [r1, r2] = await manualRuns(store, 'etl/a', [T0, T0 + 1]);
  await store.registerWorker({ id: 'dead', name: 'dead', pool: 'local', pid: 1 }, T0);
  const res = await store.dispatch(dispatchReq({ workerId: 'dead', leaseMs: LEASE }), CLAIM);
  assert.deepEqual([res.claimed, res.awaiting], [[r1], [r2]]);
  await store.startRun(r1!, 999, T0 + 1);
  const gcl = await store.tryAcquireGcl(
    { names: ['db'], occupy: 1, mode: 'concurrency', holder: `run:${r1}`, flowRunId: r1!, strict: true, leaseMs: LEASE, waiterId: 'w-r1', waiterTtlMs: 2000 },
    T0 + 2,
  );
  assert.equal(gcl.status, 'acquired');
  return { r1: r1!, r2: r2! };
}

test('a worker whose lease expired has its run Crashed, and the queued run is claimed next', () =>
  withStore(async (store) => {
    const { r1, r2 } = await deadWorkerScenario(store);
    // before expiry nothing happens
    const early = await store.dispatch(dispatchReq({ workerId: 'alive' }), CLAIM + LEASE - 1);
    assert.deepEqual([early.claimed, early.reaped.crashed], [[], []]);
    const res = await store.dispatch(dispatchReq({ workerId: 'alive' }), CLAIM + LEASE);
    assert.deepEqual(res.reaped.crashed, [r1]);
    assert.deepEqual(res.claimed, [r2]);
    const crashed = (await store.getRun(r1, T0)).run;
    assert.equal(crashed.state_type, 'CRASHED');
    assert.match(crashed.state_message ?? '', /stopped responding/);
    assert.match(crashed.state_message ?? '', /lease expired/);
    assert.ok(crashed.end_time);
    // the run's global slot is free too, and only r2's slots remain
    assert.equal((await store.getGcl('db', T0 + LEASE)).active_slots, 0);
    assert.equal((await store.getPool('local', T0 + LEASE)).slots_in_use, 1);
    assert.equal(count(store, `SELECT COUNT(*) AS n FROM lease WHERE flow_run_id = '${r1}'`), 0);
  }));

test('reapExpired frees deployment, queue, pool and global slots of an expired worker', () =>
  withStore(async (store) => {
    const { r1 } = await deadWorkerScenario(store);
    const reaped = await store.reapExpired(CLAIM + LEASE);
    assert.deepEqual(reaped.crashed, [r1]);
    assert.equal(reaped.freedLeases, 2, "the worker's lease and the flow's global lease");
    for (const kind of ['deployment', 'queue', 'pool', 'gcl']) {
      assert.equal(count(store, `SELECT COUNT(*) AS n FROM lease_slot WHERE resource_kind = '${kind}'`), 0, `${kind} slots freed`);
    }
    assert.equal((await store.getQueue('local', 'default')).slots_in_use, 0);
    // reaping again is a no-op
    assert.deepEqual(await store.reapExpired(T0 + 2 * LEASE), { crashed: [], cancelled: [], freedLeases: 0 });
  }));

test('a heartbeating worker keeps its leases alive past the original expiry', () =>
  withStore(async (store) => {
    const { r1, r2 } = await deadWorkerScenario(store);
    await store.heartbeatWorker('dead', T0 + 2 * LEASE, T0 + LEASE / 2);
    // the flow renews its own global lease separately
    const gclLease = (store.db.prepare("SELECT id FROM lease WHERE worker_id IS NULL").get() as { id: string }).id;
    assert.equal(await store.renewLeases([gclLease], T0 + 2 * LEASE), 1);
    const res = await store.dispatch(dispatchReq({ workerId: 'alive' }), T0 + LEASE + 1);
    assert.deepEqual([res.reaped.crashed, res.claimed], [[], []]);
    assert.equal(await stateOf(store, r1), 'Running');
    assert.equal(await stateOf(store, r2), 'AwaitingConcurrencySlot');
    assert.equal((await store.getGcl('db', T0 + LEASE + 1)).active_slots, 1);
    // ... until it stops renewing
    const later = await store.dispatch(dispatchReq({ workerId: 'alive' }), T0 + 2 * LEASE);
    assert.deepEqual([later.reaped.crashed, later.claimed], [[r1], [r2]]);
  }));

test('a Cancelling run of a dead worker becomes Cancelled, not Crashed', () =>
  withStore(async (store) => {
    const { r1, r2 } = await deadWorkerScenario(store);
    assert.equal((await store.requestCancel(r1, T0 + 5)).outcome, 'cancelling');
    const res = await store.dispatch(dispatchReq({ workerId: 'alive' }), T0 + LEASE + 1);
    assert.deepEqual(res.reaped.cancelled, [r1]);
    assert.deepEqual(res.reaped.crashed, []);
    assert.deepEqual(res.claimed, [r2]);
    const run = (await store.getRun(r1, T0)).run;
    assert.equal(run.state_name, 'Cancelled');
    assert.match(run.state_message ?? '', /stopped responding/);
  }));

test('a Pending run (claimed, never started) of a dead worker is Crashed too', () =>
  withStore(async (store) => {
    await deploy(store, [limited('a', 1)]);
    const [r1] = await manualRuns(store, 'etl/a', [T0]);
    await store.dispatch(dispatchReq({ workerId: 'dead', leaseMs: LEASE }), T0);
    const res = await store.reapExpired(T0 + LEASE);
    assert.deepEqual(res.crashed, [r1]);
    assert.equal((await store.getRun(r1!, T0)).run.state_type, 'CRASHED');
  }));

test('a global lease of a dead flow process expires and frees its slots without touching the run', () =>
  withStore(async (store) => {
    await store.createGcl({ name: 'db', limit: 1, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, T0);
    const got = await store.tryAcquireGcl(
      { names: ['db'], occupy: 1, mode: 'concurrency', holder: 'pid:1234', flowRunId: null, strict: false, leaseMs: LEASE, waiterId: 'w', waiterTtlMs: 2000 },
      T0,
    );
    assert.equal(got.status, 'acquired');
    assert.equal((await store.getGcl('db', T0)).holders[0]!.holder, 'pid:1234');
    const res = await store.reapExpired(T0 + LEASE);
    assert.deepEqual([res.crashed, res.freedLeases], [[], 1]);
    assert.equal((await store.getGcl('db', T0 + LEASE)).active_slots, 0);
  }));

test('releasing a lease frees its slots at once; releasing it again reports false', () =>
  withStore(async (store) => {
    await store.createGcl({ name: 'db', limit: 1, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, T0);
    const got = await store.tryAcquireGcl(
      { names: ['db'], occupy: 1, mode: 'concurrency', holder: 'h', flowRunId: null, strict: true, leaseMs: LEASE, waiterId: 'w', waiterTtlMs: 2000 },
      T0,
    );
    assert.ok(got.status === 'acquired' && got.leaseId);
    assert.equal(await store.releaseLease(got.leaseId), true);
    assert.equal(await store.releaseLease(got.leaseId), false);
    assert.equal((await store.getGcl('db', T0)).active_slots, 0);
  }));
