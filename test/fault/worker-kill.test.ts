/**
 * kill -9 of a worker while its flows run (lease 3 s): the flows die with it, a second worker on the
 * same pool marks the runs Crashed ("stopped responding"), every slot they held is freed (deployment,
 * queue, pool, and a global limit taken from flow code), and the queued runs proceed in under 10 s.
 * One round by default; three with FLOWDECK_FAULT_FULL=1.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { FAULT_FULL, StateDb, cliOk, highestOverlap, isAlive, makeProject, readEvents, sampleSlots, startWorker, stopWorkers, type Project, type RunRow, type WorkerProcess } from '../support/fault-kit.js';
import { recordFigure } from '../support/fault-report.js';
import { waitFor } from '../support/wait-for.js';

const LEASE_SECONDS = 3;
const ROUNDS = FAULT_FULL ? 3 : 1;

const PREFECT_YAML = `
deployments:
  - name: gated
    entrypoint: flows/hold.py:hold
    parameters: {seconds: 60, gcl: fault-gcl}
    concurrency_limit: {limit: 1, collision_strategy: ENQUEUE}
    work_pool: {name: fault-pool, work_queue_name: fault-queue}
  - name: filler
    entrypoint: flows/hold.py:hold
    parameters: {seconds: 60}
    work_pool: {name: fault-pool, work_queue_name: fault-queue}
`;

async function newRun(p: Project, deployment: string): Promise<string> {
  return (JSON.parse(await cliOk(['deployment', 'run', deployment, '-o', 'json'], p)) as { id: string }).id;
}

interface Round {
  killAt: number;
  flowsGoneMs: number;
  recoveryMs: number;
  crashed: RunRow[];
  queued: RunRow[];
  slotsAfter: { kind: string; name: string; flow_run_id: string | null }[];
  acquiredByQueued: number | undefined;
  allRuns: RunRow[];
  eventsPerRun: Map<string, number>;
  exits: (number | null)[];
  /** Highest slots in use seen per `kind:name` while the round ran. */
  slotsSeen: Map<string, number>;
}

async function round(): Promise<Round> {
  const p = makeProject(PREFECT_YAML);
  const workers: WorkerProcess[] = [];
  const db = { current: undefined as StateDb | undefined };
  let sampler: ReturnType<typeof sampleSlots> | undefined;
  try {
    await cliOk(['deploy', '--all'], p);
    await cliOk(['work-pool', 'set-concurrency-limit', 'fault-pool', '2'], p);
    await cliOk(['work-queue', 'set-concurrency-limit', 'fault-queue', '2', '--pool', 'fault-pool'], p);
    await cliOk(['gcl', 'create', 'fault-gcl', '--limit', '1'], p);
    const state = (db.current = new StateDb(p.home));
    sampler = sampleSlots(state);

    const first = [await newRun(p, 'hold/gated'), await newRun(p, 'hold/filler')];
    const a = startWorker(p, 'fault-pool', ['--lease-seconds', String(LEASE_SECONDS), '--grace-period', '1']);
    workers.push(a);
    // both run, and the gated flow holds the global limit
    await waitFor(() => first.every((id) => state.run(id).state_type === 'RUNNING' && state.run(id).pid) && readEvents(p.cwd).some((e) => e.id === first[0] && e.what === 'acquired'), {
      what: 'the first two runs Running with the global slot taken',
    });
    const queued = [await newRun(p, 'hold/gated'), await newRun(p, 'hold/filler')];
    await waitFor(() => state.run(queued[0]!).state_name === 'AwaitingConcurrencySlot', { what: 'the second gated run to wait for the deployment slot' });
    const b = startWorker(p, 'fault-pool', ['--lease-seconds', String(LEASE_SECONDS), '--grace-period', '1']);
    workers.push(b);
    await waitFor(() => /Worker [0-9a-f]{8} started/.test(b.output()), { what: 'the second worker to start' });
    assert.deepEqual(queued.map((id) => state.run(id).state_type), ['SCHEDULED', 'SCHEDULED'], 'nothing more may start while the pool is full');

    const pids = first.map((id) => state.run(id).pid!);
    assert.ok(pids.every(isAlive));
    const killAt = Date.now();
    a.kill('SIGKILL');
    await waitFor(() => pids.every((pid) => !isAlive(pid)), { timeoutMs: 5000, intervalMs: 10, what: 'the dead worker’s flow processes to exit' });
    const flowsGoneMs = Date.now() - killAt;
    await waitFor(() => queued.some((id) => state.run(id).start_time !== null), { timeoutMs: 20_000, intervalMs: 10, what: 'a queued run to start' });
    const recoveryMs = Math.min(...queued.map((id) => state.run(id).start_time ?? Infinity)) - killAt;
    await waitFor(() => queued.every((id) => state.run(id).state_type === 'RUNNING') && readEvents(p.cwd).some((e) => e.id === queued[0] && e.what === 'acquired'), {
      what: 'both queued runs Running and the global slot taken again',
    });
    const acquired = readEvents(p.cwd).find((e) => e.id === queued[0] && e.what === 'acquired')!.at - killAt;
    const slotsAfter = state.slots();
    const crashed = first.map((id) => state.run(id));
    const slotsSeen = sampler.stop();
    const exits = await stopWorkers([b]);
    workers.length = 0;
    await a.exited;
    const allRuns = state.runs();
    const eventsPerRun = new Map<string, number>();
    for (const e of readEvents(p.cwd)) eventsPerRun.set(e.id, (eventsPerRun.get(e.id) ?? 0) + 1);
    return { killAt, flowsGoneMs, recoveryMs, crashed, queued: queued.map((id) => state.run(id)), slotsAfter, acquiredByQueued: acquired, allRuns, eventsPerRun, exits, slotsSeen };
  } finally {
    sampler?.stop();
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    db.current?.close();
    p.dispose();
  }
}

describe('kill -9 of a worker while its flows run', { timeout: 120_000 * ROUNDS }, () => {
  const rounds: Round[] = [];
  after(() => {
    for (const [i, r] of rounds.entries()) {
      recordFigure({ kind: 'recovery', scenario: `worker-kill#${i + 1}`, ms: r.recoveryMs, leaseSeconds: LEASE_SECONDS, flowsGoneMs: r.flowsGoneMs });
      const lost = r.allRuns.filter((x) => !['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'].includes(x.state_type)).length;
      const twice = [...r.eventsPerRun.values()].filter((n) => n > 1).length;
      recordFigure({ kind: 'runs', scenario: `worker-kill#${i + 1}`, executed: r.eventsPerRun.size, lost, twice });
      const gated = r.allRuns.filter((x) => x.deployment === 'hold/gated' && x.start_time !== null);
      recordFigure({ kind: 'concurrency', scenario: `worker-kill#${i + 1}`, level: 'deployment', limit: 1, seen: Math.max(highestOverlap(gated.map((x) => [x.start_time!, x.end_time ?? Infinity])), r.slotsSeen.get('deployment:hold/gated') ?? 0) });
      const all = r.allRuns.filter((x) => x.start_time !== null).map((x): [number, number] => [x.start_time!, x.end_time ?? Infinity]);
      recordFigure({ kind: 'concurrency', scenario: `worker-kill#${i + 1}`, level: 'pool', limit: 2, seen: Math.max(highestOverlap(all), r.slotsSeen.get('pool:fault-pool') ?? 0) });
      recordFigure({ kind: 'concurrency', scenario: `worker-kill#${i + 1}`, level: 'queue', limit: 2, seen: r.slotsSeen.get('queue:fault-queue') ?? 0 });
      recordFigure({ kind: 'concurrency', scenario: `worker-kill#${i + 1}`, level: 'gcl', limit: 1, seen: r.slotsSeen.get('gcl:fault-gcl') ?? 0 });
    }
  });

  for (let i = 0; i < ROUNDS; i++) {
    test(`round ${i + 1}: flows exit, runs Crash, every slot frees and queued runs start within 10 s`, async () => {
      const r = await round();
      rounds.push(r);
      console.log(`worker kill -9: flows gone after ${r.flowsGoneMs} ms, first queued run Running after ${r.recoveryMs} ms, global slot re-taken after ${r.acquiredByQueued} ms`);
      assert.ok(r.flowsGoneMs <= 2500, `flow processes outlived their worker by ${r.flowsGoneMs} ms`);
      for (const c of r.crashed) {
        assert.equal(c.state_type, 'CRASHED');
        assert.match(c.state_message ?? '', /stopped responding/);
      }
      // the crashed runs hold nothing; what is held belongs to the runs that took over
      const crashedIds = new Set(r.crashed.map((c) => c.id));
      assert.deepEqual(r.slotsAfter.filter((s) => crashedIds.has(s.flow_run_id ?? '')), []);
      const kinds = r.slotsAfter.map((s) => `${s.kind}:${s.name}`).sort();
      assert.deepEqual(kinds, ['deployment:hold/gated', 'gcl:fault-gcl', 'pool:fault-pool', 'pool:fault-pool', 'queue:fault-queue', 'queue:fault-queue']);
      assert.ok(r.recoveryMs < 10_000, `recovery took ${r.recoveryMs} ms`);
      assert.ok(r.recoveryMs >= 0);
      assert.ok((r.acquiredByQueued ?? Infinity) < 10_000, 'the global slot held by the dead flow was freed');
      assert.deepEqual(r.exits, [0]);
      assert.deepEqual([...r.eventsPerRun.values()], [1, 1, 1, 1], 'each run executed once');
      for (const [key, limit] of [['deployment:hold/gated', 1], ['queue:fault-queue', 2], ['pool:fault-pool', 2], ['gcl:fault-gcl', 1]] as const) {
        assert.ok((r.slotsSeen.get(key) ?? 0) <= limit, `${key}: ${r.slotsSeen.get(key)} slots in use at once, limit ${limit}`);
      }
    });
  }
});
