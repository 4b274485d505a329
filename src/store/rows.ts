/** Row <-> domain mappers: the only place snake_case columns become domain objects. */
import type {
  ConcurrencyOptions,
  Deployment,
  FlowRun,
  GlobalConcurrencyLimit,
  ScheduleSpec,
  StateName,
  StateType,
  StoredSchedule,
  WorkQueue,
} from '../domain/types.js';
import { isoTime, optionalIso } from '../time/clock.js';

export interface DeploymentRow {
  id: string;
  flow_name: string;
  name: string;
  entrypoint: string;
  project_dir: string;
  description: string | null;
  version: string | null;
  tags_json: string;
  parameters_json: string;
  work_pool_name: string;
  work_queue_name: string | null;
  job_variables_json: string;
  concurrency_limit: number | null;
  concurrency_options_json: string | null;
  paused: number;
  enforce_parameter_schema: number;
  created_at: number;
  updated_at: number;
}

export interface ScheduleRow {
  id: string;
  deployment_id: string;
  position: number;
  schedule_json: string;
  active: number;
  parameters_json: string;
  slug: string | null;
  scheduled_until: number | null;
}

export interface FlowRunRow {
  id: string;
  name: string;
  deployment_id: string;
  schedule_id: string | null;
  work_pool_name: string;
  work_queue_name: string;
  state_type: StateType;
  state_name: StateName;
  state_message: string | null;
  expected_start_time: number;
  start_time: number | null;
  end_time: number | null;
  parameters_json: string;
  tags_json: string;
  auto_scheduled: number;
  worker_id: string | null;
  pid: number | null;
  waiting_on_json: string | null;
  cancel_requested: number;
  created_at: number;
  updated_at: number;
  /** joined from deployment */
  flow_name: string;
  deployment_short_name: string;
}

export interface GclRow {
  id: string;
  name: string;
  limit_value: number;
  active: number;
  occupancy: number;
  occupancy_at: number;
  slot_decay_per_second: number;
  created_at: number;
  updated_at: number;
}

export interface WorkQueueRow {
  id: string;
  pool_id: string;
  pool_name: string;
  name: string;
  priority: number;
  concurrency_limit: number | null;
  is_paused: number;
  created_at: number;
  slots_in_use: number;
}

/** A deployment row plus the folder its prefect.yaml lived in (where entrypoints resolve). */
export interface DeploymentWithDir extends Deployment {
  project_dir: string;
}

export function toDeployment(row: DeploymentRow, schedules: ScheduleRow[]): DeploymentWithDir {
  return {
    id: row.id,
    name: row.name,
    flow_name: row.flow_name,
    full_name: `${row.flow_name}/${row.name}`,
    entrypoint: row.entrypoint,
    project_dir: row.project_dir,
    description: row.description,
    version: row.version,
    tags: JSON.parse(row.tags_json) as string[],
    parameters: JSON.parse(row.parameters_json) as Record<string, unknown>,
    work_pool_name: row.work_pool_name,
    work_queue_name: row.work_queue_name,
    job_variables: JSON.parse(row.job_variables_json) as Record<string, unknown>,
    concurrency_limit: row.concurrency_limit,
    concurrency_options: row.concurrency_options_json
      ? (JSON.parse(row.concurrency_options_json) as ConcurrencyOptions)
      : null,
    paused: row.paused === 1,
    enforce_parameter_schema: row.enforce_parameter_schema === 1,
    schedules: schedules.map(toSchedule),
    created: isoTime(row.created_at),
    updated: isoTime(row.updated_at),
  };
}

export function toSchedule(row: ScheduleRow): StoredSchedule {
  return {
    id: row.id,
    schedule: JSON.parse(row.schedule_json) as ScheduleSpec,
    active: row.active === 1,
    parameters: JSON.parse(row.parameters_json) as Record<string, unknown>,
    slug: row.slug,
  };
}

export function toFlowRun(row: FlowRunRow): FlowRun {
  return {
    id: row.id,
    name: row.name,
    deployment_id: row.deployment_id,
    deployment_name: `${row.flow_name}/${row.deployment_short_name}`,
    flow_name: row.flow_name,
    work_pool_name: row.work_pool_name,
    work_queue_name: row.work_queue_name,
    state_type: row.state_type,
    state_name: row.state_name,
    state_message: row.state_message,
    expected_start_time: isoTime(row.expected_start_time),
    start_time: optionalIso(row.start_time),
    end_time: optionalIso(row.end_time),
    parameters: JSON.parse(row.parameters_json) as Record<string, unknown>,
    tags: JSON.parse(row.tags_json) as string[],
    auto_scheduled: row.auto_scheduled === 1,
    created: isoTime(row.created_at),
  };
}

/** Slots taken outside leases after exact (unrounded) decay. */
export function decayedOccupancy(row: Pick<GclRow, 'occupancy' | 'occupancy_at' | 'slot_decay_per_second'>, now: number): number {
  if (row.slot_decay_per_second <= 0) return row.occupancy;
  const elapsed = Math.max(0, now - row.occupancy_at) / 1000;
  return Math.max(0, row.occupancy - row.slot_decay_per_second * elapsed);
}

export function toGcl(row: GclRow, leasedSlots: number, now: number): GlobalConcurrencyLimit {
  const inUse = decayedOccupancy(row, now) + leasedSlots;
  return {
    id: row.id,
    name: row.name,
    limit: row.limit_value,
    active: row.active === 1,
    // a slot partly decayed is still taken: round up, with a little tolerance for float noise
    active_slots: Math.max(0, Math.ceil(inUse - 1e-9)), // max: never -0
    slot_decay_per_second: row.slot_decay_per_second,
    created: isoTime(row.created_at),
    updated: isoTime(row.updated_at),
  };
}

export function toWorkQueue(row: WorkQueueRow): WorkQueue {
  return {
    id: row.id,
    name: row.name,
    work_pool_name: row.pool_name,
    priority: row.priority,
    concurrency_limit: row.concurrency_limit,
    is_paused: row.is_paused === 1,
    slots_in_use: row.slots_in_use,
    created: isoTime(row.created_at),
  };
}
