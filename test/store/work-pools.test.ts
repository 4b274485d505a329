// Work pools and work queues: default queue, sequential priorities, limits, deletion rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, NotFoundError } from '../../src/domain/errors.js';
import type { SqliteStore } from '../../src/store/store.js';
import { openTempStore } from '../support/temp-home.js';
import { deploy, dispatchReq, manualRuns, spec, T0 } from '../support/store-fixtures.js';

async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const t = openTempStore();
  try {
    await fn(t.store);
  } finally {
    await t.close();
  }
}

const priorities = async (store: SqliteStore, pool: string) =>
  Object.fromEntries((await store.listQueues(pool)).map((q) => [q.name, q.priority]));

test('a new pool gets a default queue with priority 1', () =>
  withStore(async (store) => {
    const pool = await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    assert.equal(pool.default_queue_name, 'default');
    assert.equal(pool.concurrency_limit, null);
    assert.equal(pool.status, 'NOT_READY');
    assert.equal(pool.slots_in_use, 0);
    const queues = await store.listQueues('p');
    assert.deepEqual(queues.map((q) => [q.name, q.priority, q.concurrency_limit, q.is_paused]), [['default', 1, null, false]]);
  }));

test('a paused pool is created with status PAUSED', () =>
  withStore(async (store) => {
    const pool = await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null, paused: true }, T0);
    assert.equal(pool.is_paused, true);
    assert.equal(pool.status, 'PAUSED');
  }));

test('creating a pool twice is a conflict with Prefect\'s message', () =>
  withStore(async (store) => {
    await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    await assert.rejects(store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0), (e: unknown) => {
      assert.ok(e instanceof ConflictError);
      assert.equal(e.message, "Work pool named 'p' already exists.");
      return true;
    });
  }));

test('queues without a priority take the first unused priority', () =>
  withStore(async (store) => {
    await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    await store.createQueue({ pool: 'p', name: 'a', concurrencyLimit: null }, T0);
    await store.createQueue({ pool: 'p', name: 'b', concurrencyLimit: null }, T0);
    assert.deepEqual(await priorities(store, 'p'), { default: 1, a: 2, b: 3 });
  }));

test('creating a queue at a taken priority shifts the others down and keeps priorities sequential', () =>
  withStore(async (store) => {
    await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    await store.createQueue({ pool: 'p', name: 'a', concurrencyLimit: null }, T0);
    await store.createQueue({ pool: 'p', name: 'urgent', priority: 1, concurrencyLimit: null }, T0);
    assert.deepEqual(await priorities(store, 'p'), { urgent: 1, default: 2, a: 3 });
    assert.deepEqual((await store.listQueues('p')).map((q) => q.name), ['urgent', 'default', 'a']);
  }));

test('changing a queue to a taken priority shifts the others, so no two queues share a priority', () =>
  withStore(async (store) => {
    await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    await store.createQueue({ pool: 'p', name: 'a', concurrencyLimit: null }, T0);
    await store.createQueue({ pool: 'p', name: 'b', concurrencyLimit: null }, T0);
    await store.updateQueue('p', 'b', { priority: 1 }, T0);
    assert.deepEqual(await priorities(store, 'p'), { b: 1, default: 2, a: 3 });
    await store.updateQueue('p', 'b', { priority: 3 }, T0);
    const after = await priorities(store, 'p');
    assert.equal(new Set(Object.values(after)).size, 3, `distinct priorities: ${JSON.stringify(after)}`);
    assert.equal(after.b, 3);
    assert.ok(after.default! < after.a!, 'the other queues keep their relative order');
  }));

test('pool and queue concurrency limits can be set and cleared', () =>
  withStore(async (store) => {
    await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    assert.equal((await store.updatePool('p', { concurrencyLimit: 4 }, T0)).concurrency_limit, 4);
    assert.equal((await store.getPool('p', T0)).concurrency_limit, 4);
    assert.equal((await store.updatePool('p', { concurrencyLimit: 0 }, T0)).concurrency_limit, 0);
    assert.equal((await store.updatePool('p', { concurrencyLimit: null }, T0)).concurrency_limit, null);
    assert.equal((await store.updateQueue('p', 'default', { concurrencyLimit: 2 }, T0)).concurrency_limit, 2);
    assert.equal((await store.updateQueue('p', 'default', { concurrencyLimit: null }, T0)).concurrency_limit, null);
    const paused = await store.updatePool('p', { isPaused: true }, T0);
    assert.equal(paused.status, 'PAUSED');
    assert.equal((await store.updatePool('p', { isPaused: false }, T0)).status, 'NOT_READY');
  }));

test('a pool is READY while a worker heartbeats and NOT_READY once it stops', () =>
  withStore(async (store) => {
    await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    await store.registerWorker({ id: 'w1', name: 'w1', pool: 'p', pid: 1 }, T0);
    assert.equal((await store.getPool('p', T0 + 1000)).status, 'READY');
    await store.stopWorker('w1', T0 + 2000);
    assert.equal((await store.getPool('p', T0 + 3000)).status, 'NOT_READY');
  }));

test('unknown pools and queues are reported as not found', () =>
  withStore(async (store) => {
    await assert.rejects(store.getPool('nope', T0), (e: unknown) => e instanceof NotFoundError && e.message === "Work pool 'nope' not found!");
    await assert.rejects(store.deletePool('nope'), (e: unknown) => e instanceof NotFoundError && e.message === "Work pool 'nope' does not exist.");
    await assert.rejects(store.listQueues('nope'), NotFoundError);
    await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    await assert.rejects(store.getQueue('p', 'nope'), NotFoundError);
    await assert.rejects(store.deleteQueue('p', 'nope'), NotFoundError);
    await assert.rejects(store.createQueue({ pool: 'nope', name: 'q', concurrencyLimit: null }, T0), NotFoundError);
  }));

test('a duplicate queue name in one pool is a conflict', () =>
  withStore(async (store) => {
    await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    await store.createQueue({ pool: 'p', name: 'a', concurrencyLimit: null }, T0);
    await assert.rejects(store.createQueue({ pool: 'p', name: 'a', concurrencyLimit: null }, T0), ConflictError);
  }));

test('the default queue cannot be deleted', () =>
  withStore(async (store) => {
    await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    await assert.rejects(store.deleteQueue('p', 'default'), ConflictError);
  }));

test('pools and queues with active runs cannot be deleted; idle ones can', () =>
  withStore(async (store) => {
    await deploy(store, [spec('busy', { work_queue_name: 'q' })]);
    const [run] = await manualRuns(store, 'etl/busy', [T0]);
    const claimed = await store.dispatch(dispatchReq(), T0);
    assert.deepEqual(claimed.claimed, [run]);
    await assert.rejects(store.deleteQueue('local', 'q'), (e: unknown) => e instanceof ConflictError && /1 active flow run/.test(e.message));
    await assert.rejects(store.deletePool('local'), (e: unknown) => e instanceof ConflictError && /1 active flow run/.test(e.message));
    await store.finishRun(run!, { type: 'COMPLETED', name: 'Completed' }, T0 + 1000);
    await store.deleteQueue('local', 'q');
    await store.deletePool('local');
    assert.deepEqual(await store.listPools(T0), []);
  }));

test('pool and queue slots in use are counted from live leases', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a'), spec('b')]);
    await manualRuns(store, 'etl/a', [T0]);
    const [b] = await manualRuns(store, 'etl/b', [T0]);
    await store.dispatch(dispatchReq(), T0);
    assert.equal((await store.getPool('local', T0)).slots_in_use, 2);
    assert.equal((await store.getQueue('local', 'default')).slots_in_use, 2);
    await store.finishRun(b!, { type: 'FAILED', name: 'Failed', message: 'boom' }, T0 + 1);
    assert.equal((await store.getPool('local', T0)).slots_in_use, 1);
    assert.equal((await store.getQueue('local', 'default')).slots_in_use, 1);
  }));
