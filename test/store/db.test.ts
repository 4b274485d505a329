// Opening the state store: migrations under PRAGMA user_version, pragmas, file permissions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DB_FILE_NAME, openDatabase, openStateDatabase, schemaVersion } from '../../src/store/db.js';
import { LATEST_VERSION, MIGRATIONS } from '../../src/store/migrations/index.js';
import { DbVersionFromFutureError, StoreError } from '../../src/domain/errors.js';
import { SqliteStore } from '../../src/store/store.js';
import { T0 } from '../support/store-fixtures.js';

function scratch(): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-db-'));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

const tables = (db: Database.Database) =>
  (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]).map((r) => r.name);

test('a fresh database is migrated to the latest schema version', () => {
  using s = scratch();
  const db = openStateDatabase(path.join(s.dir, 'home'));
  try {
    assert.equal(schemaVersion(db), LATEST_VERSION);
    assert.equal(LATEST_VERSION, MIGRATIONS.at(-1)!.version);
    for (const t of ['work_pool', 'work_queue', 'deployment', 'deployment_schedule', 'flow_run', 'flow_run_state', 'lease', 'lease_slot', 'global_concurrency_limit', 'gcl_waiter', 'worker']) {
      assert.ok(tables(db).includes(t), `table ${t} exists`);
    }
  } finally {
    db.close();
  }
});

test('migration numbers are strictly increasing in steps of ten', () => {
  for (const [i, m] of MIGRATIONS.entries()) {
    assert.equal(m.version % 10, 0, `${m.name} is numbered in steps of 10`);
    if (i > 0) assert.ok(m.version > MIGRATIONS[i - 1]!.version);
  }
});

test('an old database is migrated forward on open, keeping its data', () => {
  using s = scratch();
  const file = path.join(s.dir, DB_FILE_NAME);
  const empty = openDatabase(file, { targetVersion: 0 });
  assert.equal(schemaVersion(empty), 0);
  assert.deepEqual(tables(empty), []);
  empty.exec('CREATE TABLE keep_me (x INTEGER); INSERT INTO keep_me VALUES (42);');
  empty.close();
  const db = openDatabase(file);
  try {
    assert.equal(schemaVersion(db), LATEST_VERSION);
    assert.deepEqual(db.prepare('SELECT x FROM keep_me').all(), [{ x: 42 }]);
  } finally {
    db.close();
  }
  // opening again is a no-op
  const again = openDatabase(file);
  assert.equal(schemaVersion(again), LATEST_VERSION);
  again.close();
});

test('aborts if the database is newer than this binary (exit code 3) and leaves it untouched', () => {
  using s = scratch();
  const home = path.join(s.dir, 'home');
  openStateDatabase(home).close();
  const file = path.join(home, DB_FILE_NAME);
  const raw = new Database(file);
  raw.pragma(`user_version = ${LATEST_VERSION + 10}`);
  raw.close();
  const before = readFileSync(file);
  assert.throws(
    () => SqliteStore.open(home),
    (error: unknown) => {
      assert.ok(error instanceof DbVersionFromFutureError);
      assert.ok(error instanceof StoreError);
      assert.equal(error.exitCode, 3);
      assert.match(error.message, new RegExp(`schema version ${LATEST_VERSION + 10}`));
      return true;
    },
  );
  assert.deepEqual(readFileSync(file), before);
});

test('a file that is not a database is a store error with exit code 3', () => {
  using s = scratch();
  const file = path.join(s.dir, DB_FILE_NAME);
  writeFileSync(file, 'this is not an SQLite database header, not at all. '.repeat(40));
  assert.throws(() => openDatabase(file), (e: unknown) => e instanceof StoreError && e.exitCode === 3);
});

test('the connection runs in WAL mode with foreign keys, a busy timeout and synchronous NORMAL', () => {
  using s = scratch();
  const db = openStateDatabase(path.join(s.dir, 'home'), { busyTimeoutMs: 1234 });
  try {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(db.pragma('busy_timeout', { simple: true }), 1234);
    assert.equal(db.pragma('synchronous', { simple: true }), 1); // NORMAL
    assert.throws(() => db.prepare("INSERT INTO work_queue (id, pool_id, name, priority, created_at, updated_at) VALUES ('q', 'no-such-pool', 'x', 1, 0, 0)").run(), /FOREIGN KEY/);
  } finally {
    db.close();
  }
});

test('the state directory is created 0700 and the database file (and its WAL) 0600', async () => {
  using s = scratch();
  const home = path.join(s.dir, 'nested', 'home');
  const store = SqliteStore.open(home);
  try {
    await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    const mode = (p: string) => statSync(p).mode & 0o777;
    assert.equal(mode(home), 0o700);
    assert.equal(mode(path.join(home, DB_FILE_NAME)), 0o600);
    assert.equal(mode(path.join(home, `${DB_FILE_NAME}-wal`)), 0o600);
  } finally {
    await store.close();
  }
});

test('deleting a pool cascades to its queues (foreign keys are enforced)', async () => {
  using s = scratch();
  const store = SqliteStore.open(path.join(s.dir, 'home'));
  try {
    await store.createPool({ name: 'p', type: 'process', concurrencyLimit: null }, T0);
    await store.createQueue({ pool: 'p', name: 'high', concurrencyLimit: null }, T0);
    await store.deletePool('p');
    assert.equal((store.db.prepare('SELECT COUNT(*) AS n FROM work_queue').get() as { n: number }).n, 0);
  } finally {
    await store.close();
  }
});
