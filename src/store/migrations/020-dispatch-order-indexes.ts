/**
 * Indexes whose order matches the hot queries exactly, so neither sorts nor reads the whole backlog:
 * dispatch reads fresh due runs (Scheduled or Late) of a pool, and only the heads of each
 * deployment's AwaitingConcurrencySlot queue, both by (scheduled time, creation, rowid);
 * `flow-run ls` lists by (scheduled time, id) descending.
 */
export const MIGRATION_020 = `
DROP INDEX IF EXISTS flow_run_due;
CREATE INDEX flow_run_due ON flow_run (work_pool_name, expected_start_time, created_at)
  WHERE state_type = 'SCHEDULED' AND state_name <> 'AwaitingConcurrencySlot';
CREATE INDEX flow_run_awaiting ON flow_run (work_pool_name, deployment_id, expected_start_time, created_at)
  WHERE state_type = 'SCHEDULED' AND state_name = 'AwaitingConcurrencySlot';
DROP INDEX IF EXISTS flow_run_expected;
CREATE INDEX flow_run_expected ON flow_run (expected_start_time, id);
`;
