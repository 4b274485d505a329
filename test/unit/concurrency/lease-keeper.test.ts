// The lease keeper renews held global-limit leases and says so when one was lost.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeaseKeeper } from '../../../src/concurrency/lease-keeper.js';
import { TestClock } from '../../../src/time/test-clock.js';
import { SEC, T0, turn } from '../../support/store-fixtures.js';
import { openTempStore } from '../../support/temp-home.js';

async function acquire(store: ReturnType<typeof openTempStore>['store'], now: number, leaseMs: number): Promise<string> {
  const r = await store.tryAcquireGcl(
    { names: ['a'], occupy: 1, mode: 'concurrency', holder: 'pid:1', flowRunId: null, strict: true, leaseMs, waiterId: `w-${now}`, waiterTtlMs: 2 * SEC },
    now,
  );
  assert.ok(r.status === 'acquired' && r.leaseId);
  return r.leaseId;
}

test('renews held leases every third of the lease, and reports a lease that was reaped meanwhile', async () => {
  const t = openTempStore();
  try {
    const clock = new TestClock(T0);
    await t.store.createGcl({ name: 'a', limit: 2, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, T0);
    const kept = await acquire(t.store, T0, 3 * SEC);
    const lost = await acquire(t.store, T0, 3 * SEC);
    const errors: string[] = [];
    const keeper = new LeaseKeeper(t.store, clock, 3, (e) => errors.push((e as Error).message));
    keeper.add(kept);
    keeper.add(lost);
    await t.store.releaseLease(lost); // as if reaped while this process was stalled
    clock.tick(1 * SEC);
    for (let i = 0; i < 5; i++) await turn();
    assert.deepEqual(errors, [`lease ${lost} was gone before it could be renewed: its slots are no longer reserved`]);
    assert.equal(keeper.size, 1);
    const [h] = (await t.store.getGcl('a', clock.now())).holders;
    assert.equal(h!.lease_id, kept);
    assert.equal(Date.parse(h!.expires), T0 + 4 * SEC);
    keeper.stop();
    await keeper.releaseAll();
    assert.deepEqual((await t.store.getGcl('a', clock.now())).holders, []);
  } finally {
    await t.close();
  }
});
