/**
 * Scenario 4, scheduler scale: D deployments, each with one interval schedule, stored with
 * applyDeployments; then schedulerPass (the worker's scheduling step) over all of them, timed;
 * then a second pass at the same moment (idempotent: nothing new), timed; the database's size.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../lib/cleanup.mjs';
import { deploymentInput, intervalSchedule, PY_ENTRY, schedulerPass, SqliteStore } from '../lib/flowdeck.mjs';
import { enableProfile, lockStats, resetStats } from '../lib/sql-profile.mjs';
import { fmt, fmtBytes, fmtSummary, median, summary } from '../lib/stats.mjs';

function dbBytes(home, db) {
  db.pragma('wal_checkpoint(TRUNCATE)');
  let total = 0;
  for (const f of ['flowdeck.db', 'flowdeck.db-wal', 'flowdeck.db-shm']) {
    try {
      total += statSync(path.join(home, f)).size;
    } catch {
      // absent
    }
  }
  return total;
}

export async function schedulerOnce({ deployments, intervalSeconds, projectDir }) {
  const { dir, remove } = tempDir('sched');
  const home = path.join(dir, 'home');
  const store = SqliteStore.open(home);
  try {
    const created = Date.now();
    const anchor = new Date(created - 3_600_000).toISOString();
    const inputs = Array.from({ length: deployments }, (_, i) =>
      deploymentInput({ flow: `flow-${i % 100}`, name: `deployment-${i}`, entrypoint: PY_ENTRY, projectDir, pool: 'bench-pool', schedules: [intervalSchedule(intervalSeconds, anchor)] }),
    );
    let t = performance.now();
    await store.applyDeployments(inputs, created);
    const applyMs = performance.now() - t;
    const now = Date.now();
    resetStats();
    enableProfile({ transactions: true });
    t = performance.now();
    let first;
    try {
      first = await schedulerPass(store, now, null);
    } finally {
      enableProfile({ transactions: false });
    }
    const firstMs = performance.now() - t;
    const longestTx = lockStats.hold.max;
    const commitShare = lockStats.commit.sum / lockStats.hold.sum;
    const transactions = lockStats.transactions;
    t = performance.now();
    const second = await schedulerPass(store, now, null);
    const secondMs = performance.now() - t;
    const rows = store.db.prepare('SELECT COUNT(*) AS n FROM flow_run').get().n;
    const bytes = dbBytes(home, store.db);
    return { applyMs, firstMs, secondMs, longestTx, commitShare, transactions, created: first.created, schedules: first.schedules, errors: first.errors.length + second.errors.length, secondCreated: second.created, rows, bytes };
  } finally {
    await store.close();
    remove();
  }
}

export async function run(ctx) {
  const { log, reps, projectDir, sizes } = ctx;
  const cases = [{ label: 'hourly (interval 3600 s)', interval: 3600, reps: reps.scheduler }];
  if (sizes.schedulerMinuteCase) cases.push({ label: 'every minute (interval 60 s)', interval: 60, reps: 1 });
  const rows = [];
  const results = {};
  for (const c of cases) {
    const per = [];
    for (let r = 0; r < c.reps; r++) {
      const res = await schedulerOnce({ deployments: sizes.schedulerDeployments, intervalSeconds: c.interval, projectDir });
      per.push(res);
      log(`  scheduler ${c.label} rep ${r + 1}/${c.reps}: apply ${fmt(res.applyMs, 0)} ms, first pass ${fmt(res.firstMs, 0)} ms (${res.created} runs, longest tx ${fmt(res.longestTx, 0)} ms), second ${fmt(res.secondMs, 0)} ms (${res.secondCreated} new), db ${fmtBytes(res.bytes)}`);
    }
    const s = {
      applyMs: summary(per.map((p) => p.applyMs)),
      firstMs: summary(per.map((p) => p.firstMs)),
      secondMs: summary(per.map((p) => p.secondMs)),
      created: per[0].created,
      secondCreated: Math.max(...per.map((p) => p.secondCreated)),
      bytes: summary(per.map((p) => p.bytes)),
      longestTx: summary(per.map((p) => p.longestTx)),
      transactions: per[0].transactions,
      commitShare: median(per.map((p) => p.commitShare)),
      errors: per.reduce((a, p) => a + p.errors, 0),
    };
    results[c.label] = s;
    rows.push([
      c.label,
      fmtSummary(s.applyMs, 0),
      fmtSummary(s.firstMs, 0),
      fmt(s.created, 0),
      `${fmt((s.created / s.firstMs.median) * 1000, 0)}`,
      fmtSummary(s.secondMs, 0),
      String(s.secondCreated),
      fmtBytes(s.bytes.median),
      `${fmt(s.longestTx.median, 0)} (${s.transactions} tx, COMMIT ${fmt(100 * s.commitShare, 0)} % of lock time)`,
    ]);
  }
  const main = results[cases[0].label];
  return {
    results,
    tables: [
      {
        title: `4. Scheduler scale: ${fmt(sizes.schedulerDeployments, 0)} deployments, one interval schedule each (ms)`,
        columns: ['schedules', 'deploy (applyDeployments)', 'first pass', 'runs created', 'runs/s created', 'second pass', 'created by 2nd', 'db size', 'longest write tx of pass 1'],
        rows,
        notes: [
          'A pass materialises each schedule as Prefect does: at least 3 runs and 1 hour ahead, at most 100 runs / 100 days.',
          'Longest write tx: the longest time the first pass held SQLite\'s write lock in one transaction (it inserts its runs in batches); every other writer may wait that long.',
          `Goal: first pass over ${fmt(sizes.schedulerDeployments, 0)} deployments < 5 s -> ${main.firstMs.median < 5000 ? 'met' : 'MISSED'} (${fmt(main.firstMs.median / 1000, 2)} s, hourly schedules); the second pass creates nothing (idempotent) -> ${main.secondCreated === 0 ? 'yes' : 'NO'}.`,
        ],
      },
    ],
  };
}
