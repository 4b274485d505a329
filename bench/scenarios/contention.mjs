/**
 * Scenario 6, contention: W worker processes (`node bin/flowdeck.js worker start --pool P`, the real
 * CLI) on one FLOWDECK_HOME, the seed's shape (8 deployments limit 1, pool limit 4) and a backlog of
 * N trivial Python runs. Reported: state transitions per second (rows appended to flow_run_state
 * while the workers ran), runs per second, and lock waits measured two ways:
 *  - inside each worker: bench/lib/sql-profile.mjs is preloaded with NODE_OPTIONS=--import (no engine
 *    change); it times every write transaction: the wait in BEGIN IMMEDIATE for the write lock
 *    (busy-handler sleeps included) and the time the lock is then held until COMMIT returns;
 *  - from outside: a probe connection in the benchmark process runs BEGIN IMMEDIATE; COMMIT every
 *    20 ms and times its own wait for the lock (what any other writer, e.g. a CLI command, sees).
 * The concurrency limits are checked across processes from the state history.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { onCleanup, tempDir } from '../lib/cleanup.mjs';
import { BENCH_DIR, CLI, concurrencyFromHistory, deploymentInput, integrity, PY_ENTRY, REPO_ROOT, SqliteStore } from '../lib/flowdeck.mjs';
import { fmt, fmtSummary, percentile, summary } from '../lib/stats.mjs';

const require = createRequire(path.join(REPO_ROOT, 'package.json'));
const Database = require('better-sqlite3');

const DEPLOYMENTS = 8;
const POOL_LIMIT = 4;

export async function contentionOnce({ workers, runs, projectDir, log }) {
  const { dir, remove } = tempDir('contention');
  const home = path.join(dir, 'home');
  const store = SqliteStore.open(home);
  const now = Date.now();
  const deps = Array.from({ length: DEPLOYMENTS }, (_, i) => deploymentInput({ name: `store-${i}`, entrypoint: PY_ENTRY, projectDir, limit: 1 }));
  await store.applyDeployments(deps, now);
  await store.updatePool('bench-pool', { concurrencyLimit: POOL_LIMIT }, now);
  for (let i = 0; i < runs; i++) await store.createManualRun(deps[i % DEPLOYMENTS].full_name, {}, now, now);
  await store.close();

  const statsBase = path.join(dir, 'lock');
  const env = {
    ...process.env,
    FLOWDECK_HOME: home,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${path.join(BENCH_DIR, 'lib', 'sql-profile.mjs')}`.trim(),
    FLOWDECK_BENCH_LOCK_STATS: statsBase,
    NO_COLOR: '1',
  };
  const db = new Database(path.join(home, 'flowdeck.db'), { timeout: 30_000 });
  db.pragma('busy_timeout = 30000');
  const count = db.prepare(`SELECT COUNT(*) AS n FROM flow_run WHERE state_type IN ('COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED')`);
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const probe = [];

  const startEpoch = Date.now();
  const t0 = performance.now();
  const children = [];
  for (let w = 0; w < workers; w++) {
    const child = spawn(process.execPath, [CLI, 'worker', 'start', '--pool', 'bench-pool', '--no-live', '--grace-period', '30'], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: projectDir });
    let log = '';
    child.stdout.on('data', (c) => (log += c));
    child.stderr.on('data', (c) => (log += c));
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const unregister = onCleanup(`stop worker ${child.pid}`, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    children.push({ child, exited, unregister, log: () => log });
  }

  let ms;
  let done = 0;
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    const p0 = performance.now();
    begin.run();
    const p1 = performance.now();
    commit.run();
    probe.push(p1 - p0);
    done = count.get().n;
    if (done >= runs) {
      ms = performance.now() - t0;
      break;
    }
    if (Date.now() > deadline || children.some((c) => c.child.exitCode !== null)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const c of children) c.child.kill('SIGTERM');
  const exits = await Promise.all(children.map((c) => c.exited));
  for (const c of children) c.unregister();

  const endEpoch = Date.now();
  const transitions = db.prepare('SELECT COUNT(*) AS n FROM flow_run_state WHERE timestamp >= ?').get(startEpoch).n;
  const lastFinal = db.prepare(`SELECT MAX(end_time) AS t FROM flow_run`).get().t ?? endEpoch;
  const activeMs = Math.max(1, lastFinal - startEpoch);
  const history = concurrencyFromHistory(db);
  const check = integrity(db, runs);
  db.close();

  const files = readdirSync(dir).filter((f) => f.startsWith('lock.') && f.endsWith('.json'));
  const perWorker = files.map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
  const waits = perWorker.flatMap((w) => w.lock.wait.values);
  const holds = perWorker.flatMap((w) => w.lock.hold.values);
  const worstHold = perWorker.flatMap((w) => w.lock.worstHolds ?? []).sort((a, b) => b.holdMs - a.holdMs)[0];
  const logs = children.map((c) => c.log());
  const busyLines = logs.flatMap((l) => l.split('\n')).filter((l) => /busy|locked/i.test(l));
  writeFileSync(path.join(dir, 'workers.log'), logs.join('\n----\n'));
  const result = {
    workers,
    runs,
    completed: done,
    ms: ms ?? NaN,
    transitions,
    transitionsPerSecond: (transitions * 1000) / activeMs,
    runsPerSecond: (runs * 1000) / (ms ?? NaN),
    txCount: perWorker.reduce((a, w) => a + w.lock.transactions, 0),
    // share of the wall time during which some worker held the write lock (holds never overlap)
    lockBusy: perWorker.reduce((a, w) => a + w.lock.hold.sum, 0) / (ms ?? NaN),
    lockWait: { p50: percentile(waits, 50), p99: percentile(waits, 99), max: Math.max(0, ...perWorker.map((w) => w.lock.wait.max)) },
    lockHold: { p50: percentile(holds, 50), p99: percentile(holds, 99), max: Math.max(0, ...perWorker.map((w) => w.lock.hold.max)) },
    worstHold,
    probeWait: { p50: percentile(probe, 50), p99: percentile(probe, 99), max: Math.max(...probe), n: probe.length },
    busyErrors: perWorker.reduce((a, w) => a + w.lock.busyErrors, 0) + busyLines.length,
    busySample: busyLines.slice(0, 2),
    statsFiles: perWorker.length,
    history,
    ok: check.ok && history.maxDeployment === 1 && history.maxPool <= POOL_LIMIT,
    check,
    exits,
  };
  if (!result.ok || result.statsFiles !== workers) log(`  contention: check ${JSON.stringify(check)}, stats files ${result.statsFiles}/${workers}, exits ${JSON.stringify(exits)}; last worker log lines: ${logs.map((l) => l.trim().split('\n').slice(-2).join(' / ')).join(' | ')}`);
  remove();
  return result;
}

export async function run(ctx) {
  const { log, reps, sizes, projectDir } = ctx;
  const cases = [{ workers: 4, reps: reps.contention }];
  if (sizes.contentionSingle) cases.push({ workers: 1, reps: 1 });
  const rows = [];
  const results = {};
  for (const c of cases) {
    const per = [];
    for (let r = 0; r < c.reps; r++) {
      const res = await contentionOnce({ workers: c.workers, runs: sizes.contentionRuns, projectDir, log });
      per.push(res);
      log(`  contention ${c.workers} worker(s) rep ${r + 1}/${c.reps}: ${fmt(res.transitionsPerSecond, 1)} transitions/s, ${fmt(res.runsPerSecond, 1)} runs/s, lock wait p99 ${fmt(res.lockWait.p99)} ms max ${fmt(res.lockWait.max)} ms, hold max ${fmt(res.lockHold.max)} ms, probe max ${fmt(res.probeWait.max)} ms, busy errors ${res.busyErrors}, max per deployment ${res.history.maxDeployment}, pool ${res.history.maxPool}`);
    }
    const s = {
      transitionsPerSecond: summary(per.map((p) => p.transitionsPerSecond)),
      runsPerSecond: summary(per.map((p) => p.runsPerSecond)),
      waitP99: summary(per.map((p) => p.lockWait.p99)),
      waitMax: summary(per.map((p) => p.lockWait.max)),
      holdP99: summary(per.map((p) => p.lockHold.p99)),
      holdMax: summary(per.map((p) => p.lockHold.max)),
      worstHold: per.map((p) => p.worstHold).filter(Boolean).sort((a, b) => b.holdMs - a.holdMs)[0],
      probeP99: summary(per.map((p) => p.probeWait.p99)),
      probeMax: summary(per.map((p) => p.probeWait.max)),
      busyErrors: per.reduce((a, p) => a + p.busyErrors, 0),
      txPerRun: summary(per.map((p) => p.txCount / p.runs)),
      lockBusy: summary(per.map((p) => 100 * p.lockBusy)),
      maxDep: Math.max(...per.map((p) => p.history.maxDeployment)),
      maxPool: Math.max(...per.map((p) => p.history.maxPool)),
      ok: per.every((p) => p.ok),
    };
    results[`${c.workers}`] = s;
    rows.push([
      `${c.workers} worker process${c.workers > 1 ? 'es' : ''}`,
      fmtSummary(s.transitionsPerSecond, 1),
      fmtSummary(s.runsPerSecond, 1),
      fmtSummary(s.txPerRun, 1),
      `${fmt(s.lockBusy.median, 1)} %`,
      `${fmt(s.waitP99.median, 2)} / ${fmt(s.waitMax.median, 1)} (worst ${fmt(s.waitMax.max, 1)})`,
      `${fmt(s.holdP99.median, 2)} / ${fmt(s.holdMax.median, 1)}${s.worstHold ? ` (longest: ${fmt(s.worstHold.cpuMs, 1)} ms CPU, commit ${fmt(s.worstHold.commitMs, 1)} ms)` : ''}`,
      `${fmt(s.probeP99.median, 2)} / ${fmt(s.probeMax.median, 1)}`,
      String(s.busyErrors),
      `${s.maxDep} / ${s.maxPool}${s.ok ? '' : ' PROBLEM'}`,
    ]);
  }
  return {
    results,
    tables: [
      {
        title: `6. Contention: real CLI worker processes on one database, ${DEPLOYMENTS} deployments limit 1, pool limit ${POOL_LIMIT}, ${sizes.contentionRuns} trivial Python runs`,
        columns: ['workers', 'transitions/s', 'runs/s', 'write tx per run', 'write lock busy', 'lock wait p99 / max (ms)', 'lock hold p99 / max (ms)', 'probe wait p99 / max (ms)', 'SQLITE_BUSY', 'max per dep / pool'],
        rows,
        notes: [
          'Lock wait: time inside BEGIN IMMEDIATE until the write lock was granted, over every write transaction of every worker (preloaded timer, no engine change); hold: from then to COMMIT returning. For the longest hold, the CPU its process used meanwhile: far less CPU than wall time means the holder was off the CPU (descheduled on the busy cores, or in a WAL checkpoint\'s disk writes), not working.',
          'Write lock busy: the summed holds of all workers over the wall time (holds never overlap), i.e. how much of the single writer\'s capacity the workers used.',
          'Probe: BEGIN IMMEDIATE; COMMIT from a separate connection every 20 ms, i.e. what another writer (a CLI command) waits. Transitions: flow_run_state rows appended while the workers ran.',
          'Medians over repetitions; "worst" is the largest single wait seen in any repetition.',
        ],
      },
    ],
  };
}
