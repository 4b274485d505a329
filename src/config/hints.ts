/** Messages for keys Prefect does not know: where the key probably belongs. */
import type { KeyPath } from './paths.js';

export type KeyContext = 'top' | 'deployment' | 'schedule' | 'work_pool' | 'concurrency_limit' | 'other';

/** Keys Prefect 3 removed; using them is an error, not a warning. */
export const UNSUPPORTED_KEYS: Record<string, string> = {
  max_active_runs:
    'max_active_runs is not supported by Prefect 3 (it was removed in 2024); to run one at a time use ' +
    'concurrency_limit: {limit: 1, collision_strategy: ENQUEUE} (or CANCEL_NEW to skip overlapping runs)',
  catchup:
    'catchup is not supported by Prefect 3 (missed runs are not backfilled by a flag); to keep runs from ' +
    'piling up use concurrency_limit: {limit: 1, collision_strategy: CANCEL_NEW} (or ENQUEUE to queue them)',
};

const PLACES: Partial<Record<KeyContext, Record<string, string>>> = {
  top: {
    deployment: 'the top-level list is called deployments',
    schedules: 'schedules belong to a deployment (deployments[].schedules)',
    work_pool: 'work_pool belongs to a deployment (deployments[].work_pool)',
  },
  deployment: {
    concurrency_options:
      'to choose a collision strategy write concurrency_limit: {limit: N, collision_strategy: ENQUEUE | CANCEL_NEW}',
    collision_strategy: 'it belongs under concurrency_limit: {limit: N, collision_strategy: ...}',
    grace_period_seconds: 'it belongs under concurrency_limit: {limit: N, grace_period_seconds: ...}',
    limit: 'did you mean concurrency_limit?',
    job_variables: 'it belongs under work_pool: {name: ..., job_variables: {...}}',
    work_queue_name: 'it belongs under work_pool: {name: ..., work_queue_name: ...}',
    work_queue: 'use work_pool: {name: ..., work_queue_name: ...}',
    work_pool_name: 'use work_pool: {name: ...}',
    pool: 'use work_pool: {name: ...}',
    cron: 'it belongs in a schedule: schedules: [{cron: ...}]',
    interval: 'it belongs in a schedule: schedules: [{interval: ...}]',
    rrule: 'it belongs in a schedule: schedules: [{rrule: ...}]',
    timezone: 'it belongs in a schedule: schedules: [{cron: ..., timezone: ...}]',
    anchor_date: 'it belongs in a schedule: schedules: [{interval: ..., anchor_date: ...}]',
    params: 'did you mean parameters?',
    env: 'environment variables belong under work_pool.job_variables.env',
  },
  work_pool: {
    queue: 'did you mean work_queue_name?',
    work_queue: 'did you mean work_queue_name?',
    env: 'environment variables belong under job_variables.env',
    concurrency_limit: 'set a pool limit with `flowdeck work-pool set-concurrency-limit`',
  },
  schedule: {
    tz: 'did you mean timezone?',
    time_zone: 'did you mean timezone?',
    enabled: 'did you mean active?',
    schedule: 'write cron, interval or rrule directly in the schedule item, not under a nested schedule:',
    max_scheduled_runs: 'it is not accepted in this form by prefect deploy',
  },
  concurrency_limit: {
    strategy: 'did you mean collision_strategy?',
    grace_period: 'did you mean grace_period_seconds?',
    max: 'did you mean limit?',
  },
};

/** Levenshtein distance, small strings only. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** The closest candidate within a small edit distance, if any. */
export function closest(word: string, candidates: readonly string[], maxDistance = 2): string | null {
  let best: string | null = null;
  let bestD = maxDistance + 1;
  const lower = word.toLowerCase();
  for (const c of candidates) {
    // the distance is at least the difference in length: skip without the O(n*m) table (a huge value
    // compared with 600 time-zone names took seconds)
    if (Math.abs(c.length - lower.length) > maxDistance) continue;
    const d = distance(lower, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** Which kind of mapping a key path points at. */
export function contextOf(path: KeyPath): KeyContext {
  const n = path.length;
  if (n === 0) return 'top';
  if (n === 2 && path[0] === 'deployments') return 'deployment';
  const last = path[n - 1];
  if (path[0] !== 'deployments') return 'other';
  if (last === 'schedule' || (typeof last === 'number' && path[n - 2] === 'schedules')) return 'schedule';
  if (last === 'work_pool') return 'work_pool';
  if (last === 'concurrency_limit') return 'concurrency_limit';
  return 'other';
}

/** "unknown key "x" is ignored; <where it belongs>". */
export function unknownKeyMessage(key: string, context: KeyContext, known: readonly string[], ignored: boolean): string {
  const head = ignored ? `unknown key "${key}" is ignored` : `unknown key "${key}"`;
  const place = PLACES[context]?.[key];
  if (place) return `${head}; ${place}`;
  const near = closest(key, known);
  if (near) return `${head}; did you mean ${near}?`;
  return known.length > 0 ? `${head}; known keys here: ${known.join(', ')}` : head;
}
