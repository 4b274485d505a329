// The hot queries use their indexes: EXPLAIN QUERY PLAN over the SQL the repositories really run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SqliteStore } from '../../src/store/store.js';
import { openTempStore } from '../support/temp-home.js';
import { deploy, dispatchReq, limited, manualRuns, spec, T0 } from '../support/store-fixtures.js';
import { forgetStatements } from '../../src/store/db.js';

/** Runs `fn` and returns every distinct SQL text it prepared on the store's connection. */
async function capture(store: SqliteStore, fn: () => Promise<unknown>): Promise<string[]> {
  const db = store.db;
  forgetStatements(db); // statements are cached per connection: compile them again so each is seen
  const seen = new Set<string>();
  const original = db.prepare;
  db.prepare = function (this: typeof db, sql: string) {
    seen.add(sql);
    return original.call(this, sql);
  } as typeof db.prepare;
  try {
    await fn();
  } finally {
    db.prepare = original;
  }
  return [...seen];
}

function plan(store: SqliteStore, sql: string): string[] {
  const params = (sql.match(/\?/g) ?? []).map(() => null);
  return (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
}

function find(sqls: string[], ...fragments: string[]): string {
  const norm = (s: string) => s.replace(/\s+/g, ' ');
  const hits = sqls.filter((s) => fragments.every((f) => norm(s).includes(f)));
  assert.equal(hits.length, 1, `exactly one statement with ${fragments.join(' & ')}; saw:\n${sqls.map(norm).join('\n')}`);
  return hits[0]!;
}

/** A full table scan is "SCAN <table or alias>" without "USING [COVERING] INDEX". */
function assertNoFullScan(steps: string[], aliases: string[]): void {
  for (const step of steps) {
    for (const a of aliases) assert.ok(!new RegExp(`^SCAN ${a}$`).test(step.trim()), `full scan of ${a}: ${steps.join(' | ')}`);
  }
}

async function seeded(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const t = openTempStore();
  try {
    await deploy(t.store, [limited('a', 1), spec('b')]);
    await manualRuns(t.store, 'etl/a', [T0, T0 + 1, T0 + 2]);
    await manualRuns(t.store, 'etl/b', [T0]);
    await t.store.createGcl({ name: 'g', limit: 1, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, T0);
    // a realistic amount of history, so the planner has something to choose over
    const insert = t.store.db.prepare(
      `INSERT INTO flow_run (id, name, deployment_id, work_pool_name, work_queue_name, state_type, state_name, expected_start_time,
         parameters_json, tags_json, auto_scheduled, created_at, updated_at)
       SELECT ?, 'old', id, 'local', 'default', 'COMPLETED', 'Completed', ?, '{}', '[]', 1, ?, ? FROM deployment WHERE name = 'b'`,
    );
    t.store.db.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run(`old-${i}`, T0 - i * 60_000, T0 - i * 60_000, T0);
    })();
    t.store.db.exec('ANALYZE');
    await fn(t.store);
  } finally {
    await t.close();
  }
}

test('dispatch reads fresh due runs and the heads of waiting queues through partial indexes, without sorting', () =>
  seeded(async (store) => {
    const sqls = await capture(store, () => store.dispatch(dispatchReq(), T0 + 10));
    const fresh = plan(store, find(sqls, 'FROM flow_run r JOIN deployment d', "r.state_name <> 'AwaitingConcurrencySlot'"));
    assertNoFullScan(fresh, ['r', 'flow_run', 'd', 'deployment']);
    assert.ok(fresh.some((s) => s.includes('SEARCH r USING INDEX flow_run_due')), fresh.join(' | '));
    assert.ok(!fresh.some((s) => s.includes('TEMP B-TREE')), fresh.join(' | '));
    const heads = plan(store, find(sqls, 'FROM flow_run r JOIN deployment d', "r.state_name = 'AwaitingConcurrencySlot'"));
    assert.ok(heads.some((s) => s.includes('SEARCH r USING INDEX flow_run_awaiting')), heads.join(' | '));
    assert.ok(!heads.some((s) => s.includes('TEMP B-TREE')), heads.join(' | '));
    const waiting = plan(store, find(sqls, 'SELECT DISTINCT deployment_id FROM flow_run', 'AwaitingConcurrencySlot'));
    assert.ok(waiting.some((s) => s.includes('COVERING INDEX flow_run_awaiting')), waiting.join(' | '));
  }));

test('slot usage lookups search lease_slot by resource, never scan it', () =>
  seeded(async (store) => {
    await store.dispatch(dispatchReq(), T0 + 10);
    const sqls = await capture(store, async () => {
      await store.dispatch(dispatchReq(), T0 + 20);
      await store.getPool('local', T0);
      await store.getQueue('local', 'default');
      await store.getGcl('g', T0);
      await store.tryAcquireGcl({ names: ['g'], occupy: 1, mode: 'concurrency', holder: 'h', flowRunId: null, strict: true, leaseMs: 1000, waiterId: 'w', waiterTtlMs: 1000 }, T0);
    });
    const slotQueries = sqls.filter((s) => s.includes('lease_slot') && /^\s*SELECT/i.test(s.trim().replace(/^\(/, '')));
    assert.ok(slotQueries.length >= 4, `found ${slotQueries.length} lease_slot lookups`);
    for (const sql of slotQueries) {
      const steps = plan(store, sql);
      assertNoFullScan(steps, ['s', 'lease_slot']);
      assert.ok(steps.some((s) => s.includes('lease_slot_resource')), `${sql.replace(/\s+/g, ' ')}\n${steps.join(' | ')}`);
    }
  }));

test('flow-run ls walks flow_run in expected_start_time order through an index', () =>
  seeded(async (store) => {
    const sqls = await capture(store, () => store.listRuns({ limit: 20 }));
    const steps = plan(store, find(sqls, 'FROM flow_run r JOIN deployment d', 'ORDER BY r.expected_start_time DESC'));
    assertNoFullScan(steps, ['r', 'flow_run']);
    assert.ok(steps.some((s) => /(SCAN|SEARCH) r USING INDEX flow_run_expected/.test(s)), steps.join(' | '));
    assert.ok(!steps.some((s) => s === 'USE TEMP B-TREE FOR ORDER BY'), `the whole table is not sorted: ${steps.join(' | ')}`);
  }));

test('flow-run ls for one deployment searches by deployment', () =>
  seeded(async (store) => {
    const sqls = await capture(store, () => store.listRuns({ deployment: 'etl/a', limit: 20 }));
    const steps = plan(store, find(sqls, 'FROM flow_run r JOIN deployment d', 'r.deployment_id = ?'));
    assertNoFullScan(steps, ['r', 'flow_run']);
    assert.ok(steps.some((s) => s.includes('SEARCH r USING INDEX flow_run_deployment_state')), steps.join(' | '));
  }));

test('late marking and lease reaping search by index', () =>
  seeded(async (store) => {
    const sqls = await capture(store, async () => {
      await store.markLateRuns(T0 + 60_000);
      await store.reapExpired(T0);
    });
    const late = plan(store, find(sqls, "state_name = 'Scheduled'", 'expected_start_time < ?'));
    assertNoFullScan(late, ['flow_run']);
    const reap = plan(store, find(sqls, 'FROM lease WHERE expires_at <= ?'));
    assert.ok(reap.some((s) => s.includes('lease_expiry')), reap.join(' | '));
  }));
