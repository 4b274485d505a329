// Flow runs: late marking, cancel, start/finish transitions, listing and lookup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError } from '../../src/domain/errors.js';
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

test('a Scheduled run more than 15 s past its time becomes Late, keeping its scheduled time', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a')]);
    const [run] = await manualRuns(store, 'etl/a', [T0]);
    assert.deepEqual(await store.markLateRuns(T0 + 15 * SEC), [], 'exactly 15 s is not late yet');
    assert.deepEqual(await store.markLateRuns(T0 + 15 * SEC + 1), [run]);
    const d = await store.getRun(run!, T0);
    assert.equal(d.run.state_type, 'SCHEDULED');
    assert.equal(d.run.state_name, 'Late');
    assert.equal(d.run.expected_start_time, new Date(T0).toISOString());
    assert.deepEqual(d.state_history.map((h) => h.name), ['Scheduled', 'Late']);
  }));

test('re-marking a Late run adds no state to its history', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a')]);
    const [run] = await manualRuns(store, 'etl/a', [T0]);
    await store.markLateRuns(T0 + 60 * SEC);
    assert.deepEqual(await store.markLateRuns(T0 + 120 * SEC), []);
    assert.equal((await store.getRun(run!, T0)).state_history.length, 2);
  }));

test('AwaitingConcurrencySlot runs are never marked Late; Pending runs are not touched', () =>
  withStore(async (store) => {
    await deploy(store, [limited('a', 1)]);
    const [pending, awaiting] = await manualRuns(store, 'etl/a', [T0, T0]);
    await store.dispatch(dispatchReq(), T0);
    assert.equal(await stateOf(store, pending!), 'Pending');
    assert.equal(await stateOf(store, awaiting!), 'AwaitingConcurrencySlot');
    assert.deepEqual(await store.markLateRuns(T0 + 3600 * SEC), []);
    assert.equal(await stateOf(store, pending!), 'Pending');
    assert.equal(await stateOf(store, awaiting!), 'AwaitingConcurrencySlot');
  }));

test('a Late run is still claimed by dispatch, and a run blocked only by the pool may go Late', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a')]);
    await store.updatePool('local', { concurrencyLimit: 0 }, T0);
    const [run] = await manualRuns(store, 'etl/a', [T0]);
    await store.dispatch(dispatchReq(), T0 + SEC);
    assert.deepEqual(await store.markLateRuns(T0 + 20 * SEC), [run]);
    await store.updatePool('local', { concurrencyLimit: null }, T0);
    assert.deepEqual((await store.dispatch(dispatchReq(), T0 + 21 * SEC)).claimed, [run]);
  }));

test('start and finish record start_time, end_time and the history; a finished run cannot start or finish again', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a')]);
    const [run] = await manualRuns(store, 'etl/a', [T0]);
    assert.equal(await store.startRun(run!, 1, T0), false, 'a Scheduled run cannot go Running');
    await store.dispatch(dispatchReq(), T0);
    assert.equal(await store.startRun(run!, 4242, T0 + SEC), true);
    assert.equal(await store.finishRun(run!, { type: 'FAILED', name: 'Failed', message: 'exit 1' }, T0 + 5 * SEC), true);
    assert.equal(await store.finishRun(run!, { type: 'COMPLETED', name: 'Completed' }, T0 + 6 * SEC), false);
    const d = await store.getRun(run!, T0);
    assert.equal(d.run.start_time, new Date(T0 + SEC).toISOString());
    assert.equal(d.run.end_time, new Date(T0 + 5 * SEC).toISOString());
    assert.equal(d.run.state_message, 'exit 1');
    assert.deepEqual(d.state_history.map((h) => h.name), ['Scheduled', 'Pending', 'Running', 'Failed']);
    assert.equal((await store.getPool('local', T0)).slots_in_use, 0);
  }));

test('cancelling a run that has not started cancels it at once; a running one goes Cancelling', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a')]);
    const [running, waiting] = await manualRuns(store, 'etl/a', [T0, T0 + 60 * SEC]);
    await store.dispatch(dispatchReq({ workerId: 'w1' }), T0);
    await store.startRun(running!, 1, T0);
    assert.deepEqual(await store.requestCancel(waiting!, T0), { runId: waiting, outcome: 'cancelled' });
    assert.deepEqual(await store.requestCancel(running!, T0), { runId: running, outcome: 'cancelling' });
    assert.deepEqual(await store.requestCancel(running!, T0), { runId: running, outcome: 'cancelling' });
    assert.deepEqual(await store.runsOfWorker('w1', 'CANCELLING'), [running]);
    assert.equal((await store.runState(running!))?.cancel_requested, 1);
    // a Cancelling run still holds its slots until it stops
    assert.equal((await store.getPool('local', T0)).slots_in_use, 1);
    await store.finishRun(running!, { type: 'CANCELLED', name: 'Cancelled' }, T0 + 1);
    assert.deepEqual(await store.requestCancel(running!, T0), { runId: running, outcome: 'already-final' });
    assert.equal((await store.getPool('local', T0)).slots_in_use, 0);
  }));

test('flow-run ls lists newest scheduled time first, filters by deployment and state, and honours the limit', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a'), spec('b')]);
    const a = await manualRuns(store, 'etl/a', [T0 + 2 * SEC, T0, T0 + 1 * SEC]);
    const [b] = await manualRuns(store, 'etl/b', [T0 + 3 * SEC]);
    const all = await store.listRuns({ limit: 10 });
    assert.deepEqual(all.map((r) => r.id), [b, a[0], a[2], a[1]]);
    assert.deepEqual((await store.listRuns({ limit: 2 })).map((r) => r.id), [b, a[0]]);
    assert.deepEqual((await store.listRuns({ deployment: 'etl/a', limit: 10 })).map((r) => r.id), [a[0], a[2], a[1]]);
    await store.requestCancel(a[1]!, T0);
    assert.deepEqual((await store.listRuns({ state: 'cancelled', limit: 10 })).map((r) => r.id), [a[1]]);
    assert.deepEqual((await store.listRuns({ state: 'Cancelled', limit: 10 })).map((r) => r.id), [a[1]]);
    assert.equal(all[0]!.deployment_name, 'etl/b');
  }));

test('runs are found by full id or an unambiguous id prefix', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a')]);
    const [run] = await manualRuns(store, 'etl/a', [T0]);
    assert.equal((await store.getRun(run!.slice(0, 8), T0)).run.id, run);
    await assert.rejects(store.getRun('ffffffff-0000', T0), (e: unknown) => e instanceof NotFoundError && /not found/.test(e.message));
  }));

test('logs are appended and read back in order after an id', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a')]);
    const [run] = await manualRuns(store, 'etl/a', [T0]);
    await store.appendLogs(run!, [
      { timestamp: T0, stream: 'stdout', line: 'one' },
      { timestamp: T0 + 1, stream: 'stderr', line: 'two' },
      { timestamp: T0 + 2, stream: 'stdout', line: 'three' },
    ]);
    const lines = await store.readLogs(run!, 0, 10);
    assert.deepEqual(lines.map((l) => l.line), ['one', 'two', 'three']);
    assert.deepEqual((await store.readLogs(run!, lines[0]!.id, 1)).map((l) => l.line), ['two']);
  }));
