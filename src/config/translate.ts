/**
 * Validated prefect.yaml -> DeploymentSpec, as `prefect deploy` translates it
 * (reference/prefect-semantics.md §1.3, §2.1), with DESIGN §3.1's differences.
 * Pure: the flow names (read from the entrypoint files) are passed in. Only call
 * this on a document without errors.
 */
import type {
  ConcurrencyOptions,
  DeploymentScheduleSpec,
  DeploymentSpec,
  ScheduleSpec,
} from '../domain/types.js';
import { isRecord, type KeyPath } from './paths.js';
import { isNonEmptySchedule, scheduleKinds } from './schedule-rules.js';
import { anchorToIso, parseBoolish, parseInterval } from './values.js';

export interface TranslateContext {
  /** Flow name of the deployment at each index. */
  flowName: (index: number) => string;
  /** The scalar as written (so `version: 1.0` stays "1.0"); optional. */
  sourceOf?: (path: KeyPath) => string | undefined;
}

const asRecord = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});
const strOrNull = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function positiveInt(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') return Number.parseInt(v.trim(), 10);
  return null;
}

/** int -> {limit, null}; mapping -> {limit, {collision_strategy (ENQUEUE default), grace?}}. */
export function translateConcurrency(value: unknown): {
  concurrency_limit: number | null;
  concurrency_options: ConcurrencyOptions | null;
} {
  if (!isRecord(value)) return { concurrency_limit: positiveInt(value), concurrency_options: null };
  const limit = positiveInt(value['limit']);
  if (limit === null) return { concurrency_limit: null, concurrency_options: null };
  const strategy = value['collision_strategy'] === 'CANCEL_NEW' ? 'CANCEL_NEW' : 'ENQUEUE';
  const options: ConcurrencyOptions = { collision_strategy: strategy };
  const grace = value['grace_period_seconds'];
  if (typeof grace === 'number') options.grace_period_seconds = grace;
  return { concurrency_limit: limit, concurrency_options: options };
}

function timezoneOf(item: Record<string, unknown>): string | null {
  const tz = item['timezone'];
  return typeof tz === 'string' && tz.trim() !== '' ? tz.trim() : null;
}

/** One schedule item -> {schedule, active, parameters, slug}. */
export function translateSchedule(item: Record<string, unknown>): DeploymentScheduleSpec {
  const kind = scheduleKinds(item)[0];
  const timezone = timezoneOf(item);
  let schedule: ScheduleSpec;
  if (kind === 'cron') {
    schedule = {
      cron: String(item['cron']).trim(),
      timezone,
      day_or: parseBoolish(item['day_or']) ?? true,
    };
  } else if (kind === 'interval') {
    const anchor = item['anchor_date'];
    const iso = anchor === undefined || anchor === null ? null : anchorToIso(anchor);
    schedule = {
      interval: parseInterval(item['interval']) ?? 0,
      ...(iso !== null ? { anchor_date: iso } : {}),
      timezone,
    };
  } else {
    schedule = { rrule: String(item['rrule']).trim(), timezone };
  }
  return {
    schedule,
    active: parseBoolish(item['active']) ?? true,
    parameters: { ...asRecord(item['parameters']) },
    slug: strOrNull(item['slug']),
  };
}

/** `schedules` when non-empty, else the legacy `schedule` when non-empty, else none. */
export function scheduleItems(dep: Record<string, unknown>): Record<string, unknown>[] {
  const list = dep['schedules'];
  if (Array.isArray(list) && list.length > 0) return list.filter(isRecord);
  const legacy = dep['schedule'];
  return isNonEmptySchedule(legacy) ? [legacy] : [];
}

function versionOf(dep: Record<string, unknown>, index: number, ctx: TranslateContext): string | null {
  const v = dep['version'];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return ctx.sourceOf?.(['deployments', index, 'version']) ?? String(v);
  return null;
}

function tagsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.map(String);
  return [];
}

/** One deployment mapping -> DeploymentSpec. */
export function translateDeployment(
  dep: Record<string, unknown>,
  index: number,
  ctx: TranslateContext,
): DeploymentSpec {
  const name = String(dep['name']);
  const flowName = ctx.flowName(index);
  const pool = asRecord(dep['work_pool']);
  const { concurrency_limit, concurrency_options } = translateConcurrency(dep['concurrency_limit']);
  return {
    name,
    flow_name: flowName,
    full_name: `${flowName}/${name}`,
    entrypoint: String(dep['entrypoint']).trim(),
    description: strOrNull(dep['description']),
    version: versionOf(dep, index, ctx),
    tags: tagsOf(dep['tags']),
    parameters: { ...asRecord(dep['parameters']) },
    work_pool_name: String(pool['name']),
    work_queue_name: strOrNull(pool['work_queue_name']),
    job_variables: { ...asRecord(pool['job_variables']) },
    concurrency_limit,
    concurrency_options,
    paused: parseBoolish(dep['paused']) ?? false,
    enforce_parameter_schema: parseBoolish(dep['enforce_parameter_schema']) ?? true,
    schedules: scheduleItems(dep).map(translateSchedule),
  };
}

/** Translate the deployments at `indexes` (default: all) of a document without errors. */
export function translateDocument(
  data: Record<string, unknown>,
  ctx: TranslateContext,
  indexes?: readonly number[],
): DeploymentSpec[] {
  const deployments = Array.isArray(data['deployments']) ? (data['deployments'] as unknown[]) : [];
  const wanted = indexes ?? deployments.map((_, i) => i);
  return wanted.map((i) => translateDeployment(asRecord(deployments[i]), i, ctx));
}
