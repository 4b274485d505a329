/** Semantic checks of `schedule:` / `schedules:` (after the schema has checked the shapes). */
import { validateCron, validateRRule } from '../domain/schedules.js';
import { isRecord, type KeyPath } from './paths.js';
import type { Reporter } from './report.js';
import { anchorToIso, describeValue, parseBoolish, parseInterval, timezoneProblem } from './values.js';

export const SCHEDULE_KINDS = ['cron', 'interval', 'rrule'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

/** The schedule kinds given (non-null) in a schedule item. */
export function scheduleKinds(item: Record<string, unknown>): ScheduleKind[] {
  return SCHEDULE_KINDS.filter((k) => item[k] !== undefined && item[k] !== null);
}

/** Whether a legacy `schedule:` value actually holds a schedule (null and {} do not). */
export function isNonEmptySchedule(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && Object.keys(value).length > 0;
}

function checkBoolish(item: Record<string, unknown>, key: string, path: KeyPath, report: Reporter): void {
  const value = item[key];
  if (typeof value === 'string' && parseBoolish(value) === undefined) {
    report.error('invalid-boolean', [...path, key], `${key} must be true or false, got ${describeValue(value)}`);
  }
}

function checkInterval(value: unknown, path: KeyPath, report: Reporter): void {
  if (typeof value !== 'number' && typeof value !== 'string') return; // the schema reported it
  const seconds = parseInterval(value);
  if (seconds === null) {
    report.error(
      'invalid-interval',
      path,
      `must be seconds (a number), an ISO 8601 duration such as PT10M or P1D, or HH:MM:SS, got ${describeValue(value)}`,
    );
  } else if (!(seconds > 0)) {
    const shown = typeof value === 'number' ? String(value) : `${describeValue(value)} (${seconds} s)`;
    report.error('invalid-interval', path, `must be greater than 0 seconds, got ${shown}`);
  }
}

/** Check one schedule item: exactly one kind, and each value valid. */
export function checkScheduleItem(item: Record<string, unknown>, path: KeyPath, report: Reporter): void {
  if ('schedule' in item) return; // nested form: reported as an unknown schedule key by the schema
  const kinds = scheduleKinds(item);
  if (kinds.length !== 1) {
    const got = kinds.length === 0 ? 'none of them' : kinds.join(' and ');
    report.error('invalid-schedule', path, `Exactly one of 'cron', 'interval', or 'rrule' must be provided, got ${got}`);
  }
  const kind = kinds.length === 1 ? kinds[0] : undefined;

  const cron = item['cron'];
  if (typeof cron === 'string') {
    const problem = validateCron(cron);
    if (problem) {
      const code = problem.startsWith('Random and Hashed') ? 'unsupported-cron' : 'invalid-cron';
      report.error(code, [...path, 'cron'], problem);
    }
  }
  if ('interval' in item && item['interval'] !== null) checkInterval(item['interval'], [...path, 'interval'], report);
  const rrule = item['rrule'];
  if (typeof rrule === 'string') {
    const problem = validateRRule(rrule);
    if (problem) report.error('invalid-rrule', [...path, 'rrule'], problem);
  }

  const tz = item['timezone'];
  if (typeof tz === 'string' && tz.trim() !== '') {
    const problem = timezoneProblem(tz);
    if (problem) report.error('invalid-timezone', [...path, 'timezone'], problem);
  }

  const anchor = item['anchor_date'];
  if (anchor !== undefined && anchor !== null) {
    if ((typeof anchor === 'string' || anchor instanceof Date) && anchorToIso(anchor) === null) {
      report.error(
        'invalid-anchor-date',
        [...path, 'anchor_date'],
        `Invalid anchor_date ${describeValue(anchor)}: expected ISO 8601 such as 2025-01-01T09:00:00Z (no offset means UTC)`,
      );
    } else if (kind !== undefined && kind !== 'interval') {
      report.warning('ignored-key', [...path, 'anchor_date'], `anchor_date only applies to interval schedules; it is ignored for ${kind}`, 'key');
    }
  }
  if (item['day_or'] !== undefined && item['day_or'] !== null && kind !== undefined && kind !== 'cron') {
    report.warning('ignored-key', [...path, 'day_or'], `day_or only applies to cron schedules; it is ignored for ${kind}`, 'key');
  }
  checkBoolish(item, 'active', path, report);
  checkBoolish(item, 'day_or', path, report);
}

/** Check a deployment's `schedule` (legacy) and `schedules`. */
export function checkScheduleSection(dep: Record<string, unknown>, path: KeyPath, report: Reporter): void {
  const legacy = dep['schedule'];
  const list = dep['schedules'];
  if (isNonEmptySchedule(legacy) && Array.isArray(list) && list.length > 0) {
    report.error(
      'schedule-and-schedules',
      [...path, 'schedule'],
      "Both 'schedule' and 'schedules' keys are present in the deployment configuration; use only `schedules` " +
        '(move this schedule into the schedules list, or set schedule: null)',
      'key',
    );
  }
  if (isNonEmptySchedule(legacy)) checkScheduleItem(legacy, [...path, 'schedule'], report);
  if (Array.isArray(list)) {
    list.forEach((item: unknown, i) => {
      if (isRecord(item)) checkScheduleItem(item, [...path, 'schedules', i], report);
    });
  }
}
