/** Claiming due runs: snapshot the limits, plan (domain/dispatch-plan), apply, all in one transaction. */
import { randomUUID } from 'node:crypto';
import { planDispatch, type Candidate, type LevelUsage } from '../../domain/dispatch-plan.js';
import type { CollisionStrategy, ConcurrencyOptions, StateName } from '../../domain/types.js';
import { sql, type Db } from '../db.js';
import { reapExpired, type ReapResult } from './leases.js';
import { slotUsage } from './slot-usage.js';
import { transition } from './run-states.js';

export interface DispatchRequest {
  pool: string;
  queues?: readonly string[];
  workerId: string;
  capacity: number;
  leaseMs: number;
}

export interface DispatchResult {
  claimed: string[];
  cancelled: string[];
  awaiting: string[];
  reaped: ReapResult;
}

const MAX_CANDIDATES = 5000;

interface CandidateRow {
  id: string;
  state_name: StateName;
  deployment_id: string;
  work_queue_name: string;
  waiting_on_json: string | null;
  expected_start_time: number;
  created_at: number;
  rid: number;
  concurrency_limit: number | null;
  concurrency_options_json: string | null;
  full_name: string;
}

const CANDIDATE_COLUMNS = `r.id, r.state_name, r.deployment_id, r.work_queue_name, r.waiting_on_json, r.expected_start_time,
  r.created_at, r.rowid AS rid, d.concurrency_limit, d.concurrency_options_json, d.flow_name || '/' || d.name AS full_name`;

/**
 * The due runs a dispatch must decide, in FIFO order (scheduled time, creation, then rowid: insertion
 * order within one millisecond). Fresh runs (Scheduled or Late) are all read, to be classified; of the
 * runs already AwaitingConcurrencySlot only the first `limit` of each deployment are read, since the
 * rest cannot start before those do. A dispatch costs what can change, not the size of the backlog.
 */
function dueCandidates(db: Db, pool: string, now: number): CandidateRow[] {
  const fresh = sql(
    db,
    `SELECT ${CANDIDATE_COLUMNS} FROM flow_run r JOIN deployment d ON d.id = r.deployment_id
     WHERE r.work_pool_name = ? AND r.expected_start_time <= ? AND r.state_type = 'SCHEDULED' AND r.state_name <> 'AwaitingConcurrencySlot'
     ORDER BY r.expected_start_time, r.created_at, r.rowid LIMIT ${MAX_CANDIDATES}`,
  ).all(pool, now) as CandidateRow[];
  const waitingDeployments = sql(
    db,
    `SELECT w.deployment_id, d.concurrency_limit FROM
       (SELECT DISTINCT deployment_id FROM flow_run
        WHERE work_pool_name = ? AND state_type = 'SCHEDULED' AND state_name = 'AwaitingConcurrencySlot') w
     JOIN deployment d ON d.id = w.deployment_id`,
  ).all(pool) as { deployment_id: string; concurrency_limit: number | null }[];
  const heads = sql(
    db,
    `SELECT ${CANDIDATE_COLUMNS} FROM flow_run r JOIN deployment d ON d.id = r.deployment_id
     WHERE r.work_pool_name = ? AND r.deployment_id = ? AND r.expected_start_time <= ?
       AND r.state_type = 'SCHEDULED' AND r.state_name = 'AwaitingConcurrencySlot'
     ORDER BY r.expected_start_time, r.created_at, r.rowid LIMIT ?`,
  );
  const rows = [...fresh];
  for (const w of waitingDeployments) rows.push(...(heads.all(pool, w.deployment_id, now, Math.max(1, w.concurrency_limit ?? 1)) as CandidateRow[]));
  if (waitingDeployments.length > 0) {
    rows.sort((a, b) => a.expected_start_time - b.expected_start_time || a.created_at - b.created_at || a.rid - b.rid);
  }
  return rows;
}

/** Runs in one IMMEDIATE transaction (the caller wraps it). */
export function dispatchDueRuns(db: Db, req: DispatchRequest, now: number): DispatchResult {
  const reaped = reapExpired(db, now);
  const result: DispatchResult = { claimed: [], cancelled: [], awaiting: [], reaped };
  const poolRow = sql(db, 'SELECT id, name, concurrency_limit, is_paused FROM work_pool WHERE name = ?').get(req.pool) as
    | { id: string; name: string; concurrency_limit: number | null; is_paused: number }
    | undefined;
  if (!poolRow) return result;
  const rows = dueCandidates(db, req.pool, now);
  if (rows.length === 0) return result;

  const queueRows = sql(db, 'SELECT id, name, priority, concurrency_limit, is_paused FROM work_queue WHERE pool_id = ?')
    .all(poolRow.id) as { id: string; name: string; priority: number; concurrency_limit: number | null; is_paused: number }[];
  const queues = new Map<string, LevelUsage & { priority: number }>();
  for (const q of queueRows) {
    queues.set(q.name, { id: q.id, name: q.name, limit: q.concurrency_limit, paused: q.is_paused === 1, priority: q.priority, ...slotUsage(db, 'queue', q.id) });
  }
  const pool: LevelUsage = { id: poolRow.id, name: poolRow.name, limit: poolRow.concurrency_limit, paused: poolRow.is_paused === 1, ...slotUsage(db, 'pool', poolRow.id) };
  const deploymentUsage = new Map<string, LevelUsage>();
  const candidates: (Candidate & { priority: number; order: number })[] = rows.map((r, order) => {
    let dep: LevelUsage | null = null;
    if (r.concurrency_limit !== null) {
      dep = deploymentUsage.get(r.deployment_id) ?? null;
      if (!dep) {
        dep = { id: r.deployment_id, name: r.full_name, limit: r.concurrency_limit, ...slotUsage(db, 'deployment', r.deployment_id) };
        deploymentUsage.set(r.deployment_id, dep);
      }
    }
    const options = r.concurrency_options_json ? (JSON.parse(r.concurrency_options_json) as ConcurrencyOptions) : null;
    const strategy: CollisionStrategy = options?.collision_strategy ?? 'ENQUEUE';
    const queue = queues.get(r.work_queue_name) ?? queues.get('default');
    return { runId: r.id, stateName: r.state_name, deploymentId: r.deployment_id, queueName: r.work_queue_name, deployment: dep, strategy, priority: queue?.priority ?? Number.MAX_SAFE_INTEGER, order };
  });
  candidates.sort((a, b) => a.priority - b.priority || a.order - b.order);

  const decisions = planDispatch({
    candidates,
    pool,
    queues,
    capacity: req.capacity,
    ...(req.queues && req.queues.length > 0 ? { servedQueues: new Set(req.queues) } : {}),
  });
  const byId = new Map(candidates.map((c) => [c.runId, c]));
  const recordedWaits = new Map(rows.map((r) => [r.id, r.waiting_on_json]));
  const setWaiting = sql(db, 'UPDATE flow_run SET waiting_on_json = ? WHERE id = ?');
  for (const d of decisions) {
    if (d.kind === 'claim') {
      if (!transition(db, d.runId, ['SCHEDULED'], { type: 'PENDING', name: 'Pending' }, now)) continue;
      const leaseId = randomUUID();
      sql(db, 'INSERT INTO lease (id, holder, flow_run_id, worker_id, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(
        leaseId,
        `worker:${req.workerId}`,
        d.runId,
        req.workerId,
        now,
        now + req.leaseMs,
      );
      const slot = sql(db, 'INSERT INTO lease_slot (lease_id, resource_kind, resource_id, slots) VALUES (?, ?, ?, 1)');
      slot.run(leaseId, 'pool', pool.id);
      slot.run(leaseId, 'queue', d.queueId);
      if (byId.get(d.runId)?.deployment) slot.run(leaseId, 'deployment', d.deploymentId);
      sql(db, 'UPDATE flow_run SET worker_id = ? WHERE id = ?').run(req.workerId, d.runId);
      result.claimed.push(d.runId);
    } else if (d.kind === 'cancel') {
      if (transition(db, d.runId, ['SCHEDULED'], { type: 'CANCELLED', name: 'Cancelled', message: d.message }, now)) {
        result.cancelled.push(d.runId);
      }
    } else {
      // only the kinds of the blocking levels: stable while the run waits, so rarely rewritten
      const json = JSON.stringify(d.waitingOn.map((w) => w.kind));
      if (d.kind === 'await' && byId.get(d.runId)?.stateName !== 'AwaitingConcurrencySlot') {
        const dep = d.waitingOn[0]!;
        transition(db, d.runId, ['SCHEDULED'], {
          type: 'SCHEDULED',
          name: 'AwaitingConcurrencySlot',
          message: `Deployment concurrency limit reached (${dep.in_use} of ${dep.limit} in use); waiting for a slot.`,
        }, now);
        result.awaiting.push(d.runId);
      }
      if (recordedWaits.get(d.runId) !== json) setWaiting.run(json, d.runId);
    }
  }
  return result;
}
