/**
 * Indexes whose order matches the hot queries exactly, so neither sorts:
 * dispatch reads due runs by (scheduled time, creation, rowid); `flow-run ls` lists by
 * (scheduled time, id) descending.
 */
export const MIGRATION_020 = `
DROP INDEX IF EXISTS flow_run_due;
CREATE INDEX flow_run_due ON flow_run (state_type, work_pool_name, expected_start_time, created_at);
DROP INDEX IF EXISTS flow_run_expected;
CREATE INDEX flow_run_expected ON flow_run (expected_start_time, id);
`;
