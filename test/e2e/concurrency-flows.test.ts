/**
 * Global concurrency from flow code under a real worker: the seed's flow file, unchanged, on five
 * single-flight store deployments sharing `dbt-global` (limit 2); a JavaScript flow on the same
 * limit; strict on a missing limit; a rate limit; and what `gcl inspect` / `flow-run inspect` show.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, runCli, runJson, startCli } from '../support/run-cli.js';
import { waitFor } from '../support/wait-for.js';

interface Run {
  id: string;
  deployment_name: string;
  state_type: string;
  state_name: string;
  state_message: string | null;
}
interface WaitingOn {
  kind: string;
  name: string;
  limit: number;
  in_use: number;
  holders: string[];
}
interface Holder {
  lease_id: string;
  holder: string;
  slots: number;
  acquired: string;
  expires: string;
}

const STORES = ['US', 'EU', 'IN', 'UK', 'AU'].map((s) => `clickstream-dbt-run/[Tarinika-Inc(${s} Store)]: Clickstream Aggregation`);
const RUNS_PER_STORE = 2;
const FINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED']);

/** The highest number inside the block at once, from the flows' own enter/leave lines in file order. */
function mostInside(lines: string[]): number {
  let inside = 0;
  let most = 0;
  for (const l of lines) {
    inside += l.startsWith('enter ') ? 1 : l.startsWith('leave ') ? -1 : 0;
    most = Math.max(most, inside);
  }
  return most;
}

describe('concurrency() in flows run by a worker', { timeout: 240_000 }, () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-gcl-flows-'));
  const p = { cwd, home: path.join(cwd, '.state'), env: { GCL_RECORD: path.join(cwd, 'record.txt'), GCL_HOLD_SECONDS: '1.5' } };
  const record = () => (existsSync(p.env.GCL_RECORD) ? readFileSync(p.env.GCL_RECORD, 'utf8').split('\n').filter((l) => l !== '') : []);
  let runs: Run[] = [];
  let waitingRun: { id: string; state_type: string; waiting_on: WaitingOn[] } | undefined;
  let heldBy: Holder[] = [];
  let inspectText = '';
  let runningIds = new Set<string>();
  let workerExit: number | null = null;
  const runIds: Record<string, string> = {};

  before(async () => {
    cpSync(path.join(REPO, 'test/fixtures/projects/gcl'), cwd, { recursive: true });
    assert.equal(runCli(['deploy', '--all'], p).code, 0);
    for (const [name, args] of [
      ['dbt-global', ['--limit', '2']],
      ['r', ['--limit', '2', '--slot-decay-per-second', '1']],
      ['free-limit', ['--limit', '5']],
    ] as const) {
      const res = runCli(['gcl', 'create', name, ...args], p);
      assert.equal(res.code, 0, res.stderr);
    }
    // every run is due before the worker starts: all of them at once
    for (const d of STORES) for (let i = 0; i < RUNS_PER_STORE; i++) runJson<Run>(['deployment', 'run', d], p);
    for (const d of ['jsStore/js-store', 'strict-missing/strict-missing', 'six-calls/six-calls', 'acquire-latency/latency']) {
      runIds[d] = runJson<Run>(['deployment', 'run', d], p).id;
    }
    const worker = startCli(['worker', 'start', '--pool', 'gcl-pool', '--no-live', '--grace-period', '1'], p);
    try {
      // while flows wait inside concurrency(): who holds the limit, and what a waiting run shows
      await waitFor(
        () => {
          const running = runJson<Run[]>(['flow-run', 'ls', '--state', 'RUNNING', '--limit', '100'], p);
          runningIds = new Set(running.map((r) => r.id));
          const g = runJson<{ holders: Holder[] }>(['gcl', 'inspect', 'dbt-global'], p);
          if (g.holders.length === 2 && heldBy.length === 0) {
            heldBy = g.holders;
            inspectText = runCli(['gcl', 'inspect', 'dbt-global'], p).stdout;
          }
          // a running store run that has not entered the block yet is (about to be) waiting in concurrency()
          const entered = new Set(record().map((l) => l.split(' ')[2]));
          const candidate = running.find((r) => r.deployment_name.startsWith('clickstream-dbt-run/') && !entered.has(r.id));
          if (!waitingRun && candidate) {
            const d = runJson<{ id: string; state_type: string; waiting_on?: WaitingOn[] }>(['flow-run', 'inspect', candidate.id], p);
            if (d.waiting_on?.some((w) => w.kind === 'gcl')) waitingRun = { id: d.id, state_type: d.state_type, waiting_on: d.waiting_on };
          }
          return waitingRun && heldBy.length === 2;
        },
        { timeoutMs: 60_000, intervalMs: 100, what: 'a run waiting inside concurrency() and two holders of dbt-global' },
      );
      await waitFor(
        () => {
          runs = runJson<Run[]>(['flow-run', 'ls', '--limit', '100'], p);
          return runs.length === STORES.length * RUNS_PER_STORE + 4 && runs.every((r) => FINAL.has(r.state_type));
        },
        { timeoutMs: 120_000, intervalMs: 250, what: 'every run to finish' },
      );
    } finally {
      worker.child.kill('SIGTERM');
      workerExit = await worker.exited;
    }
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test("the seed's flow file runs unchanged: every store run and the JavaScript flow complete", () => {
    assert.equal(workerExit, 0);
    const stores = runs.filter((r) => r.deployment_name.startsWith('clickstream-dbt-run/'));
    assert.equal(stores.length, STORES.length * RUNS_PER_STORE);
    assert.deepEqual(stores.filter((r) => r.state_type !== 'COMPLETED'), []);
    assert.equal(runs.find((r) => r.id === runIds['jsStore/js-store'])?.state_type, 'COMPLETED');
    assert.match(runCli(['flow-run', 'logs', runIds['jsStore/js-store']!], p).stdout, /JS FLOW done/);
  });

  test('at most 2 flows are inside the dbt-global block at any moment, and 2 is reached', () => {
    const lines = record();
    assert.equal(lines.filter((l) => l.startsWith('enter ')).length, STORES.length * RUNS_PER_STORE + 1, lines.join('\n'));
    assert.equal(lines.filter((l) => l.startsWith('leave ')).length, STORES.length * RUNS_PER_STORE + 1);
    assert.equal(mostInside(lines), 2, lines.join('\n'));
  });

  test('each store stays single-flight (deployment limit 1, ENQUEUE)', () => {
    for (const db of ['tarinika-inc', 'tarinika-eu', 'tarinika-in', 'tarinika-uk', 'tarinika-au']) {
      const mine = record().filter((l) => l.split(' ')[1] === db);
      assert.equal(mine.length, 2 * RUNS_PER_STORE);
      mine.forEach((l, i) => assert.ok(l.startsWith(i % 2 === 0 ? 'enter ' : 'leave '), mine.join('\n')));
    }
  });

  test('gcl inspect shows the holders: run ids, slots, since and expiry', () => {
    assert.equal(heldBy.length, 2);
    for (const h of heldBy) {
      assert.ok(runningIds.has(h.holder) || runs.some((r) => r.id === h.holder), `holder ${h.holder} is a run id`);
      assert.equal(h.slots, 1);
      assert.ok(Date.parse(h.expires) > Date.parse(h.acquired));
    }
    assert.match(inspectText, /Holder/);
    // the table was read a moment later: its holders are run ids too, maybe other ones
    assert.ok(runs.some((r) => inspectText.includes(r.id)), inspectText);
  });

  test('flow-run inspect of a run waiting inside concurrency() says it waits on the gcl and who holds it', () => {
    assert.ok(waitingRun);
    assert.equal(waitingRun.state_type, 'RUNNING');
    const w = waitingRun.waiting_on.find((x) => x.kind === 'gcl')!;
    assert.equal(w.name, 'dbt-global');
    assert.equal(w.limit, 2);
    assert.equal(w.in_use, 2);
    assert.equal(w.holders.length, 2);
    assert.ok(!w.holders.includes(waitingRun.id));
  });

  test('strict=True on a limit that does not exist fails the run with a message naming the limit', () => {
    const r = runs.find((x) => x.id === runIds['strict-missing/strict-missing'])!;
    assert.equal(r.state_name, 'Failed');
    assert.match(r.state_message ?? '', /ConcurrencySlotAcquisitionError: Concurrency limits \['no-such-limit'\] must be created before acquiring slots/);
  });

  test('six rate_limit calls on a limit of 2 with decay 1/s take about 4 seconds', (t) => {
    const r = runs.find((x) => x.id === runIds['six-calls/six-calls'])!;
    assert.equal(r.state_type, 'COMPLETED', r.state_message ?? '');
    const logs = runCli(['flow-run', 'logs', r.id], p).stdout;
    const elapsed = Number(/ELAPSED ([\d.]+)/.exec(logs)?.[1]);
    t.diagnostic(`six rate_limit calls took ${elapsed.toFixed(3)} s`);
    assert.ok(elapsed >= 3 && elapsed < 6, logs);
  });

  test('acquiring a free slot from a worker-run Python flow is fast (measured, not asserted)', (t) => {
    const r = runs.find((x) => x.id === runIds['acquire-latency/latency'])!;
    assert.equal(r.state_type, 'COMPLETED', r.state_message ?? '');
    const line = runCli(['flow-run', 'logs', r.id], p).stdout.split('\n').find((l) => l.startsWith('LATENCY'));
    assert.ok(line);
    t.diagnostic(line);
  });

  test('after the worker stops, no slot of dbt-global is held', () => {
    const g = runJson<{ active_slots: number; holders: Holder[] }>(['gcl', 'inspect', 'dbt-global'], p);
    assert.deepEqual([g.active_slots, g.holders], [0, []]);
  });
});
