/**
 * RRule schedules (RFC 5545 via the `rrule` package), pure.
 *
 * rrule.js is used in "floating" mode only: every date it sees or returns is a
 * wall time encoded as UTC (see schedule-tz.ts), and we turn wall times into
 * instants ourselves. That gives Prefect's relabel semantics (a 9am daily rule
 * keeps 9am local across DST) without depending on rrule.js's own TZID handling.
 *
 * Zone: the schedule's timezone; when it is null, the DTSTART's TZID if any,
 * else UTC. DTSTART, UNTIL, RDATE and EXDATE wall times are read in that zone
 * (a DTSTART written with Z or another TZID is relabelled, as Prefect does).
 * A missing DTSTART means 2020-01-01T00:00:00 in that zone.
 */
import rrulePkg from 'rrule';
import type { IANAZone } from 'luxon';
import { HOUR_MS, instantOf, offsetMs, wallOf } from './schedule-tz.js';

const { RRule, RRuleSet, rrulestr } = rrulePkg;
type RRuleT = InstanceType<typeof RRule>;
type RRuleSetT = InstanceType<typeof RRuleSet>;

export const MAX_RRULE_LENGTH = 6500;
/** Prefect's DTSTART when the rule has none: 2020-01-01T00:00:00 local. */
export const DEFAULT_RRULE_DTSTART_WALL = Date.UTC(2020, 0, 1);

/** The TZID of the DTSTART line, if any. */
export function rruleDtstartTzid(text: string): string | null {
  const m = /DTSTART;[^:\n]*TZID=([^;:\n]+)/i.exec(text);
  return m ? m[1]!.trim() : null;
}

function hasDtstart(text: string): boolean {
  return /(^|\n)\s*DTSTART[;:]/i.test(text);
}

/** null when `text` is a valid rrule string, else the reason (Prefect's wording). */
export function validateRRule(text: string): string | null {
  if (text.length > MAX_RRULE_LENGTH) return `Max length is ${MAX_RRULE_LENGTH}, got ${text.length}`;
  try {
    const set = parseFloating(text);
    if (set.rrules().length === 0 && set.rdates().length === 0) {
      return `Invalid RRule string "${text}": no RRULE or RDATE`;
    }
    return null;
  } catch (err) {
    return `Invalid RRule string "${text}": ${(err as Error).message}`;
  }
}

/** Milliseconds of one period for the uniformly spaced frequencies (none for monthly/yearly). */
function periodMs(rule: RRuleT): number | null {
  const o = rule.origOptions;
  const unit: Record<number, number> = {
    [RRule.WEEKLY]: 7 * 24 * HOUR_MS,
    [RRule.DAILY]: 24 * HOUR_MS,
    [RRule.HOURLY]: HOUR_MS,
    [RRule.MINUTELY]: 60_000,
    [RRule.SECONDLY]: 1000,
  };
  const base = o.freq === undefined ? undefined : unit[o.freq];
  return base === undefined ? null : base * (o.interval ?? 1);
}

/**
 * Parse into a floating RRuleSet. With `fromWall`, rules without COUNT whose
 * frequency is uniform in wall time (weekly and finer) get their DTSTART moved
 * forward by whole periods to just before `fromWall`: the same occurrences,
 * without iterating (for example) every minute since 2020.
 */
function parseFloating(text: string, fromWall?: number): RRuleSetT {
  if (text.trim() === '') throw new Error('empty rule');
  const parsed = rrulestr(text, { forceset: true }) as RRuleSetT;
  const dtstartGiven = hasDtstart(text);
  const set = new RRuleSet();
  for (const r of parsed.rrules()) {
    const given = r.origOptions.dtstart;
    let dtstart = dtstartGiven && given ? given.getTime() : DEFAULT_RRULE_DTSTART_WALL;
    const period = periodMs(r);
    if (fromWall !== undefined && period !== null && r.origOptions.count == null && fromWall > dtstart) {
      dtstart += Math.floor((fromWall - dtstart) / period) * period;
    }
    set.rrule(new RRule({ ...r.origOptions, tzid: null, dtstart: new Date(dtstart) }));
  }
  for (const r of parsed.exrules()) {
    const given = r.origOptions.dtstart;
    const dtstart = dtstartGiven && given ? given : new Date(DEFAULT_RRULE_DTSTART_WALL);
    set.exrule(new RRule({ ...r.origOptions, tzid: null, dtstart }));
  }
  for (const d of parsed.rdates()) set.rdate(d);
  for (const d of parsed.exdates()) set.exdate(d);
  return set;
}

/** RRule instants in `zone`, ascending and deduped, >= startMs and <= endMs, at most n. */
export function rruleTimes(text: string, zone: IANAZone, startMs: number, endMs: number, n: number): number[] {
  if (n <= 0) return [];
  // As for cron: a wall time before wall(start) may map to >= start just after a transition.
  const margin = offsetMs(zone, startMs - 3 * HOUR_MS) === offsetMs(zone, startMs) ? 0 : 3 * HOUR_MS;
  const fromWall = wallOf(zone, startMs) - margin;
  const toWall = Number.isFinite(endMs) ? wallOf(zone, endMs) + 3 * HOUR_MS : Date.UTC(9999, 0, 1);
  if (toWall < fromWall) return [];
  const set = parseFloating(text, fromWall);
  const out: number[] = [];
  let done = false;
  set.between(new Date(fromWall), new Date(toWall), true, (d: Date) => {
    if (done) return false;
    const instant = instantOf(zone, d.getTime());
    if (instant > endMs) {
      done = true;
      return false;
    }
    if (instant >= startMs && (out.length === 0 || instant > out[out.length - 1]!)) out.push(instant);
    if (out.length >= n) done = true;
    return !done;
  });
  return out;
}
