// Global concurrency limits in the store: exact decay under updates, waiter expiry, and the limit definitions.
// (Acquisition rules and fairness are in gcl.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, NotFoundError } from '../../src/domain/errors.js';
import type { GclAcquireRequest, SqliteStore } from '../../src/store/store.js';
import { openTempStore } from '../support/temp-home.js';
import { SEC, T0 } from '../support/store-fixtures.js';

async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const t = openTempStore();
  try {
    await fn(t.store);
  } finally {
    await t.close();
  }
}

function req(names: string[], over: Partial<GclAcquireRequest> = {}): GclAcquireRequest {
  return { names, occupy: 1, mode: 'concurrency', holder: 'test', flowRunId: null, strict: false, leaseMs: 30 * SEC, waiterId: `w-${Math.random()}`, waiterTtlMs: 2 * SEC, ...over };
}

async function limit(store: SqliteStore, name: string, value: number, over: { active?: boolean; activeSlots?: number; decay?: number } = {}) {
  return store.createGcl({ name, limit: value, active: over.active ?? true, activeSlots: over.activeSlots ?? 0, slotDecayPerSecond: over.decay ?? 0 }, T0);
}

const slots = async (store: SqliteStore, name: string, now = T0) => (await store.getGcl(name, now)).active_slots;

test('exact decay: limit 2 at 1 slot/s lets six rate-limited calls through at t = 0, 0, 1, 2, 3, 4 s', () =>
  withStore(async (store) => {
    await limit(store, 'api', 2, { decay: 1 });
    const times = [0, 0, 1, 2, 3, 4].map((s) => T0 + s * SEC);
    for (const [i, t] of times.entries()) {
      const waiterId = `call-${i}`;
      if (i >= 2) {
        const early = await store.tryAcquireGcl(req(['api'], { mode: 'rate_limit', waiterId }), t - 1);
        assert.equal(early.status, 'blocked', `call ${i} cannot go 1 ms before ${t - T0} ms`);
      }
      const res = await store.tryAcquireGcl(req(['api'], { mode: 'rate_limit', waiterId }), t);
      assert.equal(res.status, 'acquired', `call ${i} at ${t - T0} ms`);
      assert.equal(res.status === 'acquired' && res.leaseId, null, 'rate limits hold no lease');
    }
    assert.equal(await slots(store, 'api', T0 + 4 * SEC), 2);
    assert.equal(await slots(store, 'api', T0 + 5 * SEC + 1), 1);
    assert.equal(await slots(store, 'api', T0 + 6 * SEC), 0);
  }));

test('frequent updates do not stop fractional decay (Prefect\'s floor quirk is absent)', () =>
  withStore(async (store) => {
    await limit(store, 'slow', 1, { decay: 0.5 });
    assert.equal((await store.tryAcquireGcl(req(['slow'], { mode: 'rate_limit' }), T0)).status, 'acquired');
    // an update and a refused attempt every 0.5 s: with floor(0.5 * 0.5) = 0 per update, Prefect would never decay
    for (let t = 500; t < 2000; t += 500) {
      await store.updateGcl('slow', { limit: 1 }, T0 + t);
      assert.equal((await store.tryAcquireGcl(req(['slow'], { mode: 'rate_limit', waiterId: 'w' }), T0 + t)).status, 'blocked', `at ${t} ms`);
      assert.equal(await slots(store, 'slow', T0 + t), 1, 'a partly decayed slot still counts as taken');
    }
    assert.equal((await store.tryAcquireGcl(req(['slow'], { mode: 'rate_limit', waiterId: 'w' }), T0 + 2000)).status, 'acquired');
  }));

test('changing the decay rate settles decay so far and neither loses nor invents slots', () =>
  withStore(async (store) => {
    await limit(store, 'r', 10, { activeSlots: 4, decay: 1 });
    assert.equal(await slots(store, 'r', T0 + 1 * SEC), 3);
    await store.updateGcl('r', { slotDecayPerSecond: 0.5 }, T0 + 2 * SEC); // 2 left
    assert.equal(await slots(store, 'r', T0 + 4 * SEC), 1);
    assert.equal(await slots(store, 'r', T0 + 6 * SEC), 0);
    await store.updateGcl('r', { activeSlots: 7 }, T0 + 6 * SEC);
    assert.equal(await slots(store, 'r', T0 + 6 * SEC), 7);
  }));

test('a waiter that stopped polling loses its place when its registration expires', () =>
  withStore(async (store) => {
    await limit(store, 'one', 1);
    const holder = await store.tryAcquireGcl(req(['one']), T0);
    assert.ok(holder.status === 'acquired' && holder.leaseId);
    await store.tryAcquireGcl(req(['one'], { waiterId: 'gone', waiterTtlMs: 1000 }), T0 + 100);
    await store.releaseLease(holder.leaseId);
    assert.equal((await store.tryAcquireGcl(req(['one'], { waiterId: 'new' }), T0 + 500)).status, 'blocked');
    assert.equal((await store.tryAcquireGcl(req(['one'], { waiterId: 'new' }), T0 + 1101)).status, 'acquired');
  }));

test('gcl definitions: duplicates conflict, unknown names are not found, delete frees the name', () =>
  withStore(async (store) => {
    const created = await limit(store, 'dbt', 4);
    assert.deepEqual([created.name, created.limit, created.active, created.active_slots, created.slot_decay_per_second], ['dbt', 4, true, 0, 0]);
    await assert.rejects(limit(store, 'dbt', 4), (e: unknown) => e instanceof ConflictError && e.message === "Global concurrency limit 'dbt' already exists. Please try creating with a different name.");
    await assert.rejects(store.getGcl('nope', T0), (e: unknown) => e instanceof NotFoundError && e.message === "Global concurrency limit 'nope' not found.");
    await assert.rejects(store.updateGcl('nope', { limit: 10 }, T0), NotFoundError);
    const updated = await store.updateGcl('dbt', { limit: 6, active: false }, T0 + SEC);
    assert.deepEqual([updated.limit, updated.active, updated.updated], [6, false, new Date(T0 + SEC).toISOString()]);
    assert.deepEqual((await store.listGcl(T0)).map((g) => g.name), ['dbt']);
    await store.deleteGcl('dbt');
    assert.deepEqual(await store.listGcl(T0), []);
    await limit(store, 'dbt', 1);
  }));
