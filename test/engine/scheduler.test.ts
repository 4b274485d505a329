// The scheduler pass: how many runs ahead, idempotency, paused and inactive schedules, parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { schedulerPass } from '../../src/engine/scheduler.js';
import type { SqliteStore } from '../../src/store/store.js';
import { openTempStore } from '../support/temp-home.js';
import { deploy, HOUR, intervalSchedule, MIN, spec, T0 } from '../support/store-fixtures.js';

async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const t = openTempStore();
  try {
    await fn(t.store);
  } finally {
    await t.close();
  }
}

const DAY = 24 * HOUR;

test('with the anchor at now + 1 s the scheduler creates Prefect\'s counts (1 min: 61, 1 h: 3, 5 min: 13, 60 days: 2)', () =>
  withStore(async (store) => {
    const anchor = T0 + 1000;
    await deploy(store, [
      spec('every-minute', { schedules: [intervalSchedule(60, anchor)] }),
      spec('hourly', { schedules: [intervalSchedule(3600, anchor)] }),
      spec('five-minutes', { schedules: [intervalSchedule(300, anchor)] }),
      spec('sixty-days', { schedules: [intervalSchedule(60 * 86_400, anchor)] }),
    ]);
    const pass = await schedulerPass(store, T0, null);
    assert.equal(pass.created, 61 + 3 + 13 + 2);
    assert.deepEqual(pass.errors, []);
    const count = async (name: string) => (await store.listRuns({ deployment: `etl/${name}`, limit: 1000 })).length;
    assert.equal(await count('every-minute'), 61);
    assert.equal(await count('hourly'), 3);
    assert.equal(await count('five-minutes'), 13);
    assert.equal(await count('sixty-days'), 2);
    const sixty = (await store.listRuns({ deployment: 'etl/sixty-days', limit: 10 })).map((r) => Date.parse(r.expected_start_time)).sort();
    assert.deepEqual(sixty, [anchor, anchor + 60 * DAY]);
  }));

test('scheduled runs are Scheduled, auto-scheduled, in the deployment\'s pool and queue, with history', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a', { work_pool_name: 'p', work_queue_name: 'q', tags: ['nightly'], schedules: [intervalSchedule(3600, T0)] })]);
    await schedulerPass(store, T0, null);
    const [run] = await store.listRuns({ limit: 1 });
    assert.equal(run!.state_type, 'SCHEDULED');
    assert.equal(run!.state_name, 'Scheduled');
    assert.equal(run!.auto_scheduled, true);
    assert.equal(run!.work_pool_name, 'p');
    assert.equal(run!.work_queue_name, 'q');
    assert.deepEqual(run!.tags, ['nightly']);
    const details = await store.getRun(run!.id, T0);
    assert.deepEqual(details.state_history.map((h) => [h.type, h.name]), [['SCHEDULED', 'Scheduled']]);
  }));

test('a second pass at the same time creates no runs', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a', { schedules: [intervalSchedule(60, T0 + 1000)] })]);
    assert.equal((await schedulerPass(store, T0, null)).created, 61);
    assert.equal((await schedulerPass(store, T0, null)).created, 0);
    assert.equal((await store.listRuns({ limit: 1000 })).length, 61);
  }));

test('a later pass only tops up the horizon and never duplicates a scheduled time', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a', { schedules: [intervalSchedule(60, T0 + 1000)] })]);
    await schedulerPass(store, T0, null);
    const later = await schedulerPass(store, T0 + 5 * MIN, null);
    assert.ok(later.created >= 1 && later.created <= 6, `created ${later.created}`);
    const times = (await store.listRuns({ limit: 1000 })).map((r) => r.expected_start_time);
    assert.equal(new Set(times).size, times.length);
  }));

test('two concurrent passes (two schedulers, two connections) create no duplicates', async () => {
  const t = openTempStore();
  const { SqliteStore } = await import('../../src/store/store.js');
  const second = SqliteStore.open(t.store.location);
  try {
    await deploy(t.store, [
      spec('a', { schedules: [intervalSchedule(60, T0 + 1000)] }),
      spec('b', { schedules: [intervalSchedule(300, T0 + 1000)] }),
    ]);
    const [p1, p2] = await Promise.all([schedulerPass(t.store, T0, null), schedulerPass(second, T0, null)]);
    assert.equal(p1.created + p2.created, 61 + 13);
    const runs = await t.store.listRuns({ limit: 1000 });
    assert.equal(runs.length, 61 + 13);
    const keys = runs.map((r) => `${r.deployment_id}@${r.expected_start_time}`);
    assert.equal(new Set(keys).size, keys.length);
  } finally {
    await second.close();
    await t.close();
  }
});

test('a cancelled run is never re-created (Prefect: 3 hourly runs, cancel one, schedule again)', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a', { schedules: [intervalSchedule(3600, T0 + 1000)] })]);
    await schedulerPass(store, T0, null);
    const runs = await store.listRuns({ limit: 10 });
    assert.equal(runs.length, 3);
    assert.equal((await store.requestCancel(runs[0]!.id, T0)).outcome, 'cancelled');
    // force the scheduler to look at this schedule again (resume resets its horizon) ...
    await store.setDeploymentPaused('etl/a', true, T0);
    await store.setDeploymentPaused('etl/a', false, T0);
    await schedulerPass(store, T0, null);
    const after = await store.listRuns({ limit: 10 });
    assert.deepEqual(after.map((r) => r.state_type).sort(), ['CANCELLED', 'SCHEDULED', 'SCHEDULED']);
    // ... and again later, when the scheduler tops up: the cancelled time is still one cancelled run
    await schedulerPass(store, T0 + 30 * MIN, null);
    const atCancelled = (await store.listRuns({ limit: 10 })).filter((r) => r.expected_start_time === runs[0]!.expected_start_time);
    assert.deepEqual(atCancelled.map((r) => r.state_type), ['CANCELLED']);
  }));

test('a finished run is not re-created', () =>
  withStore(async (store) => {
    await deploy(store, [spec('a', { schedules: [intervalSchedule(3600, T0)] })]);
    await schedulerPass(store, T0, null);
    const res = await store.dispatch({ pool: 'local', workerId: 'w', capacity: 10, leaseMs: 30_000 }, T0);
    assert.equal(res.claimed.length, 1);
    await store.finishRun(res.claimed[0]!, { type: 'COMPLETED', name: 'Completed' }, T0 + 1);
    await store.setDeploymentPaused('etl/a', true, T0);
    await store.setDeploymentPaused('etl/a', false, T0);
    await schedulerPass(store, T0, null);
    const runs = await store.listRuns({ limit: 10 });
    assert.equal(runs.filter((r) => r.expected_start_time === new Date(T0).toISOString()).length, 1);
  }));

test('a paused deployment and an inactive schedule create nothing', () =>
  withStore(async (store) => {
    await deploy(store, [
      spec('paused', { paused: true, schedules: [intervalSchedule(60, T0)] }),
      spec('inactive', { schedules: [intervalSchedule(60, T0, { active: false })] }),
    ]);
    const pass = await schedulerPass(store, T0, null);
    assert.equal(pass.schedules, 0);
    assert.equal(pass.created, 0);
    assert.equal((await store.listRuns({ limit: 10 })).length, 0);
  }));

test('a pass for one pool schedules only that pool\'s deployments', () =>
  withStore(async (store) => {
    await deploy(store, [
      spec('here', { schedules: [intervalSchedule(3600, T0)] }),
      spec('there', { work_pool_name: 'other', schedules: [intervalSchedule(3600, T0)] }),
    ]);
    assert.equal((await schedulerPass(store, T0, 'local')).created, 3);
    assert.equal((await store.listRuns({ deployment: 'etl/there', limit: 10 })).length, 0);
  }));

test('run parameters are the deployment parameters overlaid by the schedule parameters', () =>
  withStore(async (store) => {
    await deploy(store, [
      spec('a', {
        parameters: { target: 'prod', full_refresh: false, models: ['a'] },
        schedules: [intervalSchedule(3600, T0, { parameters: { full_refresh: true, extra: 1 } })],
      }),
    ]);
    await schedulerPass(store, T0, null);
    for (const r of await store.listRuns({ limit: 10 })) {
      assert.deepEqual(r.parameters, { target: 'prod', full_refresh: true, models: ['a'], extra: 1 });
    }
  }));

test('two schedules of one deployment firing at the same instant each get their run', () =>
  withStore(async (store) => {
    await deploy(store, [
      spec('a', {
        schedules: [
          intervalSchedule(3600, T0, { parameters: { region: 'us' } }),
          intervalSchedule(3600, T0, { parameters: { region: 'eu' } }),
        ],
      }),
    ]);
    assert.equal((await schedulerPass(store, T0, null)).created, 6);
    const at = (await store.listRuns({ limit: 10 })).filter((r) => r.expected_start_time === new Date(T0).toISOString());
    assert.deepEqual(at.map((r) => r.parameters.region).sort(), ['eu', 'us']);
    assert.equal((await schedulerPass(store, T0 + HOUR, null)).created, 2);
  }));

test('a schedule that cannot produce times is reported as an error and the others still run', () =>
  withStore(async (store) => {
    await deploy(store, [
      spec('bad', { schedules: [{ schedule: { cron: 'not a cron', timezone: null }, active: true, parameters: {}, slug: null }] }),
      spec('good', { schedules: [intervalSchedule(3600, T0)] }),
    ]);
    const pass = await schedulerPass(store, T0, null);
    assert.equal(pass.errors.length, 1);
    assert.equal(pass.created, 3);
  }));

test('a daily schedule keeps at least 3 upcoming runs as days pass (Prefect\'s minimum)', () =>
  withStore(async (store) => {
    await deploy(store, [spec('daily', { schedules: [intervalSchedule(86_400, T0)] })]);
    assert.equal((await schedulerPass(store, T0, null)).created, 3);
    const now = T0 + DAY + 1000;
    await schedulerPass(store, now, null);
    const upcoming = (await store.listRuns({ limit: 100 })).filter((r) => Date.parse(r.expected_start_time) >= now);
    assert.equal(upcoming.length, 3);
  }));

test('a redeploy with the same schedule does not bring back a cancelled future run', () =>
  withStore(async (store) => {
    const d = spec('a', { schedules: [intervalSchedule(3600, T0 + 1000)] });
    await deploy(store, [d]);
    await schedulerPass(store, T0, null);
    const [first] = await store.listRuns({ limit: 10 });
    await store.requestCancel(first!.id, T0);
    await deploy(store, [d], T0 + 10);
    await schedulerPass(store, T0 + 10, null);
    const at = (await store.listRuns({ limit: 10 })).filter((r) => r.expected_start_time === first!.expected_start_time);
    assert.deepEqual(at.map((r) => r.state_type), ['CANCELLED']);
  }));
