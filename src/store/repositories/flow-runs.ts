/** Flow runs: creation (scheduled and manual), late marking, queries, cancel, logs. */
import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../../domain/errors.js';
import type { FlowRun, ScheduleSpec, StateHistoryEntry, StateName, StateType, WaitingOn } from '../../domain/types.js';
import { isoTime } from '../../time/clock.js';
import { sql, type Db } from '../db.js';
import { toFlowRun, type FlowRunRow } from '../rows.js';
import { findDeploymentRow } from './deployments.js';
import { runGclWaits } from './gcl.js';
import { finishRun, transition } from './run-states.js';
import { describeBlockers, type LevelKind } from './slot-usage.js';

const RUN_SELECT = `SELECT r.*, d.flow_name AS flow_name, d.name AS deployment_short_name FROM flow_run r JOIN deployment d ON d.id = r.deployment_id`;

export const LATE_AFTER_MS = 15_000;

export interface SchedulableRow {
  schedule_id: string;
  deployment_id: string;
  schedule: ScheduleSpec;
  schedule_parameters: Record<string, unknown>;
  deployment_parameters: Record<string, unknown>;
  tags: string[];
  work_pool_name: string;
  work_queue_name: string | null;
  scheduled_until: number | null;
  created_at: number;
}

/** Active schedules of deployments that are not paused (optionally of one pool). */
export function schedulableSchedules(db: Db, pool: string | null): SchedulableRow[] {
  const rows = sql(db, 
      `SELECT s.id AS schedule_id, s.deployment_id, s.schedule_json, s.parameters_json, s.scheduled_until,
         d.parameters_json AS dep_params, d.tags_json, d.work_pool_name, d.work_queue_name, d.created_at
       FROM deployment_schedule s JOIN deployment d ON d.id = s.deployment_id
       WHERE s.active = 1 AND d.paused = 0 AND (? IS NULL OR d.work_pool_name = ?)`,
    )
    .all(pool, pool) as {
    schedule_id: string;
    deployment_id: string;
    schedule_json: string;
    parameters_json: string;
    scheduled_until: number | null;
    dep_params: string;
    tags_json: string;
    work_pool_name: string;
    work_queue_name: string | null;
    created_at: number;
  }[];
  return rows.map((r) => ({
    schedule_id: r.schedule_id,
    deployment_id: r.deployment_id,
    schedule: JSON.parse(r.schedule_json) as ScheduleSpec,
    schedule_parameters: JSON.parse(r.parameters_json) as Record<string, unknown>,
    deployment_parameters: JSON.parse(r.dep_params) as Record<string, unknown>,
    tags: JSON.parse(r.tags_json) as string[],
    work_pool_name: r.work_pool_name,
    work_queue_name: r.work_queue_name,
    scheduled_until: r.scheduled_until,
    created_at: r.created_at,
  }));
}

export interface NewRun {
  deploymentId: string;
  scheduleId: string | null;
  expectedStart: number;
  parameters: Record<string, unknown>;
  tags: string[];
  pool: string;
  queue: string | null;
  autoScheduled: boolean;
  /** Unique key: the same key never creates a second run. */
  idempotencyKey: string | null;
}

const ADJECTIVES = ['amber', 'brisk', 'calm', 'dapper', 'eager', 'fuzzy', 'gentle', 'hardy', 'ivory', 'jolly', 'keen', 'lucid', 'mellow', 'nimble', 'olive', 'plucky', 'quiet', 'rapid', 'sunny', 'tidy', 'umber', 'vivid', 'witty', 'young', 'zesty'];
const NOUNS = ['otter', 'heron', 'lynx', 'falcon', 'badger', 'marten', 'ibis', 'gecko', 'panda', 'raven', 'tapir', 'walrus', 'yak', 'zebra', 'koala', 'newt', 'quail', 'stoat', 'crane', 'dingo'];

function runName(): string {
  const a = ADJECTIVES[Math.floor(Math.random() * ADJECTIVES.length)]!;
  const n = NOUNS[Math.floor(Math.random() * NOUNS.length)]!;
  return `${a}-${n}-${Math.floor(Math.random() * 1000)}`;
}

/** Inserts runs; a run whose idempotency key exists already is skipped. Returns the ids created. */
export function insertRuns(db: Db, runs: NewRun[], now: number): string[] {
  const insert = sql(db, 
    `INSERT INTO flow_run (id, name, deployment_id, schedule_id, idempotency_key, work_pool_name, work_queue_name, state_type, state_name,
       state_message, expected_start_time, parameters_json, tags_json, auto_scheduled, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'SCHEDULED', 'Scheduled', NULL, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
  );
  const history = sql(db, `INSERT INTO flow_run_state (flow_run_id, type, name, message, timestamp) VALUES (?, 'SCHEDULED', 'Scheduled', ?, ?)`);
  const created: string[] = [];
  for (const r of runs) {
    const id = randomUUID();
    const res = insert.run(id, runName(), r.deploymentId, r.scheduleId, r.idempotencyKey, r.pool, r.queue ?? 'default', r.expectedStart, JSON.stringify(r.parameters), JSON.stringify(r.tags), r.autoScheduled ? 1 : 0, now, now);
    if (res.changes > 0) {
      history.run(id, r.autoScheduled ? 'Created by the scheduler' : 'Created manually', now);
      created.push(id);
    }
  }
  return created;
}

export function setScheduledUntil(db: Db, scheduleId: string, until: number): void {
  sql(db, 'UPDATE deployment_schedule SET scheduled_until = ? WHERE id = ?').run(until, scheduleId);
}

export function createManualRun(db: Db, fullName: string, parameters: Record<string, unknown>, expectedStart: number, now: number): string {
  const dep = findDeploymentRow(db, fullName);
  const merged = { ...(JSON.parse(dep.parameters_json) as Record<string, unknown>), ...parameters };
  const [id] = insertRuns(
    db,
    [{ deploymentId: dep.id, scheduleId: null, expectedStart, parameters: merged, tags: JSON.parse(dep.tags_json) as string[], pool: dep.work_pool_name, queue: dep.work_queue_name, autoScheduled: false, idempotencyKey: null }],
    now,
  );
  return id!;
}

/** Scheduled runs more than 15 s past their time become Late (AwaitingConcurrencySlot runs do not). */
export function markLateRuns(db: Db, now: number): string[] {
  const rows = sql(db, `SELECT id FROM flow_run WHERE state_type = 'SCHEDULED' AND state_name = 'Scheduled' AND expected_start_time < ?`)
    .all(now - LATE_AFTER_MS) as { id: string }[];
  const late: string[] = [];
  for (const r of rows) {
    const ok = sql(db, `UPDATE flow_run SET state_name = 'Late', updated_at = ? WHERE id = ? AND state_type = 'SCHEDULED' AND state_name = 'Scheduled'`)
      .run(now, r.id).changes;
    if (ok) {
      sql(db, `INSERT INTO flow_run_state (flow_run_id, type, name, message, timestamp) VALUES (?, 'SCHEDULED', 'Late', ?, ?)`).run(r.id, 'More than 15 s past its scheduled time', now);
      late.push(r.id);
    }
  }
  return late;
}

export interface RunFilter {
  deployment?: string;
  state?: string;
  limit: number;
}

export function listRuns(db: Db, f: RunFilter): FlowRun[] {
  const where: string[] = [];
  const args: unknown[] = [];
  if (f.deployment) {
    where.push('r.deployment_id = ?');
    args.push(findDeploymentRow(db, f.deployment).id);
  }
  if (f.state) {
    where.push('(r.state_type = ? OR r.state_name = ? COLLATE NOCASE)');
    args.push(f.state.toUpperCase(), f.state);
  }
  const text = `${RUN_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.expected_start_time DESC, r.id DESC LIMIT ?`;
  return (sql(db, text).all(...args, f.limit) as FlowRunRow[]).map(toFlowRun);
}

export function findRunRow(db: Db, id: string): FlowRunRow {
  let row = sql(db, `${RUN_SELECT} WHERE r.id = ?`).get(id) as FlowRunRow | undefined;
  if (!row && id.length >= 4 && /^[0-9a-f-]+$/i.test(id)) {
    const matches = sql(db, `${RUN_SELECT} WHERE r.id >= ? AND r.id < ? LIMIT 2`).all(id, `${id}\uffff`) as FlowRunRow[];
    if (matches.length === 1) row = matches[0];
  }
  if (!row) throw new NotFoundError(`Flow run '${id}' not found!`);
  return row;
}

export interface RunDetails {
  run: FlowRun;
  state_history: StateHistoryEntry[];
  waiting_on?: WaitingOn[];
}

export function getRunDetails(db: Db, id: string, now: number): RunDetails {
  const row = findRunRow(db, id);
  const history = (sql(db, 'SELECT type, name, message, timestamp FROM flow_run_state WHERE flow_run_id = ? ORDER BY id').all(row.id) as {
    type: StateType;
    name: StateName;
    message: string | null;
    timestamp: number;
  }[]).map((h) => ({ type: h.type, name: h.name, timestamp: isoTime(h.timestamp), message: h.message }));
  const details: RunDetails = { run: toFlowRun(row), state_history: history };
  if (row.state_type === 'SCHEDULED' && row.waiting_on_json) {
    details.waiting_on = describeBlockers(db, row, JSON.parse(row.waiting_on_json) as LevelKind[]);
  }
  if (row.state_type === 'RUNNING') {
    const gcl = runGclWaits(db, row.id, now);
    if (gcl.length > 0) details.waiting_on = gcl;
  }
  return details;
}

export function runsWithWorker(db: Db, workerId: string, stateType: StateType): string[] {
  return (sql(db, 'SELECT id FROM flow_run WHERE worker_id = ? AND state_type = ?').all(workerId, stateType) as { id: string }[]).map((r) => r.id);
}

/** Not started: Cancelled at once. Pending/Running: Cancelling; the worker stops the process. */
export function requestCancel(db: Db, id: string, now: number): { runId: string; outcome: 'cancelled' | 'cancelling' | 'already-final' } {
  const row = findRunRow(db, id);
  if (transition(db, row.id, ['SCHEDULED', 'PAUSED'], { type: 'CANCELLED', name: 'Cancelled', message: 'Cancelled by user before it started.' }, now)) {
    return { runId: row.id, outcome: 'cancelled' };
  }
  if (transition(db, row.id, ['PENDING', 'RUNNING'], { type: 'CANCELLING', name: 'Cancelling', message: 'Cancel requested by user.' }, now)) {
    sql(db, 'UPDATE flow_run SET cancel_requested = 1 WHERE id = ?').run(row.id);
    return { runId: row.id, outcome: 'cancelling' };
  }
  return { runId: row.id, outcome: row.state_type === 'CANCELLING' ? 'cancelling' : 'already-final' };
}

export function startRun(db: Db, id: string, pid: number, now: number): boolean {
  const ok = transition(db, id, ['PENDING'], { type: 'RUNNING', name: 'Running' }, now);
  if (ok) sql(db, 'UPDATE flow_run SET pid = ? WHERE id = ?').run(pid, id);
  return ok;
}

export { finishRun };

export interface LogLine {
  timestamp: number;
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
}

export function appendLogs(db: Db, runId: string, lines: LogLine[]): void {
  const stmt = sql(db, 'INSERT INTO flow_run_log (flow_run_id, timestamp, stream, line) VALUES (?, ?, ?, ?)');
  for (const l of lines) stmt.run(runId, l.timestamp, l.stream, l.line);
}

export function readLogs(db: Db, runId: string, afterId: number, limit: number): (LogLine & { id: number })[] {
  return sql(db, 'SELECT id, timestamp, stream, line FROM flow_run_log WHERE flow_run_id = ? AND id > ? ORDER BY id LIMIT ?')
    .all(runId, afterId, limit) as (LogLine & { id: number })[];
}

export function runState(db: Db, id: string): { state_type: StateType; cancel_requested: number } | undefined {
  return sql(db, 'SELECT state_type, cancel_requested FROM flow_run WHERE id = ?').get(id) as { state_type: StateType; cancel_requested: number } | undefined;
}
