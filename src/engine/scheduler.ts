/**
 * The scheduler: materialises each active schedule's upcoming runs, as Prefect does (at most 100
 * runs and 100 days ahead, at least 3 runs and 1 hour ahead). Idempotent: a run is keyed by
 * (deployment, schedule, scheduled time), so repeated passes and concurrent schedulers create no
 * duplicates, and a cancelled or finished run is never re-created.
 */
import { createHash } from 'node:crypto';
import { runsToSchedule, SCHEDULER_DEFAULTS } from '../domain/schedules.js';
import type { ScheduleSpec } from '../domain/types.js';
import type { NewRun, Store } from '../store/store.js';

export interface SchedulerPassResult {
  schedules: number;
  examined: number;
  created: number;
  errors: { scheduleId: string; message: string }[];
}

/** Inserting in chunks keeps each write transaction short, so other processes are not held up. */
const BATCH_RUNS = 2000;

/**
 * The schedule part of the key is its content (spec and parameters), not its row id: a redeploy
 * replaces schedule rows, and an unchanged schedule must keep its keys (a cancelled future run
 * stays cancelled), while two schedules of one deployment firing at the same instant stay two runs.
 */
export function autoRunKey(deploymentId: string, schedule: ScheduleSpec, parameters: Record<string, unknown>, at: number): string {
  const identity = createHash('sha256').update(JSON.stringify([schedule, parameters])).digest('hex').slice(0, 16);
  return `auto:${deploymentId}:${identity}:${at}`;
}

/**
 * When the scheduler must look at a schedule again, expressed for the skip test below
 * (`scheduled_until >= now + 1 h`): as Prefect, once fewer than minRuns runs lie ahead or the last
 * one is less than 1 h ahead, whichever comes first.
 */
function coveredUntil(times: number[]): number {
  const last = times[times.length - 1]!;
  if (times.length < SCHEDULER_DEFAULTS.minRuns) return last;
  return Math.min(last, times[times.length - SCHEDULER_DEFAULTS.minRuns]! + SCHEDULER_DEFAULTS.minScheduledTimeMs);
}

export async function schedulerPass(store: Store, now: number, pool: string | null): Promise<SchedulerPassResult> {
  const schedules = await store.schedulableSchedules(pool);
  const result: SchedulerPassResult = { schedules: schedules.length, examined: 0, created: 0, errors: [] };
  let batch: { scheduleId: string; until: number; runs: NewRun[] }[] = [];
  let batchRuns = 0;
  for (const s of schedules) {
    // still covered: runs exist up to at least the minimum horizon
    if (s.scheduled_until !== null && s.scheduled_until >= now + SCHEDULER_DEFAULTS.minScheduledTimeMs) continue;
    result.examined++;
    let times: number[];
    try {
      times = runsToSchedule(s.schedule, { nowMs: now, anchorDefaultMs: s.created_at });
    } catch (error) {
      result.errors.push({ scheduleId: s.schedule_id, message: (error as Error).message });
      continue;
    }
    const parameters = { ...s.deployment_parameters, ...s.schedule_parameters };
    const runs: NewRun[] = times.map((t) => ({
      deploymentId: s.deployment_id,
      scheduleId: s.schedule_id,
      expectedStart: t,
      parameters,
      tags: s.tags,
      pool: s.work_pool_name,
      queue: s.work_queue_name,
      autoScheduled: true,
      idempotencyKey: autoRunKey(s.deployment_id, s.schedule, s.schedule_parameters, t),
    }));
    // nothing to schedule in the window (e.g. a rule that has ended): look again after the horizon
    const until = times.length > 0 ? coveredUntil(times) : now + SCHEDULER_DEFAULTS.minScheduledTimeMs;
    batch.push({ scheduleId: s.schedule_id, until, runs });
    batchRuns += runs.length + 1;
    if (batchRuns >= BATCH_RUNS) {
      result.created += await store.insertScheduledRuns(batch, now);
      batch = [];
      batchRuns = 0;
    }
  }
  if (batch.length > 0) result.created += await store.insertScheduledRuns(batch, now);
  return result;
}
