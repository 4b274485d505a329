/**
 * Scenario 5, command latency: whole CLI processes (`node bin/flowdeck.js ...` with FLOWDECK_HOME)
 * against a state directory holding D deployments, R flow runs and a global limit with holders.
 * The runs are bulk-inserted with better-sqlite3 in one transaction straight into flow_run (the
 * schema of src/store/migrations; flow_run's indexes are dropped during the load and re-created
 * from their own definitions, so the result is the same database, built faster). The statements
 * behind each command are captured in process and their EXPLAIN QUERY PLAN printed.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { tempDir } from '../lib/cleanup.mjs';
import { CLI, deploymentInput, intervalSchedule, PY_ENTRY, REPO_ROOT, SqliteStore } from '../lib/flowdeck.mjs';
import { categorize, CLI_CATEGORIES } from '../lib/cpuprofile.mjs';
import { captured, captureSql } from '../lib/sql-profile.mjs';
import { fmt, fmtBytes, fmtSummary, summary } from '../lib/stats.mjs';

const require = createRequire(path.join(REPO_ROOT, 'package.json'));
const Database = require('better-sqlite3');

const DAY = 86_400_000;

export async function buildState(home, { deployments, runs, projectDir, log }) {
  const store = SqliteStore.open(home);
  const now = Date.now();
  const anchor = new Date(now - DAY).toISOString();
  const inputs = Array.from({ length: deployments }, (_, i) =>
    deploymentInput({ flow: `flow-${i % 100}`, name: `deployment-${i}`, entrypoint: PY_ENTRY, projectDir, limit: i % 3 === 0 ? 1 : null, schedules: [intervalSchedule(3600, anchor)] }),
  );
  await store.applyDeployments(inputs, now);
  await store.createGcl({ name: 'dbt-global', limit: 4, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, now);
  let holders = 0;
  for (let i = 0; i < 2; i++) {
    try {
      const r = await store.tryAcquireGcl(
        { names: ['dbt-global'], occupy: 1, mode: 'concurrency', holder: `bench-holder-${i}`, flowRunId: null, strict: false, leaseMs: 6 * 3_600_000, waiterId: randomUUID(), waiterTtlMs: 60_000 },
        now,
      );
      if (r.status === 'acquired') holders++;
    } catch (error) {
      log(`  (could not take a gcl slot through the store API: ${error.message})`);
      break;
    }
  }
  await store.close();

  const db = new Database(path.join(home, 'flowdeck.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -1048576'); // 1 GiB of page cache for the load only: the random-key indexes stay in memory
  const deps = db.prepare('SELECT id, work_pool_name FROM deployment ORDER BY flow_name, name').all();
  const indexes = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flow_run' AND sql IS NOT NULL`).all();
  const t0 = performance.now();
  const insert = db.prepare(
    `INSERT INTO flow_run (id, name, deployment_id, schedule_id, idempotency_key, work_pool_name, work_queue_name, state_type, state_name,
       state_message, expected_start_time, start_time, end_time, parameters_json, tags_json, auto_scheduled, worker_id, pid, waiting_on_json,
       cancel_requested, created_at, updated_at)
     VALUES (?, ?, ?, NULL, ?, ?, 'default', ?, ?, ?, ?, ?, ?, '{}', '[]', 1, NULL, NULL, NULL, 0, ?, ?)`,
  );
  const words = ['amber', 'brisk', 'calm', 'dapper', 'eager', 'fuzzy', 'otter', 'heron', 'lynx', 'falcon'];
  db.transaction(() => {
    for (const ix of indexes) db.exec(`DROP INDEX ${ix.name}`);
    // a year of history: every run is one deployment's run at one time; the newest 2% are still in the future
    for (let i = 0; i < runs; i++) {
      const dep = deps[i % deps.length];
      const expected = now - 365 * DAY + Math.floor((i / runs) * 372 * DAY);
      const future = expected > now;
      const failed = !future && i % 97 === 0;
      const state = future ? ['SCHEDULED', 'Scheduled'] : failed ? ['FAILED', 'Failed'] : ['COMPLETED', 'Completed'];
      const start = future ? null : expected + 150;
      insert.run(
        randomUUID(),
        `${words[i % 10]}-${words[(i >> 3) % 10]}-${i % 1000}`,
        dep.id,
        `auto:${dep.id}:${expected}`,
        dep.work_pool_name,
        state[0],
        state[1],
        failed ? 'Flow run failed with exit code 1' : null,
        expected,
        start,
        future ? null : start + 2000,
        expected - 3_600_000,
        future ? expected - 3_600_000 : start + 2000,
      );
    }
    for (const ix of indexes) db.exec(ix.sql);
  }).immediate();
  const loadMs = performance.now() - t0;
  db.pragma('wal_checkpoint(TRUNCATE)');
  const bytes = db.prepare('SELECT page_count * page_size AS b FROM pragma_page_count(), pragma_page_size()').get().b;
  db.close();
  return { loadMs, bytes, holders, someDeployment: 'flow-0/deployment-0' };
}

function timeCli(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let err = '';
    child.stdout.on('data', (c) => (bytes += c.length));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (code !== 0) reject(new Error(`${args.join(' ')} exited ${code}: ${err.trim().slice(-300)}`));
      else resolve({ ms, bytes });
    });
  });
}

/** The statements one store call runs, each with its EXPLAIN QUERY PLAN. */
async function plansOf(label, home, call) {
  const store = SqliteStore.open(home);
  try {
    captureSql(true);
    await call(store);
  } finally {
    captureSql(false);
  }
  const out = [];
  for (const [sql, args] of captured) {
    if (/^(BEGIN|COMMIT|ROLLBACK|PRAGMA|SAVEPOINT|RELEASE)/i.test(sql)) continue;
    let plan;
    try {
      plan = store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args).map((r) => r.detail);
    } catch (error) {
      plan = [`(no plan: ${error.message})`];
    }
    const fullScan = plan.filter((d) => /^SCAN \w+$/.test(d.trim()) || (/^SCAN/.test(d.trim()) && !/INDEX/.test(d)));
    out.push({ label, sql, plan, fullScan, tempSort: plan.some((d) => /TEMP B-TREE/.test(d)) });
  }
  await store.close();
  return out;
}

export async function run(ctx) {
  const { log, reps, sizes, projectDir } = ctx;
  const { dir } = tempDir('cli');
  const home = path.join(dir, 'home');
  log(`  building a state directory: ${fmt(sizes.cliDeployments, 0)} deployments, ${fmt(sizes.cliRuns, 0)} runs...`);
  const built = await buildState(home, { deployments: sizes.cliDeployments, runs: sizes.cliRuns, projectDir, log });
  log(`  loaded in ${fmt(built.loadMs / 1000, 1)} s, database ${fmtBytes(built.bytes)}`);
  const env = { ...process.env, FLOWDECK_HOME: home, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  const commands = [
    { label: 'node -e "" (Node start-up alone)', args: ['-e', ''], reference: true },
    { label: 'flowdeck --version (CLI start-up, no database)', args: [CLI, '--version'], reference: true },
    { label: `deployment ls (${fmt(sizes.cliDeployments, 0)} deployments)`, args: [CLI, 'deployment', 'ls'], goal: 300, key: 'deploymentLs' },
    { label: `flow-run ls --limit 50 (${fmt(sizes.cliRuns, 0)} runs)`, args: [CLI, 'flow-run', 'ls', '--limit', '50'], goal: 300, key: 'flowRunLs' },
    ...(ctx.quick
      ? []
      : [
          { label: 'flow-run ls --limit 50 --state FAILED', args: [CLI, 'flow-run', 'ls', '--limit', '50', '--state', 'FAILED'] },
          { label: `flow-run ls --limit 50 --deployment ${built.someDeployment}`, args: [CLI, 'flow-run', 'ls', '--limit', '50', '--deployment', built.someDeployment] },
        ]),
    { label: `gcl inspect dbt-global (${built.holders} holders)`, args: [CLI, 'gcl', 'inspect', 'dbt-global'], key: 'gclInspect' },
  ];
  const rows = [];
  const results = {};
  for (const c of commands) {
    const warm = await timeCli(c.args, env); // warms the page cache; a slow command gets fewer timed runs
    const n = warm.ms > 3000 ? reps.cliSlow : reps.cli;
    const times = n === 0 ? [warm.ms] : [];
    let bytes = warm.bytes;
    for (let i = 0; i < n; i++) {
      const r = await timeCli(c.args, env);
      times.push(r.ms);
      bytes = r.bytes;
    }
    const s = summary(times);
    results[c.key ?? c.label] = s;
    log(`  ${c.label}: median ${fmt(s.median, 0)} ms`);
    rows.push([c.label, fmtSummary(s, 0), fmtBytes(bytes), c.goal ? (s.median < c.goal ? `< ${c.goal} ms: met` : `< ${c.goal} ms: MISSED`) : '']);
  }

  // one profiled run of each goal command: what bounds it
  const breakdown = [];
  for (const c of sizes.cliProfile ? commands.filter((x) => x.goal || x.key === 'gclInspect') : []) {
    const profDir = path.join(dir, `prof-${breakdown.length}`);
    mkdirSync(profDir);
    const r = await timeCli(['--cpu-prof', `--cpu-prof-dir=${profDir}`, ...c.args], env);
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) continue;
    const cat = categorize(path.join(profDir, file), CLI_CATEGORIES);
    breakdown.push({ label: c.label, wallMs: r.ms, ...cat });
  }
  const catLabels = CLI_CATEGORIES.map((c) => c.label);
  const breakdownTable = {
    title: '5(b). Where the time of one command goes (one run under node --cpu-prof; CPU-sampled ms)',
    columns: ['command', 'wall (profiled)', 'samples', ...catLabels, 'other'],
    rows: breakdown.map((b) => {
      const known = catLabels.reduce((a, k) => a + b.categories[k], 0);
      return [b.label, fmt(b.wallMs, 0), fmt(b.totalMs, 0), ...catLabels.map((k) => fmt(b.categories[k], 0)), fmt(Math.max(0, b.totalMs - known - b.idleMs), 0)];
    }),
    notes: ['Sampled time before the profiler starts (Node bootstrap) is in the wall time only; "other" = sampled, non-idle time in none of the categories (argument parsing, context, output writes, GC...).'],
  };

  const plans = [
    ...(await plansOf('deployment ls', home, (s) => s.listDeployments())),
    ...(await plansOf('flow-run ls --limit 50', home, (s) => s.listRuns({ limit: 50 }))),
    ...(await plansOf('flow-run ls --state FAILED', home, (s) => s.listRuns({ limit: 50, state: 'FAILED' }))),
    ...(await plansOf('flow-run ls --deployment', home, (s) => s.listRuns({ limit: 50, deployment: built.someDeployment }))),
    ...(await plansOf('gcl inspect', home, (s) => s.getGcl('dbt-global', Date.now()))),
    ...(await plansOf('scheduler: schedulableSchedules', home, (s) => s.schedulableSchedules(null))),
    ...(await plansOf('worker: markLateRuns', home, (s) => s.markLateRuns(Date.now()))),
    ...(await plansOf('worker: dispatch', home, (s) => s.dispatch({ pool: 'bench-pool', workerId: 'explain', capacity: 0, leaseMs: 30_000 }, Date.now()))),
  ];
  const seen = new Set();
  const planRows = [];
  for (const p of plans) {
    if (seen.has(p.sql)) continue;
    seen.add(p.sql);
    planRows.push({ ...p });
  }
  return {
    results,
    breakdown,
    loadMs: built.loadMs,
    plans: planRows,
    tables: [
      {
        title: `5. Command latency: whole CLI processes, FLOWDECK_HOME with ${fmt(sizes.cliDeployments, 0)} deployments and ${fmt(sizes.cliRuns, 0)} runs (${fmtBytes(built.bytes)}); wall ms`,
        columns: ['command', 'wall time', 'output', 'goal'],
        rows,
        notes: [`Median (min–max, n = runs after one warm-up run${reps.cliSlow === 0 ? '; a command slower than 3 s is timed once, by its warm-up run' : `; ${reps.cliSlow} runs for a command slower than 3 s`}); stdout is a pipe, so no colour and no live view.`],
      },
      ...(breakdown.length ? [breakdownTable] : []),
    ],
  };
}

/** EXPLAIN QUERY PLAN lines as text (printed and written to RESULTS.md). */
export function plansText(plans) {
  const out = [];
  for (const p of plans) {
    const flag = p.fullScan.length ? `  <-- full scan: ${p.fullScan.join('; ')}` : '';
    out.push(`[${p.label}] ${p.sql.length > 160 ? `${p.sql.slice(0, 157)}...` : p.sql}`);
    for (const d of p.plan) out.push(`    ${d}`);
    if (flag) out.push(flag);
  }
  return out.join('\n');
}
