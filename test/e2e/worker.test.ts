/**
 * The engine end to end: real workers, real Python flows, 1-second schedules and 2-second flows.
 * Each pool is served by its own worker against one state directory.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, runCli, runJson, startCli } from '../support/run-cli.js';
import { waitFor } from '../support/wait-for.js';

interface Run {
  work_pool_name: string;
  id: string;
  deployment_name: string;
  state_type: string;
  state_name: string;
  state_message: string | null;
  expected_start_time: string;
  start_time: string | null;
  end_time: string | null;
  created: string;
}

interface Details extends Run {
  state_history: { name: string }[];
}

function highestOverlap(runs: Run[]): number {
  const events: [number, number][] = [];
  for (const r of runs) {
    if (!r.start_time) continue;
    events.push([Date.parse(r.start_time), 1], [r.end_time ? Date.parse(r.end_time) : Infinity, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let best = 0;
  for (const [, d] of events) best = Math.max(best, (now += d));
  return best;
}

describe('worker with real Python flows', { timeout: 120_000 }, () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-engine-'));
  const p = { cwd, home: path.join(cwd, '.state') };
  let runs: Run[] = [];
  const exits: (number | null)[] = [];

  before(async () => {
    cpSync(path.join(REPO, 'test/fixtures/projects/engine'), cwd, { recursive: true });
    assert.equal(runCli(['deploy', '--all'], p).code, 0);
    assert.equal(runCli(['work-pool', 'set-concurrency-limit', 'pool-four', '4'], p).code, 0);
    const workers = ['pool-enqueue', 'pool-cancel', 'pool-four'].map((pool) =>
      startCli(['worker', 'start', '--pool', pool, '--grace-period', '1', '--lease-seconds', '5'], p),
    );
    // let each pool see enough completed runs, then stop the workers with SIGTERM
    await waitFor(
      () => {
        const all = runJson<Run[]>(['flow-run', 'ls', '--limit', '1000'], p);
        const done = (d: string) => all.filter((r) => r.deployment_name === d && r.state_type === 'COMPLETED').length;
        return done('sleepy/queued') >= 3 && done('sleepy/dropped') >= 2 && all.filter((r) => r.work_pool_name === 'pool-four' && r.state_type === 'COMPLETED').length >= 8;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'completed runs in every pool' },
    );
    for (const w of workers) w.child.kill('SIGTERM');
    for (const w of workers) exits.push(await w.exited);
    runs = runJson<Run[]>(['flow-run', 'ls', '--limit', '5000'], p);
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test('SIGTERM stops every worker with exit 0 and leaves no run Pending or Running', () => {
    assert.deepEqual(exits, [0, 0, 0]);
    const stuck = runs.filter((r) => ['PENDING', 'RUNNING', 'CANCELLING'].includes(r.state_type));
    assert.deepEqual(stuck, []);
  });

  test('limit 1 ENQUEUE: runs never overlap, start in scheduled order, and queued runs wait as AwaitingConcurrencySlot', () => {
    const mine = runs.filter((r) => r.deployment_name === 'sleepy/queued' && r.start_time).sort((a, b) => Date.parse(a.start_time!) - Date.parse(b.start_time!));
    assert.ok(mine.length >= 3);
    assert.equal(highestOverlap(mine), 1);
    const scheduled = mine.map((r) => r.expected_start_time);
    assert.deepEqual(scheduled, [...scheduled].sort());
    const waited = mine.filter((r) => runJson<Details>(['flow-run', 'inspect', r.id], p).state_history.some((h) => h.name === 'AwaitingConcurrencySlot'));
    assert.ok(waited.length >= 2, 'runs were queued behind the running one');
    const gaps = mine.slice(1).map((r, i) => Date.parse(r.start_time!) - Date.parse(mine[i]!.end_time!)).sort((a, b) => a - b);
    const median = gaps[Math.floor(gaps.length / 2)]!;
    console.log(`ENQUEUE handoff gaps (ms): ${gaps.join(', ')}; median ${median}`);
    // the handoff is event-driven: never a poll interval (Prefect waits tens of seconds); figures: npm run bench
    assert.ok(median < 1000, `median handoff ${median} ms`);
  });

  test('limit 1 CANCEL_NEW: runs never overlap and the overlapping ones are Cancelled with the reason', () => {
    const mine = runs.filter((r) => r.deployment_name === 'sleepy/dropped');
    assert.equal(highestOverlap(mine.filter((r) => r.start_time)), 1);
    const cancelled = mine.filter((r) => r.state_type === 'CANCELLED');
    assert.ok(cancelled.length >= 1);
    for (const c of cancelled) {
      assert.match(c.state_message ?? '', /Deployment concurrency limit reached: limit 1 with collision strategy CANCEL_NEW/);
      assert.match(c.state_message ?? '', /held by run\(s\) [0-9a-f-]{36}/);
    }
  });

  test('six unlimited deployments in a pool limited to 4 reach 4 at once and never 5', () => {
    const mine = runs.filter((r) => r.work_pool_name === 'pool-four');
    assert.equal(highestOverlap(mine), 4);
  });
});
