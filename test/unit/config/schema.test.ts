import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ErrorObject } from 'ajv';
import { collapseUnionErrors, schemaValidator } from '../../../src/config/validate.js';
import { codes, errors, runText } from './helpers.js';

test('the schema accepts what Prefect\'s schema test accepts', () => {
  const validate = schemaValidator();
  for (const doc of [
    {},
    { deployments: [{ name: 'a', entrypoint: 'f.py:f' }] },
    { build: { 'prefect.deployments.steps.run_shell_script': { script: 'echo' } }, pull: null, push: {} },
    { 'prefect-version': '3.1.0', name: 'p', definitions: { anything: [1, 'two'] }, deployments: [] },
  ]) {
    assert.equal(validate(doc), true, JSON.stringify(validate.errors));
  }
});

test('the compiled validator is reused', () => {
  assert.equal(schemaValidator(), schemaValidator());
});

test('anyOf noise collapses to the one error that explains the value', () => {
  const validate = schemaValidator();
  validate({ deployments: [{ name: 'a', concurrency_limit: { limit: 'two', collision_strategy: 'ENQUEUE' } }] });
  const kept = collapseUnionErrors(validate.errors as ErrorObject[]);
  assert.deepStrictEqual(
    kept.map((e) => [e.instancePath, e.keyword]),
    [['/deployments/0/concurrency_limit/limit', 'pattern']],
  );
});

test('a value of no accepted type gets one message listing the accepted forms', () => {
  const r = runText('deployments:\n  - {name: d, entrypoint: "f.py:f", work_pool: {name: p}, concurrency_limit: [1]}\n');
  assert.deepStrictEqual(codes(errors(r)), ['invalid-concurrency-limit']);
  assert.equal(
    errors(r)[0]!.message,
    'must be a positive integer or a mapping {limit, collision_strategy, grace_period_seconds}, got a list',
  );
});

test('a lowercase strategy gets a case hint', () => {
  const r = runText('deployments:\n  - {name: d, entrypoint: "f.py:f", work_pool: {name: p}, concurrency_limit: {limit: 1, collision_strategy: cancel_new}}\n');
  assert.equal(errors(r)[0]!.message, 'must be ENQUEUE or CANCEL_NEW, got "cancel_new" (values are case-sensitive: did you mean "CANCEL_NEW"?)');
});

test('schedules given a mapping is an error at the mapping', () => {
  const r = runText('deployments:\n  - name: d\n    entrypoint: f.py:f\n    work_pool: {name: p}\n    schedules:\n      cron: "0 4 * * *"\n');
  assert.deepStrictEqual(errors(r).map((d) => [d.code, d.path, d.line, d.col]), [['invalid-schedules', 'deployments[0].schedules', 6, 7]]);
});
