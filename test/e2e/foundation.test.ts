/** The foundation, end to end through the built CLI: deploy the seed's file, manage pools, queues and limits. */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { REPO, runCli, runJson } from '../support/run-cli.js';

const SEED_NAME = 'clickstream-dbt-run/[Tarinika-Inc(US Store)]: Clickstream Aggregation';

function project(fixture: string): { cwd: string; home: string; dispose(): void } {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-e2e-'));
  cpSync(path.join(REPO, 'test/fixtures/prefect-yaml', fixture), cwd, { recursive: true });
  return { cwd, home: path.join(cwd, '.state'), dispose: () => rmSync(cwd, { recursive: true, force: true }) };
}

describe('deploy of the seed file', () => {
  const p = project('valid/seed-clickstream');
  after(() => p.dispose());

  test('dry-run prints the translation and stores nothing', () => {
    const res = runCli(['deploy', '--all', '--dry-run', '-o', 'json'], p);
    assert.equal(res.code, 0, res.stderr);
    const [d] = JSON.parse(res.stdout) as Record<string, unknown>[];
    assert.equal(d!.full_name, SEED_NAME);
    assert.equal(d!.concurrency_limit, 1);
    assert.deepEqual(d!.concurrency_options, { collision_strategy: 'ENQUEUE' });
    assert.equal('id' in d!, false);
    assert.deepEqual(runJson(['deployment', 'ls'], p), []);
  });

  test('deploy --all stores the deployment exactly as prefect deploy translates it', () => {
    const res = runCli(['deploy', '--all'], p);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /Work pool 'local-work-pool' did not exist: created it/);
    const d = runJson<Record<string, any>>(['deployment', 'inspect', SEED_NAME], p);
    assert.equal(d.concurrency_limit, 1);
    assert.equal(d.concurrency_options.collision_strategy, 'ENQUEUE');
    assert.equal(d.work_pool_name, 'local-work-pool');
    assert.equal(d.work_queue_name, null);
    assert.deepEqual(d.parameters, { database: 'tarinika-inc', full_refresh: false, store_timezone_offset_minutes: '-300' });
    assert.equal(d.schedules.length, 1);
    const s = d.schedules[0];
    assert.equal(s.active, true);
    assert.equal(s.schedule.interval, 1800);
    assert.equal(s.schedule.timezone, 'UTC');
    assert.equal(s.schedule.anchor_date, '2025-09-09T08:06:20.632Z');
    assert.deepEqual(d.tags, ['clickstream-aggregation', 'tarinika-inc', 'prod']);
  });

  test('redeploy without a concurrency limit removes it', () => {
    const dry = JSON.parse(runCli(['deploy', '--all', '--dry-run'], p).stdout) as Record<string, unknown>[];
    assert.equal(dry.length, 1);
    const yaml = path.join(p.cwd, 'prefect.yaml');
    writeFileSync(yaml, readFileSync(yaml, 'utf8').replace(/  concurrency_limit:\n    limit: 1\n    collision_strategy: ENQUEUE\n/, ''));
    assert.equal(runCli(['deploy', '--all'], p).code, 0);
    const d = runJson<Record<string, unknown>>(['deployment', 'inspect', SEED_NAME], p);
    assert.equal(d.concurrency_limit, null);
    assert.equal(d.concurrency_options, null);
  });
});


describe('invalid files deploy nothing', () => {
  const cases = ['invalid/strategy-typo-queue', 'invalid/limit-zero', 'invalid/tab-indentation', 'invalid/max-active-runs', 'invalid/entrypoint-file-missing'];
  for (const fixture of cases) {
    test(`${fixture}: exit 1, a located diagnostic, no stack trace, nothing stored`, () => {
      const p = project(fixture);
      try {
        const res = runCli(['deploy', '--all'], p);
        assert.equal(res.code, 1);
        assert.match(res.stderr, /prefect\.yaml:\d+:\d+ error [a-z-]+ /);
        assert.doesNotMatch(res.stderr, /\n\s+at .+:\d+:\d+\)?\n/);
        assert.match(res.stderr, /Nothing was deployed/);
        assert.deepEqual(runJson(['deployment', 'ls'], p), []);
        assert.equal(runCli(['validate'], p).code, 1);
      } finally {
        p.dispose();
      }
    });
  }
});

describe('work pools and queues', () => {
  const p = project('valid/minimal');
  after(() => p.dispose());

  test('set, show and clear a pool concurrency limit', () => {
    assert.equal(runCli(['work-pool', 'create', 'local-work-pool'], p).code, 0);
    const set = runCli(['work-pool', 'set-concurrency-limit', 'local-work-pool', '4'], p);
    assert.equal(set.stdout.trim(), "Set concurrency limit for work pool 'local-work-pool' to 4");
    const pool = runJson<Record<string, unknown>>(['work-pool', 'inspect', 'local-work-pool'], p);
    assert.equal(pool.concurrency_limit, 4);
    assert.equal(pool.slots_in_use, 0);
    assert.equal(pool.default_queue_name, 'default');
    assert.equal(runCli(['work-pool', 'clear-concurrency-limit', 'local-work-pool'], p).code, 0);
    assert.equal(runJson<Record<string, unknown>>(['work-pool', 'inspect', 'local-work-pool'], p).concurrency_limit, null);
    runCli(['work-pool', 'set-concurrency-limit', 'local-work-pool', '0'], p);
    assert.doesNotMatch(runCli(['work-pool', 'ls'], p).stdout, /None/);
  });

  test('pool errors: duplicate, missing, negative limit, bad output format', () => {
    assert.match(runCli(['work-pool', 'create', 'local-work-pool'], p).stderr, /already exists/);
    const del = runCli(['work-pool', 'delete', 'non-existent'], p);
    assert.equal(del.code, 1);
    assert.match(del.stderr, /Work pool 'non-existent' does not exist\./);
    const neg = runCli(['work-pool', 'set-concurrency-limit', 'local-work-pool', '-1'], p);
    assert.notEqual(neg.code, 0);
    assert.equal(runCli(['work-pool', 'inspect', 'nope'], p).code, 1);
    const xml = runCli(['work-pool', 'ls', '-o', 'xml'], p);
    assert.equal(xml.code, 1);
    assert.match(xml.stderr, /Only 'json' output format is supported\./);
  });

  test('every pool has a default queue of priority 1; new queues take the next priority', () => {
    assert.equal(runCli(['work-queue', 'create', 'critical', '--pool', 'local-work-pool', '--limit', '2'], p).code, 0);
    const queues = runJson<Record<string, unknown>[]>(['work-queue', 'ls', '--pool', 'local-work-pool'], p);
    assert.deepEqual(queues.map((q) => [q.name, q.priority, q.concurrency_limit]), [['default', 1, null], ['critical', 2, 2]]);
    assert.equal(runCli(['work-queue', 'set-concurrency-limit', 'critical', '5', '--pool', 'local-work-pool'], p).code, 0);
    assert.equal(runJson<Record<string, unknown>>(['work-queue', 'inspect', 'critical', '--pool', 'local-work-pool'], p).concurrency_limit, 5);
    assert.equal(runCli(['work-queue', 'delete', 'default', '--pool', 'local-work-pool'], p).code, 1);
  });
});

describe('global concurrency limits, as in Prefect', () => {
  const p = project('valid/minimal');
  after(() => p.dispose());

  test('empty listing', () => {
    assert.equal(runCli(['gcl', 'ls'], p).stdout.trim(), 'No global concurrency limits found.');
    assert.equal(runCli(['gcl', 'ls', '-o', 'json'], p).stdout.trim(), '[]');
    const xml = runCli(['gcl', 'ls', '-o', 'xml'], p);
    assert.equal(xml.code, 1);
    assert.match(xml.stderr, /Only 'json' output format is supported\./);
  });

  test('create, inspect, update', () => {
    const created = runCli(['gcl', 'create', 'dbt-global', '--limit', '4'], p);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /Created global concurrency limit with name 'dbt-global' and ID/);
    const g = runJson<Record<string, unknown>>(['gcl', 'inspect', 'dbt-global'], p);
    assert.equal(g.limit, 4);
    assert.equal(g.active, true);
    assert.equal(g.active_slots, 0);
    assert.deepEqual(g.holders, []);
    assert.match(runCli(['gcl', 'ls'], p).stdout, /dbt-global/);
    assert.equal(runCli(['global-concurrency-limit', 'update', 'dbt-global', '--limit', '6'], p).stdout.trim(), "Updated global concurrency limit with name 'dbt-global'.");
    assert.equal(runJson<Record<string, unknown>>(['gcl', 'inspect', 'dbt-global'], p).limit, 6);
    const full = runCli(['gcl', 'create', 'test', '--limit', '10', '--active-slots', '10', '--slot-decay-per-second', '0.5'], p);
    assert.equal(full.code, 0);
    const t = runJson<Record<string, unknown>>(['gcl', 'inspect', 'test'], p);
    assert.equal(t.slot_decay_per_second, 0.5);
    assert.ok((t.active_slots as number) <= 10);
  });

  test('error cases', () => {
    const dup = runCli(['gcl', 'create', 'dbt-global', '--limit', '4'], p);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /Global concurrency limit 'dbt-global' already exists\./);
    assert.equal(runCli(['gcl', 'create', 'nolimit'], p).code, 1);
    for (const flag of ['--limit', '--active-slots', '--slot-decay-per-second']) {
      const args = flag === '--limit' ? ['gcl', 'create', 'neg', '--limit', '-1'] : ['gcl', 'create', 'neg', '--limit', '3', flag, '-1'];
      const res = runCli(args, p);
      assert.equal(res.code, 1, `${flag}: ${res.stderr}`);
      assert.match(res.stderr, /Invalid arguments provided/);
    }
    const none = runCli(['gcl', 'update', 'dbt-global'], p);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /No update arguments provided\./);
    const missing = runCli(['gcl', 'update', 'not-found', '--limit', '10'], p);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Global concurrency limit 'not-found' not found\./);
    assert.match(runCli(['gcl', 'enable', 'dbt-global'], p).stderr, /is already enabled/);
    assert.equal(runCli(['gcl', 'disable', 'dbt-global'], p).code, 0);
    assert.equal(runJson<Record<string, unknown>>(['gcl', 'inspect', 'dbt-global'], p).active, false);
    assert.equal(runCli(['gcl', 'delete', 'dbt-global'], p).code, 0);
    assert.equal(runCli(['gcl', 'inspect', 'dbt-global'], p).code, 1);
  });
});

describe('usage and store errors', () => {
  let p: ReturnType<typeof project>;
  before(() => {
    p = project('valid/minimal');
  });
  after(() => p.dispose());

  test('unknown commands and flags are usage errors (exit 2)', () => {
    assert.equal(runCli(['no-such-command'], p).code, 2);
    assert.equal(runCli(['work-pool', 'ls', '--bogus'], p).code, 2);
    assert.equal(runCli(['deployment', 'inspect', 'no-slash'], p).code, 2);
  });

  test('a database newer than this program is refused with exit 3', () => {
    assert.equal(runCli(['work-pool', 'ls'], p).code, 0);
    const db = new Database(path.join(p.home, 'flowdeck.db'));
    db.pragma('user_version = 9999');
    db.close();
    const res = runCli(['work-pool', 'ls'], p);
    assert.equal(res.code, 3);
    assert.match(res.stderr, /newer than this flowdeck/);
  });
});
