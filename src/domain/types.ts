/** Core domain types shared by config, store, engine and CLI. Pure data, no behaviour. */

export type CollisionStrategy = 'ENQUEUE' | 'CANCEL_NEW';

export interface ConcurrencyOptions {
  collision_strategy: CollisionStrategy;
  grace_period_seconds?: number;
}

/** One schedule, already normalised. Exactly one of interval / cron / rrule is set. */
export interface ScheduleSpec {
  /** Interval in seconds (may be fractional), when this is an interval schedule. */
  interval?: number;
  cron?: string;
  rrule?: string;
  /** ISO 8601 instant in UTC (interval schedules only; naive input means UTC). */
  anchor_date?: string;
  /** IANA zone name; null when unset (UTC is then used). */
  timezone: string | null;
  /** cron only: day-of-month OR day-of-week (true, default) or AND (false). */
  day_or?: boolean;
}

export interface DeploymentScheduleSpec {
  schedule: ScheduleSpec;
  active: boolean;
  parameters: Record<string, unknown>;
  slug: string | null;
}

/** A deployment as translated from prefect.yaml, before it is stored (no ids, no times). */
export interface DeploymentSpec {
  name: string;
  flow_name: string;
  /** "flow_name/name" */
  full_name: string;
  entrypoint: string;
  description: string | null;
  version: string | null;
  tags: string[];
  parameters: Record<string, unknown>;
  work_pool_name: string;
  /** null means the pool's default queue */
  work_queue_name: string | null;
  job_variables: Record<string, unknown>;
  concurrency_limit: number | null;
  concurrency_options: ConcurrencyOptions | null;
  paused: boolean;
  enforce_parameter_schema: boolean;
  schedules: DeploymentScheduleSpec[];
}

export interface StoredSchedule extends DeploymentScheduleSpec {
  id: string;
}

export interface Deployment extends Omit<DeploymentSpec, 'schedules'> {
  id: string;
  schedules: StoredSchedule[];
  created: string;
  updated: string;
}

export interface WorkPool {
  id: string;
  name: string;
  type: string;
  concurrency_limit: number | null;
  is_paused: boolean;
  status: 'READY' | 'NOT_READY' | 'PAUSED';
  slots_in_use: number;
  default_queue_name: string;
  created: string;
}

export interface WorkQueue {
  id: string;
  name: string;
  work_pool_name: string;
  priority: number;
  concurrency_limit: number | null;
  is_paused: boolean;
  slots_in_use: number;
  created: string;
}

export interface GlobalConcurrencyLimit {
  id: string;
  name: string;
  limit: number;
  active: boolean;
  active_slots: number;
  slot_decay_per_second: number;
  created: string;
  updated: string;
}

export interface LimitHolder {
  lease_id: string;
  holder: string;
  slots: number;
  acquired: string;
  expires: string;
}

export type StateType =
  | 'SCHEDULED'
  | 'PENDING'
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'CRASHED'
  | 'PAUSED'
  | 'CANCELLING';

export type StateName =
  | 'Scheduled'
  | 'Late'
  | 'AwaitingConcurrencySlot'
  | 'Pending'
  | 'Running'
  | 'Completed'
  | 'Failed'
  | 'Cancelling'
  | 'Cancelled'
  | 'Crashed'
  | 'Paused';

export interface WaitingOn {
  kind: 'deployment' | 'queue' | 'pool' | 'gcl';
  name: string;
  limit: number;
  in_use: number;
  holders: string[];
}

export interface FlowRun {
  id: string;
  name: string;
  deployment_id: string;
  deployment_name: string;
  flow_name: string;
  work_pool_name: string;
  work_queue_name: string;
  state_type: StateType;
  state_name: StateName;
  state_message: string | null;
  expected_start_time: string;
  start_time: string | null;
  end_time: string | null;
  parameters: Record<string, unknown>;
  tags: string[];
  auto_scheduled: boolean;
  created: string;
}

export interface StateHistoryEntry {
  type: StateType;
  name: StateName;
  timestamp: string;
  message: string | null;
}
