/**
 * Who may start now: pure rules over a snapshot of due runs and the slots in use.
 * The store gathers the snapshot and applies the plan inside one IMMEDIATE transaction.
 */
import type { CollisionStrategy, WaitingOn } from './types.js';

export interface LevelUsage {
  id: string;
  name: string;
  limit: number | null;
  inUse: number;
  holders: string[];
  paused?: boolean;
}

export interface Candidate {
  runId: string;
  stateName: string;
  deploymentId: string;
  queueName: string;
  /** Deployment limit level, null when the deployment has no limit. */
  deployment: LevelUsage | null;
  strategy: CollisionStrategy;
}

export type Decision =
  | { kind: 'claim'; runId: string; deploymentId: string; queueId: string }
  | { kind: 'await'; runId: string; waitingOn: WaitingOn[] }
  | { kind: 'cancel'; runId: string; message: string }
  | { kind: 'wait'; runId: string; waitingOn: WaitingOn[] };

export interface PlanInput {
  /** Due runs in service order: queue priority, then scheduled time, then creation. */
  candidates: Candidate[];
  pool: LevelUsage;
  queues: Map<string, LevelUsage & { priority: number }>;
  /** Queues this worker serves (undefined = all of the pool's queues). */
  servedQueues?: ReadonlySet<string>;
  /** How many more runs this worker may take now. */
  capacity: number;
}

function level(kind: WaitingOn['kind'], u: LevelUsage): WaitingOn {
  return { kind, name: u.name, limit: u.limit ?? 0, in_use: u.inUse, holders: [...u.holders] };
}

function full(u: LevelUsage): boolean {
  return u.limit !== null && u.inUse >= u.limit;
}

export function cancelNewMessage(u: LevelUsage): string {
  const holders = u.holders.length > 0 ? `; held by run(s) ${u.holders.join(', ')}` : '';
  return `Deployment concurrency limit reached: limit ${u.limit} with collision strategy CANCEL_NEW, ${u.inUse} slot(s) in use${holders}.`;
}

/** Decides, in order, what happens to each due run. Mutates nothing it was given. */
export function planDispatch(input: PlanInput): Decision[] {
  const decisions: Decision[] = [];
  const pool = { ...input.pool, holders: [...input.pool.holders] };
  const queues = new Map([...input.queues].map(([k, v]) => [k, { ...v, holders: [...v.holders] }]));
  const deployments = new Map<string, LevelUsage>();
  /** Deployments whose oldest due run could not start: later runs must not overtake it. */
  const heldBack = new Map<string, WaitingOn[]>();
  let capacity = input.capacity;

  for (const c of input.candidates) {
    const queue = queues.get(c.queueName) ?? queues.get('default');
    if (!queue || queue.paused) continue;
    if (input.servedQueues && !input.servedQueues.has(queue.name)) continue;
    let dep: LevelUsage | null = null;
    if (c.deployment) {
      dep = deployments.get(c.deploymentId) ?? { ...c.deployment, holders: [...c.deployment.holders] };
      deployments.set(c.deploymentId, dep);
    }
    if (dep && full(dep)) {
      if (c.strategy === 'CANCEL_NEW') {
        decisions.push({ kind: 'cancel', runId: c.runId, message: cancelNewMessage(dep) });
      } else {
        const waitingOn = [level('deployment', dep)];
        decisions.push({ kind: 'await', runId: c.runId, waitingOn });
        heldBack.set(c.deploymentId, waitingOn);
      }
      continue;
    }
    const olderWaits = heldBack.get(c.deploymentId);
    if (olderWaits) {
      decisions.push({ kind: 'wait', runId: c.runId, waitingOn: olderWaits });
      continue;
    }
    const blockers: WaitingOn[] = [];
    if (pool.paused) blockers.push(level('pool', pool));
    else if (full(pool)) blockers.push(level('pool', pool));
    if (full(queue)) blockers.push(level('queue', queue));
    if (blockers.length > 0 || capacity <= 0) {
      decisions.push({ kind: 'wait', runId: c.runId, waitingOn: blockers });
      heldBack.set(c.deploymentId, blockers);
      continue;
    }
    decisions.push({ kind: 'claim', runId: c.runId, deploymentId: c.deploymentId, queueId: queue.id });
    capacity--;
    pool.inUse++;
    pool.holders.push(c.runId);
    queue.inUse++;
    queue.holders.push(c.runId);
    if (dep) {
      dep.inUse++;
      dep.holders.push(c.runId);
    }
  }
  return decisions;
}
