// Interval and rrule schedule times, and the scheduler's "how many runs ahead" policy.
// Expected values: reference/prefect-semantics.md §2.4, §2.6, §2.7 and §8 items 16-20, 25,
// with DESIGN §3.2's deliberate difference (whole days never drift across DST).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import rrulePkg from 'rrule';
import {
  nextScheduleTimes,
  runsToSchedule,
  scheduleNeedsRuns,
  validateRRule,
  validateSchedule,
  SCHEDULER_DEFAULTS,
} from '../../src/domain/schedules.js';
import type { ScheduleSpec } from '../../src/domain/types.js';

const NY = 'America/New_York';
const H = 3_600_000;
const D = 24 * H;

/** Epoch ms of a (non-ambiguous) local wall time. */
function local(zone: string, y: number, mo: number, d: number, h = 0, mi = 0): number {
  return DateTime.fromObject({ year: y, month: mo, day: d, hour: h, minute: mi }, { zone }).toMillis();
}
const iso = (ms: number) => new Date(ms).toISOString();
const localHours = (ts: number[], zone: string) => ts.map((t) => DateTime.fromMillis(t, { zone }).hour);
const utcHours = (ts: number[]) => ts.map((t) => new Date(t).getUTCHours());
const every = (ms: number, n: number, first: number) => Array.from({ length: n }, (_, i) => first + i * ms);
const interval = (seconds: number, anchorMs: number, timezone: string | null = null): ScheduleSpec => ({
  interval: seconds,
  anchor_date: iso(anchorMs),
  timezone,
});

// ---------------------------------------------------------------- scheduler policy

test('scheduler counts with the anchor at now + 1 s (Prefect test_scheduler.py)', () => {
  const now = Date.UTC(2026, 4, 17, 12, 0, 0);
  const count = (seconds: number) => runsToSchedule(interval(seconds, now + 1000), { nowMs: now }).length;
  assert.equal(count(60), 61); // 1 + 60k >= 3600 first at k = 60
  assert.equal(count(3600), 3); // minimum of 3 runs
  assert.equal(count(300), 13); // 1 + 300k >= 3600 first at k = 12
  assert.equal(count(60 * 86_400), 2); // the third run (day 120) is beyond 100 days
  assert.equal(count(30 * 86_400), 3);
  assert.equal(count(1), 100); // max 100 runs even though 100 s < 1 h
});

test('scheduler runs are the first candidate times, starting at now inclusive', () => {
  const now = Date.UTC(2026, 0, 1);
  assert.deepEqual(runsToSchedule(interval(3600, now), { nowMs: now }), every(H, 3, now));
  assert.deepEqual(runsToSchedule(interval(3600, now), { nowMs: now, minRuns: 5 }), every(H, 5, now));
  const weekly = runsToSchedule({ cron: '0 9 * * 1', timezone: NY }, { nowMs: now });
  assert.equal(weekly.length, 3);
  const hourlyCron = runsToSchedule({ cron: '0 * * * *', timezone: null }, { nowMs: now + 1 });
  assert.deepEqual(hourlyCron, every(H, 3, now + H));
});

test('scheduleNeedsRuns: fewer than 3 future runs, or the last one under 1 h ahead', () => {
  const now = 1_000_000_000_000;
  assert.equal(scheduleNeedsRuns([], now), true);
  assert.equal(scheduleNeedsRuns([now + 2 * H, now + 3 * H], now), true);
  assert.equal(scheduleNeedsRuns([now + 60_000, now + 120_000, now + 180_000], now), true);
  assert.equal(scheduleNeedsRuns([now + 60_000, now + 120_000, now + H], now), false);
  assert.equal(SCHEDULER_DEFAULTS.maxRuns, 100);
});

// ---------------------------------------------------------------- intervals

test('daily interval with an old UTC anchor (item 16)', () => {
  const times = nextScheduleTimes(interval(86_400, Date.UTC(2020, 1, 2, 23, 35)), {
    startMs: Date.UTC(2021, 6, 1),
    n: 5,
  });
  assert.deepEqual(times, every(D, 5, Date.UTC(2021, 6, 1, 23, 35)));
});

test('17 h interval with a future anchor (item 17)', () => {
  const times = nextScheduleTimes(interval(17 * 3600, Date.UTC(2030, 1, 2, 5, 24)), {
    startMs: Date.UTC(2021, 6, 1),
    n: 5,
  });
  assert.deepEqual(times, every(17 * H, 5, Date.UTC(2021, 6, 1, 7, 24)));
});

test('hourly interval across both 2018 New York DST changes steps in exact hours (items 18, 19)', () => {
  const spring = local(NY, 2018, 3, 10, 23);
  const s = nextScheduleTimes(interval(3600, spring, NY), { startMs: spring, n: 5 });
  assert.deepEqual(localHours(s, NY), [23, 0, 1, 3, 4]);
  assert.deepEqual(utcHours(s), [4, 5, 6, 7, 8]);
  const fall = local(NY, 2018, 11, 3, 23);
  const f = nextScheduleTimes(interval(3600, fall, NY), { startMs: fall, n: 5 });
  assert.deepEqual(localHours(f, NY), [23, 0, 1, 1, 2]); // Python >= 3.13 behaviour
  assert.deepEqual(utcHours(f), [3, 4, 5, 6, 7]);
});

test('daily interval keeps 09:00 local across DST when start = anchor (item 20)', () => {
  const march = local(NY, 2018, 3, 8, 9);
  const m = nextScheduleTimes(interval(86_400, march, NY), { startMs: march, n: 5 });
  assert.deepEqual(localHours(m, NY), [9, 9, 9, 9, 9]);
  assert.deepEqual(utcHours(m), [14, 14, 14, 13, 13]);
  const nov = local(NY, 2018, 11, 1, 9);
  const f = nextScheduleTimes(interval(86_400, nov, NY), { startMs: nov, n: 5 });
  assert.deepEqual(localHours(f, NY), [9, 9, 9, 9, 9]);
  assert.deepEqual(utcHours(f), [13, 13, 13, 14, 14]);
});

test('daily interval keeps 09:00 local from an anchor months away on the other side of DST', () => {
  // Prefect gives 10:00 EDT and 08:00 EST here (§2.4 quirk); DESIGN §3.2 keeps 09:00.
  const winter = nextScheduleTimes(interval(86_400, local(NY, 2024, 1, 1, 9), NY), {
    startMs: Date.UTC(2024, 6, 1),
    n: 3,
  });
  assert.deepEqual(winter, [1, 2, 3].map((d) => local(NY, 2024, 7, d, 9)));
  assert.deepEqual(utcHours(winter), [13, 13, 13]);
  const summer = nextScheduleTimes(interval(86_400, local(NY, 2024, 7, 1, 9), NY), {
    startMs: Date.UTC(2024, 11, 1),
    n: 3,
  });
  assert.deepEqual(summer, [1, 2, 3].map((d) => local(NY, 2024, 12, d, 9)));
  assert.deepEqual(utcHours(summer), [14, 14, 14]);
  // Weekly, anchor in the future (before it): still 09:00 local.
  const weekly = nextScheduleTimes(interval(7 * 86_400, local(NY, 2030, 7, 1, 9), NY), {
    startMs: local(NY, 2029, 12, 1),
    n: 2,
  });
  assert.deepEqual(localHours(weekly, NY), [9, 9]);
});

test('mixed interval (1 day + 1 hour) is computed from the anchor: same ticks from any start', () => {
  const anchor = local(NY, 2024, 1, 1, 9);
  const schedule = interval(90_000, anchor, NY);
  const fromAnchor = nextScheduleTimes(schedule, { startMs: anchor, n: 200 });
  assert.equal(fromAnchor[1]! - fromAnchor[0]!, 25 * H);
  const later = nextScheduleTimes(schedule, { startMs: Date.UTC(2024, 2, 5), n: 20 });
  const i = fromAnchor.indexOf(later[0]!);
  assert.ok(i > 0);
  assert.deepEqual(later, fromAnchor.slice(i, i + 20));
  for (let k = 1; k < fromAnchor.length; k++) assert.ok(fromAnchor[k]! > fromAnchor[k - 1]!);
});

test('fractional intervals step in exact milliseconds', () => {
  const anchor = Date.UTC(2025, 0, 1);
  assert.deepEqual(nextScheduleTimes(interval(600.5, anchor), { startMs: anchor, n: 3 }), [
    anchor,
    anchor + 600_500,
    anchor + 1_201_000,
  ]);
  assert.deepEqual(nextScheduleTimes(interval(0.25, anchor), { startMs: anchor + 1, n: 3 }), [
    anchor + 250,
    anchor + 500,
    anchor + 750,
  ]);
});

test('start and end are inclusive; n defaults to 1, or 1000 with an end', () => {
  const anchor = Date.UTC(2025, 0, 1, 0, 0);
  const s = interval(600, anchor);
  assert.deepEqual(nextScheduleTimes(s, { startMs: anchor + 600_000 }), [anchor + 600_000]);
  assert.deepEqual(nextScheduleTimes(s, { startMs: anchor + 600_001 }), [anchor + 1_200_000]);
  assert.deepEqual(nextScheduleTimes(s, { startMs: anchor, endMs: anchor + 1_200_000 }), every(600_000, 3, anchor));
  assert.equal(nextScheduleTimes(s, { startMs: anchor, endMs: anchor + 100 * D }).length, 1000);
  assert.deepEqual(nextScheduleTimes(s, { startMs: anchor, endMs: anchor - 1 }), []);
});

test('sub-millisecond intervals are deduped after rounding to ms', () => {
  const anchor = Date.UTC(2025, 0, 1);
  const times = nextScheduleTimes(interval(0.0004, anchor), { startMs: anchor, n: 4 });
  assert.deepEqual(times, [anchor, anchor + 1, anchor + 2, anchor + 3]);
});

test('anchors: naive means UTC; absent uses anchorDefaultMs; bad input is rejected', () => {
  const start = Date.UTC(2025, 0, 1);
  const naive = nextScheduleTimes({ interval: 3600, anchor_date: '2020-01-01T00:30:00', timezone: NY }, { startMs: start });
  assert.deepEqual(naive, [Date.UTC(2025, 0, 1, 0, 30)]);
  const offset = nextScheduleTimes({ interval: 3600, anchor_date: '2020-01-01T00:10:00-05:00', timezone: null }, { startMs: start });
  assert.deepEqual(offset, [Date.UTC(2025, 0, 1, 0, 10)]);
  const dflt = nextScheduleTimes({ interval: 3600, timezone: null }, { startMs: start, anchorDefaultMs: start - 1000 });
  assert.deepEqual(dflt, [start + H - 1000]);
  assert.throws(() => nextScheduleTimes({ interval: 0, timezone: null }, { startMs: start }), /positive/);
  assert.throws(() => nextScheduleTimes({ interval: 60, timezone: 'fake' }, { startMs: start }), /Invalid timezone: "fake"/);
  assert.match(validateSchedule({ interval: -60, timezone: null }) ?? '', /positive/);
  assert.match(validateSchedule({ interval: 60, anchor_date: 'yesterday', timezone: null }) ?? '', /anchor_date/);
  assert.equal(validateSchedule({ interval: 60, anchor_date: '2040-02-02', timezone: NY }), null);
  assert.deepEqual(nextScheduleTimes({ timezone: null }, { startMs: start }), []);
});

// ---------------------------------------------------------------- rrule

test('rrule with DTSTART: 09:00 daily stays 09:00 local across spring-forward', () => {
  const s: ScheduleSpec = { rrule: 'DTSTART:20210312T090000\nRRULE:FREQ=DAILY;COUNT=10', timezone: NY };
  const times = nextScheduleTimes(s, { startMs: Date.UTC(2021, 0, 1), n: 4 });
  assert.deepEqual(localHours(times, NY), [9, 9, 9, 9]);
  assert.deepEqual(utcHours(times), [14, 14, 13, 13]);
  assert.equal(nextScheduleTimes(s, { startMs: Date.UTC(2021, 0, 1), n: 50 }).length, 10); // COUNT
});

test('rrule BYHOUR without DTSTART across fall-back (DTSTART defaults to 2020-01-01 local)', () => {
  const s: ScheduleSpec = { rrule: 'FREQ=DAILY;BYHOUR=9;BYMINUTE=0;BYSECOND=0', timezone: NY };
  const times = nextScheduleTimes(s, { startMs: local(NY, 2021, 11, 5), n: 4 });
  assert.deepEqual(times, [5, 6, 7, 8].map((d) => local(NY, 2021, 11, d, 9)));
  assert.deepEqual(utcHours(times), [13, 13, 14, 14]);
  const early = nextScheduleTimes({ rrule: 'FREQ=DAILY', timezone: NY }, { startMs: Date.UTC(2015, 0, 1) });
  assert.deepEqual(early, [local(NY, 2020, 1, 1)]);
});

test('rrule hourly across fall-back fires the repeated hour once', () => {
  const s: ScheduleSpec = { rrule: 'FREQ=HOURLY', timezone: NY };
  const times = nextScheduleTimes(s, { startMs: local(NY, 2021, 11, 6, 23), n: 5 });
  assert.deepEqual(localHours(times, NY), [23, 0, 1, 2, 3]);
  assert.deepEqual(utcHours(times), [3, 4, 5, 7, 8]);
});

test('rrule zones: DTSTART TZID used when timezone is null, relabelled when set', () => {
  const text = 'DTSTART;TZID=Europe/Paris:20210301T093000\nRRULE:FREQ=WEEKLY;BYDAY=MO';
  const paris = nextScheduleTimes({ rrule: text, timezone: null }, { startMs: Date.UTC(2021, 2, 20), n: 2 });
  assert.deepEqual(paris, [local('Europe/Paris', 2021, 3, 22, 9, 30), local('Europe/Paris', 2021, 3, 29, 9, 30)]);
  const ny = nextScheduleTimes({ rrule: text, timezone: NY }, { startMs: Date.UTC(2021, 2, 20), n: 1 });
  assert.deepEqual(ny, [local(NY, 2021, 3, 22, 9, 30)]);
});

test('rrule EXDATE and a DTSTART inside the spring-forward gap', () => {
  const s: ScheduleSpec = {
    rrule: 'DTSTART:20210312T023000\nRRULE:FREQ=DAILY;COUNT=4\nEXDATE:20210313T023000',
    timezone: NY,
  };
  const times = nextScheduleTimes(s, { startMs: Date.UTC(2021, 0, 1), n: 10 });
  assert.deepEqual(times, [local(NY, 2021, 3, 12, 2, 30), local(NY, 2021, 3, 14, 3, 0), local(NY, 2021, 3, 15, 2, 30)]);
});

test('rrule minutely far from DTSTART is fast and keeps its phase', () => {
  const start = Date.UTC(2026, 0, 1);
  const t0 = performance.now();
  const times = nextScheduleTimes({ rrule: 'FREQ=MINUTELY;INTERVAL=7', timezone: null }, { startMs: start, n: 100 });
  assert.ok(performance.now() - t0 < 500);
  // Same phase as iterating from DTSTART 2020-01-01T00:00Z: the first tick >= start on its 7-minute grid.
  assert.equal((times[0]! - Date.UTC(2020, 0, 1)) % (7 * 60_000), 0);
  assert.ok(times[0]! >= start && times[0]! < start + 7 * 60_000);
  // rrule.js itself agrees on a nearby DTSTART.
  const { RRule } = rrulePkg;
  const near = new RRule({ freq: RRule.MINUTELY, interval: 7, dtstart: new Date(times[0]! - 7 * 60_000 * 1000) });
  assert.equal(near.after(new Date(start), true)!.getTime(), times[0]);
  assert.deepEqual(times, every(7 * 60_000, 100, times[0]!));
});

test('validateRRule', () => {
  assert.equal(validateRRule('FREQ=DAILY;BYHOUR=9'), null);
  assert.match(validateRRule('not an rrule') ?? '', /^Invalid RRule string "not an rrule": /);
  assert.match(validateRRule('X'.repeat(6501)) ?? '', /Max length is 6500, got 6501/);
  assert.throws(() => nextScheduleTimes({ rrule: 'FREQ=BOGUS', timezone: null }, { startMs: 0 }), /Invalid RRule/);
});
