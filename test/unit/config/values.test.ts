import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anchorToIso, parseBoolish, parseInterval, timezoneProblem } from '../../../src/config/values.js';

test('interval formats read as Prefect reads them (prefect-semantics §2.1)', () => {
  const table: Array<[unknown, number]> = [
    [600, 600],
    [600.5, 600.5],
    ['PT10M', 600],
    ['PT1H30M', 5400],
    ['PT1H', 3600],
    ['P1D', 86400],
    ['1:30:00', 5400],
    ['00:10:00', 600],
    // and the neighbours real files use
    ['600', 600],
    ['P1DT2H', 93600],
    ['PT0.5S', 0.5],
    ['P1W', 604800],
    ['1 day, 1:00:00', 90000],
    ['00:00:30.5', 30.5],
  ];
  for (const [input, seconds] of table) assert.equal(parseInterval(input), seconds, `interval ${JSON.stringify(input)}`);
});

test('negative and zero intervals parse with their sign so the rule can reject them', () => {
  assert.equal(parseInterval(-600), -600);
  assert.equal(parseInterval('-PT10M'), -600);
  assert.equal(parseInterval('-00:10:00'), -600);
  assert.equal(parseInterval('PT0S'), 0);
  assert.equal(parseInterval(0), 0);
});

test('text that is no interval form is refused', () => {
  for (const input of ['ten minutes', 'PT', 'P', '10m', '1:3:00', '00:61:00', '', true, null, {}, Number.NaN]) {
    assert.equal(parseInterval(input), null, `interval ${JSON.stringify(input)}`);
  }
});

test('boolean strings are read like pydantic does', () => {
  for (const t of [true, 'true', 'True', 'yes', 'on', '1', 't', 'y']) assert.equal(parseBoolish(t), true, String(t));
  for (const f of [false, 'false', 'FALSE', 'no', 'off', '0', 'f', 'n']) assert.equal(parseBoolish(f), false, String(f));
  for (const x of ['maybe', '', 'tru', 2, null]) assert.equal(parseBoolish(x), undefined, String(x));
});

test('IANA time zones are accepted and typos get a suggestion', () => {
  for (const ok of ['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'US/Eastern', 'Etc/UTC']) {
    assert.equal(timezoneProblem(ok), null, ok);
  }
  assert.match(timezoneProblem('America/New_Yrok') ?? '', /^Invalid timezone: "America\/New_Yrok".*did you mean "America\/New_York"/);
  assert.match(timezoneProblem('fake') ?? '', /^Invalid timezone: "fake"/);
  assert.match(timezoneProblem('america/new_york') ?? '', /case-sensitive: did you mean "America\/New_York"/);
});

test('anchor dates become ISO instants in UTC, naive meaning UTC', () => {
  assert.equal(anchorToIso('2025-09-09T08:06:20+00:00'), '2025-09-09T08:06:20.000Z');
  assert.equal(anchorToIso('2040-02-02'), '2040-02-02T00:00:00.000Z');
  assert.equal(anchorToIso('2025-01-01 10:00:00'), '2025-01-01T10:00:00.000Z');
  assert.equal(anchorToIso('2025-01-01T10:00:00-05:00'), '2025-01-01T15:00:00.000Z');
  assert.equal(anchorToIso(new Date(Date.UTC(2025, 0, 2, 3, 4, 5))), '2025-01-02T03:04:05.000Z');
  assert.equal(anchorToIso('2025-13-01'), null);
  assert.equal(anchorToIso('yesterday'), null);
});
