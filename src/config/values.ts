/** Parsing of scalar values the way Prefect's pydantic models read them. */
import { isValidTimezone, parseAnchorDate } from '../domain/schedules.js';
import { closest } from './hints.js';

const NUM = '(\\d+(?:[.,]\\d+)?)';
const ISO_DURATION = new RegExp(
  `^([+-])?P(?!$)(?:${NUM}Y)?(?:${NUM}M)?(?:${NUM}W)?(?:${NUM}D)?(?:T(?=\\d)(?:${NUM}H)?(?:${NUM}M)?(?:${NUM}S)?)?$`,
  'i',
);
const CLOCK = /^([+-])?(?:(\d+)\s*(?:d|days?)\s*,?\s*)?(\d{1,2}):([0-5]\d):([0-5]\d(?:\.\d+)?)$/i;
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

const num = (s: string | undefined): number => (s === undefined ? 0 : Number(s.replace(',', '.')));

/**
 * Seconds of an interval: a number of seconds (fractional allowed), a numeric
 * string, an ISO 8601 duration (`PT10M`, `P1D`, `PT1H30M`; a year is 365 days
 * and a month 30, as pydantic reads them) or `[-][D days, ]H:MM:SS[.ffffff]`.
 * null when the value is in none of these forms. The sign is kept; the caller
 * checks it is > 0.
 */
export function parseInterval(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (NUMERIC.test(text)) return Number(text);
  const iso = ISO_DURATION.exec(text);
  if (iso) {
    const [, sign, y, mo, w, d, h, mi, s] = iso;
    const days = num(y) * 365 + num(mo) * 30 + num(w) * 7 + num(d);
    const total = days * 86400 + num(h) * 3600 + num(mi) * 60 + num(s);
    return sign === '-' ? -total : total;
  }
  const clock = CLOCK.exec(text);
  if (clock) {
    const [, sign, d, h, mi, s] = clock;
    const total = num(d) * 86400 + num(h) * 3600 + num(mi) * 60 + num(s);
    return sign === '-' ? -total : total;
  }
  return null;
}

const TRUE_WORDS = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const FALSE_WORDS = new Set(['0', 'off', 'f', 'false', 'n', 'no']);

/** A boolean, or a string pydantic reads as one (`"true"`, `"yes"`, `"off"`...); undefined otherwise. */
export function parseBoolish(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number' && (value === 0 || value === 1)) return value === 1;
  if (typeof value !== 'string') return undefined;
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

let zoneNames: string[] | null = null;
function knownZones(): string[] {
  zoneNames ??= [...Intl.supportedValuesOf('timeZone'), 'UTC', 'GMT', 'Etc/UTC', 'Etc/GMT'];
  return zoneNames;
}

/** null when `name` is a valid IANA zone name (exact case), else the reason. */
export function timezoneProblem(name: string): string | null {
  const base = `Invalid timezone: "${name}" (specify in IANA tzdata format, for example, America/New_York)`;
  const zones = knownZones();
  if (!isValidTimezone(name)) {
    const near = closest(name, zones, 3);
    return near ? `${base}; did you mean "${near}"?` : base;
  }
  if (!zones.includes(name)) {
    const sameButCase = zones.find((z) => z.toLowerCase() === name.toLowerCase());
    if (sameButCase) return `${base}; zone names are case-sensitive: did you mean "${sameButCase}"?`;
  }
  return null;
}

/**
 * An anchor date as an ISO 8601 UTC instant (`2025-09-09T08:06:20.632Z`).
 * Accepts ISO text with an offset or Z, naive text (which means UTC), a date
 * alone, and Date objects (YAML timestamps). null when it cannot be read.
 */
export function anchorToIso(value: unknown): string | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (typeof value !== 'string') return null;
  try {
    return new Date(parseAnchorDate(value)).toISOString();
  } catch {
    return null;
  }
}

/** "a mapping", "a list", "\"QUEUE\"", "0", "null". */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return `the date ${value.toISOString()}`;
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value);
  return String(value);
}
