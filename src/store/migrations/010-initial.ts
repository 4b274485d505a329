/** Initial schema. Times are INTEGER epoch milliseconds passed in from the clock, never now() in SQL. */
export const MIGRATION_010 = `
CREATE TABLE work_pool (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  concurrency_limit INTEGER,
  is_paused INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE work_queue (
  id TEXT PRIMARY KEY,
  pool_id TEXT NOT NULL REFERENCES work_pool(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  priority INTEGER NOT NULL,
  concurrency_limit INTEGER,
  is_paused INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (pool_id, name)
);

CREATE TABLE deployment (
  id TEXT PRIMARY KEY,
  flow_name TEXT NOT NULL,
  name TEXT NOT NULL,
  entrypoint TEXT NOT NULL,
  project_dir TEXT NOT NULL,
  description TEXT,
  version TEXT,
  tags_json TEXT NOT NULL,
  parameters_json TEXT NOT NULL,
  work_pool_name TEXT NOT NULL,
  work_queue_name TEXT,
  job_variables_json TEXT NOT NULL,
  concurrency_limit INTEGER,
  concurrency_options_json TEXT,
  paused INTEGER NOT NULL DEFAULT 0,
  enforce_parameter_schema INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (flow_name, name)
);
CREATE INDEX deployment_pool ON deployment (work_pool_name);

CREATE TABLE deployment_schedule (
  id TEXT PRIMARY KEY,
  deployment_id TEXT NOT NULL REFERENCES deployment(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  schedule_json TEXT NOT NULL,
  active INTEGER NOT NULL,
  parameters_json TEXT NOT NULL,
  slug TEXT,
  scheduled_until INTEGER
);
CREATE INDEX deployment_schedule_deployment ON deployment_schedule (deployment_id);

CREATE TABLE flow_run (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  deployment_id TEXT NOT NULL REFERENCES deployment(id) ON DELETE CASCADE,
  schedule_id TEXT,
  idempotency_key TEXT UNIQUE,
  work_pool_name TEXT NOT NULL,
  work_queue_name TEXT NOT NULL,
  state_type TEXT NOT NULL,
  state_name TEXT NOT NULL,
  state_message TEXT,
  expected_start_time INTEGER NOT NULL,
  start_time INTEGER,
  end_time INTEGER,
  parameters_json TEXT NOT NULL,
  tags_json TEXT NOT NULL,
  auto_scheduled INTEGER NOT NULL,
  worker_id TEXT,
  pid INTEGER,
  waiting_on_json TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX flow_run_due ON flow_run (state_type, work_pool_name, expected_start_time);
CREATE INDEX flow_run_deployment_state ON flow_run (deployment_id, state_type, expected_start_time);
CREATE INDEX flow_run_created ON flow_run (created_at);
CREATE INDEX flow_run_expected ON flow_run (expected_start_time);
CREATE INDEX flow_run_worker ON flow_run (worker_id, state_type);

CREATE TABLE flow_run_state (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  flow_run_id TEXT NOT NULL REFERENCES flow_run(id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  message TEXT,
  timestamp INTEGER NOT NULL
);
CREATE INDEX flow_run_state_run ON flow_run_state (flow_run_id, id);

CREATE TABLE flow_run_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  flow_run_id TEXT NOT NULL REFERENCES flow_run(id) ON DELETE CASCADE,
  timestamp INTEGER NOT NULL,
  stream TEXT NOT NULL,
  line TEXT NOT NULL
);
CREATE INDEX flow_run_log_run ON flow_run_log (flow_run_id, id);

CREATE TABLE global_concurrency_limit (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  limit_value INTEGER NOT NULL,
  active INTEGER NOT NULL,
  -- slots taken outside leases (rate limits, --active-slots), as of occupancy_at; they decay
  occupancy REAL NOT NULL DEFAULT 0,
  occupancy_at INTEGER NOT NULL,
  slot_decay_per_second REAL NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- A lease: something alive holding slots. Renewed by its holder; expiry frees everything it holds.
CREATE TABLE lease (
  id TEXT PRIMARY KEY,
  holder TEXT NOT NULL,
  flow_run_id TEXT REFERENCES flow_run(id) ON DELETE CASCADE,
  worker_id TEXT,
  acquired_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX lease_expiry ON lease (expires_at);
CREATE INDEX lease_run ON lease (flow_run_id);
CREATE INDEX lease_worker ON lease (worker_id);

-- Slots held by a lease at one level: deployment, queue, pool or gcl (resource_id is that row's id).
CREATE TABLE lease_slot (
  lease_id TEXT NOT NULL REFERENCES lease(id) ON DELETE CASCADE,
  resource_kind TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  slots INTEGER NOT NULL,
  PRIMARY KEY (lease_id, resource_kind, resource_id)
);
CREATE INDEX lease_slot_resource ON lease_slot (resource_kind, resource_id);

-- Waiters on global limits, so a freed slot goes to the longest waiter first.
CREATE TABLE gcl_waiter (
  id TEXT PRIMARY KEY,
  names_json TEXT NOT NULL,
  holder TEXT NOT NULL,
  flow_run_id TEXT,
  occupy INTEGER NOT NULL,
  since INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX gcl_waiter_since ON gcl_waiter (since);

CREATE TABLE worker (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  work_pool_name TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  stopped_at INTEGER
);
`;
