// Cron schedule times: wall-clock semantics in the schedule's zone.
// Expected values: reference/prefect-semantics.md §2.5 and §8 items 21-23; DESIGN §3.2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DateTime } from 'luxon';
import { nextScheduleTimes, validateCron, validateSchedule } from '../../src/domain/schedules.js';
import type { ScheduleSpec } from '../../src/domain/types.js';

const NY = 'America/New_York';
const H = 3_600_000;

function local(zone: string, y: number, mo: number, d: number, h = 0, mi = 0): number {
  return DateTime.fromObject({ year: y, month: mo, day: d, hour: h, minute: mi }, { zone }).toMillis();
}
const localHours = (ts: number[], zone: string) => ts.map((t) => DateTime.fromMillis(t, { zone }).hour);
const utcHours = (ts: number[]) => ts.map((t) => new Date(t).getUTCHours());
const fmt = (ts: number[], zone: string) => ts.map((t) => DateTime.fromMillis(t, { zone }).toFormat('ccc dd HH:mm'));
const cron = (expr: string, timezone: string | null = NY, day_or?: boolean): ScheduleSpec =>
  day_or === undefined ? { cron: expr, timezone } : { cron: expr, timezone, day_or };

test('hourly cron across spring-forward 2018: the skipped 02:00 merges into 03:00 (item 21)', () => {
  const times = nextScheduleTimes(cron('0 * * * *'), { startMs: local(NY, 2018, 3, 10, 23), n: 5 });
  assert.deepEqual(localHours(times, NY), [23, 0, 1, 3, 4]);
  assert.deepEqual(utcHours(times), [4, 5, 6, 7, 8]);
});

test('hourly cron across fall-back 2018: the repeated 01:00 fires once (item 21)', () => {
  const times = nextScheduleTimes(cron('0 * * * *'), { startMs: local(NY, 2018, 11, 3, 23), n: 5 });
  assert.deepEqual(localHours(times, NY), [23, 0, 1, 2, 3]);
  assert.deepEqual(utcHours(times), [3, 4, 5, 7, 8]);
});

test('cron 10 0 * * * in America/Montreal across spring-forward 2023 (item 22)', () => {
  const times = nextScheduleTimes(cron('10 0 * * *', 'America/Montreal'), {
    startMs: Date.parse('2023-03-12T05:10:02Z'),
    n: 5,
  });
  assert.equal(times.length, 5);
  for (const t of times) {
    const d = DateTime.fromMillis(t, { zone: 'America/Montreal' });
    assert.equal(d.toFormat('HH:mm'), '00:10');
    assert.equal(new Date(t).toISOString().slice(11, 16), '04:10');
  }
  assert.equal(new Date(times[0]!).toISOString(), '2023-03-13T04:10:00.000Z');
});

test('daily 09:00 cron keeps 09:00 local through both changes', () => {
  const times = nextScheduleTimes(cron('0 9 * * *'), { startMs: local(NY, 2018, 3, 9), n: 4 });
  assert.deepEqual(localHours(times, NY), [9, 9, 9, 9]);
  assert.deepEqual(utcHours(times), [14, 14, 13, 13]);
  const fall = nextScheduleTimes(cron('0 9 * * *'), { startMs: local(NY, 2018, 11, 3), n: 3 });
  assert.deepEqual(utcHours(fall), [13, 14, 14]);
});

test('a time skipped by spring-forward moves to the first valid instant, deduped', () => {
  const daily = nextScheduleTimes(cron('30 2 * * *'), { startMs: local(NY, 2018, 3, 10), n: 3 });
  assert.deepEqual(daily, [local(NY, 2018, 3, 10, 2, 30), local(NY, 2018, 3, 11, 3, 0), local(NY, 2018, 3, 12, 2, 30)]);
  const quarter = nextScheduleTimes(cron('*/15 * * * *'), { startMs: local(NY, 2018, 3, 11, 1, 45), n: 3 });
  assert.deepEqual(fmt(quarter, NY), ['Sun 11 01:45', 'Sun 11 03:00', 'Sun 11 03:15']);
  // Starting exactly at the transition still yields the moved tick.
  const atGap = nextScheduleTimes(cron('30 2 * * *'), { startMs: local(NY, 2018, 3, 11, 3, 0), n: 1 });
  assert.deepEqual(atGap, [local(NY, 2018, 3, 11, 3, 0)]);
});

test('a repeated (fall-back) half hour fires once, at the first occurrence', () => {
  const start = local(NY, 2018, 11, 4, 0, 30);
  const times = nextScheduleTimes(cron('*/30 * * * *'), { startMs: start, n: 5 });
  assert.deepEqual(
    times.map((t) => new Date(t).toISOString().slice(11, 16)),
    ['04:30', '05:00', '05:30', '07:00', '07:30'],
  );
  // Starting during the second 01:xx does not fire 01:xx again.
  const second = Date.parse('2018-11-04T06:10:00Z'); // 01:10 EST
  assert.deepEqual(nextScheduleTimes(cron('0 * * * *'), { startMs: second, n: 1 }), [Date.parse('2018-11-04T07:00:00Z')]);
});

test('day names, ranges over the week end, and month names', () => {
  const start = local(NY, 2024, 6, 3); // a Monday
  const weekend = nextScheduleTimes(cron('30 8 * * sat-sun'), { startMs: start, n: 4 });
  assert.deepEqual(fmt(weekend, NY), ['Sat 08 08:30', 'Sun 09 08:30', 'Sat 15 08:30', 'Sun 16 08:30']);
  const mwf = nextScheduleTimes(cron('0 12 * * mon,wed,fri'), { startMs: start, n: 4 });
  assert.deepEqual(fmt(mwf, NY), ['Mon 03 12:00', 'Wed 05 12:00', 'Fri 07 12:00', 'Mon 10 12:00']);
  const upper = nextScheduleTimes(cron('* * * * MON'), { startMs: local(NY, 2024, 6, 4), n: 1 });
  assert.deepEqual(fmt(upper, NY), ['Mon 10 00:00']);
  const months = nextScheduleTimes(cron('0 0 1 jan,jul *', null), { startMs: Date.UTC(2024, 1, 1), n: 3 });
  assert.deepEqual(months, [Date.UTC(2024, 6, 1), Date.UTC(2025, 0, 1), Date.UTC(2025, 6, 1)]);
  const sunday7 = nextScheduleTimes(cron('0 0 * * 7', null), { startMs: Date.UTC(2024, 5, 3), n: 1 });
  assert.deepEqual(sunday7, [Date.UTC(2024, 5, 9)]);
});

test('day_or: true = day-of-month OR day-of-week, false = AND', () => {
  const start = Date.UTC(2024, 0, 1);
  const or = nextScheduleTimes(cron('0 0 13 * fri', null), { startMs: start, n: 4 });
  assert.deepEqual(or.map((t) => new Date(t).toISOString().slice(0, 10)), ['2024-01-05', '2024-01-12', '2024-01-13', '2024-01-19']);
  const and = nextScheduleTimes(cron('0 0 13 * fri', null, false), { startMs: start, n: 3 });
  assert.deepEqual(and.map((t) => new Date(t).toISOString().slice(0, 10)), ['2024-09-13', '2024-12-13', '2025-06-13']);
  // Only one of the two restricted: that one alone applies, whatever day_or says.
  const domOnly = nextScheduleTimes(cron('0 0 13 * *', null), { startMs: start, n: 1 });
  assert.deepEqual(domOnly, [Date.UTC(2024, 0, 13)]);
});

test('macros, L and # forms', () => {
  const start = Date.UTC(2024, 0, 10, 10, 30);
  const first = (expr: string) => new Date(nextScheduleTimes(cron(expr, null), { startMs: start })[0]!).toISOString();
  assert.equal(first('@daily'), '2024-01-11T00:00:00.000Z');
  assert.equal(first('@midnight'), '2024-01-11T00:00:00.000Z');
  assert.equal(first('@hourly'), '2024-01-10T11:00:00.000Z');
  assert.equal(first('@weekly'), '2024-01-14T00:00:00.000Z');
  assert.equal(first('@monthly'), '2024-02-01T00:00:00.000Z');
  assert.equal(first('@yearly'), '2025-01-01T00:00:00.000Z');
  assert.equal(first('@annually'), '2025-01-01T00:00:00.000Z');
  assert.equal(first('0 0 L 2 *'), '2024-02-29T00:00:00.000Z');
  assert.equal(first('0 0 * * fri#2'), '2024-01-12T00:00:00.000Z');
  assert.equal(first('0 0 * * fri#1'), '2024-02-02T00:00:00.000Z');
  assert.equal(first('0 0 * * 5L'), '2024-01-26T00:00:00.000Z');
  assert.equal(first('15-45/15 22-2 * * *'), '2024-01-10T22:15:00.000Z');
  const daily = nextScheduleTimes(cron('@daily'), { startMs: local(NY, 2018, 3, 10), n: 3 });
  assert.deepEqual(localHours(daily, NY), [0, 0, 0]);
});

test('start and end inclusive, deduped ascending output, null timezone = UTC', () => {
  const start = Date.UTC(2024, 0, 1, 0, 5);
  assert.deepEqual(nextScheduleTimes(cron('*/5 * * * *', null), { startMs: start, endMs: start + 600_000 }), [
    start,
    start + 300_000,
    start + 600_000,
  ]);
  assert.deepEqual(nextScheduleTimes(cron('*/5 * * * *', null), { startMs: start + 1 }), [start + 300_000]);
  const many = nextScheduleTimes(cron('* * * * *', NY), { startMs: local(NY, 2018, 3, 11, 1), endMs: local(NY, 2018, 3, 11, 4) });
  assert.equal(many.length, 121); // 01:00-01:59, 03:00 (= all the 02:xx ticks), 03:01-04:00
  for (let i = 1; i < many.length; i++) assert.ok(many[i]! > many[i - 1]!);
});

test('performance: 100 runs of * * * * * are quick; impossible expressions return [] quickly', () => {
  let t0 = performance.now();
  const runs = nextScheduleTimes(cron('* * * * *'), { startMs: Date.UTC(2026, 0, 1), n: 100 });
  assert.equal(runs.length, 100);
  assert.equal(runs[99]! - runs[0]!, 99 * 60_000);
  assert.ok(performance.now() - t0 < 200, '100 minutely runs');
  t0 = performance.now();
  assert.deepEqual(nextScheduleTimes(cron('0 0 31 2 *'), { startMs: Date.UTC(2026, 0, 1), n: 100 }), []);
  assert.deepEqual(nextScheduleTimes(cron('0 0 30 2 *'), { startMs: 0, endMs: Date.UTC(2100, 0, 1) }), []);
  assert.ok(performance.now() - t0 < 500, 'impossible expressions');
  const leapMonday = nextScheduleTimes(cron('0 0 29 2 mon', null, false), { startMs: Date.UTC(2017, 0, 1), n: 1 });
  assert.deepEqual(leapMonday, [Date.UTC(2044, 1, 29)]);
  const hourly = nextScheduleTimes(cron('0 * * * *'), { startMs: Date.UTC(2026, 0, 1), endMs: Date.UTC(2026, 0, 1) + 100 * 24 * H });
  assert.equal(hourly.length, 1000); // n defaults to 1000 with an end
});

test('validateCron (item 23)', () => {
  assert.match(validateCron('invalid cron') ?? '', /^Invalid cron string: "invalid cron"/);
  assert.equal(validateCron('5 4 R * *'), 'Random and Hashed expressions are unsupported, received: "5 4 R * *"');
  assert.match(validateCron('H * * * *') ?? '', /Random and Hashed/);
  for (const ok of ['@yearly', '@weekly', '@daily', '@hourly', '* * * * MON', '30 8 * * sat-sun', '* * * * mon,wed,fri', '0 0 * mar thu', '0 3 * * *']) {
    assert.equal(validateCron(ok), null, ok);
  }
  for (const bad of ['60 * * * *', '* 24 * * *', '* * 0 * *', '* * * 13 *', '* * * * 8', '*/0 * * * *', '* * * * * *', '@reboot', '1,,2 * * * *', 'x * * * *']) {
    assert.notEqual(validateCron(bad), null, bad);
  }
  assert.match(validateSchedule({ cron: '0 3 * * *', timezone: 'fake' }) ?? '', /Invalid timezone: "fake"/);
  assert.equal(validateSchedule({ cron: '0 3 * * *', timezone: 'UTC', day_or: true }), null);
  assert.throws(() => nextScheduleTimes(cron('61 * * * *'), { startMs: 0 }), RangeError);
});
