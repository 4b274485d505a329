/**
 * Three workers on one pool and one database under a randomised workload, property-style over
 * seeds: random flow durations (0-300 ms, Python and JavaScript), random deployment limits (ENQUEUE
 * and CANCEL_NEW), a pool limit, queue priorities and limits, manual runs (through the CLI and
 * through the store from this process, a fourth writer), cancels, and in odd seeds a worker killed
 * with -9 and replaced. After quiescence, from the database and the flows' own ledger:
 * every run executed at most once (a completed one exactly once), no run lost, no limit exceeded.
 * Seeds 1-2 by default; 1-10 with FLOWDECK_FAULT_FULL=1. Replay one seed with FLOWDECK_FAULT_SEED=n.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteStore } from '../../src/store/store.js';
import {
  FAULT_FULL,
  FINAL_TYPES,
  StateDb,
  cli,
  cliOk,
  highestOverlap,
  makeProject,
  prng,
  readLedger,
  sampleSlots,
  startWorker,
  stopWorkers,
  type RunRow,
  type WorkerProcess,
} from '../support/fault-kit.js';
import { recordFigure, type Figure } from '../support/fault-report.js';
import { waitFor } from '../support/wait-for.js';

const SEEDS = process.env.FLOWDECK_FAULT_SEED ? [Number(process.env.FLOWDECK_FAULT_SEED)] : FAULT_FULL ? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] : [1, 2];
const POOL = 'mw';
const FAR_FUTURE_MS = 3_600_000;

interface DeploymentPlan {
  name: string;
  js: boolean;
  limit: number | null;
  strategy: 'ENQUEUE' | 'CANCEL_NEW';
  queue: string;
  schedule: boolean;
}

interface QueuePlan {
  name: string;
  priority: number;
  limit: number | null;
}

function plan(seed: number) {
  const rng = prng(seed);
  const poolLimit = rng.int(2, 4);
  const queues: QueuePlan[] = ['q-a', 'q-b'].map((name) => ({ name, priority: rng.int(1, 3), limit: rng.chance(0.5) ? rng.int(1, 3) : null }));
  const queueNames = ['default', ...queues.map((q) => q.name)];
  const deployments: DeploymentPlan[] = Array.from({ length: rng.int(3, 5) }, (_, i) => ({
    name: `d${i}`,
    js: rng.chance(0.3),
    limit: rng.chance(0.7) ? rng.int(1, 2) : null,
    strategy: rng.chance(0.3) ? 'CANCEL_NEW' : 'ENQUEUE',
    queue: rng.pick(queueNames),
    schedule: i === 0 && rng.chance(0.5),
  }));
  const runs = FAULT_FULL ? rng.int(40, 60) : rng.int(20, 26);
  return { rng, poolLimit, queues, deployments, runs, killWorker: seed % 2 === 1 };
}

function yamlFor(deployments: DeploymentPlan[]): string {
  const lines = ['deployments:'];
  for (const d of deployments) {
    lines.push(`  - name: ${d.name}`);
    lines.push(`    entrypoint: ${d.js ? 'flows/work.mjs:work' : 'flows/work.py:work'}`);
    lines.push('    parameters: {ms: 50}');
    lines.push(`    work_pool: {name: ${POOL}, work_queue_name: ${d.queue}}`);
    if (d.limit !== null) lines.push(`    concurrency_limit: {limit: ${d.limit}, collision_strategy: ${d.strategy}}`);
    if (d.schedule) lines.push('    schedules: [{interval: 1}]');
  }
  return `${lines.join('\n')}\n`;
}

interface Outcome {
  figures: Figure[];
  problems: string[];
  executed: number;
}

async function scenario(seed: number): Promise<Outcome> {
  const { rng, poolLimit, queues, deployments, runs: runCount, killWorker } = plan(seed);
  const p = makeProject(yamlFor(deployments));
  const workers: WorkerProcess[] = [];
  let store: SqliteStore | undefined;
  let state: StateDb | undefined;
  let sampler: ReturnType<typeof sampleSlots> | undefined;
  const problems: string[] = [];
  try {
    await cliOk(['work-pool', 'create', POOL, '--concurrency-limit', String(poolLimit)], p);
    for (const q of queues) await cliOk(['work-queue', 'create', q.name, '--pool', POOL, '--priority', String(q.priority), ...(q.limit !== null ? ['--limit', String(q.limit)] : [])], p);
    await cliOk(['deploy', '--all'], p);
    store = SqliteStore.open(p.home);
    state = new StateDb(p.home);
    sampler = sampleSlots(state);
    const workerArgs = (extra: string[] = []) => ['--lease-seconds', '3', '--grace-period', '10', ...extra];
    workers.push(startWorker(p, POOL, workerArgs()), startWorker(p, POOL, workerArgs(['--limit', '1'])), startWorker(p, POOL, workerArgs()));

    const created: { id: string; due: number }[] = [];
    let killed = -1;
    const background: Promise<unknown>[] = [];
    const full = (d: DeploymentPlan) => `work/${d.name}`;
    for (let i = 0; i < runCount; i++) {
      const d = rng.pick(deployments);
      const params = { ms: rng.int(0, 300), tag: `seed-${seed}` };
      const startIn = rng.chance(0.06) ? FAR_FUTURE_MS : rng.chance(0.15) ? rng.int(100, 1500) : 0;
      if (rng.chance(0.2)) {
        background.push(
          cliOk(['deployment', 'run', full(d), '--params', JSON.stringify(params), ...(startIn ? ['--start-in', `${startIn}ms`] : []), '-o', 'json'], p).then((out) => {
            const run = JSON.parse(out) as { id: string; expected_start_time: string };
            created.push({ id: run.id, due: Date.parse(run.expected_start_time) });
          }),
        );
      } else {
        const now = Date.now();
        created.push({ id: await store.createManualRun(full(d), params, now + startIn, now), due: now + startIn });
      }
      if (created.length > 0 && rng.chance(0.15)) {
        const victim = rng.pick(created).id;
        const viaCli = rng.chance(0.5);
        const delay = rng.int(0, 300);
        background.push(
          sleep(delay).then(async () => {
            if (viaCli) {
              const r = await cli(['flow-run', 'cancel', victim], p);
              if (r.code !== 0 && !/already finished/.test(r.stderr)) problems.push(`flow-run cancel ${victim} exited ${r.code}: ${r.stderr}`);
            } else await store!.requestCancel(victim, Date.now());
          }),
        );
      }
      if (killWorker && i === Math.floor(runCount / 2)) {
        // kill -9 a worker that is running a flow right now (if any does within a second), and replace it
        const busy = await waitFor(() => {
          const index = busyWorkerIndex(state!, workers);
          return index === undefined ? null : { index };
        }, { timeoutMs: 1000, intervalMs: 10 }).catch(() => ({ index: 0 }));
        killed = busy.index;
        console.log(`seed ${seed}: kill -9 worker #${killed} (${workers[killed]!.pid}); running now: ${state!.runs().filter((r) => r.state_type === "RUNNING").map((r) => r.id.slice(0, 8)).join(",")}`);
        workers[killed]!.kill('SIGKILL');
        workers.push(startWorker(p, POOL, workerArgs()));
      }
      await sleep(rng.int(0, 120));
    }
    await Promise.all(background);
    const quiescentAfter = Math.max(Date.now(), ...created.filter((c) => c.due - Date.now() < FAR_FUTURE_MS / 2).map((c) => c.due));
    await waitFor(() => state!.runs().every((r) => r.expected_start_time > quiescentAfter || FINAL_TYPES.has(r.state_type)), {
      timeoutMs: 90_000,
      intervalMs: 100,
      what: `seed ${seed}: every run due before quiescence to finish`,
    });
    const slotsSeen = sampler.stop();
    const integrity = state.integrity();
    if (integrity !== 'ok') problems.push(`integrity_check: ${integrity}`);
    const limitedPid = killed === 1 ? undefined : workers[1]!.pid;
    const live = workers.filter((_, i) => i !== killed);
    const exits = await stopWorkers(live);
    if (killed >= 0) await workers[killed]!.exited;
    workers.length = 0;
    if (exits.some((c) => c !== 0)) problems.push(`workers exited with ${exits.join(', ')}`);

    return check(seed, state.runs(), readLedger(p.cwd), created.map((c) => c.id), { poolLimit, queues, deployments, quiescentAfter, slotsSeen, limitedWorker: limitedPid === undefined ? undefined : limitedWorkerId(state, limitedPid) }, problems);
  } finally {
    sampler?.stop();
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await store?.close();
    state?.close();
    p.dispose();
  }
}

/** Index in `workers` of one whose flow is Running now. */
function busyWorkerIndex(state: StateDb, workers: WorkerProcess[]): number | undefined {
  const row = state.db.prepare("SELECT w.pid FROM flow_run r JOIN worker w ON w.id = r.worker_id WHERE r.state_type = 'RUNNING' LIMIT 1").get() as { pid: number } | undefined;
  const i = row ? workers.findIndex((w) => w.pid === row.pid) : -1;
  return i >= 0 ? i : undefined;
}

function limitedWorkerId(state: StateDb, pid: number): string | undefined {
  return (state.db.prepare('SELECT id FROM worker WHERE pid = ?').get(pid) as { id: string } | undefined)?.id;
}

function check(
  seed: number,
  runs: RunRow[],
  ledger: ReturnType<typeof readLedger>,
  manualIds: string[],
  o: { poolLimit: number; queues: QueuePlan[]; deployments: DeploymentPlan[]; quiescentAfter: number; slotsSeen: Map<string, number>; limitedWorker: string | undefined },
  problems: string[],
): Outcome {
  const scenario = `multi-worker seed ${seed}`;
  const byId = new Map(runs.map((r) => [r.id, r]));
  const enters = new Map<string, number>();
  const exits = new Map<string, number>();
  const flowInterval = new Map<string, [number, number]>();
  for (const l of ledger) {
    const m = l.what === 'enter' ? enters : exits;
    m.set(l.id, (m.get(l.id) ?? 0) + 1);
    const iv = flowInterval.get(l.id) ?? [NaN, NaN];
    if (l.what === 'enter') iv[0] = l.at;
    else iv[1] = l.at;
    flowInterval.set(l.id, iv);
  }
  // at most once; a completed run exactly once; only started runs ever execute
  const twice = [...enters].filter(([, n]) => n > 1).map(([id]) => id);
  if (twice.length) problems.push(`executed twice: ${twice.join(', ')}`);
  for (const [id] of enters) {
    const r = byId.get(id);
    if (!r) problems.push(`ledger names an unknown run ${id}`);
    else if (r.pending_time === null) problems.push(`run ${id} executed without ever taking its slots (${r.state_name})`);
  }
  for (const r of runs) {
    if (r.state_type === 'COMPLETED' && (enters.get(r.id) !== 1 || exits.get(r.id) !== 1)) problems.push(`completed run ${r.id} has ${enters.get(r.id) ?? 0} enter / ${exits.get(r.id) ?? 0} exit lines`);
    if (r.state_type === 'FAILED') problems.push(`run ${r.id} failed: ${r.state_message}`);
  }
  // nothing lost: every manual run still exists; every run due before quiescence is final; the rest final or Scheduled
  const lost = [
    ...manualIds.filter((id) => !byId.has(id)).map((id) => `${id} vanished`),
    ...runs.filter((r) => (r.expected_start_time <= o.quiescentAfter ? !FINAL_TYPES.has(r.state_type) : !FINAL_TYPES.has(r.state_type) && r.state_type !== 'SCHEDULED')).map((r) => `${r.id} left ${r.state_name}`),
  ];
  if (lost.length) problems.push(`lost: ${lost.join('; ')}`);
  // limits, three ways: slots in use sampled from the lease rows while the work went on; Running
  // intervals (start_time..end_time) from the database; execution intervals from the flows themselves
  const held = (rs: RunRow[]) => rs.filter((r) => r.start_time !== null).map((r): [number, number] => [r.start_time!, r.end_time ?? Infinity]);
  const ran = (rs: RunRow[]) =>
    rs.filter((r) => flowInterval.has(r.id)).map((r): [number, number] => {
      const [s, e] = flowInterval.get(r.id)!;
      return [s, Number.isNaN(e) ? (r.end_time ?? Infinity) : e];
    });
  const figures: Figure[] = [];
  const limitCheck = (level: 'deployment' | 'queue' | 'pool', name: string, limit: number, rs: RunRow[]) => {
    const sampled = o.slotsSeen.get(`${level}:${level === 'deployment' ? `work/${name}` : name}`) ?? 0;
    if (rs.length === 0 && sampled === 0) return; // nothing ran at this level in this seed
    const seen = Math.max(sampled, highestOverlap(held(rs)), highestOverlap(ran(rs)));
    if (seen > limit) {
      console.log(`${level} ${name}: slots sampled ${sampled}, Running intervals ${highestOverlap(held(rs))}, flow intervals ${highestOverlap(ran(rs))}`);
      for (const x of rs.filter((r) => r.start_time !== null)) console.log(`  ${x.id.slice(0, 8)} ${x.state_name} pending ${x.pending_time} start ${x.start_time} end ${x.end_time} worker ${x.worker_id?.slice(0, 8)} ${x.deployment} flow ${JSON.stringify(flowInterval.get(x.id))}`);
    }
    figures.push({ kind: 'concurrency', scenario, level, limit, seen });
    if (seen > limit) problems.push(`${level} ${name}: ${seen} at once, limit ${limit}`);
  };
  for (const d of o.deployments) if (d.limit !== null) limitCheck('deployment', d.name, d.limit, runs.filter((r) => r.deployment === `work/${d.name}`));
  for (const q of o.queues) if (q.limit !== null) limitCheck('queue', q.name, q.limit, runs.filter((r) => r.work_queue_name === q.name));
  limitCheck('pool', POOL, o.poolLimit, runs);
  if (o.limitedWorker) {
    const mine = runs.filter((r) => r.worker_id === o.limitedWorker);
    if (highestOverlap(ran(mine)) > 1) problems.push(`the worker started with --limit 1 ran ${highestOverlap(ran(mine))} at once`);
  }
  const executed = enters.size;
  figures.push({ kind: 'runs', scenario, executed, lost: lost.length, twice: twice.length });
  const states = new Map<string, number>();
  for (const r of runs) states.set(r.state_name, (states.get(r.state_name) ?? 0) + 1);
  console.log(`seed ${seed}: ${runs.length} runs (${[...states].map(([k, v]) => `${v} ${k}`).join(', ')}), ${executed} executed; pool limit ${o.poolLimit}; deployments ${o.deployments.map((d) => `${d.name}:${d.limit ?? '-'}${d.limit ? d.strategy[0] : ''}@${d.queue}`).join(' ')}; queues ${o.queues.map((q) => `${q.name}:p${q.priority}/l${q.limit ?? '-'}`).join(' ')}`);
  return { figures, problems, executed };
}

describe('several workers on one pool and one database, randomised workload', { timeout: 150_000 * SEEDS.length }, () => {
  const figures: Figure[] = [];
  after(() => figures.forEach(recordFigure));
  for (const seed of SEEDS) {
    test(`seed ${seed}: every run at most once (completed exactly once), none lost, no limit exceeded`, async () => {
      const outcome = await scenario(seed);
      figures.push(...outcome.figures);
      assert.deepEqual(outcome.problems, [], `seed ${seed} (replay with FLOWDECK_FAULT_SEED=${seed})`);
      assert.ok(outcome.executed > 0);
    });
  }
});
