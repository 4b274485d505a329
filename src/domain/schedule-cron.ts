/**
 * A small cron matcher over local wall-clock time (pure).
 *
 * Why our own rather than cron-parser: the semantics we need are defined on the
 * *wall clock* of the schedule's zone (Prefect's croniter-on-naive-local-time
 * approach): find the next matching local minute, then turn it into an instant,
 * with spring-forward times moved to the first valid instant and fall-back
 * times fired once at their first occurrence. Matching on naive wall times
 * (encoded as UTC ms, see schedule-tz.ts) makes that exact and easy to bound.
 *
 * Syntax: 5 fields (minute hour day-of-month month day-of-week), each a list of
 * `*`, `?` (DOM/DOW), `n`, `a-b` (wrapping when a > b, e.g. `sat-sun`), with an
 * optional `/step` (`* /n`, `a-b/n`, `a/n` = a to max); month and weekday names
 * (`jan`, `mon`); DOW 0-7 (0 and 7 are Sunday); DOM `L` (last day of month);
 * DOW `n#k` (k-th weekday n of the month) and `nL` (last weekday n of the month).
 * Macros: @yearly @annually @monthly @weekly @daily @midnight @hourly.
 */
import type { IANAZone } from 'luxon';
import { DAY_MS, HOUR_MS, MINUTE_MS, instantOf, offsetMs, wallOf } from './schedule-tz.js';

export interface CronSpec {
  minutes: boolean[]; // 0..59
  hours: boolean[]; // 0..23
  doms: boolean[]; // 1..31 (index 0 unused)
  domLast: boolean; // `L`
  months: boolean[]; // 1..12 (index 0 unused)
  dows: boolean[]; // 0..6 (Sunday = 0)
  dowNth: Array<[weekday: number, nth: number]>; // `n#k`
  dowLast: number[]; // `nL`
  domRestricted: boolean;
  dowRestricted: boolean;
}

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};
const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldDef {
  name: string;
  min: number;
  max: number;
  names?: string[];
  namesBase?: number;
}
const FIELDS: FieldDef[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES, namesBase: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES, namesBase: 0 },
];

class CronSyntaxError extends Error {}

function parseValue(text: string, def: FieldDef): number {
  const lower = text.toLowerCase();
  const idx = def.names ? def.names.indexOf(lower) : -1;
  if (idx >= 0) return idx + (def.namesBase ?? 0);
  if (!/^\d+$/.test(text)) throw new CronSyntaxError(`"${text}" is not a valid ${def.name} value`);
  const n = Number(text);
  if (n < def.min || n > def.max) {
    throw new CronSyntaxError(`${def.name} value ${n} is out of range ${def.min}-${def.max}`);
  }
  return n;
}

/** Expand one field into the set of values it allows (plus the DOM/DOW extras). */
function parseField(text: string, def: FieldDef, spec: CronSpec, index: number): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    if (part === '') throw new CronSyntaxError(`empty list item in ${def.name} "${text}"`);
    if (index === 2 && /^l$/i.test(part)) {
      spec.domLast = true;
      continue;
    }
    if (index === 4) {
      const nth = /^(\w+)#(\d)$/.exec(part);
      if (nth) {
        const k = Number(nth[2]);
        if (k < 1 || k > 5) throw new CronSyntaxError(`"${part}": the occurrence must be 1-5`);
        spec.dowNth.push([parseValue(nth[1]!, def) % 7, k]);
        continue;
      }
      const last = /^(\w+)l$/i.exec(part);
      if (last && !def.names!.includes(part.toLowerCase())) {
        spec.dowLast.push(parseValue(last[1]!, def) % 7);
        continue;
      }
    }
    const [rangeText, stepText, extra] = part.split('/');
    if (extra !== undefined) throw new CronSyntaxError(`"${part}" has more than one "/"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) {
        throw new CronSyntaxError(`"${part}": the step must be a positive integer`);
      }
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (rangeText === '*' || (rangeText === '?' && (index === 2 || index === 4))) {
      from = def.min;
      to = index === 4 ? 6 : def.max;
    } else {
      const bounds = rangeText!.split('-');
      if (bounds.length > 2) throw new CronSyntaxError(`"${part}" is not a valid range`);
      from = parseValue(bounds[0]!, def);
      to = bounds.length === 2 ? parseValue(bounds[1]!, def) : stepText !== undefined ? (index === 4 ? 6 : def.max) : from;
    }
    // Walk from `from` to `to`, wrapping past max when from > to (e.g. sat-sun, 22-2).
    const span = from <= to ? to - from : def.max - from + 1 + (to - def.min);
    for (let i = 0; i <= span; i += step) {
      let v = from + i;
      if (v > def.max) v = v - def.max - 1 + def.min;
      out.push(v);
    }
  }
  return out;
}

function toMask(values: number[], size: number): boolean[] {
  const mask = new Array<boolean>(size).fill(false);
  for (const v of values) mask[v] = true;
  return mask;
}

/** Parse a cron expression. Throws an Error whose message says what is wrong. */
export function parseCron(expr: string): CronSpec {
  const trimmed = expr.trim();
  const source = trimmed.startsWith('@') ? MACROS[trimmed.toLowerCase()] : trimmed;
  if (source === undefined) {
    throw new Error(`Invalid cron string: "${expr}" (unknown macro; use one of ${Object.keys(MACROS).join(' ')})`);
  }
  const parts = source.split(/\s+/);
  if (parts.length !== 5) {
    throw new Error(`Invalid cron string: "${expr}" (expected 5 fields: minute hour day-of-month month day-of-week, got ${parts.length})`);
  }
  // croniter's R (random) and H (hashed) forms; month/day names such as fri or thu are fine.
  const tokens = parts.flatMap((p) => p.toLowerCase().split(/[,/#-]/));
  if (tokens.some((t) => !MONTH_NAMES.includes(t) && !DAY_NAMES.includes(t) && /[rh]/.test(t))) {
    throw new Error(`Random and Hashed expressions are unsupported, received: "${expr}"`);
  }
  const spec: CronSpec = {
    minutes: [], hours: [], doms: [], domLast: false, months: [], dows: [],
    dowNth: [], dowLast: [], domRestricted: parts[2] !== '*' && parts[2] !== '?',
    dowRestricted: parts[4] !== '*' && parts[4] !== '?',
  };
  try {
    const values = parts.map((p, i) => parseField(p, FIELDS[i]!, spec, i));
    spec.minutes = toMask(values[0]!, 60);
    spec.hours = toMask(values[1]!, 24);
    spec.doms = toMask(values[2]!, 32);
    spec.months = toMask(values[3]!, 13);
    spec.dows = toMask(values[4]!.map((v) => v % 7), 7);
  } catch (err) {
    if (err instanceof CronSyntaxError) throw new Error(`Invalid cron string: "${expr}" (${err.message})`);
    throw err;
  }
  return spec;
}

/** null when `expr` is a valid cron expression, else the reason (Prefect's wording first). */
export function validateCron(expr: string): string | null {
  try {
    parseCron(expr);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function daysInMonth(year: number, month0: number): number {
  return new Date(Date.UTC(year, month0 + 1, 0)).getUTCDate();
}

function dayMatches(spec: CronSpec, d: Date, dayOr: boolean): boolean {
  const dom = d.getUTCDate();
  const dim = daysInMonth(d.getUTCFullYear(), d.getUTCMonth());
  const domOk = spec.doms[dom] === true || (spec.domLast && dom === dim);
  const wd = d.getUTCDay();
  const dowOk =
    spec.dows[wd] === true ||
    spec.dowNth.some(([w, k]) => w === wd && Math.ceil(dom / 7) === k) ||
    spec.dowLast.some((w) => w === wd && dom + 7 > dim);
  if (spec.domRestricted && spec.dowRestricted) return dayOr ? domOk || dowOk : domOk && dowOk;
  if (spec.domRestricted) return domOk;
  if (spec.dowRestricted) return dowOk;
  return true;
}

function firstFrom(mask: boolean[], from: number): number {
  for (let i = from; i < mask.length; i++) if (mask[i]) return i;
  return -1;
}

/**
 * The first matching wall time (naive ms, whole minute) >= `fromWall`, or null
 * if there is none at or before `limitWall`. Skips whole months, days and hours
 * at a time, so an impossible expression costs ~one step per day of the bound.
 */
export function nextCronWall(spec: CronSpec, fromWall: number, limitWall: number, dayOr: boolean): number | null {
  let t = Math.ceil(fromWall / MINUTE_MS) * MINUTE_MS;
  while (t <= limitWall) {
    const d = new Date(t);
    const y = d.getUTCFullYear();
    const mo = d.getUTCMonth();
    if (!spec.months[mo + 1]) {
      t = Date.UTC(y, mo + 1, 1);
      continue;
    }
    if (!dayMatches(spec, d, dayOr)) {
      t = Date.UTC(y, mo, d.getUTCDate() + 1);
      continue;
    }
    const dayStart = Date.UTC(y, mo, d.getUTCDate());
    const h = firstFrom(spec.hours, d.getUTCHours());
    if (h < 0) {
      t = dayStart + DAY_MS;
      continue;
    }
    if (h > d.getUTCHours()) {
      t = dayStart + h * HOUR_MS;
      continue;
    }
    const m = firstFrom(spec.minutes, d.getUTCMinutes());
    if (m < 0) {
      t = dayStart + (h + 1) * HOUR_MS;
      continue;
    }
    return dayStart + h * HOUR_MS + m * MINUTE_MS;
  }
  return null;
}

/** How far ahead of the previous tick (or the start) we look before giving up. */
export const CRON_SEARCH_LIMIT_MS = 30 * 366 * DAY_MS;

/**
 * Cron instants in `zone`, ascending and deduped, >= startMs and <= endMs, at most n.
 * Wall-clock semantics: a tick inside a spring-forward gap moves to the first valid
 * instant (and is deduped with the real tick there); a tick in a repeated
 * (fall-back) hour fires once, at its first occurrence.
 */
export function cronTimes(
  spec: CronSpec,
  zone: IANAZone,
  dayOr: boolean,
  startMs: number,
  endMs: number,
  n: number,
): number[] {
  const out: number[] = [];
  // A tick whose wall time precedes wall(start) can still map to >= start when a
  // transition happened in the last few hours (gap ticks map to the transition).
  const margin = offsetMs(zone, startMs - 3 * HOUR_MS) === offsetMs(zone, startMs) ? 0 : 3 * HOUR_MS;
  let wall = wallOf(zone, startMs) - margin;
  const endWall = Number.isFinite(endMs) ? wallOf(zone, endMs) + 3 * HOUR_MS : Infinity;
  while (out.length < n) {
    const next = nextCronWall(spec, wall, Math.min(wall + CRON_SEARCH_LIMIT_MS, endWall), dayOr);
    if (next === null) break;
    const instant = instantOf(zone, next);
    if (instant > endMs) break;
    if (instant >= startMs && (out.length === 0 || instant > out[out.length - 1]!)) out.push(instant);
    wall = next + MINUTE_MS;
  }
  return out;
}
