/** Leases: renewal by live holders, release, and reaping of holders that stopped responding. */
import { isoTime } from '../../time/clock.js';
import { sql, type Db } from '../db.js';
import { finishRun } from './run-states.js';

export interface ReapResult {
  crashed: string[];
  cancelled: string[];
  freedLeases: number;
}

/**
 * Deletes expired leases (freeing their slots). Runs held by an expired lease become Crashed
 * (or Cancelled if a cancel was already under way). Call inside an IMMEDIATE transaction.
 */
export function reapExpired(db: Db, now: number): ReapResult {
  const result: ReapResult = { crashed: [], cancelled: [], freedLeases: 0 };
  const expired = sql(db, 'SELECT id, flow_run_id, worker_id, holder, expires_at FROM lease WHERE expires_at <= ?')
    .all(now) as { id: string; flow_run_id: string | null; worker_id: string | null; holder: string; expires_at: number }[];
  if (expired.length === 0) {
    sql(db, 'DELETE FROM gcl_waiter WHERE expires_at <= ?').run(now);
    return result;
  }
  // finishing a run frees all its leases (including live ones its flow took), so count by difference
  const countLeases = sql(db, 'SELECT COUNT(*) AS n FROM lease');
  const before = (countLeases.get() as { n: number }).n;
  for (const lease of expired) {
    if (lease.flow_run_id && lease.worker_id) {
      const run = sql(db, 'SELECT state_type FROM flow_run WHERE id = ?').get(lease.flow_run_id) as { state_type: string } | undefined;
      const who = `worker ${lease.worker_id.slice(0, 8)}`;
      const since = isoTime(lease.expires_at);
      if (run?.state_type === 'CANCELLING') {
        if (finishRun(db, lease.flow_run_id, { type: 'CANCELLED', name: 'Cancelled', message: `Cancelled: ${who} stopped responding before confirming the cancel (lease expired ${since}); its slots were released.` }, now)) {
          result.cancelled.push(lease.flow_run_id);
        }
      } else if (
        finishRun(
          db,
          lease.flow_run_id,
          { type: 'CRASHED', name: 'Crashed', message: `The ${who} running this flow run stopped responding: its lease expired at ${since}. Slots were released.` },
          now,
        )
      ) {
        result.crashed.push(lease.flow_run_id);
      }
    }
    sql(db, 'DELETE FROM lease WHERE id = ?').run(lease.id);
  }
  result.freedLeases = before - (countLeases.get() as { n: number }).n;
  sql(db, 'DELETE FROM gcl_waiter WHERE expires_at <= ?').run(now);
  return result;
}

export function renewWorkerLeases(db: Db, workerId: string, expiresAt: number): number {
  return sql(db, 'UPDATE lease SET expires_at = ? WHERE worker_id = ? AND expires_at < ?').run(expiresAt, workerId, expiresAt).changes;
}

export function renewLeases(db: Db, leaseIds: readonly string[], expiresAt: number): number {
  const stmt = sql(db, 'UPDATE lease SET expires_at = ? WHERE id = ?');
  let n = 0;
  for (const id of leaseIds) n += stmt.run(expiresAt, id).changes;
  return n;
}

export function releaseLease(db: Db, leaseId: string): boolean {
  return sql(db, 'DELETE FROM lease WHERE id = ?').run(leaseId).changes > 0;
}

export function registerWorker(db: Db, w: { id: string; name: string; pool: string; pid: number }, now: number): void {
  sql(db, 'INSERT INTO worker (id, name, work_pool_name, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)').run(
    w.id,
    w.name,
    w.pool,
    w.pid,
    now,
    now,
  );
}

export function heartbeatWorker(db: Db, workerId: string, now: number): void {
  sql(db, 'UPDATE worker SET heartbeat_at = ? WHERE id = ?').run(now, workerId);
}

export function stopWorker(db: Db, workerId: string, now: number): void {
  sql(db, 'UPDATE worker SET stopped_at = ?, heartbeat_at = ? WHERE id = ?').run(now, now, workerId);
}
