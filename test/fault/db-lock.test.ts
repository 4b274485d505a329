/**
 * The database under contention: many processes opening and writing at once never fail; a database
 * held locked past the busy timeout gives exit 3 with a clear message (reads still work, WAL); a
 * worker whose writes hit that lock keeps going and loses nothing.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { STACK_TRACE, StateDb, cli, cliOk, highestOverlap, inParallel, makeProject, readLedger, startWorker, stopWorkers } from '../support/fault-kit.js';
import { recordFigure } from '../support/fault-report.js';
import { waitFor } from '../support/wait-for.js';

const PREFECT_YAML = `
deployments:
  - name: one
    entrypoint: flows/work.py:work
    parameters: {ms: 100}
    concurrency_limit: 1
    work_pool: {name: lock-pool}
`;

/** Holds the write lock of a state database from this process until release(). */
function lockDatabase(home: string): { release(): void } {
  const db = new Database(path.join(home, 'flowdeck.db'), { timeout: 10_000 });
  db.exec('BEGIN EXCLUSIVE');
  return {
    release() {
      db.exec('ROLLBACK');
      db.close();
    },
  };
}

describe('the database under contention', { timeout: 300_000 }, () => {
  test('ten processes creating and migrating a new database at once, then 25 concurrent commands, all succeed', async () => {
    const p = makeProject(PREFECT_YAML);
    try {
      const first = await inParallel([...Array(10).keys()], 10, (i) => cli(['work-pool', 'create', `pool-${i}`], p));
      const firstFailures = first.filter((r) => r.code !== 0);
      assert.deepEqual(firstFailures.map((r) => r.stderr), [], 'concurrent first opens');
      await cliOk(['deploy', '--all'], p);
      const worker = startWorker(p, 'lock-pool', ['--lease-seconds', '5']);
      const commands: string[][] = [];
      for (let i = 0; i < 25; i++) {
        commands.push(
          [
            ['deployment', 'run', 'work/one', '--params', `{"ms": ${i % 5}}`],
            ['work-queue', 'create', `q-${i}`, '--pool', `pool-${i % 10}`, '--limit', '2'],
            ['gcl', 'create', `g-${i}`, '--limit', '3'],
            ['flow-run', 'ls', '--limit', '50'],
            ['work-pool', 'set-concurrency-limit', `pool-${i % 10}`, String(i)],
          ][i % 5]!,
        );
      }
      const results = await inParallel(commands, 8, (args) => cli(args, p));
      const failures = results.filter((r) => r.code !== 0);
      recordFigure({ kind: 'contention', scenario: 'concurrent CLI writers', commands: first.length + results.length, failures: firstFailures.length + failures.length });
      assert.deepEqual(failures.map((r) => `${r.code}: ${r.stderr}`), []);
      const state = new StateDb(p.home);
      try {
        await waitFor(() => state.runs().every((r) => r.state_type === 'COMPLETED'), { what: 'the five manual runs to complete' });
        assert.equal(state.runs().length, 5);
      } finally {
        state.close();
      }
      assert.deepEqual(await stopWorkers([worker]), [0]);
    } finally {
      p.dispose();
    }
  });

  test('a database locked past the busy timeout: writes exit 3 with a clear message, reads still work, and the lock going away heals it', async () => {
    const p = makeProject(PREFECT_YAML);
    try {
      await cliOk(['deploy', '--all'], p);
      const runId = (JSON.parse(await cliOk(['deployment', 'run', 'work/one', '-o', 'json'], p)) as { id: string }).id;
      const env = { FLOWDECK_BUSY_TIMEOUT_MS: '200' };
      const writes = [
        ['deployment', 'run', 'work/one'],
        ['work-pool', 'create', 'another'],
        ['work-queue', 'create', 'q', '--pool', 'lock-pool'],
        ['gcl', 'create', 'g', '--limit', '1'],
        ['flow-run', 'cancel', runId],
        ['deploy', '--all'],
        ['deployment', 'pause', 'work/one'],
      ];
      const reads = [['work-pool', 'ls'], ['flow-run', 'ls'], ['deployment', 'inspect', 'work/one'], ['flow-run', 'inspect', runId]];
      const lock = lockDatabase(p.home);
      let results;
      let readResults;
      try {
        results = await inParallel(writes, 4, (args) => cli(args, p, { env }));
        readResults = await inParallel(reads, 4, (args) => cli(args, p, { env }));
      } finally {
        lock.release();
      }
      for (const [i, r] of results.entries()) {
        const what = writes[i]!.join(' ');
        assert.equal(r.code, 3, `${what}: exit ${r.code}, ${r.stderr}`);
        assert.match(r.stderr, /Error: the database \S+ is locked by another process \(waited past the busy timeout\)/, what);
        assert.match(r.stderr, /hint: retry, or stop the process that holds the lock/, what);
        assert.doesNotMatch(r.stderr, STACK_TRACE, what);
        assert.doesNotMatch(r.stderr, /Internal error/, what);
      }
      for (const [i, r] of readResults.entries()) assert.equal(r.code, 0, `${reads[i]!.join(' ')} while locked: ${r.stderr}`);
      const slowest = Math.max(...results.map((r) => r.ms));
      recordFigure({ kind: 'locked', scenario: 'BEGIN EXCLUSIVE held, busy timeout 200 ms', cases: results.length, exit3: results.filter((r) => r.code === 3).length, ms: slowest });
      console.log(`locked database: ${results.length} writes exited 3 (slowest after ${slowest} ms); ${readResults.length} reads succeeded`);
      // the lock is gone: the same writes now work
      for (const args of writes.slice(0, 4)) assert.equal((await cli(args, p, { env })).code, 0, args.join(' '));
      const state = new StateDb(p.home);
      try {
        assert.equal(state.integrity(), 'ok');
      } finally {
        state.close();
      }
    } finally {
      p.dispose();
    }
  });

  test('a worker whose writes hit a lock held past its busy timeout keeps going: every run completes once, none stuck', async () => {
    const p = makeProject(PREFECT_YAML);
    let state: StateDb | undefined;
    try {
      await cliOk(['deploy', '--all'], p);
      for (let i = 0; i < 8; i++) await cliOk(['deployment', 'run', 'work/one'], p);
      state = new StateDb(p.home);
      const db = state;
      const worker = startWorker(p, 'lock-pool', ['--lease-seconds', '6'], { FLOWDECK_BUSY_TIMEOUT_MS: '100' });
      // three times: hold the lock for 1.5 s (15 busy timeouts), release for a moment
      for (let k = 0; k < 3; k++) {
        await waitFor(() => db.runs().some((r) => r.state_type === 'RUNNING'), { what: 'a run in flight' });
        const lock = lockDatabase(p.home);
        await sleep(1500);
        lock.release();
        await sleep(200);
      }
      await waitFor(() => db.runs().every((r) => r.state_type === 'COMPLETED'), { timeoutMs: 30_000, what: 'all eight runs to complete' });
      const exits = await stopWorkers([worker]);
      assert.equal(exits[0], 0, worker.output());
      assert.match(worker.output(), /locked/, 'the worker did hit the lock');
      const runs = db.runs();
      const enters = readLedger(p.cwd).filter((l) => l.what === 'enter');
      assert.equal(enters.length, 8);
      assert.equal(new Set(enters.map((e) => e.id)).size, 8, 'each run executed once');
      const seen = highestOverlap(runs.map((r) => [r.start_time!, r.end_time!]));
      assert.equal(seen, 1);
      assert.equal(db.slots().length, 0);
      assert.equal(db.integrity(), 'ok');
      recordFigure({ kind: 'runs', scenario: 'worker under a held lock', executed: enters.length, lost: runs.filter((r) => r.state_type !== 'COMPLETED').length, twice: enters.length - new Set(enters.map((e) => e.id)).size });
      recordFigure({ kind: 'concurrency', scenario: 'worker under a held lock', level: 'deployment', limit: 1, seen });
    } finally {
      state?.close();
      p.dispose();
    }
  });
});
