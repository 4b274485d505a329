// acquireSlots: retries with backoff on a TestClock until the slots come or the timeout passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acquireSlots, leaseSecondsFromEnv } from '../../src/concurrency/acquire.js';
import { SlotAcquisitionError, SlotTimeoutError } from '../../src/domain/errors.js';
import type { WaitingOn } from '../../src/domain/types.js';
import type { SqliteStore } from '../../src/store/store.js';
import { TestClock } from '../../src/time/test-clock.js';
import { openTempStore } from '../support/temp-home.js';
import { drive, T0, turn } from '../support/store-fixtures.js';

async function withStore(fn: (store: SqliteStore, clock: TestClock) => Promise<void>): Promise<void> {
  const t = openTempStore();
  try {
    await fn(t.store, new TestClock(T0));
  } finally {
    await t.close();
  }
}

const base = { occupy: 1, mode: 'concurrency' as const, holder: 'pid:1', strict: false };

test('times out with Prefect\'s message when the slot never frees, and leaves no waiter behind', () =>
  withStore(async (store, clock) => {
    await store.createGcl({ name: 'one', limit: 1, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, T0);
    await acquireSlots(store, clock, { ...base, names: ['one'], holder: 'first' });
    const start = clock.now();
    let blockedOn: WaitingOn[] | undefined;
    let reports = 0;
    const attempt = acquireSlots(store, clock, {
      ...base,
      names: ['one'],
      timeoutSeconds: 1,
      onBlocked: (w) => {
        blockedOn = w;
        reports++;
      },
    });
    await assert.rejects(drive(clock, attempt), (e: unknown) => {
      assert.ok(e instanceof SlotTimeoutError);
      assert.equal(e.message, 'Attempt to acquire concurrency slots timed out after 1 second(s)');
      return true;
    });
    assert.ok(clock.now() - start >= 1000, 'the timeout is measured on the injected clock');
    assert.ok(clock.now() - start < 1200);
    assert.equal(reports, 1, 'onBlocked is called once');
    assert.deepEqual(blockedOn?.map((w) => [w.name, w.in_use, w.holders]), [['one', 1, ['first']]]);
    assert.equal((store.db.prepare('SELECT COUNT(*) AS n FROM gcl_waiter').get() as { n: number }).n, 0);
    assert.equal(clock.pendingTimers(), 0, 'no timer is left running');
  }));

test('a waiting acquisition gets the slot soon after it is released', () =>
  withStore(async (store, clock) => {
    await store.createGcl({ name: 'one', limit: 1, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, T0);
    const first = await acquireSlots(store, clock, { ...base, names: ['one'] });
    assert.ok(first.leaseId);
    const waiting = acquireSlots(store, clock, { ...base, names: ['one'], timeoutSeconds: 60 });
    // let it fail a few times first
    for (let i = 0; i < 5; i++) {
      await turn();
      clock.tick(20);
    }
    const releasedAt = clock.now();
    await store.releaseLease(first.leaseId);
    const got = await drive(clock, waiting, 5);
    assert.ok(got.leaseId);
    assert.ok(clock.now() - releasedAt <= 200, `acquired ${clock.now() - releasedAt} ms after the release (backoff is capped)`);
  }));

test('a wake signal retries at once instead of waiting for the backoff', () =>
  withStore(async (store, clock) => {
    await store.createGcl({ name: 'one', limit: 1, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, T0);
    const first = await acquireSlots(store, clock, { ...base, names: ['one'] });
    const listeners = new Set<() => void>();
    const wake = (l: () => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    };
    const waiting = acquireSlots(store, clock, { ...base, names: ['one'], wake });
    await turn();
    assert.equal(listeners.size, 1);
    await store.releaseLease(first.leaseId!);
    const before = clock.now();
    for (const l of [...listeners]) l();
    const got = await waiting;
    assert.ok(got.leaseId);
    assert.equal(clock.now(), before, 'no clock time passed');
  }));

test('strict acquisition of a missing limit fails at once without waiting', () =>
  withStore(async (store, clock) => {
    await assert.rejects(
      acquireSlots(store, clock, { ...base, names: ['x'], strict: true, timeoutSeconds: 5 }),
      (e: unknown) => e instanceof SlotAcquisitionError && e.message === "Concurrency limits ['x'] must be created before acquiring slots",
    );
    const loose = await acquireSlots(store, clock, { ...base, names: ['x'] });
    assert.deepEqual(loose, { leaseId: null, warnings: ["Concurrency limits ['x'] do not exist - skipping acquisition."] });
  }));

test('an abort signal stops a waiting acquisition', () =>
  withStore(async (store, clock) => {
    await store.createGcl({ name: 'one', limit: 1, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, T0);
    await acquireSlots(store, clock, { ...base, names: ['one'] });
    const ac = new AbortController();
    const waiting = acquireSlots(store, clock, { ...base, names: ['one'], signal: ac.signal });
    await turn();
    ac.abort(new Error('shutting down'));
    await assert.rejects(waiting, /shutting down/);
    assert.equal((store.db.prepare('SELECT COUNT(*) AS n FROM gcl_waiter').get() as { n: number }).n, 0);
  }));

test('rate limits pace calls by exact decay on the injected clock', () =>
  withStore(async (store, clock) => {
    await store.createGcl({ name: 'api', limit: 2, active: true, activeSlots: 0, slotDecayPerSecond: 1 }, T0);
    const at: number[] = [];
    for (let i = 0; i < 6; i++) {
      await drive(clock, acquireSlots(store, clock, { ...base, names: ['api'], mode: 'rate_limit' }), 5);
      at.push(clock.now() - T0);
    }
    const expected = [0, 0, 1000, 2000, 3000, 4000];
    for (const [i, t] of at.entries()) {
      assert.ok(t >= expected[i]! && t < expected[i]! + 150, `call ${i} at ${t} ms, expected about ${expected[i]} ms`);
    }
  }));

test('the lease length comes from FLOWDECK_LEASE_SECONDS, defaulting to 30', () => {
  assert.equal(leaseSecondsFromEnv({}), 30);
  assert.equal(leaseSecondsFromEnv({ FLOWDECK_LEASE_SECONDS: '5' }), 5);
  assert.equal(leaseSecondsFromEnv({ FLOWDECK_LEASE_SECONDS: 'soon' }), 30);
  assert.equal(leaseSecondsFromEnv({ FLOWDECK_LEASE_SECONDS: '-1' }), 30);
});
