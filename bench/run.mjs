#!/usr/bin/env node
/**
 * flowdeck's benchmarks, side by side with graphile-worker and BullMQ, in one run.
 *
 *   npm run bench                 full run (about 15-20 minutes on 2 cores)
 *   npm run bench -- --quick      the same scenarios, smaller and fewer repetitions (under 3 minutes)
 *
 * Options:
 *   --only=handoff,throughput,scheduler,commands,contention   run some scenarios only
 *   --out=FILE        where to write the Markdown results (default bench/RESULTS.md)
 *   --no-peers        do not install or start the peers (graphile-worker, BullMQ)
 *   --no-profile      skip the SQL-statement-profiled extra run of scenario 2(a)
 *   --render=FILE     only re-render RESULTS.md from a report saved by an earlier run (bench/.work/report-*.json)
 *   --python=PATH     the Python that runs flows (default $FLOWDECK_PYTHON, else /usr/bin/python3)
 *
 * Plain ESM importing the compiled engine from ../dist (npm run bench builds it first). Every piece
 * of state lives in temporary directories; servers and processes are stopped on every way out.
 * Benchmarks are never CI gates: the exit code is 0 whatever the figures are.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCleanups, tempDir } from './lib/cleanup.mjs';
import { machineInfo, choosePython, pythonCandidates } from './lib/machine.mjs';
import { ensurePeers } from './lib/peers-install.mjs';
import { fmt, fmtSummary, markdownTable, summary, textTable } from './lib/stats.mjs';

const BENCH_DIR = path.dirname(new URL(import.meta.url).pathname);
const REPO_ROOT = path.resolve(BENCH_DIR, '..');

// ------------------------------------------------------------------ options

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const option = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=').slice(1).join('=');
if (flag('help') || flag('h')) {
  const text = (await import('node:fs')).readFileSync(new URL(import.meta.url), 'utf8');
  process.stdout.write(`${text.split('*/')[0].replace(/^#!.*\n\/\*\*\n/, '').replace(/^ \* ?/gm, '')}\n`);
  process.exit(0);
}
const quick = flag('quick');
if (option('render')) {
  const { readFileSync } = await import('node:fs');
  const saved = JSON.parse(readFileSync(option('render'), 'utf8'));
  const { renderResults, headlineTable } = await import('./lib/results.mjs');
  const headline = headlineTable(saved.report, saved.sizes);
  const target = path.resolve(option('out') ?? path.join(BENCH_DIR, 'RESULTS.md'));
  writeFileSync(target, renderResults(saved.report, { headline, markdownTable, sizes: saved.sizes, reps: saved.reps }));
  process.stdout.write(`${textTable(headline)}\nwrote ${target}\n`);
  process.exit(0);
}
const ALL = ['handoff', 'throughput', 'scheduler', 'commands', 'contention'];
const only = option('only') ? option('only').split(',').map((s) => s.trim()) : ALL;
for (const o of only) if (!ALL.includes(o)) throw new Error(`unknown scenario '${o}' (known: ${ALL.join(', ')})`);
const outFile = path.resolve(option('out') ?? path.join(BENCH_DIR, 'RESULTS.md'));
const withPeers = !flag('no-peers');
const profile = !flag('no-profile');

const sizes = quick
  ? { handoffRuns: 100, handoffJsRuns: 50, throughputRuns: 2000, processRuns: 60, backlogSweep: [], floorRuns: 0, schedulerDeployments: 10_000, schedulerMinuteCase: false, cliDeployments: 10_000, cliRuns: 250_000, contentionRuns: 100, contentionSingle: false, cliProfile: true }
  : { handoffRuns: 100, handoffJsRuns: 100, throughputRuns: 2000, processRuns: 400, backlogSweep: [250, 500, 1000], floorRuns: 300, schedulerDeployments: 10_000, schedulerMinuteCase: true, cliDeployments: 10_000, cliRuns: 1_000_000, contentionRuns: 400, contentionSingle: true, cliProfile: true };
const reps = quick
  ? { handoff: 1, handoffJs: 1, throughputA: 1, throughputB: 1, scheduler: 1, cli: 3, cliSlow: 0, contention: 1 }
  : { handoff: 5, handoffJs: 3, throughputA: 3, throughputB: 3, scheduler: 3, cli: 7, cliSlow: 2, contention: 3 };
const GRAPHILE_POLL_MS = 10;

// ------------------------------------------------------------------ helpers

const started = performance.now();
const stamp = () => `[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s]`;
const log = (line) => process.stdout.write(`${stamp()} ${line}\n`);

/** The 1-minute load average every 2 s: the machine may be shared, so each scenario says what it ran beside. */
const loadSamples = [];
const sampler = setInterval(() => loadSamples.push({ t: performance.now(), load: os.loadavg()[0] }), 2000);
sampler.unref();
function loadDuring(t0, t1) {
  const s = loadSamples.filter((x) => x.t >= t0 && x.t <= t1).map((x) => x.load);
  if (s.length === 0) s.push(os.loadavg()[0]);
  return { mean: s.reduce((a, b) => a + b, 0) / s.length, max: Math.max(...s) };
}



// ------------------------------------------------------------------ main

const report = { quick, sections: [], scenarioMeta: {} };
let exitCode = 0;
try {
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'src', 'store', 'store.js'))) {
    throw new Error('dist/ is missing: run `npm run bench` (it builds first) or `npm run build`.');
  }
  const { python, why } = option('python') ? { python: option('python'), why: '--python' } : choosePython();
  process.env.FLOWDECK_PYTHON = python; // the engine's ProcessRunner, the baseline, the peers and the CLI workers all use it
  const { snapshotEngine } = await import('./lib/snapshot.mjs');
  process.env.FLOWDECK_BENCH_ENGINE_ROOT = await snapshotEngine(REPO_ROOT, log);
  const flowdeck = await import('./lib/flowdeck.mjs');
  const { timeProcess } = await import('./lib/flow-process.mjs');
  const { dir: projRoot } = tempDir('project');
  const projectDir = flowdeck.writeProject(projRoot);

  const machine = machineInfo(REPO_ROOT, python);
  report.machine = machine;
  report.python = { python, why };
  log(`flowdeck benchmarks, ${quick ? 'QUICK' : 'FULL'} mode: ${only.join(', ')}`);
  log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory}; Node ${machine.node}; ${machine.python}; SQLite ${machine.sqlite}; load ${machine.loadavg}`);
  log(`flows run with ${python} (${why})`);

  // start-up cost of the processes the scenarios spawn: context for every process-bound figure
  const costs = [];
  const nCost = quick ? 2 : 7;
  const spawnCost = async (cmd, args, n, cwd) => {
    const times = [];
    try {
      for (let i = 0; i < n; i++) times.push(await timeProcess(cmd, args, cwd));
    } catch {
      return null;
    }
    return summary(times);
  };
  await spawnCost(python, ['-c', 'pass'], 1, projectDir);
  for (const c of pythonCandidates(python)) {
    costs.push([`${c.label}: -c pass`, await spawnCost(c.cmd, ['-c', 'pass'], nCost, projectDir)]);
    if (c.cmd === python) costs.push([`${c.label}: flowdeck_runner.py noop flow`, await spawnCost(c.cmd, ['-u', flowdeck.PY_RUNNER, flowdeck.PY_ENTRY], nCost, projectDir)]);
  }
  costs.push(['node: -e ""', await spawnCost(process.execPath, ['-e', ''], nCost, projectDir)]);
  costs.push(['node runtimes/node/runner.mjs noop flow', await spawnCost(process.execPath, [path.join(flowdeck.ENGINE_ROOT, 'runtimes', 'node', 'runner.mjs'), flowdeck.JS_ENTRY], nCost, projectDir)]);
  const costTable = {
    title: '0. Start-up cost of the processes the scenarios spawn (one at a time, wall ms)',
    columns: ['process', 'wall ms'],
    rows: costs.map(([label, s]) => [label, s ? fmtSummary(s, 1) : 'failed']),
    notes: [`Flows run with ${python} (${why}).`],
  };
  process.stdout.write(`${textTable(costTable)}\n`);
  report.sections.push({ key: 'costs', tables: [costTable] });

  // peers
  const servers = { postgres: { skip: 'not started (--no-peers)' }, redis: { skip: 'not started (--no-peers)' } };
  let versions = { graphile: '0.17.x', bullmq: '6.x' };
  if (only.includes('throughput') && withPeers) {
    const peers = ensurePeers(path.join(BENCH_DIR, 'peers'), log);
    if (!peers.ok) {
      log(`  peers skipped: ${peers.why}`);
      servers.postgres = servers.redis = { skip: peers.why };
    } else {
      versions = peers.versions;
      report.peersInstall = peers;
      log(`  peers: graphile-worker ${versions.graphile} (pg ${versions.pg}), bullmq ${versions.bullmq} (ioredis ${versions.ioredis})`);
      const { startPostgres, startRedis } = await import('./lib/servers.mjs');
      servers.postgres = await startPostgres(log);
      log(servers.postgres.url ? `  PostgreSQL up on 127.0.0.1:${servers.postgres.port} (${servers.postgres.version}; ${servers.postgres.settings})` : `  graphile-worker will be SKIPPED: ${servers.postgres.skip}`);
      servers.redis = await startRedis(log);
      log(servers.redis.url ? `  Redis up on 127.0.0.1:${servers.redis.port} (${servers.redis.version}; ${servers.redis.settings})` : `  BullMQ will be SKIPPED: ${servers.redis.skip}`);
    }
  }
  report.peers = { versions, postgres: { version: servers.postgres.version, settings: servers.postgres.settings, skip: servers.postgres.skip }, redis: { version: servers.redis.version, settings: servers.redis.settings, skip: servers.redis.skip }, graphilePollMs: GRAPHILE_POLL_MS };

  const ctx = { quick, log, reps, sizes, projectDir, servers, versions, graphilePollMs: GRAPHILE_POLL_MS, graphilePollSweep: quick ? [] : [100, 2000], profile };
  const scenarios = [
    ['handoff', '1. Handoff', './scenarios/handoff.mjs'],
    ['throughput', '2-3. Throughput and peers', './scenarios/throughput.mjs'],
    ['scheduler', '4. Scheduler scale', './scenarios/scheduler.mjs'],
    ['commands', '5. Command latency', './scenarios/commands.mjs'],
    ['contention', '6. Contention', './scenarios/contention.mjs'],
  ];
  for (const [key, title, file] of scenarios) {
    if (!only.includes(key)) continue;
    log(`${title} ...`);
    const t0 = performance.now();
    let out;
    try {
      out = await (await import(file)).run(ctx);
    } catch (error) {
      log(`  ${title} FAILED: ${error.stack ?? error}`);
      report.sections.push({ key, error: String(error.message ?? error) });
      exitCode = 1;
      continue;
    }
    const t1 = performance.now();
    const load = loadDuring(t0, t1);
    report.scenarioMeta[key] = { seconds: (t1 - t0) / 1000, load };
    for (const t of out.tables) process.stdout.write(`${textTable(t)}\n`);
    if (out.plans) {
      const { plansText } = await import('./scenarios/commands.mjs');
      process.stdout.write(`\nEXPLAIN QUERY PLAN of the hot queries:\n${plansText(out.plans)}\n`);
    }
    log(`  ${title} took ${fmt((t1 - t0) / 1000, 0)} s; 1-min load average during it: mean ${fmt(load.mean, 1)}, max ${fmt(load.max, 1)} (${machine.cores} cores)`);
    report.sections.push({ key, ...out });
    if (key === 'throughput') {
      // the servers are only needed here
      servers.postgres.stop?.();
      servers.redis.stop?.();
    }
  }

  const { renderResults, headlineTable } = await import('./lib/results.mjs');
  const headline = headlineTable(report, sizes);
  process.stdout.write(`${textTable(headline)}\n`);
  const totalSeconds = (performance.now() - started) / 1000;
  report.totalSeconds = totalSeconds;
  writeFileSync(outFile, renderResults(report, { headline, markdownTable, sizes, reps }));
  try {
    // the figures as data, to re-render RESULTS.md (--render) without measuring again; bench/.work is git-ignored
    mkdirSync(path.join(BENCH_DIR, '.work'), { recursive: true });
    writeFileSync(path.join(BENCH_DIR, '.work', `report-${quick ? 'quick' : 'full'}.json`), JSON.stringify({ report, sizes, reps }));
  } catch {
    // optional
  }
  log(`wrote ${path.relative(process.cwd(), outFile)}; total ${fmt(totalSeconds, 0)} s`);
} catch (error) {
  process.stderr.write(`benchmark failed: ${error.stack ?? error}\n`);
  exitCode = 1;
} finally {
  clearInterval(sampler);
  runCleanups();
}
process.exit(exitCode);

