import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codes, errors, runText, withSchedule } from './helpers.js';

test('cron expressions Prefect accepts are accepted (prefect-semantics §2.2)', () => {
  const accepted = [
    '@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly',
    '* * * * MON', '30 8 * * sat-sun', '* * * * mon,wed,fri', '0 4 * * *', '*/15 9-17 * * 1-5',
    '0 0 1 jan,jul *', '0 0 L * *', '0 12 * * 5#2', '0 0 * * 7', '0 12 ? * *', '5-55/10 * * * *',
  ];
  for (const cron of accepted) {
    const r = runText(withSchedule(`cron: "${cron}"`));
    assert.deepStrictEqual(errors(r), [], cron);
    assert.equal(r.deployments[0]!.schedules[0]!.schedule.cron, cron);
  }
});

test('random and hashed cron forms are refused with Prefect\'s message', () => {
  for (const cron of ['5 4 R * *', 'H * * * *', 'H/15 * * * *']) {
    const [e] = errors(runText(withSchedule(`cron: "${cron}"`)));
    assert.equal(e?.code, 'unsupported-cron', cron);
    assert.equal(e?.message, `Random and Hashed expressions are unsupported, received: "${cron}"`);
    assert.equal(e?.path, 'deployments[0].schedules[0].cron');
  }
});

test('invalid cron strings are refused at the cron value', () => {
  for (const cron of ['invalid cron', '61 * * * *', '* 24 * * *', '* * * *', '0 0 * * * *', '* * 32 * *', '@reboot', '*/0 * * * *']) {
    const r = runText(withSchedule(`cron: "${cron}"`));
    assert.deepStrictEqual(codes(errors(r)), ['invalid-cron'], cron);
    assert.match(errors(r)[0]!.message, /^Invalid cron string: /);
    assert.deepStrictEqual([errors(r)[0]!.line, errors(r)[0]!.col], [7, 15]);
  }
});

test('intervals of zero or less are refused in every form', () => {
  for (const interval of ['0', '-60', 'PT0S', '-PT1M', '"00:00:00"', '-0.5']) {
    const r = runText(withSchedule(`interval: ${interval}`));
    assert.deepStrictEqual(codes(errors(r)), ['invalid-interval'], interval);
    assert.match(errors(r)[0]!.message, /must be greater than 0 seconds/);
  }
});

test('interval schedules translate to seconds', () => {
  const r = runText(withSchedule('interval: PT1H30M\nanchor_date: 2040-02-02\ntimezone: America/New_York'));
  assert.deepStrictEqual(r.deployments[0]!.schedules, [
    {
      schedule: { interval: 5400, anchor_date: '2040-02-02T00:00:00.000Z', timezone: 'America/New_York' },
      active: true,
      parameters: {},
      slug: null,
    },
  ]);
});

test('an unknown time zone is refused', () => {
  const r = runText(withSchedule('cron: "0 3 * * *"\ntimezone: fake'));
  assert.deepStrictEqual(codes(errors(r)), ['invalid-timezone']);
  assert.equal(errors(r)[0]!.path, 'deployments[0].schedules[0].timezone');
});

test('rrule strings are checked with the rrule parser', () => {
  assert.deepStrictEqual(errors(runText(withSchedule('rrule: "FREQ=WEEKLY;BYDAY=MO,WE"'))), []);
  assert.deepStrictEqual(codes(errors(runText(withSchedule('rrule: "FREQ=SOMETIMES"')))), ['invalid-rrule']);
  const long = `FREQ=DAILY;${'BYHOUR=1;'.repeat(800)}`;
  const r = runText(withSchedule(`rrule: "${long}"`));
  assert.deepStrictEqual(codes(errors(r)), ['invalid-rrule']);
  assert.match(errors(r)[0]!.message, /^Max length is 6500/);
});

test('a schedule needs exactly one of cron, interval and rrule', () => {
  const none = runText(withSchedule('timezone: UTC'));
  assert.deepStrictEqual(codes(errors(none)), ['invalid-schedule']);
  const two = runText(withSchedule('cron: "0 * * * *"\nrrule: FREQ=DAILY'));
  assert.deepStrictEqual(codes(errors(two)), ['invalid-schedule']);
  assert.match(errors(two)[0]!.message, /^Exactly one of 'cron', 'interval', or 'rrule' must be provided/);
});

test('anchor_date on a cron schedule is ignored with a warning', () => {
  const r = runText(withSchedule('cron: "0 * * * *"\nanchor_date: "2025-01-01T00:00:00Z"'));
  assert.deepStrictEqual(codes(r.diagnostics), ['ignored-key']);
  assert.equal(r.deployments[0]!.schedules[0]!.schedule.anchor_date, undefined);
});

test('day_or defaults to true and follows the file when given', () => {
  const r = runText(withSchedule('cron: "0 0 1-7 * mon"\nday_or: false'));
  assert.equal(r.deployments[0]!.schedules[0]!.schedule.day_or, false);
  const d = runText(withSchedule('cron: "0 0 1-7 * mon"'));
  assert.equal(d.deployments[0]!.schedules[0]!.schedule.day_or, true);
});

test('max_active_runs and catchup in a schedule are errors that say what to use instead', () => {
  for (const key of ['max_active_runs: 1', 'catchup: false']) {
    const r = runText(withSchedule(`cron: "0 * * * *"\n${key}`));
    assert.deepStrictEqual(codes(errors(r)), ['unsupported-key'], key);
    assert.match(errors(r)[0]!.message, /not supported by Prefect 3.*concurrency_limit: \{limit: 1, collision_strategy: (ENQUEUE|CANCEL_NEW)\}/);
    assert.deepStrictEqual([errors(r)[0]!.line, errors(r)[0]!.col], [8, 9]);
  }
});
