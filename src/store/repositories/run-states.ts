/** Recording state transitions: every change is written to flow_run and appended to its history. */
import type { StateName, StateType } from '../../domain/types.js';
import { sql, type Db } from '../db.js';

export const ACTIVE_STATE_TYPES = ['PENDING', 'RUNNING', 'CANCELLING'] as const;
export const TERMINAL_STATE_TYPES = ['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED'] as const;

export interface StateChange {
  type: StateType;
  name: StateName;
  message?: string | null;
}

/**
 * Compare-and-swap transition: applies only while the run's state type is one of `from`.
 * Returns whether it applied. Sets start_time on entering RUNNING and end_time on a terminal state.
 */
export function transition(db: Db, runId: string, from: readonly StateType[], to: StateChange, now: number): boolean {
  const placeholders = from.map(() => '?').join(', ');
  const terminal = (TERMINAL_STATE_TYPES as readonly string[]).includes(to.type);
  const res = sql(db, 
      `UPDATE flow_run SET state_type = ?, state_name = ?, state_message = ?, updated_at = ?,
         start_time = CASE WHEN ? = 'RUNNING' AND start_time IS NULL THEN ? ELSE start_time END,
         end_time = CASE WHEN ? = 1 THEN ? ELSE end_time END,
         waiting_on_json = CASE WHEN ? = 'SCHEDULED' THEN waiting_on_json ELSE NULL END
       WHERE id = ? AND state_type IN (${placeholders})`,
    )
    .run(to.type, to.name, to.message ?? null, now, to.type, now, terminal ? 1 : 0, now, to.type, runId, ...from);
  if (res.changes === 0) return false;
  appendHistory(db, runId, to, now);
  return true;
}

export function appendHistory(db: Db, runId: string, to: StateChange, now: number): void {
  sql(db, 'INSERT INTO flow_run_state (flow_run_id, type, name, message, timestamp) VALUES (?, ?, ?, ?, ?)').run(
    runId,
    to.type,
    to.name,
    to.message ?? null,
    now,
  );
}

/** Frees every slot a run holds (deployment, queue, pool, and global ones taken from its code). */
export function releaseRunLeases(db: Db, runId: string): void {
  sql(db, 'DELETE FROM lease WHERE flow_run_id = ?').run(runId);
  sql(db, 'DELETE FROM gcl_waiter WHERE flow_run_id = ?').run(runId);
}

/** Moves an active run to a terminal state and frees its slots, in one step (call inside a transaction). */
export function finishRun(db: Db, runId: string, to: StateChange, now: number): boolean {
  const ok = transition(db, runId, ACTIVE_STATE_TYPES, to, now);
  if (ok) releaseRunLeases(db, runId);
  return ok;
}
