/**
 * Optional instrumentation of better-sqlite3, loaded into a flowdeck process (in process by import,
 * or into a CLI process with NODE_OPTIONS=--import): no engine source is changed.
 *
 * - Transactions: every db.transaction(fn).immediate() call is timed in three parts: the wait for
 *   the write lock (BEGIN IMMEDIATE, including busy-handler sleeps), the body, and COMMIT. The lock
 *   is held from the end of BEGIN to the end of COMMIT.
 * - Statements (when FLOWDECK_BENCH_SQL_PROFILE=1 or enableProfile({ statements: true })): the time spent in
 *   each prepared statement's run/get/all/iterate and in prepare() itself, keyed by its SQL text.
 *
 * Both are off until enableProfile() (or the environment) turns them on, so importing costs nothing.
 * In a child process, stats are written as JSON to $FLOWDECK_BENCH_LOCK_STATS on exit.
 */
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'));
const Database = require('better-sqlite3');

const RESERVOIR = 20000;

class Samples {
  n = 0;
  sum = 0;
  max = 0;
  values = [];
  add(v) {
    this.n++;
    this.sum += v;
    if (v > this.max) this.max = v;
    if (this.values.length < RESERVOIR) this.values.push(v);
    else {
      const j = Math.floor(Math.random() * this.n);
      if (j < RESERVOIR) this.values[j] = v;
    }
  }
  toJSON() {
    return { n: this.n, sum: this.sum, max: this.max, values: this.values };
  }
}

export const lockStats = { wait: new Samples(), hold: new Samples(), commit: new Samples(), busyErrors: 0, transactions: 0, worstHolds: [] };

/** The longest holds, each with the process CPU time spent meanwhile: wall >> CPU means the holder was descheduled or waited on the disk. */
function noteHold(holdMs, cpuMs, commitMs) {
  const w = lockStats.worstHolds;
  if (w.length < 5 || holdMs > w[w.length - 1].holdMs) {
    w.push({ holdMs, cpuMs, commitMs });
    w.sort((a, b) => b.holdMs - a.holdMs);
    if (w.length > 5) w.pop();
  }
}
export const statementStats = new Map();
let statementsOn = process.env.FLOWDECK_BENCH_SQL_PROFILE === '1';
let transactionsOn = Boolean(process.env.FLOWDECK_BENCH_LOCK_STATS);

/** Turns the instrumentation on or off for transactions and prepared statements created from now on. */
export function enableProfile({ transactions = true, statements = false } = {}) {
  transactionsOn = transactions;
  statementsOn = statements;
}
export function resetStats() {
  lockStats.wait = new Samples();
  lockStats.hold = new Samples();
  lockStats.commit = new Samples();
  lockStats.busyErrors = 0;
  lockStats.transactions = 0;
  lockStats.worstHolds = [];
  statementStats.clear();
}

function stat(key) {
  let s = statementStats.get(key);
  if (!s) statementStats.set(key, (s = { calls: 0, ms: 0 }));
  return s;
}

const origTransaction = Database.prototype.transaction;
Database.prototype.transaction = function patchedTransaction(fn) {
  if (!transactionsOn) return origTransaction.call(this, fn);
  let entered = 0;
  let bodyEnd = 0;
  let cpuEntered;
  const inner = origTransaction.call(this, function timedBody(...args) {
    entered = performance.now();
    cpuEntered = process.cpuUsage();
    try {
      return fn.apply(this, args);
    } finally {
      bodyEnd = performance.now();
    }
  });
  const timed = (variant) =>
    function timedTransaction(...args) {
      const nested = this?.inTransaction ?? false;
      const t0 = performance.now();
      entered = 0;
      try {
        return variant.apply(this, args);
      } catch (error) {
        if (error?.code === 'SQLITE_BUSY' || error?.code === 'SQLITE_BUSY_SNAPSHOT') lockStats.busyErrors++;
        throw error;
      } finally {
        if (!nested && entered > 0) {
          const t3 = performance.now();
          lockStats.transactions++;
          lockStats.wait.add(entered - t0);
          lockStats.hold.add(t3 - entered);
          lockStats.commit.add(t3 - bodyEnd);
          const cpu = process.cpuUsage(cpuEntered);
          noteHold(t3 - entered, (cpu.user + cpu.system) / 1000, t3 - bodyEnd);
        }
      }
    };
  const out = timed(inner);
  for (const v of ['default', 'deferred', 'immediate', 'exclusive']) Object.defineProperty(out, v, { value: timed(inner[v]) });
  return out;
};

/** SQL text -> the arguments of its first execution, while capturing (for EXPLAIN QUERY PLAN). */
export const captured = new Map();
let capturing = false;
export function captureSql(on) {
  capturing = on;
  if (on) captured.clear();
}

const WRAPPED = Symbol('flowdeck-bench-wrapped');
const origPrepare = Database.prototype.prepare;
Database.prototype.prepare = function patchedPrepare(sql, ...rest) {
  if (capturing) {
    const stmt = origPrepare.call(this, sql, ...rest);
    if (stmt[WRAPPED]) return stmt; // a statement cache handed the same object back
    stmt[WRAPPED] = true;
    const key = String(sql).replace(/\s+/g, ' ').trim();
    for (const m of ['run', 'get', 'all', 'iterate']) {
      const orig = stmt[m];
      stmt[m] = function capturingStatement(...args) {
        if (capturing && !captured.has(key)) captured.set(key, args);
        return orig.apply(stmt, args);
      };
    }
    return stmt;
  }
  if (!statementsOn) return origPrepare.call(this, sql, ...rest);
  const key = String(sql).replace(/\s+/g, ' ').trim();
  const t0 = performance.now();
  const stmt = origPrepare.call(this, sql, ...rest);
  const p = stat('prepare()');
  p.calls++;
  p.ms += performance.now() - t0;
  if (stmt[WRAPPED]) return stmt;
  stmt[WRAPPED] = true;
  for (const m of ['run', 'get', 'all', 'iterate']) {
    const orig = stmt[m];
    stmt[m] = function timedStatement(...args) {
      const s = stat(key);
      const t = performance.now();
      try {
        return orig.apply(stmt, args);
      } finally {
        s.calls++;
        s.ms += performance.now() - t;
      }
    };
  }
  return stmt;
};

if (process.env.FLOWDECK_BENCH_LOCK_STATS) {
  const file = process.env.FLOWDECK_BENCH_LOCK_STATS;
  process.on('exit', () => {
    try {
      writeFileSync(`${file}.${process.pid}.json`, JSON.stringify({ pid: process.pid, lock: lockStats, statements: Object.fromEntries(statementStats) }));
    } catch {
      // nothing to report to
    }
  });
}
