/**
 * Schedule times: when interval, cron and rrule schedules fire, and how many runs
 * the scheduler materialises ahead. Pure functions: callers pass every time as
 * epoch milliseconds; nothing here reads a clock.
 *
 * Semantics follow Prefect 3 (reference/prefect-semantics.md §2.3-2.7) except
 * where DESIGN §3.2 differs on purpose:
 * - Interval < 1 day: exact seconds from the anchor (fires every UTC hour across DST).
 * - Interval with whole days: tick k = (anchor's LOCAL wall time + k*days calendar
 *   days in the zone) + k*(leftover seconds, exact). Computed from the anchor for
 *   every k, so a daily 09:00 stays 09:00 local even when the anchor is months away
 *   on the other side of a DST change (Prefect jumps in exact seconds first and
 *   drifts an hour there; we do not).
 * - Cron and rrule: local wall-clock semantics.
 * - Everywhere: a wall time skipped by spring-forward fires at the first valid
 *   instant after the gap (deduped with a real tick there); a repeated (fall-back)
 *   wall time fires once, at its first occurrence.
 */
import type { ScheduleSpec } from './types.js';
import { cronTimes, parseCron, validateCron } from './schedule-cron.js';
import { rruleDtstartTzid, rruleTimes, validateRRule } from './schedule-rrule.js';
import {
  DAY_MS,
  HOUR_MS,
  instantOf,
  isValidTimezone,
  parseAnchorDate,
  scheduleZone,
  wallOf,
} from './schedule-tz.js';

export { validateCron } from './schedule-cron.js';
export { validateRRule, MAX_RRULE_LENGTH } from './schedule-rrule.js';
export { isValidTimezone, parseAnchorDate } from './schedule-tz.js';

/** Prefect's MAX_ITERATIONS: the default n when an end is given (else 1). */
export const MAX_ITERATIONS = 1000;

export interface NextTimesOptions {
  /** Inclusive lower bound (epoch ms). */
  startMs: number;
  /** Inclusive upper bound (epoch ms); none means unbounded. */
  endMs?: number;
  /** How many times at most; default 1000 when endMs is given, else 1. */
  n?: number;
  /**
   * Anchor for interval schedules without anchor_date (Prefect: the time the
   * schedule was created). Pass something stable, e.g. the schedule's creation
   * time; when absent the Unix epoch is used so results never depend on "now".
   */
  anchorDefaultMs?: number;
}

/**
 * The instants (epoch ms, ascending, deduped) at which `schedule` fires, with
 * startMs <= t <= endMs, at most n of them. A spec with none of interval, cron
 * or rrule (Prefect's NoSchedule) yields []. Throws RangeError on an invalid
 * spec (bad timezone, cron, rrule, anchor or non-positive interval).
 */
export function nextScheduleTimes(schedule: ScheduleSpec, opts: NextTimesOptions): number[] {
  if (!Number.isFinite(opts.startMs) || Number.isNaN(opts.endMs ?? 0)) {
    throw new RangeError('startMs must be a finite number of epoch milliseconds');
  }
  const endMs = opts.endMs ?? Infinity;
  const n = opts.n ?? (opts.endMs !== undefined ? MAX_ITERATIONS : 1);
  if (n <= 0 || endMs < opts.startMs) return [];
  // Which kind: the first key present, in Prefect's order (cron, interval, rrule).
  if (schedule.cron != null) {
    const zone = scheduleZone(schedule.timezone);
    let spec;
    try {
      spec = parseCron(schedule.cron);
    } catch (err) {
      throw new RangeError((err as Error).message);
    }
    return cronTimes(spec, zone, schedule.day_or ?? true, opts.startMs, endMs, n);
  }
  if (schedule.interval != null) {
    const zone = scheduleZone(schedule.timezone);
    const anchorMs =
      schedule.anchor_date != null ? parseAnchorDate(schedule.anchor_date) : (opts.anchorDefaultMs ?? 0);
    return intervalTimes(schedule.interval, anchorMs, zone, opts.startMs, endMs, n);
  }
  if (schedule.rrule != null) {
    const reason = validateRRule(schedule.rrule);
    if (reason) throw new RangeError(reason);
    const zone = scheduleZone(schedule.timezone ?? rruleDtstartTzid(schedule.rrule));
    return rruleTimes(schedule.rrule, zone, opts.startMs, endMs, n);
  }
  return [];
}

function intervalTimes(
  seconds: number,
  anchorMs: number,
  zone: ReturnType<typeof scheduleZone>,
  startMs: number,
  endMs: number,
  n: number,
): number[] {
  if (!Number.isFinite(seconds) || seconds <= 0) throw new RangeError('interval must be positive');
  const totalMs = seconds * 1000;
  const days = Math.floor(seconds / 86_400);
  let tick: (k: number) => number;
  if (days === 0) {
    tick = (k) => Math.round(anchorMs + k * totalMs);
  } else {
    const restMs = totalMs - days * DAY_MS;
    const anchorWall = wallOf(zone, anchorMs);
    // k = 0 is the anchor itself, even when it is the second occurrence of a repeated hour.
    tick = (k) => (k === 0 ? anchorMs : Math.round(instantOf(zone, anchorWall + k * days * DAY_MS) + k * restMs));
  }
  // First k with tick(k) >= start: estimate in exact time, then correct (a DST
  // change moves whole-day ticks by at most a few hours, so a step or two).
  let k = Math.ceil((startMs - anchorMs) / totalMs);
  while (tick(k) < startMs) k++;
  while (tick(k - 1) >= startMs) k--;
  const out: number[] = [];
  // Intervals below 1 ms collapse after rounding; bound the work anyway.
  const maxSteps = n * (1 + Math.ceil(1 / totalMs)) + 10;
  for (let i = 0; out.length < n && i < maxSteps; i++, k++) {
    const t = tick(k);
    if (t > endMs) break;
    if (out.length === 0 || t > out[out.length - 1]!) out.push(t);
  }
  return out;
}

/**
 * null when the schedule spec is usable, else the reason: one of interval
 * (> 0), cron or rrule, a known timezone, a parseable anchor_date.
 */
export function validateSchedule(schedule: ScheduleSpec): string | null {
  if (schedule.timezone != null && !isValidTimezone(schedule.timezone)) {
    return `Invalid timezone: "${schedule.timezone}" (specify in IANA tzdata format, for example, America/New_York)`;
  }
  if (schedule.anchor_date != null) {
    try {
      parseAnchorDate(schedule.anchor_date);
    } catch (err) {
      return (err as Error).message;
    }
  }
  if (schedule.cron != null) return validateCron(schedule.cron);
  if (schedule.interval != null) {
    return Number.isFinite(schedule.interval) && schedule.interval > 0 ? null : 'interval must be positive';
  }
  if (schedule.rrule != null) {
    const reason = validateRRule(schedule.rrule);
    if (reason) return reason;
    const tzid = rruleDtstartTzid(schedule.rrule);
    if (schedule.timezone == null && tzid !== null && !isValidTimezone(tzid)) {
      return `Invalid timezone: "${tzid}" in the rrule's DTSTART`;
    }
    return null;
  }
  return null;
}

/** Prefect's scheduler settings (PREFECT_SERVER_SERVICES_SCHEDULER_*), prefect-semantics §2.7. */
export const SCHEDULER_DEFAULTS = {
  maxRuns: 100,
  minRuns: 3,
  maxScheduledTimeMs: 100 * DAY_MS,
  minScheduledTimeMs: HOUR_MS,
} as const;

export interface SchedulerPolicy {
  maxRuns?: number;
  minRuns?: number;
  maxScheduledTimeMs?: number;
  minScheduledTimeMs?: number;
}

/**
 * The scheduled times the scheduler should materialise now for one schedule
 * (Prefect's _generate_scheduled_flow_runs): candidates are the next maxRuns
 * times in [now, now + maxScheduledTime]; take them in order and stop as soon as
 * we hold at least minRuns AND the last one is >= now + minScheduledTime.
 * So: never more than 100 runs or beyond 100 days; otherwise at least 3 runs,
 * and keep going until one is at least 1 hour ahead.
 *
 * With the anchor at now + 1 s (Prefect's tests), candidates are now + 1 s + k*interval:
 * - 1 minute: run k (0-based) is at 1 + 60k s; the first with 1 + 60k >= 3600 is
 *   k = 60 (3601 s), and 61 >= 3 runs, so 61 runs.
 * - 5 minutes: 1 + 300k >= 3600 first at k = 12 (3601 s): 13 runs.
 * - 1 hour: k = 1 is already 3601 s ahead, but 3 runs are required: 3 runs
 *   (now+1 s, +1 h, +2 h).
 * - 60 days: only now+1 s and now+60 d fit in 100 days (120 d does not): 2 runs,
 *   fewer than minRuns because the 100-day cap wins.
 */
export function runsToSchedule(
  schedule: ScheduleSpec,
  opts: { nowMs: number; anchorDefaultMs?: number } & SchedulerPolicy,
): number[] {
  const p = { ...SCHEDULER_DEFAULTS, ...definedOnly(opts) };
  const candidates = nextScheduleTimes(schedule, {
    startMs: opts.nowMs,
    endMs: opts.nowMs + p.maxScheduledTimeMs,
    n: p.maxRuns,
    ...(opts.anchorDefaultMs !== undefined ? { anchorDefaultMs: opts.anchorDefaultMs } : {}),
  });
  const out: number[] = [];
  for (const t of candidates) {
    out.push(t);
    if (out.length >= p.minRuns && t >= opts.nowMs + p.minScheduledTimeMs) break;
  }
  return out;
}

/**
 * Whether a schedule needs the scheduler's attention (Prefect's selection
 * rule): fewer than minRuns future auto-scheduled runs, or the latest of them
 * earlier than now + minScheduledTime. `futureRunTimesMs` are the scheduled
 * times of this schedule's auto-scheduled runs still in SCHEDULED with time >= now.
 */
export function scheduleNeedsRuns(
  futureRunTimesMs: readonly number[],
  nowMs: number,
  policy: SchedulerPolicy = {},
): boolean {
  const p = { ...SCHEDULER_DEFAULTS, ...definedOnly(policy) };
  if (futureRunTimesMs.length < p.minRuns) return true;
  return Math.max(...futureRunTimesMs) < nowMs + p.minScheduledTimeMs;
}

function definedOnly(policy: SchedulerPolicy): SchedulerPolicy {
  const out: SchedulerPolicy = {};
  for (const key of ['maxRuns', 'minRuns', 'maxScheduledTimeMs', 'minScheduledTimeMs'] as const) {
    if (policy[key] !== undefined) out[key] = policy[key];
  }
  return out;
}
