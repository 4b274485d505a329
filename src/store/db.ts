/** Opening the SQLite state store: permissions, pragmas, migrations. */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { DbVersionFromFutureError, StoreError } from '../domain/errors.js';
import { LATEST_VERSION, MIGRATIONS } from './migrations/index.js';

export type Db = Database.Database;

export const DB_FILE_NAME = 'flowdeck.db';
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

export interface OpenOptions {
  busyTimeoutMs?: number;
  /** Stop at this schema version (tests of migrations). */
  targetVersion?: number;
  readonly?: boolean;
}

/** Creates the state directory (0700) if needed and opens <home>/flowdeck.db (0600). */
export function openStateDatabase(home: string, opts: OpenOptions = {}): Db {
  try {
    fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new StoreError(`cannot create the state directory ${home}`, { cause });
  }
  return openDatabase(path.join(home, DB_FILE_NAME), opts);
}

export function openDatabase(file: string, opts: OpenOptions = {}): Db {
  const existed = fs.existsSync(file);
  let db: Db;
  try {
    db = new Database(file, { timeout: opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
  } catch (cause) {
    throw new StoreError(`cannot open the database ${file}: ${(cause as Error).message}`, { cause });
  }
  try {
    if (!existed) tightenPermissions(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS)}`);
    migrate(db, file, opts.targetVersion ?? LATEST_VERSION);
    return db;
  } catch (error) {
    db.close();
    throw translateSqliteError(error, file);
  }
}

function tightenPermissions(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      fs.chmodSync(f, 0o600);
    } catch {
      // the -wal and -shm files may not exist yet; SQLite gives them the main file's mode
    }
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies every pending migration and the new user_version in one IMMEDIATE transaction. */
export function migrate(db: Db, file: string, target: number): void {
  checkMonotonic();
  const current = schemaVersion(db);
  if (current > LATEST_VERSION) throw new DbVersionFromFutureError(current, LATEST_VERSION, file);
  const pending = MIGRATIONS.filter((m) => m.version > current && m.version <= target);
  if (pending.length === 0) return;
  const apply = db.transaction(() => {
    // re-read inside the lock: another process may have migrated meanwhile
    const now = schemaVersion(db);
    for (const m of pending) {
      if (m.version <= now) continue;
      db.exec(m.sql);
    }
    db.pragma(`user_version = ${Math.max(now, pending[pending.length - 1]!.version)}`);
  });
  apply.immediate();
}

function checkMonotonic(): void {
  for (let i = 1; i < MIGRATIONS.length; i++) {
    if (MIGRATIONS[i]!.version <= MIGRATIONS[i - 1]!.version) {
      throw new Error(`migrations out of order at ${MIGRATIONS[i]!.name}`);
    }
  }
}

/** SQLITE_BUSY past the timeout and similar become StoreError (exit 3). */
export function translateSqliteError(error: unknown, file: string): unknown {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: string } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) {
    return new StoreError(`the database ${file} is locked by another process (waited past the busy timeout)`, {
      cause: error,
      hint: 'retry, or stop the process that holds the lock',
    });
  }
  if (typeof code === 'string' && (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_IOERR'))) {
    return new StoreError(`the database ${file} is unusable: ${(error as Error).message}`, { cause: error });
  }
  return error;
}

const statementCache = new WeakMap<Db, Map<string, Database.Statement>>();

/** A prepared statement for this connection, compiled once and reused (preparing costs more than running). */
export function sql(db: Db, text: string): Database.Statement {
  let cache = statementCache.get(db);
  if (!cache) {
    cache = new Map();
    statementCache.set(db, cache);
  }
  let stmt = cache.get(text);
  if (!stmt) {
    stmt = db.prepare(text);
    cache.set(text, stmt);
  }
  return stmt;
}

/** Drops this connection's compiled statements (tests that observe which SQL runs). */
export function forgetStatements(db: Db): void {
  statementCache.delete(db);
}
