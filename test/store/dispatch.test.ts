// Dispatch: deployment, queue and pool limits taken all or nothing in one transaction; FIFO; CANCEL_NEW.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SqliteStore } from '../../src/store/store.js';
import { openTempStore } from '../support/temp-home.js';
import { deploy, dispatchReq, limited, manualRuns, SEC, spec, stateOf, T0 } from '../support/store-fixtures.js';

async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const t = openTempStore();
  try {
    await fn(t.store);
  } finally {
    await t.close();
  }
}

const done = { type: 'COMPLETED', name: 'Completed' } as const;
const deploymentSlots = (store: SqliteStore, deploymentId: string) =>
  (store.db.prepare("SELECT COUNT(*) AS n FROM lease_slot WHERE resource_kind = 'deployment' AND resource_id = ?").get(deploymentId) as { n: number }).n;

test('limit 2 ENQUEUE with 3 due runs: 2 are claimed, the third awaits a slot and knows why', () =>
  withStore(async (store) => {
    const ids = await deploy(store, [limited('a', 2)]);
    const [r1, r2, r3] = await manualRuns(store, 'etl/a', [T0, T0 + 1, T0 + 2]);
    const res = await store.dispatch(dispatchReq(), T0 + 10);
    assert.deepEqual(res.claimed, [r1, r2]);
    assert.deepEqual(res.awaiting, [r3]);
    assert.deepEqual(res.cancelled, []);
    assert.equal(await stateOf(store, r1!), 'Pending');
    const waiting = await store.getRun(r3!, T0);
    assert.equal(waiting.run.state_type, 'SCHEDULED');
    assert.equal(waiting.run.state_name, 'AwaitingConcurrencySlot');
    assert.match(waiting.run.state_message ?? '', /2 of 2 in use/);
    assert.deepEqual(waiting.waiting_on, [{ kind: 'deployment', name: 'etl/a', limit: 2, in_use: 2, holders: [r1, r2] }]);
    assert.deepEqual(waiting.state_history.map((h) => h.name), ['Scheduled', 'AwaitingConcurrencySlot']);
    assert.equal(deploymentSlots(store, ids.a!), 2);
    // dispatching again changes nothing and adds no history
    const again = await store.dispatch(dispatchReq(), T0 + 20);
    assert.deepEqual([again.claimed, again.awaiting], [[], []]);
    assert.equal((await store.getRun(r3!, T0)).state_history.length, 2);
  }));

test('when a run finishes, the oldest waiting run of the deployment is claimed next', () =>
  withStore(async (store) => {
    await deploy(store, [limited('a', 1)]);
    const [r1, r2, r3] = await manualRuns(store, 'etl/a', [T0, T0 + 1, T0 + 2]);
    await store.dispatch(dispatchReq(), T0 + 10);
    await store.startRun(r1!, 123, T0 + 11);
    assert.equal(await store.finishRun(r1!, done, T0 + 20), true);
    const res = await store.dispatch(dispatchReq(), T0 + 20);
    assert.deepEqual(res.claimed, [r2]);
    const claimed = await store.getRun(r2!, T0);
    assert.equal(claimed.waiting_on, undefined);
    assert.deepEqual(claimed.state_history.map((h) => h.name), ['Scheduled', 'AwaitingConcurrencySlot', 'Pending']);
    assert.deepEqual((await store.getRun(r3!, T0)).waiting_on?.[0]?.holders, [r2]);
  }));

test('ENQUEUE is a true FIFO by scheduled time, then creation, across many runs', () =>
  withStore(async (store) => {
    await deploy(store, [limited('a', 1)]);
    // scheduled times out of creation order, with ties broken by creation
    const plan = [7, 3, 9, 3, 1, 8, 3, 2, 6, 5, 4, 9, 0, 1];
    const created: { id: string; at: number; seq: number }[] = [];
    for (const [seq, offset] of plan.entries()) {
      const id = await store.createManualRun('etl/a', { seq }, T0 + offset * SEC, T0 + seq * 10);
      created.push({ id, at: offset, seq });
    }
    const expected = [...created].sort((a, b) => a.at - b.at || a.seq - b.seq).map((c) => c.id);
    const order: string[] = [];
    let now = T0 + 60 * SEC;
    for (let i = 0; i < plan.length; i++) {
      const res = await store.dispatch(dispatchReq(), now);
      assert.equal(res.claimed.length, 1, `one run at a time (step ${i})`);
      order.push(res.claimed[0]!);
      await store.finishRun(res.claimed[0]!, done, ++now);
    }
    assert.deepEqual(order, expected);
  }));

test('runs created in the same millisecond for the same time start in creation order', () =>
  withStore(async (store) => {
    await deploy(store, [limited('a', 1)]);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(await store.createManualRun('etl/a', { i }, T0, T0));
    const order: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const res = await store.dispatch(dispatchReq(), T0 + 100 + i);
      order.push(res.claimed[0]!);
      await store.finishRun(res.claimed[0]!, done, T0 + 100 + i);
    }
    assert.deepEqual(order, ids);
  }));

test('CANCEL_NEW cancels a due run whose deployment is full, naming the limit and the holders', () =>
  withStore(async (store) => {
    await deploy(store, [limited('c', 1, 'CANCEL_NEW')]);
    const [r1, r2] = await manualRuns(store, 'etl/c', [T0, T0 + 1]);
    const res = await store.dispatch(dispatchReq(), T0 + 10);
    assert.deepEqual(res.claimed, [r1]);
    assert.deepEqual(res.cancelled, [r2]);
    const cancelled = (await store.getRun(r2!, T0)).run;
    assert.equal(cancelled.state_type, 'CANCELLED');
    assert.equal(cancelled.state_name, 'Cancelled');
    assert.ok(cancelled.end_time);
    assert.match(cancelled.state_message ?? '', /limit 1/);
    assert.match(cancelled.state_message ?? '', /CANCEL_NEW/);
    assert.ok(cancelled.state_message!.includes(r1!), 'the message names the holder');
    // after the holder finishes, the next due run starts
    await store.finishRun(r1!, done, T0 + 20);
    const [r3] = await manualRuns(store, 'etl/c', [T0 + 30], T0 + 30);
    assert.deepEqual((await store.dispatch(dispatchReq(), T0 + 30)).claimed, [r3]);
  }));

test('pool limit 4 with 6 unlimited deployments: exactly 4 claimed, the rest stay Scheduled waiting on the pool', () =>
  withStore(async (store) => {
    await deploy(store, ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'].map((n) => spec(n)));
    await store.updatePool('local', { concurrencyLimit: 4 }, T0);
    const runs: string[] = [];
    for (const [i, n] of ['d1', 'd2', 'd3', 'd4', 'd5', 'd6'].entries()) runs.push(...(await manualRuns(store, `etl/${n}`, [T0 + i])));
    const res = await store.dispatch(dispatchReq(), T0 + 10);
    assert.deepEqual(res.claimed, runs.slice(0, 4));
    assert.deepEqual(res.awaiting, []);
    for (const id of runs.slice(4)) {
      const d = await store.getRun(id, T0);
      assert.equal(d.run.state_name, 'Scheduled');
      assert.deepEqual(d.waiting_on, [{ kind: 'pool', name: 'local', limit: 4, in_use: 4, holders: runs.slice(0, 4) }]);
    }
    assert.equal((await store.getPool('local', T0)).slots_in_use, 4);
    await store.finishRun(runs[2]!, done, T0 + 20);
    assert.deepEqual((await store.dispatch(dispatchReq(), T0 + 20)).claimed, [runs[4]]);
  }));

test('a queue limit holds runs of that queue as Scheduled while other queues go on', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a', { work_queue_name: 'slow' }), spec('b')]);
    await store.updateQueue('local', 'slow', { concurrencyLimit: 1 }, T0);
    const [a1, a2] = await manualRuns(store, 'etl/a', [T0, T0 + 1]);
    const [b1] = await manualRuns(store, 'etl/b', [T0 + 2]);
    const res = await store.dispatch(dispatchReq(), T0 + 10);
    assert.deepEqual(res.claimed.sort(), [a1, b1].sort());
    const w = await store.getRun(a2!, T0);
    assert.equal(w.run.state_name, 'Scheduled');
    assert.deepEqual(w.waiting_on, [{ kind: 'queue', name: 'slow', limit: 1, in_use: 1, holders: [a1] }]);
  }));

test('queue priority 1 is served before priority 2 even when scheduled later', () =>
  withStore(async (store) => {
    await store.createPool({ name: 'local', type: 'process', concurrencyLimit: 1 }, T0);
    await store.createQueue({ pool: 'local', name: 'low', priority: 2, concurrencyLimit: null }, T0);
    await store.createQueue({ pool: 'local', name: 'high', priority: 1, concurrencyLimit: null }, T0);
    await deploy(store, [spec('low', { work_queue_name: 'low' }), spec('high', { work_queue_name: 'high' })]);
    const [low] = await manualRuns(store, 'etl/low', [T0]);
    const [high] = await manualRuns(store, 'etl/high', [T0 + 5 * SEC]);
    const res = await store.dispatch(dispatchReq(), T0 + 10 * SEC);
    assert.deepEqual(res.claimed, [high]);
    assert.equal((await store.getRun(low!, T0)).waiting_on?.[0]?.kind, 'pool');
  }));

test('a paused pool starts nothing; a paused queue starts nothing of its own', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a', { work_queue_name: 'q' }), spec('b')]);
    const [a] = await manualRuns(store, 'etl/a', [T0]);
    const [b] = await manualRuns(store, 'etl/b', [T0]);
    await store.updatePool('local', { isPaused: true }, T0);
    assert.deepEqual((await store.dispatch(dispatchReq(), T0 + 10)).claimed, []);
    assert.equal((await store.getRun(b!, T0)).waiting_on?.[0]?.kind, 'pool');
    await store.updatePool('local', { isPaused: false }, T0);
    await store.updateQueue('local', 'q', { isPaused: true }, T0);
    assert.deepEqual((await store.dispatch(dispatchReq(), T0 + 20)).claimed, [b]);
    assert.equal(await stateOf(store, a!), 'Scheduled');
    await store.updateQueue('local', 'q', { isPaused: false }, T0);
    assert.deepEqual((await store.dispatch(dispatchReq(), T0 + 30)).claimed, [a]);
  }));

test('all or nothing: a run that fits its deployment but not the pool takes no deployment slot', () =>
  withStore(async (store) => {
    const ids = await deploy(store, [limited('a', 1), spec('b')]);
    await store.updatePool('local', { concurrencyLimit: 1 }, T0);
    const [b1] = await manualRuns(store, 'etl/b', [T0]);
    const [a1, a2] = await manualRuns(store, 'etl/a', [T0 + 1, T0 + 2]);
    const res = await store.dispatch(dispatchReq(), T0 + 10);
    assert.deepEqual(res.claimed, [b1]);
    assert.deepEqual(res.awaiting, [], 'the deployment is not full, so nothing awaits its slot');
    assert.equal(deploymentSlots(store, ids.a!), 0);
    for (const id of [a1, a2]) assert.equal(await stateOf(store, id!), 'Scheduled');
    assert.equal((await store.getRun(a1!, T0)).waiting_on?.[0]?.kind, 'pool');
    await store.finishRun(b1!, done, T0 + 20);
    const next = await store.dispatch(dispatchReq(), T0 + 20);
    assert.deepEqual(next.claimed, [a1]);
    assert.equal(deploymentSlots(store, ids.a!), 1);
  }));

test('a worker takes no more runs than its capacity (worker --limit); the rest stay Scheduled', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a')]);
    const runs = await manualRuns(store, 'etl/a', [T0, T0 + 1, T0 + 2]);
    const res = await store.dispatch(dispatchReq({ capacity: 1 }), T0 + 10);
    assert.deepEqual(res.claimed, [runs[0]]);
    assert.equal(await stateOf(store, runs[1]!), 'Scheduled');
    assert.deepEqual((await store.dispatch(dispatchReq({ capacity: 0 }), T0 + 11)).claimed, []);
    assert.deepEqual((await store.dispatch(dispatchReq({ capacity: 5 }), T0 + 12)).claimed, runs.slice(1));
  }));

test('manual runs obey the deployment limit like scheduled ones', () =>
  withStore(async (store) => {
    await deploy(store, [limited('a', 1)]);
    const [first] = await manualRuns(store, 'etl/a', [T0]);
    await store.dispatch(dispatchReq(), T0);
    const manual = await store.createManualRun('etl/a', { x: 1 }, T0 + 5, T0 + 5);
    const res = await store.dispatch(dispatchReq(), T0 + 10);
    assert.deepEqual(res.awaiting, [manual]);
    await store.finishRun(first!, done, T0 + 20);
    assert.deepEqual((await store.dispatch(dispatchReq(), T0 + 20)).claimed, [manual]);
  }));

test('runs not yet due, of other pools, or of queues the worker does not serve are left alone', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a'), spec('b', { work_queue_name: 'other-q' }), spec('c', { work_pool_name: 'other-pool' })]);
    const [future] = await manualRuns(store, 'etl/a', [T0 + 60 * SEC]);
    const [otherQueue] = await manualRuns(store, 'etl/b', [T0]);
    await manualRuns(store, 'etl/c', [T0]);
    const res = await store.dispatch(dispatchReq({ queues: ['default'] }), T0 + 10);
    assert.deepEqual(res.claimed, []);
    assert.equal(await stateOf(store, future!), 'Scheduled');
    assert.deepEqual((await store.dispatch(dispatchReq({ queues: ['other-q'] }), T0 + 10)).claimed, [otherQueue]);
    assert.deepEqual((await store.dispatch(dispatchReq(), T0 + 60 * SEC)).claimed, [future]);
  }));

test('a waiting run that was cancelled by the user is not claimed', () =>
  withStore(async (store) => {
    await deploy(store, [limited('a', 1)]);
    const [r1, r2, r3] = await manualRuns(store, 'etl/a', [T0, T0 + 1, T0 + 2]);
    await store.dispatch(dispatchReq(), T0 + 10);
    assert.equal((await store.requestCancel(r2!, T0 + 11)).outcome, 'cancelled');
    await store.finishRun(r1!, done, T0 + 12);
    assert.deepEqual((await store.dispatch(dispatchReq(), T0 + 12)).claimed, [r3]);
  }));

test('two workers on separate connections, dispatching back to back, never exceed the pool or deployment limits', async () => {
  const t = openTempStore();
  const { SqliteStore } = await import('../../src/store/store.js');
  const other = SqliteStore.open(t.store.location);
  try {
    await deploy(t.store, [limited('a', 2), ...['b', 'c', 'd', 'e'].map((n) => spec(n))]);
    await t.store.updatePool('local', { concurrencyLimit: 4 }, T0);
    await manualRuns(t.store, 'etl/a', [T0, T0, T0, T0]);
    for (const n of ['b', 'c', 'd', 'e']) await manualRuns(t.store, `etl/${n}`, [T0, T0]);
    const [x, y] = await Promise.all([t.store.dispatch(dispatchReq({ workerId: 'x' }), T0 + 1), other.dispatch(dispatchReq({ workerId: 'y' }), T0 + 1)]);
    const claimed = [...x.claimed, ...y.claimed];
    assert.equal(claimed.length, 4);
    assert.equal(new Set(claimed).size, 4, 'no run was claimed twice');
    const running = await t.store.listRuns({ state: 'PENDING', limit: 100 });
    assert.ok(running.filter((r) => r.deployment_name === 'etl/a').length <= 2);
  } finally {
    await other.close();
    await t.close();
  }
});
