// Global concurrency limits in the store: all-or-nothing acquisition, strict and missing limits,
// exact decay for rate limits, expired leases, and fair (but deadlock-free) service of waiters.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlotAcquisitionError } from '../../src/domain/errors.js';
import type { GclAcquireRequest, GclAcquireResult, SqliteStore } from '../../src/store/store.js';
import { deploy, dispatchReq, manualRuns, SEC, spec, T0 } from '../support/store-fixtures.js';
import { openTempStore } from '../support/temp-home.js';

async function withStore(fn: (store: SqliteStore) => Promise<void>): Promise<void> {
  const t = openTempStore();
  try {
    await fn(t.store);
  } finally {
    await t.close();
  }
}

let waiterSeq = 0;
function req(names: string[], over: Partial<GclAcquireRequest> = {}): GclAcquireRequest {
  return {
    names,
    occupy: 1,
    mode: 'concurrency',
    holder: 'pid:1',
    flowRunId: null,
    strict: false,
    leaseMs: 30 * SEC,
    waiterId: `waiter-${++waiterSeq}`,
    waiterTtlMs: 2 * SEC,
    ...over,
  };
}

const create = (store: SqliteStore, name: string, limit: number, over: { active?: boolean; activeSlots?: number; slotDecayPerSecond?: number } = {}) =>
  store.createGcl({ name, limit, active: over.active ?? true, activeSlots: over.activeSlots ?? 0, slotDecayPerSecond: over.slotDecayPerSecond ?? 0 }, T0);

function leaseOf(r: GclAcquireResult): string {
  assert.equal(r.status, 'acquired');
  assert.ok(r.status === 'acquired' && r.leaseId);
  return r.leaseId;
}

const slots = async (store: SqliteStore, name: string, now = T0) => (await store.getGcl(name, now)).active_slots;

test('takes slots on every named limit or on none', () =>
  withStore(async (store) => {
    await create(store, 'a', 1);
    await create(store, 'b', 2);
    leaseOf(await store.tryAcquireGcl(req(['a']), T0));
    const blocked = await store.tryAcquireGcl(req(['a', 'b']), T0);
    assert.equal(blocked.status, 'blocked');
    assert.deepEqual(blocked.status === 'blocked' && blocked.waitingOn.map((w) => [w.name, w.limit, w.in_use, w.holders]), [
      ['a', 1, 1, ['pid:1']],
      ['b', 2, 0, []],
    ]);
    assert.equal(await slots(store, 'b'), 0);
    const both = leaseOf(await store.tryAcquireGcl(req(['b'], { occupy: 2 }), T0));
    assert.equal(await slots(store, 'b'), 2);
    assert.equal(await store.releaseLease(both), true);
    assert.equal(await slots(store, 'b'), 0);
  }));

test('strict fails on a missing limit with a message naming it; otherwise missing and inactive limits do not limit', () =>
  withStore(async (store) => {
    await create(store, 'off', 1, { active: false });
    await assert.rejects(store.tryAcquireGcl(req(['nope', 'off'], { strict: true }), T0), (e: unknown) => {
      assert.ok(e instanceof SlotAcquisitionError);
      assert.equal(e.message, "Concurrency limits ['nope'] must be created before acquiring slots");
      return true;
    });
    const loose = await store.tryAcquireGcl(req(['nope', 'off'], { occupy: 5 }), T0);
    assert.equal(loose.status, 'acquired');
    assert.equal(loose.status === 'acquired' && loose.leaseId, null);
    assert.deepEqual(loose.warnings, ["Concurrency limits ['nope'] do not exist - skipping acquisition.", "Concurrency limits ['off'] are disabled - not limiting."]);
  }));

test('asking for more slots than a limit has fails at once; rate_limit needs decay', () =>
  withStore(async (store) => {
    await create(store, 'small', 2);
    await assert.rejects(store.tryAcquireGcl(req(['small'], { occupy: 3 }), T0), /Slots requested \(3\) is greater than the limit of 'small' \(2\)/);
    await assert.rejects(store.tryAcquireGcl(req(['small'], { mode: 'rate_limit' }), T0), /do not have a decay configured: 'small'/);
  }));

test('rate limits decay exactly: frequent takes do not erase fractional decay (Prefect floors it away)', () =>
  withStore(async (store) => {
    await create(store, 'api', 10, { slotDecayPerSecond: 0.5 });
    // one slot every 1.5 s: +1 and -0.75 each step. Prefect's floor(0.75) = 0 would leave 8 slots in use.
    for (let i = 0; i < 8; i++) assert.equal((await store.tryAcquireGcl(req(['api'], { mode: 'rate_limit' }), T0 + i * 1500)).status, 'acquired');
    const at = T0 + 7 * 1500;
    assert.equal(await slots(store, 'api', at), 3); // 8 - 7 * 0.75 = 2.75, shown rounded up
    assert.equal(await slots(store, 'api', at + 3000), 2); // 2.75 - 1.5 = 1.25
    assert.equal(await slots(store, 'api', at + 3500), 1); // 2.75 - 1.75 = 1
    assert.equal(await slots(store, 'api', at + 5500), 0);
  }));

test('a rate limit of 2 with decay 1/s lets a third call through exactly one second after the second', () =>
  withStore(async (store) => {
    await create(store, 'r', 2, { slotDecayPerSecond: 1 });
    const rate = () => req(['r'], { mode: 'rate_limit', waiterId: 'rate' });
    assert.equal((await store.tryAcquireGcl(rate(), T0)).status, 'acquired');
    assert.equal((await store.tryAcquireGcl(rate(), T0)).status, 'acquired');
    assert.equal((await store.tryAcquireGcl(rate(), T0 + 999)).status, 'blocked');
    assert.equal((await store.tryAcquireGcl(rate(), T0 + 1000)).status, 'acquired');
    assert.equal((await store.getGcl('r', T0 + 1000)).holders.length, 0); // rate limits hold no lease
  }));

test('an expired lease holds nothing, before and after it is reaped', () =>
  withStore(async (store) => {
    await create(store, 'a', 1);
    leaseOf(await store.tryAcquireGcl(req(['a'], { leaseMs: 2 * SEC, holder: 'pid:42' }), T0));
    const held = await store.getGcl('a', T0 + 1999);
    assert.equal(held.active_slots, 1);
    assert.deepEqual(held.holders.map((h) => [h.holder, h.slots]), [['pid:42', 1]]);
    const expired = await store.getGcl('a', T0 + 2000);
    assert.equal(expired.active_slots, 0);
    assert.deepEqual(expired.holders, []);
    assert.equal((await store.listGcl(T0 + 2000))[0]!.active_slots, 0);
    leaseOf(await store.tryAcquireGcl(req(['a']), T0 + 2000));
  }));

test('a freed slot goes to the oldest waiter, not to a newcomer', () =>
  withStore(async (store) => {
    await create(store, 'a', 1);
    const first = leaseOf(await store.tryAcquireGcl(req(['a']), T0));
    const old = req(['a'], { waiterId: 'old' });
    assert.equal((await store.tryAcquireGcl(old, T0 + 10)).status, 'blocked');
    await store.releaseLease(first);
    assert.equal((await store.tryAcquireGcl(req(['a'], { waiterId: 'new' }), T0 + 20)).status, 'blocked');
    leaseOf(await store.tryAcquireGcl(old, T0 + 30));
  }));

test('with two slots free, the second waiter need not wait for the first to poll', () =>
  withStore(async (store) => {
    await create(store, 'a', 2);
    const one = leaseOf(await store.tryAcquireGcl(req(['a']), T0));
    const two = leaseOf(await store.tryAcquireGcl(req(['a']), T0));
    const w1 = req(['a'], { waiterId: 'w1' });
    const w2 = req(['a'], { waiterId: 'w2' });
    const w3 = req(['a'], { waiterId: 'w3' });
    for (const [i, w] of [w1, w2, w3].entries()) {
      const r = await store.tryAcquireGcl(w, T0 + 10 + i);
      assert.equal(r.status, 'blocked');
      assert.equal(r.status === 'blocked' && r.ahead, i);
    }
    await store.releaseLease(one);
    await store.releaseLease(two);
    leaseOf(await store.tryAcquireGcl(w2, T0 + 20));
    assert.equal((await store.tryAcquireGcl(w3, T0 + 21)).status, 'blocked'); // the last free slot is w1's
    leaseOf(await store.tryAcquireGcl(w1, T0 + 22));
  }));

test('a waiter for several slots is not starved by newcomers taking one at a time', () =>
  withStore(async (store) => {
    await create(store, 'a', 3);
    leaseOf(await store.tryAcquireGcl(req(['a']), T0));
    const second = leaseOf(await store.tryAcquireGcl(req(['a']), T0));
    const big = req(['a'], { occupy: 2, waiterId: 'big' });
    assert.equal((await store.tryAcquireGcl(big, T0 + 10)).status, 'blocked');
    // one slot is free, but it is part of what the older waiter needs
    assert.equal((await store.tryAcquireGcl(req(['a'], { waiterId: 'small' }), T0 + 20)).status, 'blocked');
    await store.releaseLease(second);
    leaseOf(await store.tryAcquireGcl(big, T0 + 30));
  }));

test('nested limits do not deadlock: a waiter short on another limit does not hold this one back', () =>
  withStore(async (store) => {
    await create(store, 'dbt-global', 1);
    await create(store, 'warehouse', 1);
    // P holds dbt-global; A waits for both; P then asks for warehouse (free) inside its block
    leaseOf(await store.tryAcquireGcl(req(['dbt-global'], { holder: 'P' }), T0));
    assert.equal((await store.tryAcquireGcl(req(['dbt-global', 'warehouse'], { waiterId: 'A' }), T0 + 10)).status, 'blocked');
    leaseOf(await store.tryAcquireGcl(req(['warehouse'], { holder: 'P', waiterId: 'P-inner' }), T0 + 20));
  }));

test('a run waiting inside concurrency() shows what it waits on in its details', () =>
  withStore(async (store) => {
    await store.createPool({ name: 'local', type: 'process', concurrencyLimit: null }, T0);
    await deploy(store, [spec('nightly')]);
    const [runId] = await manualRuns(store, 'etl/nightly', [T0]);
    await store.dispatch(dispatchReq(), T0);
    assert.equal(await store.startRun(runId!, 4242, T0), true);
    await create(store, 'dbt-global', 1);
    leaseOf(await store.tryAcquireGcl(req(['dbt-global'], { holder: 'pid:7' }), T0));
    assert.equal((await store.tryAcquireGcl(req(['dbt-global'], { holder: runId!, flowRunId: runId! }), T0 + 10)).status, 'blocked');
    const details = await store.getRun(runId!, T0 + 20);
    assert.deepEqual(details.waiting_on, [{ kind: 'gcl', name: 'dbt-global', limit: 1, in_use: 1, holders: ['pid:7'] }]);
  }));
