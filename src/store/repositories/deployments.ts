/** Deployments and their schedules. */
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, UsageError } from '../../domain/errors.js';
import type { DeploymentSpec } from '../../domain/types.js';
import { sql, type Db } from '../db.js';
import { toDeployment, type DeploymentRow, type DeploymentWithDir, type ScheduleRow } from '../rows.js';
import { DEFAULT_QUEUE, ensureQueue, insertPool, poolIdByName } from './work-pools.js';

export interface DeploymentInput extends DeploymentSpec {
  /** Absolute folder of the prefect.yaml; entrypoints resolve against it. */
  project_dir: string;
}

export interface ApplyResult {
  deployments: { full_name: string; id: string; created: boolean }[];
  pools_created: string[];
  queues_created: { pool: string; queue: string }[];
}

/** Removes a deployment's future auto-scheduled runs that have not started (the scheduler regenerates them). */
export function deleteFutureAutoRuns(db: Db, deploymentId: string, now: number): number {
  return sql(db, 
      `DELETE FROM flow_run WHERE deployment_id = ? AND state_type = 'SCHEDULED' AND state_name <> 'AwaitingConcurrencySlot'
       AND auto_scheduled = 1 AND start_time IS NULL AND expected_start_time > ?`,
    )
    .run(deploymentId, now).changes;
}

/** Upserts every deployment by flow/name, creating missing pools and queues. Call inside a transaction. */
export function applyDeployments(db: Db, inputs: DeploymentInput[], now: number): ApplyResult {
  const result: ApplyResult = { deployments: [], pools_created: [], queues_created: [] };
  for (const d of inputs) {
    if (!poolIdByName(db, d.work_pool_name)) {
      insertPool(db, { name: d.work_pool_name, type: 'process', concurrencyLimit: null }, now);
      result.pools_created.push(d.work_pool_name);
    }
    if (d.work_queue_name && d.work_queue_name !== DEFAULT_QUEUE && ensureQueue(db, d.work_pool_name, d.work_queue_name, now)) {
      result.queues_created.push({ pool: d.work_pool_name, queue: d.work_queue_name });
    }
    const existing = sql(db, 'SELECT id FROM deployment WHERE flow_name = ? AND name = ?').get(d.flow_name, d.name) as
      | { id: string }
      | undefined;
    const values = [
      d.entrypoint,
      d.project_dir,
      d.description,
      d.version,
      JSON.stringify(d.tags),
      JSON.stringify(d.parameters),
      d.work_pool_name,
      d.work_queue_name,
      JSON.stringify(d.job_variables),
      d.concurrency_limit,
      d.concurrency_options ? JSON.stringify(d.concurrency_options) : null,
      d.paused ? 1 : 0,
      d.enforce_parameter_schema ? 1 : 0,
    ];
    let id: string;
    if (existing) {
      id = existing.id;
      sql(db, 
        `UPDATE deployment SET entrypoint = ?, project_dir = ?, description = ?, version = ?, tags_json = ?, parameters_json = ?,
           work_pool_name = ?, work_queue_name = ?, job_variables_json = ?, concurrency_limit = ?, concurrency_options_json = ?,
           paused = ?, enforce_parameter_schema = ?, updated_at = ? WHERE id = ?`,
      ).run(...values, now, id);
      sql(db, 'DELETE FROM deployment_schedule WHERE deployment_id = ?').run(id);
      deleteFutureAutoRuns(db, id, now);
    } else {
      id = randomUUID();
      sql(db, 
        `INSERT INTO deployment (id, flow_name, name, entrypoint, project_dir, description, version, tags_json, parameters_json,
           work_pool_name, work_queue_name, job_variables_json, concurrency_limit, concurrency_options_json, paused,
           enforce_parameter_schema, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(id, d.flow_name, d.name, ...values, now, now);
    }
    const insertSchedule = sql(db, 
      'INSERT INTO deployment_schedule (id, deployment_id, position, schedule_json, active, parameters_json, slug, scheduled_until) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)',
    );
    d.schedules.forEach((s, i) => {
      // an interval schedule without an anchor is anchored at deploy time, as Prefect does
      const schedule = s.schedule.interval !== undefined && !s.schedule.anchor_date
        ? { ...s.schedule, anchor_date: new Date(now).toISOString() }
        : s.schedule;
      insertSchedule.run(randomUUID(), id, i, JSON.stringify(schedule), s.active ? 1 : 0, JSON.stringify(s.parameters), s.slug);
    });
    result.deployments.push({ full_name: d.full_name, id, created: !existing });
  }
  return result;
}

export function splitFullName(fullName: string): { flow: string; name: string } {
  const slash = fullName.indexOf('/');
  if (slash <= 0 || slash === fullName.length - 1) {
    throw new UsageError(`Invalid deployment name '${fullName}'. Expected '<flow-name>/<deployment-name>'`);
  }
  return { flow: fullName.slice(0, slash), name: fullName.slice(slash + 1) };
}

function schedulesOf(db: Db, ids: string[]): Map<string, ScheduleRow[]> {
  const map = new Map<string, ScheduleRow[]>();
  const stmt = sql(db, 'SELECT * FROM deployment_schedule WHERE deployment_id = ? ORDER BY position');
  for (const id of ids) map.set(id, stmt.all(id) as ScheduleRow[]);
  return map;
}

export function listDeployments(db: Db): DeploymentWithDir[] {
  const rows = sql(db, 'SELECT * FROM deployment ORDER BY flow_name, name').all() as DeploymentRow[];
  const all = sql(db, 'SELECT * FROM deployment_schedule ORDER BY deployment_id, position').all() as ScheduleRow[];
  const byDeployment = new Map<string, ScheduleRow[]>();
  for (const s of all) {
    const list = byDeployment.get(s.deployment_id) ?? [];
    list.push(s);
    byDeployment.set(s.deployment_id, list);
  }
  return rows.map((r) => toDeployment(r, byDeployment.get(r.id) ?? []));
}

export function findDeploymentRow(db: Db, fullName: string): DeploymentRow {
  const { flow, name } = splitFullName(fullName);
  const row = sql(db, 'SELECT * FROM deployment WHERE flow_name = ? AND name = ?').get(flow, name) as DeploymentRow | undefined;
  if (!row) throw new NotFoundError(`Deployment '${fullName}' not found!`, { hint: 'list deployments with: flowdeck deployment ls' });
  return row;
}

export function getDeployment(db: Db, fullName: string): DeploymentWithDir {
  const row = findDeploymentRow(db, fullName);
  return toDeployment(row, schedulesOf(db, [row.id]).get(row.id) ?? []);
}

export function getDeploymentById(db: Db, id: string): DeploymentWithDir | undefined {
  const row = sql(db, 'SELECT * FROM deployment WHERE id = ?').get(id) as DeploymentRow | undefined;
  return row ? toDeployment(row, schedulesOf(db, [row.id]).get(row.id) ?? []) : undefined;
}

export function deleteDeployment(db: Db, fullName: string): void {
  const row = findDeploymentRow(db, fullName);
  const active = sql(db, "SELECT COUNT(*) AS n FROM flow_run WHERE deployment_id = ? AND state_type IN ('PENDING', 'RUNNING', 'CANCELLING')")
    .get(row.id) as { n: number };
  if (active.n > 0) {
    throw new ConflictError(`Deployment '${fullName}' has ${active.n} active flow run(s).`, { hint: 'cancel them (flowdeck flow-run cancel ID) or wait for them to finish' });
  }
  sql(db, 'DELETE FROM deployment WHERE id = ?').run(row.id);
}

export function setDeploymentPaused(db: Db, fullName: string, paused: boolean, now: number): boolean {
  const row = findDeploymentRow(db, fullName);
  if ((row.paused === 1) === paused) return false;
  sql(db, 'UPDATE deployment SET paused = ?, updated_at = ? WHERE id = ?').run(paused ? 1 : 0, now, row.id);
  if (paused) deleteFutureAutoRuns(db, row.id, now);
  else sql(db, 'UPDATE deployment_schedule SET scheduled_until = NULL WHERE deployment_id = ?').run(row.id);
  return true;
}
