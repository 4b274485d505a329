/**
 * Time-zone helpers for schedule computation (pure; no clock access).
 *
 * Schedules work with two kinds of millisecond numbers:
 * - an *instant*: ordinary epoch milliseconds;
 * - a *wall time* ("naive"): the local calendar date and clock time in some zone,
 *   encoded as if it were UTC (`Date.UTC(y, m, d, h, mi, s, ms)`), so plain
 *   arithmetic on it is calendar arithmetic with no DST at all.
 *
 * Conversions between the two go through luxon's IANA zone data. We do the
 * wall -> instant step ourselves because luxon resolves an ambiguous (fall-back)
 * wall time to the *later* occurrence, while schedules need the first one, and
 * skipped (spring-forward) times must move to the first valid instant.
 */
import { IANAZone } from 'luxon';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

const zoneCache = new Map<string, IANAZone>();

/** The IANA zone for a schedule's timezone (null -> UTC). Throws RangeError on an unknown name. */
export function scheduleZone(name: string | null | undefined): IANAZone {
  const key = name ?? 'UTC';
  let zone = zoneCache.get(key);
  if (!zone) {
    zone = IANAZone.create(key);
    if (!zone.isValid) {
      throw new RangeError(
        `Invalid timezone: "${key}" (specify in IANA tzdata format, for example, America/New_York)`,
      );
    }
    zoneCache.set(key, zone);
  }
  return zone;
}

/** True when `name` is a valid IANA zone name luxon (and the platform's Intl) knows. */
export function isValidTimezone(name: string): boolean {
  return IANAZone.isValidZone(name);
}

/** Offset of `zone` from UTC at `instantMs`, in milliseconds. */
export function offsetMs(zone: IANAZone, instantMs: number): number {
  return zone.offset(instantMs) * MINUTE_MS;
}

/** The wall time (naive ms) at `instantMs` in `zone`. */
export function wallOf(zone: IANAZone, instantMs: number): number {
  return instantMs + offsetMs(zone, instantMs);
}

/**
 * The instant at which `zone` shows wall time `wallMs`.
 * - Ambiguous (fall-back) wall times resolve to the FIRST occurrence.
 * - Nonexistent (spring-forward) wall times move to the first valid instant after
 *   the gap, i.e. the transition itself (02:30 on a 02:00->03:00 night -> 03:00).
 *   One rule for every schedule kind; it keeps the wall -> instant mapping
 *   monotonic, so generated times stay ascending.
 */
export function instantOf(zone: IANAZone, wallMs: number): number {
  // Offsets in force near the wall time. A wall time W corresponds to an instant
  // within [W - 14h, W + 12h], so offsets sampled a little around W cover it.
  const candidates = new Set<number>([
    offsetMs(zone, wallMs - 15 * HOUR_MS),
    offsetMs(zone, wallMs),
    offsetMs(zone, wallMs + 15 * HOUR_MS),
  ]);
  let best: number | undefined;
  for (const off of candidates) {
    const t = wallMs - off;
    if (offsetMs(zone, t) === off && (best === undefined || t < best)) best = t;
  }
  if (best !== undefined) return best;

  // In a gap: the offset before the transition is smaller than the one after.
  const before = offsetMs(zone, wallMs - 15 * HOUR_MS);
  const after = offsetMs(zone, wallMs + 15 * HOUR_MS);
  // The transition T is the first instant whose wall time is >= wallMs; it lies
  // in [wall - larger offset, wall - smaller offset]. Binary search to the ms.
  let lo = wallMs - Math.max(before, after);
  let hi = wallMs - Math.min(before, after);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallOf(zone, mid) >= wallMs) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Parse an anchor date: ISO 8601 with an offset or Z, or naive (which means UTC),
 * or a date alone (midnight UTC). Returns epoch ms; throws RangeError when invalid.
 */
export function parseAnchorDate(iso: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/.exec(
    iso.trim(),
  );
  if (!m) throw new RangeError(`Invalid anchor_date: "${iso}"`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', tz] = m;
  const ms = Math.round(Number(`0.${frac || '0'}`) * 1000);
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  const check = new Date(wall);
  if (
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(s) > 59
  ) {
    throw new RangeError(`Invalid anchor_date: "${iso}"`);
  }
  if (!tz || tz === 'Z' || tz === 'z') return wall;
  const sign = tz.startsWith('-') ? -1 : 1;
  const digits = tz.slice(1).replace(':', '');
  const offMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
  return wall - sign * offMin * MINUTE_MS;
}
