// applyDeployments: upsert by flow/name, schedules replaced, limits removed, future runs dropped, pools created.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError, UsageError } from '../../src/domain/errors.js';
import { schedulerPass } from '../../src/engine/scheduler.js';
import type { SqliteStore } from '../../src/store/store.js';
import { openTempStore } from '../support/temp-home.js';
import { deploy, dispatchReq, HOUR, intervalSchedule, limited, manualRuns, MIN, spec, T0 } from '../support/store-fixtures.js';

async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const t = openTempStore();
  try {
    await fn(t.store);
  } finally {
    await t.close();
  }
}

test('deploying creates a missing work pool (type process) with its default queue, and a named queue', () =>
  withStore(async (store) => {
    const res = await store.applyDeployments([spec('a', { work_pool_name: 'new-pool', work_queue_name: 'fast' })], T0);
    assert.deepEqual(res.pools_created, ['new-pool']);
    assert.deepEqual(res.queues_created, [{ pool: 'new-pool', queue: 'fast' }]);
    const pool = await store.getPool('new-pool', T0);
    assert.equal(pool.type, 'process');
    assert.deepEqual((await store.listQueues('new-pool')).map((q) => [q.name, q.priority]), [['default', 1], ['fast', 2]]);
    const again = await store.applyDeployments([spec('a', { work_pool_name: 'new-pool', work_queue_name: 'fast' })], T0 + 1);
    assert.deepEqual(again.pools_created, []);
    assert.deepEqual(again.queues_created, []);
  }));

test('a redeploy upserts by flow/name: same id, fields updated, created flag false', () =>
  withStore(async (store) => {
    const first = await store.applyDeployments([spec('a', { parameters: { x: 1 }, tags: ['t1'] })], T0);
    assert.equal(first.deployments[0]!.created, true);
    const second = await store.applyDeployments([spec('a', { parameters: { x: 2 }, description: 'hello' })], T0 + 1000);
    assert.equal(second.deployments[0]!.created, false);
    assert.equal(second.deployments[0]!.id, first.deployments[0]!.id);
    const d = await store.getDeployment('etl/a');
    assert.deepEqual(d.parameters, { x: 2 });
    assert.deepEqual(d.tags, []);
    assert.equal(d.description, 'hello');
    assert.equal(d.created, new Date(T0).toISOString());
    assert.equal(d.updated, new Date(T0 + 1000).toISOString());
    // the same name under another flow is another deployment
    await store.applyDeployments([spec('a', { flow_name: 'other', full_name: 'other/a' })], T0);
    assert.equal((await store.listDeployments()).length, 2);
  }));

test('a redeploy replaces the schedules', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a', { schedules: [intervalSchedule(60, T0), intervalSchedule(3600, T0, { active: false })] })]);
    const before = await store.getDeployment('etl/a');
    assert.equal(before.schedules.length, 2);
    await deploy(store, [spec('a', { schedules: [intervalSchedule(300, T0, { parameters: { y: 1 }, slug: 's' })] })], T0 + 1);
    const after = await store.getDeployment('etl/a');
    assert.equal(after.schedules.length, 1);
    assert.equal(after.schedules[0]!.schedule.interval, 300);
    assert.deepEqual(after.schedules[0]!.parameters, { y: 1 });
    assert.equal(after.schedules[0]!.slug, 's');
    assert.ok(!before.schedules.some((s) => s.id === after.schedules[0]!.id));
  }));

test('an interval schedule without an anchor is anchored at deploy time', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a', { schedules: [{ schedule: { interval: 60, timezone: null }, active: true, parameters: {}, slug: null }] })]);
    assert.equal((await store.getDeployment('etl/a')).schedules[0]!.schedule.anchor_date, new Date(T0).toISOString());
  }));

test('a redeploy without a concurrency limit removes the deployment limit', () =>
  withStore(async (store) => {
    await deploy(store, [limited('a', 2, 'CANCEL_NEW')]);
    const d = await store.getDeployment('etl/a');
    assert.equal(d.concurrency_limit, 2);
    assert.deepEqual(d.concurrency_options, { collision_strategy: 'CANCEL_NEW' });
    await deploy(store, [spec('a')], T0 + 1);
    const after = await store.getDeployment('etl/a');
    assert.equal(after.concurrency_limit, null);
    assert.equal(after.concurrency_options, null);
  }));

test('a redeploy deletes future auto-scheduled runs that have not started, and the scheduler regenerates them', () =>
  withStore(async (store) => {
    const now = T0 + 10 * MIN;
    await deploy(store, [limited('a', 1, 'ENQUEUE', { schedules: [intervalSchedule(60, T0)] })]);
    // runs from T0 on: two are past due at `now`
    await schedulerPass(store, T0, null);
    const manualFuture = (await manualRuns(store, 'etl/a', [now + HOUR], now))[0]!;
    const res = await store.dispatch(dispatchReq(), now);
    assert.equal(res.claimed.length, 1);
    assert.ok(res.awaiting.length >= 2);
    const awaiting = res.awaiting;
    const futureAuto = (await store.listRuns({ limit: 1000 })).filter((r) => r.auto_scheduled && Date.parse(r.expected_start_time) > now);
    assert.ok(futureAuto.length > 0);

    await deploy(store, [limited('a', 1, 'ENQUEUE', { schedules: [intervalSchedule(120, T0)] })], now);
    const runs = await store.listRuns({ limit: 1000 });
    const ids = new Set(runs.map((r) => r.id));
    for (const r of futureAuto) assert.ok(!ids.has(r.id), `future auto run ${r.id} deleted`);
    for (const id of awaiting) assert.ok(ids.has(id), `AwaitingConcurrencySlot run ${id} kept`);
    assert.ok(ids.has(res.claimed[0]!), 'the Pending run is kept');
    assert.ok(ids.has(manualFuture), 'a manual run is kept');
    assert.equal(runs.filter((r) => r.auto_scheduled && Date.parse(r.expected_start_time) > now).length, 0);

    const pass = await schedulerPass(store, now, null);
    assert.ok(pass.created > 0);
    const regenerated = (await store.listRuns({ limit: 1000 })).filter((r) => r.auto_scheduled && Date.parse(r.expected_start_time) > now);
    for (const r of regenerated) assert.equal((Date.parse(r.expected_start_time) - T0) % (2 * MIN), 0, 'new runs follow the new 2-minute interval');
  }));

test('pausing a deployment drops its future scheduled runs; resuming lets the scheduler refill them', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a', { schedules: [intervalSchedule(3600, T0 + 1000)] })]);
    assert.equal((await schedulerPass(store, T0, null)).created, 3);
    assert.equal(await store.setDeploymentPaused('etl/a', true, T0), true);
    assert.equal(await store.setDeploymentPaused('etl/a', true, T0), false);
    assert.equal((await store.listRuns({ limit: 100 })).length, 0);
    assert.equal((await schedulerPass(store, T0, null)).created, 0);
    await store.setDeploymentPaused('etl/a', false, T0);
    assert.equal((await schedulerPass(store, T0, null)).created, 3);
  }));

test('deleting a deployment removes its runs; unknown names are not found; malformed names are usage errors', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a')]);
    await manualRuns(store, 'etl/a', [T0]);
    await store.deleteDeployment('etl/a');
    assert.equal((await store.listRuns({ limit: 10 })).length, 0);
    await assert.rejects(store.getDeployment('etl/a'), (e: unknown) => e instanceof NotFoundError && e.message === "Deployment 'etl/a' not found!");
    await assert.rejects(store.getDeployment('no-slash'), UsageError);
    await assert.rejects(store.createManualRun('etl/missing', {}, T0, T0), NotFoundError);
  }));

test('a deployment name may hold spaces, brackets, colons and non-ASCII letters', () =>
  withStore(async (store) => {
    const name = '[Tarinika-Inc(US Store)]: Clickstream Aggregation – día';
    await deploy(store, [spec(name, { flow_name: 'clickstream-dbt-run', full_name: `clickstream-dbt-run/${name}` })]);
    const d = await store.getDeployment(`clickstream-dbt-run/${name}`);
    assert.equal(d.name, name);
  }));

test('manual runs take the deployment parameters overlaid by the given ones', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a', { parameters: { a: 1, b: 2 }, tags: ['x'] })]);
    const id = await store.createManualRun('etl/a', { b: 3 }, T0, T0);
    const run = (await store.getRun(id, T0)).run;
    assert.deepEqual(run.parameters, { a: 1, b: 3 });
    assert.deepEqual(run.tags, ['x']);
    assert.equal(run.auto_scheduled, false);
    assert.equal(run.work_queue_name, 'default');
    assert.equal(run.state_name, 'Scheduled');
  }));
