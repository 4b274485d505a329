/**
 * Scenarios 2 and 3, throughput in the seed's shape: D deployments each limit 1 (ENQUEUE), a pool
 * limit of 4, N due runs spread round-robin over the deployments.
 *  (a) flowdeck with an in-process Runner (the run completes on the next event-loop turn, no
 *      process): orchestration alone; graphile-worker and BullMQ with the same no-op job.
 *  (b) flowdeck with its ProcessRunner and a trivial Python flow, against a bare-spawn baseline
 *      (bench/baseline-spawn.mjs: the same Python process spawned N times, 4 at once) and the peers
 *      whose job spawns that same process.
 * Repetitions are interleaved (ours, peers, ours, peers...) and the order within a repetition
 * rotates, so that a change in machine load affects every system alike. Concurrency is computed from the transitions observed: the worker's
 * 'transition' events (Running until final) and, independently, the database's state history
 * (PENDING claim until final).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { tempDir } from '../lib/cleanup.mjs';
import { BENCH_DIR, concurrencyFromHistory, deploymentInput, InProcessRunner, integrity, preciseClock, ProcessRunner, PY_ENTRY, SqliteStore, TransitionTracker, Worker } from '../lib/flowdeck.mjs';
import { enableProfile, lockStats, resetStats, statementStats } from '../lib/sql-profile.mjs';
import { fmt, fmtSummary, summary } from '../lib/stats.mjs';

const DEPLOYMENTS = 8;
const POOL_LIMIT = 4;

/** One flowdeck measurement: runs per second from worker start to the last final state. */
export async function flowdeckOnce({ runs, projectDir, inProcess, profile = false }) {
  const { dir, remove } = tempDir('tp');
  const home = path.join(dir, 'home');
  const store = SqliteStore.open(home);
  try {
    const now = Date.now();
    const deps = Array.from({ length: DEPLOYMENTS }, (_, i) => deploymentInput({ name: `store-${i}`, entrypoint: PY_ENTRY, projectDir, limit: 1 }));
    await store.applyDeployments(deps, now);
    await store.updatePool('bench-pool', { concurrencyLimit: POOL_LIMIT }, now);
    for (let i = 0; i < runs; i++) await store.createManualRun(deps[i % DEPLOYMENTS].full_name, {}, now, now);
    const worker = new Worker(store, preciseClock, inProcess ? new InProcessRunner() : new ProcessRunner(), {
      pool: 'bench-pool',
      limit: Infinity,
      leaseSeconds: 30,
      flowEnv: { FLOWDECK_HOME: home },
    });
    const tracker = new TransitionTracker().attach(worker);
    const errors = [];
    worker.on('error', (e) => errors.push(e.message));
    if (profile) {
      resetStats();
      enableProfile({ transactions: true, statements: true });
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await worker.start();
    let ms;
    try {
      await tracker.untilFinals(runs, 30 * 60_000);
      ms = performance.now() - t0;
    } finally {
      if (profile) enableProfile({ transactions: false, statements: false });
      await worker.stop(10_000);
    }
    const cpu = process.cpuUsage(cpu0);
    const history = concurrencyFromHistory(store.db);
    const check = integrity(store.db, runs);
    const maxDep = Math.max(tracker.maxDeploymentConcurrency(), history.maxDeployment);
    const maxPool = Math.max(tracker.maxInFlight, history.maxPool);
    return {
      runs,
      ms,
      perSecond: (runs * 1000) / ms,
      cpuMs: (cpu.user + cpu.system) / 1000,
      events: { maxDeployment: tracker.maxDeploymentConcurrency(), maxPool: tracker.maxInFlight },
      history,
      maxDep,
      maxPool,
      transitions: tracker.transitions,
      ok: check.ok && maxDep === 1 && maxPool <= POOL_LIMIT,
      check,
      errors,
      profile: profile ? snapshotProfile() : undefined,
    };
  } finally {
    await store.close();
    remove();
  }
}

function snapshotProfile() {
  const statements = [...statementStats].map(([sql, s]) => ({ sql, ...s })).sort((a, b) => b.ms - a.ms);
  return {
    transactions: lockStats.transactions,
    holdMs: lockStats.hold.sum,
    commitMs: lockStats.commit.sum,
    statementMs: statements.reduce((a, s) => a + s.ms, 0),
    statements,
  };
}

/** Runs a peer harness (bench/peers/*.mjs) in its own Node process; resolves with its RESULT line. */
export function runPeer(script, cfg, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(BENCH_DIR, 'peers', script), JSON.stringify({ ...cfg, timeoutMs })], {
      cwd: path.join(BENCH_DIR, 'peers'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (line) resolve(JSON.parse(line.slice(7)));
      else resolve({ error: `exit ${code}: ${(err || out).trim().split('\n').slice(-3).join(' | ')}` });
    });
  });
}

export function runBaseline(projectDir, count, parallel, mode = 'runner') {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(BENCH_DIR, 'baseline-spawn.mjs'), projectDir, String(count), String(parallel), mode], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch {
        resolve({ error: `exit ${code}: ${err.trim().slice(-300)}` });
      }
    });
  });
}

function peerRow(label, results) {
  const ok = results.filter((r) => !r.error);
  if (ok.length === 0) return [label, `skipped: ${results[0]?.error ?? 'not run'}`, '', '', ''];
  const s = summary(ok.map((r) => r.perSecond));
  const bad = ok.some((r) => r.failures > 0 || r.jobsLeft > 0);
  return [label, fmtSummary(s, 0), String(Math.max(...ok.map((r) => r.maxPerQueue))), String(Math.max(...ok.map((r) => r.maxInFlight))), bad ? 'jobs failed or left' : 'all jobs done once'];
}

export async function run(ctx) {
  const { log, reps, projectDir, sizes, servers } = ctx;
  const pg = servers.postgres;
  const redis = servers.redis;
  const gwPoll = ctx.graphilePollMs;
  const nA = sizes.throughputRuns;
  const nB = sizes.processRuns;
  const peerTimeout = 20 * 60_000;
  const tag = `${process.pid}_${Date.now() % 100000}`;

  // ---- (a) orchestration alone
  const ours = [];
  const gw = [];
  const bq = [];
  /** Runs the tasks of one repetition in an order rotated by the repetition, so no system always goes first. */
  const rotated = async (r, tasks) => {
    const live = tasks.filter(Boolean);
    for (let i = 0; i < live.length; i++) await live[(i + r) % live.length]();
  };
  for (let r = 0; r < reps.throughputA; r++) {
    await rotated(r, [
      async () => {
        const a = await flowdeckOnce({ runs: nA, projectDir, inProcess: true });
        ours.push(a);
        log(`  (a) flowdeck rep ${r + 1}/${reps.throughputA}: ${fmt(a.perSecond, 0)} runs/s, max per deployment ${a.maxDep}, max in pool ${a.maxPool}${a.ok ? '' : ` PROBLEM ${JSON.stringify(a.check)} ${a.errors.slice(0, 2)}`}`);
      },
      pg.url &&
        (async () => {
          const g = await runPeer('graphile.mjs', { url: pg.url, queues: DEPLOYMENTS, jobs: nA, concurrency: POOL_LIMIT, pollInterval: gwPoll, work: 'noop', schema: `gw_a_${tag}_${r}` }, peerTimeout);
          gw.push(g);
          log(`  (a) graphile-worker rep ${r + 1}: ${g.error ?? `${fmt(g.perSecond, 0)} jobs/s, max per queue ${g.maxPerQueue}, max in flight ${g.maxInFlight}`}`);
        }),
      redis.url &&
        (async () => {
          const b = await runPeer('bullmq.mjs', { host: redis.host, port: redis.port, queues: DEPLOYMENTS, jobs: nA, concurrency: POOL_LIMIT, work: 'noop', prefix: `bq_a_${tag}_${r}` }, peerTimeout);
          bq.push(b);
          log(`  (a) BullMQ rep ${r + 1}: ${b.error ?? `${fmt(b.perSecond, 0)} jobs/s, max per queue ${b.maxPerQueue}, max in flight ${b.maxInFlight}`}`);
        }),
    ]);
  }
  // graphile-worker's poll interval, stated: a few other settings measured once each (full mode)
  const gwSweep = [];
  if (pg.url) {
    for (const p of ctx.graphilePollSweep) {
      const g = await runPeer('graphile.mjs', { url: pg.url, queues: DEPLOYMENTS, jobs: nA, concurrency: POOL_LIMIT, pollInterval: p, work: 'noop', schema: `gw_s_${tag}_${p}` }, peerTimeout);
      gwSweep.push({ pollInterval: p, ...g });
      log(`  (a) graphile-worker pollInterval ${p} ms: ${g.error ?? `${fmt(g.perSecond, 0)} jobs/s, max in flight ${g.maxInFlight}`}`);
    }
  }
  // how flowdeck's rate depends on the backlog (full mode)
  const backlog = [];
  for (const n of sizes.backlogSweep) {
    const a = await flowdeckOnce({ runs: n, projectDir, inProcess: true });
    backlog.push(a);
    log(`  (a) flowdeck with a backlog of ${n}: ${fmt(a.perSecond, 0)} runs/s`);
  }
  let profile;
  if (ctx.profile) {
    const a = await flowdeckOnce({ runs: nA, projectDir, inProcess: true, profile: true });
    profile = a.profile;
    log(`  (a) flowdeck, SQL-profiled rep: ${fmt(a.perSecond, 0)} runs/s (instrumented, not used in the figures)`);
  }

  // ---- (b) real processes
  const oursB = [];
  const base = [];
  const gwB = [];
  const bqB = [];
  let floor;
  for (let r = 0; r < reps.throughputB; r++) {
    // flowdeck and its baseline stay adjacent (their ratio is the figure), in alternating order
    const pair = [
      async () => {
        const b = await flowdeckOnce({ runs: nB, projectDir, inProcess: false });
        oursB[r] = b;
        log(`  (b) flowdeck rep ${r + 1}/${reps.throughputB}: ${fmt(b.perSecond, 1)} runs/s, max per deployment ${b.maxDep}, max in pool ${b.maxPool}${b.ok ? '' : ` PROBLEM ${JSON.stringify(b.check)} ${b.errors.slice(0, 2)}`}`);
      },
      async () => {
        const s = await runBaseline(projectDir, nB, POOL_LIMIT);
        base[r] = s;
        log(`  (b) bare-spawn baseline rep ${r + 1}: ${s.error ?? `${fmt(s.perSecond, 1)} processes/s`}`);
      },
    ];
    if (r % 2 === 1) pair.reverse();
    await rotated(r, [
      async () => {
        await pair[0]();
        await pair[1]();
      },
      pg.url &&
        (async () => {
          const g = await runPeer('graphile.mjs', { url: pg.url, queues: DEPLOYMENTS, jobs: nB, concurrency: POOL_LIMIT, pollInterval: gwPoll, work: 'python', projectDir, schema: `gw_b_${tag}_${r}` }, peerTimeout);
          gwB.push(g);
          log(`  (b) graphile-worker rep ${r + 1}: ${g.error ?? `${fmt(g.perSecond, 1)} jobs/s, max per queue ${g.maxPerQueue}, max in flight ${g.maxInFlight}`}`);
        }),
      redis.url &&
        (async () => {
          const q = await runPeer('bullmq.mjs', { host: redis.host, port: redis.port, queues: DEPLOYMENTS, jobs: nB, concurrency: POOL_LIMIT, work: 'python', projectDir, prefix: `bq_b_${tag}_${r}` }, peerTimeout);
          bqB.push(q);
          log(`  (b) BullMQ rep ${r + 1}: ${q.error ?? `${fmt(q.perSecond, 1)} jobs/s, max per queue ${q.maxPerQueue}, max in flight ${q.maxInFlight}`}`);
        }),
    ]);
  }
  if (sizes.floorRuns > 0) {
    floor = await runBaseline(projectDir, sizes.floorRuns, POOL_LIMIT, 'bare');
    log(`  (b) interpreter floor (python -c pass): ${floor.error ?? `${fmt(floor.perSecond, 1)} processes/s`}`);
  }

  // ---- summaries
  const sA = summary(ours.map((o) => o.perSecond));
  const peerBest = (list) => {
    const ok = list.filter((x) => !x.error);
    return ok.length ? summary(ok.map((x) => x.perSecond)).median : NaN;
  };
  const bestPeerA = Math.max(peerBest(gw), peerBest(bq));
  const bestPeerName = peerBest(bq) >= peerBest(gw) ? 'BullMQ' : 'graphile-worker';
  const maxDepA = Math.max(...ours.map((o) => o.maxDep));
  const maxPoolA = Math.max(...ours.map((o) => o.maxPool));
  const sB = summary(oursB.map((o) => o.perSecond));
  const sBase = summary(base.filter((b) => !b.error).map((b) => b.perSecond));
  const ratios = oursB.map((o, i) => (base[i] && !base[i].error ? o.perSecond / base[i].perSecond : NaN));
  const sRatio = summary(ratios);
  const maxDepB = Math.max(...oursB.map((o) => o.maxDep));
  const maxPoolB = Math.max(...oursB.map((o) => o.maxPool));
  const cpuPerRun = summary(ours.map((o) => o.cpuMs / o.runs));

  const gwLabel = `graphile-worker ${ctx.versions.graphile} (PostgreSQL, pollInterval ${gwPoll} ms)`;
  const bqLabel = `BullMQ ${ctx.versions.bullmq} (Redis)`;
  const tableA = {
    title: `2(a). Throughput, orchestration alone: ${DEPLOYMENTS} deployments limit 1, pool limit ${POOL_LIMIT}, ${nA} no-op runs (3. peers, same shape, same run)`,
    columns: ['system', 'runs/s', 'max per deployment/queue', 'max in pool/in flight', 'integrity'],
    rows: [
      [`flowdeck (in-process runner, SQLite)`, fmtSummary(sA, 0), String(maxDepA), String(maxPoolA), ours.every((o) => o.ok) ? 'all runs Completed once' : 'PROBLEM'],
      ...(pg.url ? [peerRow(gwLabel, gw)] : [[`graphile-worker`, `skipped: ${pg.skip}`, '', '', '']]),
      ...(redis.url ? [peerRow(bqLabel, bq)] : [[`BullMQ`, `skipped: ${redis.skip}`, '', '', '']]),
    ],
    notes: [
      `flowdeck: max concurrency from the worker's transitions (Running→final) and from the state history (PENDING claim→final); both must be 1 per deployment and 4 in the pool.`,
      `Peers: in flight counted inside the job body. Each no-op completes on the next event-loop turn, as flowdeck's in-process runner does.`,
      `flowdeck CPU per run (whole process): ${fmtSummary(cpuPerRun, 2, 'ms')}.`,
      `Goal: flowdeck >= 3x the best peer (${bestPeerName}, ${fmt(bestPeerA, 0)} jobs/s) = ${fmt(3 * bestPeerA, 0)} runs/s -> ${sA.median >= 3 * bestPeerA ? 'met' : `MISSED (x${fmt(sA.median / bestPeerA, 2)} of the best peer)`}; concurrency 1 / 4 -> ${maxDepA === 1 && maxPoolA === POOL_LIMIT ? 'met' : `per deployment ${maxDepA}, pool ${maxPoolA}`}.`,
    ],
  };
  const tables = [tableA];
  if (gwSweep.length || backlog.length) {
    tables.push({
      title: '2(a) diagnostics: flowdeck vs backlog size; graphile-worker vs poll interval (one run each)',
      columns: ['setting', 'runs/s (jobs/s)', 'max per deployment/queue', 'max in pool/in flight'],
      rows: [
        ...backlog.map((b) => [`flowdeck, backlog ${b.runs} runs`, fmt(b.perSecond, 0), String(b.maxDep), String(b.maxPool)]),
        [`flowdeck, backlog ${nA} runs (table above)`, fmt(sA.median, 0), String(maxDepA), String(maxPoolA)],
        ...gwSweep.map((g) => [`graphile-worker, pollInterval ${g.pollInterval} ms${g.pollInterval === 2000 ? ' (default)' : ''}`, g.error ? 'error' : fmt(g.perSecond, 0), g.error ? '' : String(g.maxPerQueue), g.error ? '' : String(g.maxInFlight)]),
      ],
      notes: ['A rate that falls as the backlog grows means per-dispatch work proportional to the backlog (see the profile).'],
    });
  }
  if (profile) {
    tables.push({
      title: `2(a) profile: where one flowdeck worker spends its time (${nA} runs; time inside SQLite statements, by statement)`,
      columns: ['statement', 'calls', 'ms total', 'share of tx lock time'],
      rows: profile.statements.slice(0, 10).map((s) => [s.sql.length > 110 ? `${s.sql.slice(0, 107)}...` : s.sql, String(s.calls), fmt(s.ms, 0), `${fmt((100 * s.ms) / profile.holdMs, 1)} %`]),
      notes: [
        `${profile.transactions} write transactions held the write lock ${fmt(profile.holdMs, 0)} ms in total, of which COMMIT ${fmt(profile.commitMs, 0)} ms; statements (all) ${fmt(profile.statementMs, 0)} ms.`,
        'Instrumented run (bench/lib/sql-profile.mjs wraps better-sqlite3): slower than the figures above; read the shares, not the rate.',
      ],
    });
  }
  const rowsB = [
    [`flowdeck (ProcessRunner)`, fmtSummary(sB, 1), String(maxDepB), String(maxPoolB), oursB.every((o) => o.ok) ? 'all runs Completed once' : 'PROBLEM'],
    [`bare-spawn baseline (${POOL_LIMIT} at once, no limits)`, fmtSummary(sBase, 1), 'n/a', String(POOL_LIMIT), base.some((b) => b.error) ? base.find((b) => b.error).error : 'all processes exited 0'],
    ...(pg.url ? [peerRow(gwLabel, gwB)] : [[`graphile-worker`, `skipped: ${pg.skip}`, '', '', '']]),
    ...(redis.url ? [peerRow(bqLabel, bqB)] : [[`BullMQ`, `skipped: ${redis.skip}`, '', '', '']]),
  ];
  if (floor) rowsB.push([`interpreter floor: python -c pass (${POOL_LIMIT} at once)`, floor.error ? floor.error : `${fmt(floor.perSecond, 1)} (n=1)`, 'n/a', String(POOL_LIMIT), '']);
  tables.push({
    title: `2(b). Throughput with real processes: trivial Python flow, ${nB} runs, same shape (${os.cpus().length} cores)`,
    columns: ['system', 'runs/s', 'max per deployment/queue', 'max in pool/in flight', 'integrity'],
    rows: rowsB,
    notes: [
      `Ratio flowdeck / baseline, per interleaved repetition: ${fmtSummary(sRatio, 2)}. Goal >= 0.8 -> ${sRatio.median >= 0.8 ? 'met' : 'MISSED'}.`,
      'The baseline and the peers spawn the same command flowdeck spawns (python -u runtimes/python/flowdeck_runner.py flows/noop.py:noop, detached, piped stdio, parameters on stdin).',
    ],
  });
  return {
    tables,
    results: {
      a: { flowdeck: sA, maxDep: maxDepA, maxPool: maxPoolA, graphile: summary(gw.filter((g) => !g.error).map((g) => g.perSecond)), bullmq: summary(bq.filter((g) => !g.error).map((g) => g.perSecond)), bestPeer: bestPeerA, bestPeerName, backlog: backlog.map((b) => ({ runs: b.runs, perSecond: b.perSecond })), gwSweep, profile: profile ? { ...profile, statements: profile.statements.slice(0, 15) } : undefined, cpuPerRun },
      b: { flowdeck: sB, baseline: sBase, ratio: sRatio, maxDep: maxDepB, maxPool: maxPoolB, graphile: summary(gwB.filter((g) => !g.error).map((g) => g.perSecond)), bullmq: summary(bqB.filter((g) => !g.error).map((g) => g.perSecond)), floor },
    },
  };
}
