/**
 * Scenario 1, handoff: one deployment with limit 1 + ENQUEUE and a backlog of N due runs of a
 * trivial flow. The gap from one run's end_time to the next run's start_time (as the engine records
 * them) is the time a freed slot takes to reach the next run: finishing the run, dispatching the
 * next one, spawning its process and recording it Running.
 */
import path from 'node:path';
import { tempDir } from '../lib/cleanup.mjs';
import { deploymentInput, integrity, JS_ENTRY, preciseClock, ProcessRunner, PY_ENTRY, SqliteStore, TransitionTracker, Worker } from '../lib/flowdeck.mjs';
import { fmt, fmtSummary, percentile, summary } from '../lib/stats.mjs';

export async function handoffOnce({ entrypoint, runs, projectDir }) {
  const { dir, remove } = tempDir('handoff');
  const home = path.join(dir, 'home');
  const store = SqliteStore.open(home);
  try {
    const now = Date.now();
    const dep = deploymentInput({ name: 'handoff', entrypoint, projectDir, limit: 1, strategy: 'ENQUEUE' });
    await store.applyDeployments([dep], now);
    for (let i = 0; i < runs; i++) await store.createManualRun(dep.full_name, {}, now, now);
    // the ProcessRunner, timed: how long its start() takes (spawn until the 'spawn' event)
    const inner = new ProcessRunner();
    const spawnMs = new Map();
    const runner = {
      async start(run, env, hooks) {
        const t0 = performance.now();
        const handle = await inner.start(run, env, hooks);
        spawnMs.set(run.id, performance.now() - t0);
        return handle;
      },
    };
    const worker = new Worker(store, preciseClock, runner, { pool: 'bench-pool', limit: Infinity, leaseSeconds: 30, flowEnv: { FLOWDECK_HOME: home } });
    const tracker = new TransitionTracker().attach(worker);
    const errors = [];
    worker.on('error', (e) => errors.push(e.message));
    await worker.start();
    try {
      await tracker.untilFinals(runs, 20 * 60_000);
    } finally {
      await worker.stop(5000);
    }
    const rows = store.db.prepare(`SELECT id, start_time, end_time FROM flow_run WHERE start_time IS NOT NULL ORDER BY start_time`).all();
    const gaps = [];
    const spawns = [];
    const durations = [];
    for (let i = 0; i < rows.length; i++) {
      durations.push(rows[i].end_time - rows[i].start_time);
      if (i > 0) {
        gaps.push(rows[i].start_time - rows[i - 1].end_time);
        spawns.push(spawnMs.get(rows[i].id) ?? NaN);
      }
    }
    const check = integrity(store.db, runs);
    return {
      gaps,
      p50: percentile(gaps, 50),
      p99: percentile(gaps, 99),
      max: Math.max(...gaps),
      runMs: percentile(durations, 50),
      spawnP50: percentile(spawns, 50),
      orchestrationP50: percentile(gaps.map((g, i) => g - spawns[i]), 50),
      maxConcurrent: tracker.maxDeploymentConcurrency(),
      ok: check.ok && tracker.maxDeploymentConcurrency() === 1,
      check,
      errors,
    };
  } finally {
    await store.close();
    remove();
  }
}

export async function run(ctx) {
  const { log, reps, projectDir } = ctx;
  const runs = ctx.sizes.handoffRuns;
  const kinds = [
    { label: 'Python flow', entrypoint: PY_ENTRY, reps: reps.handoff, runs },
    { label: 'JavaScript flow', entrypoint: JS_ENTRY, reps: reps.handoffJs, runs: ctx.sizes.handoffJsRuns ?? runs },
  ];
  const rows = [];
  const results = {};
  for (const k of kinds) {
    const per = [];
    for (let r = 0; r < k.reps; r++) {
      const res = await handoffOnce({ entrypoint: k.entrypoint, runs: k.runs, projectDir });
      log(`  handoff ${k.label} rep ${r + 1}/${k.reps}: p50 ${fmt(res.p50)} ms, p99 ${fmt(res.p99)} ms, max ${fmt(res.max)} ms, run ${fmt(res.runMs)} ms${res.ok ? '' : ' INTEGRITY PROBLEM ' + JSON.stringify(res.check)}${res.errors.length ? ` errors: ${res.errors.slice(0, 3).join('; ')}` : ''}`);
      per.push(res);
    }
    const pooled = per.flatMap((p) => p.gaps);
    const s = {
      p50: summary(per.map((p) => p.p50)),
      p99: summary(per.map((p) => p.p99)),
      max: summary(per.map((p) => p.max)),
      runMs: summary(per.map((p) => p.runMs)),
      spawnP50: summary(per.map((p) => p.spawnP50)),
      orchestrationP50: summary(per.map((p) => p.orchestrationP50)),
      pooledP50: percentile(pooled, 50),
      pooledP99: percentile(pooled, 99),
      pooledMax: Math.max(...pooled),
      gaps: pooled.length,
      maxConcurrent: Math.max(...per.map((p) => p.maxConcurrent)),
      ok: per.every((p) => p.ok),
    };
    results[k.label] = s;
    rows.push([`${k.label} (${k.runs} runs)`, fmtSummary(s.p50, 1), fmtSummary(s.p99, 1), fmtSummary(s.max, 1), `${fmt(s.pooledP50, 1)} / ${fmt(s.pooledP99, 1)}`, `${fmt(s.spawnP50.median, 1)} + ${fmt(s.orchestrationP50.median, 1)}`, fmtSummary(s.runMs, 0), `${s.maxConcurrent}${s.ok ? '' : ' (integrity problem)'}`]);
  }
  const py = results['Python flow'];
  return {
    results,
    tables: [
      {
        title: `1. Handoff: limit 1 + ENQUEUE, a backlog of due runs; gap = next start_time - previous end_time (ms)`,
        columns: ['flow (backlog)', 'gap p50', 'gap p99', 'gap max', `pooled p50 / p99`, 'p50 spawn + rest', 'run start→end', 'max concurrent'],
        rows,
        notes: [
          'Each cell: median over repetitions (min–max, n = repetitions); "pooled" puts every gap of every repetition together.',
          'start_time is recorded right after the flow process is spawned, end_time right after it exited: the gap excludes interpreter start-up, which is in "run start→end".',
          '"spawn + rest": median time in ProcessRunner.start (fork/exec until the spawn event) and the median of the remainder of the gap (recording the end, dispatching, reading the run, recording the start).',
          `Goal (Python): p50 <= 20 ms, p99 <= 100 ms -> p50 ${py.p50.median <= 20 ? 'met' : 'MISSED'}, p99 ${py.p99.median <= 100 ? 'met' : 'MISSED'}.`,
        ],
      },
    ],
  };
}
