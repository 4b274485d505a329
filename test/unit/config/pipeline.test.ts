import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDiagnostic } from '../../../src/config/index.js';
import { translateConcurrency } from '../../../src/config/translate.js';
import { codes, errors, runText } from './helpers.js';

const SEED_LIKE = `deployments:
  - name: '[Tarinika-Inc(US Store)]: Clickstream Aggregation'
    version: null
    tags: ['clickstream-aggregation', 'tarinika-inc', 'prod']
    entrypoint: flows/clickstream.py:clickstream_dbt_run
    work_pool:
      name: local-work-pool
    schedules:
      - interval: 1800
    concurrency_limit:
      limit: 1
      collision_strategy: QUEUE
`;

test('a wrong collision strategy is reported in the documented format', () => {
  const r = runText(SEED_LIKE);
  assert.deepStrictEqual(r.diagnostics.map(formatDiagnostic), [
    'prefect.yaml:12:27 error invalid-collision-strategy deployments[0].concurrency_limit.collision_strategy: must be ENQUEUE or CANCEL_NEW, got "QUEUE"',
  ]);
  assert.deepStrictEqual(r.deployments, []);
});

test('every problem of a file is reported at once', () => {
  const text = `deployments:
  - name: a/b
    entrypoint: flows/etl.py
    work_pool:
      name: local
    concurrency_limit: 0
    schedules:
      - cron: "61 * * * *"
`;
  const r = runText(text);
  assert.deepStrictEqual(
    errors(r).map((d) => [d.code, d.path, d.line, d.col]),
    [
      ['invalid-name', 'deployments[0].name', 2, 11],
      ['entrypoint-missing-function', 'deployments[0].entrypoint', 3, 17],
      ['invalid-concurrency-limit', 'deployments[0].concurrency_limit', 6, 24],
      ['invalid-cron', 'deployments[0].schedules[0].cron', 8, 15],
    ],
  );
  assert.deepStrictEqual(r.deployments, []);
});

test('unknown keys are warnings that say the key is ignored and where it belongs', () => {
  const text = `project_name: x
deployments:
  - name: d
    entrypoint: flows/f.py:f
    concurrency_options:
      collision_strategy: CANCEL_NEW
    job_variables: {env: {A: "1"}}
    paramters: {}
    work_pool:
      name: p
      queue: high
`;
  const r = runText(text);
  assert.deepStrictEqual(errors(r), []);
  const warnings = r.diagnostics.map((d) => [d.code, d.path, d.line, d.col]);
  assert.deepStrictEqual(warnings, [
    ['unknown-key', 'project_name', 1, 1],
    ['unknown-key', 'deployments[0].concurrency_options', 5, 5],
    ['unknown-key', 'deployments[0].job_variables', 7, 5],
    ['unknown-key', 'deployments[0].paramters', 8, 5],
    ['unknown-key', 'deployments[0].work_pool.queue', 11, 7],
  ]);
  const messages = r.diagnostics.map((d) => d.message);
  assert.match(messages[1]!, /^unknown key "concurrency_options" is ignored; .*concurrency_limit: \{limit: N, collision_strategy/);
  assert.match(messages[2]!, /is ignored; it belongs under work_pool/);
  assert.match(messages[3]!, /did you mean parameters\?/);
  assert.match(messages[4]!, /did you mean work_queue_name\?/);
  assert.equal(r.deployments.length, 1);
  assert.deepStrictEqual(r.deployments[0]!.job_variables, {});
});

test('a problem in a shared anchor is reported once, at the anchor', () => {
  const text = `definitions:
  sched: &sched
    cron: "0 25 * * *"
deployments:
  - {name: a, entrypoint: "f.py:a", work_pool: {name: p}, schedules: [*sched]}
  - {name: b, entrypoint: "f.py:b", work_pool: {name: p}, schedules: [*sched]}
`;
  const r = runText(text);
  assert.deepStrictEqual(errors(r).map((d) => [d.code, d.line, d.col]), [['invalid-cron', 3, 11]]);
});

test('{{ $ENV }} placeholders are resolved and an unset one is an error naming it', () => {
  const text = `deployments:
  - name: "etl-{{ $STAGE }}"
    entrypoint: flows/f.py:f
    parameters: {url: "{{ $URL }}", port: "{{ $PORT }}"}
    work_pool: {name: p}
`;
  const ok = runText(text, { env: { STAGE: 'prod', URL: 'https://x', PORT: '5432' } });
  assert.deepStrictEqual(errors(ok), []);
  assert.equal(ok.deployments[0]!.name, 'etl-prod');
  assert.deepStrictEqual(ok.deployments[0]!.parameters, { url: 'https://x', port: '5432' });
  const missing = runText(text, { env: { STAGE: 'prod', URL: 'https://x' } });
  assert.deepStrictEqual(errors(missing).map((d) => [d.code, d.path]), [['unset-env-var', 'deployments[0].parameters.port']]);
  assert.match(errors(missing)[0]!.message, /PORT is not set/);
});

test('other placeholders stay as text with a warning', () => {
  const text = `deployments:
  - name: d
    entrypoint: flows/f.py:f
    work_pool:
      name: p
      job_variables: {image: "{{ build-image.image }}", token: "{{ prefect.variables.token }}"}
`;
  const r = runText(text);
  assert.deepStrictEqual(codes(r.diagnostics), ['unresolved-placeholder', 'unresolved-placeholder']);
  assert.deepStrictEqual(r.deployments[0]!.job_variables, {
    image: '{{ build-image.image }}',
    token: '{{ prefect.variables.token }}',
  });
});

const TWO = `deployments:
  - name: nightly
    entrypoint: flows/etl.py:run_etl
    work_pool: {name: p}
  - name: hourly
    entrypoint: flows/etl.py:other_flow
    parameters: {url: "{{ $UNSET }}"}
    work_pool: {name: p}
`;

test('names select deployments by name, flow/name or * pattern', () => {
  assert.deepStrictEqual(runText(TWO, { names: ['nightly'] }).deployments.map((d) => d.full_name), ['run-etl/nightly']);
  assert.deepStrictEqual(runText(TWO, { names: ['run-etl/nightly'] }).deployments.map((d) => d.name), ['nightly']);
  assert.deepStrictEqual(runText(TWO, { names: ['run_etl/nightly'] }).deployments.map((d) => d.name), ['nightly']);
  const both = runText(TWO, { names: ['other-flow/*', 'nightly'], env: { UNSET: 'x' } });
  assert.deepStrictEqual(both.deployments.map((d) => d.name), ['nightly', 'hourly']);
  assert.deepStrictEqual(runText(TWO, { names: ['*/night*'] }).deployments.map((d) => d.name), ['nightly']);
});

test('an env var used only by an unselected deployment is not an error', () => {
  const r = runText(TWO, { names: ['nightly'] });
  assert.deepStrictEqual(errors(r), []);
  assert.equal(errors(runText(TWO, { names: ['hourly'] }))[0]?.code, 'unset-env-var');
});

test('a name that matches nothing is a deployment-not-found error', () => {
  const r = runText(TWO, { names: ['nightly', 'weekly'] });
  assert.deepStrictEqual(errors(r).map((d) => [d.code, d.line]), [['deployment-not-found', 0]]);
  assert.match(errors(r)[0]!.message, /no deployment matches "weekly"/);
  assert.deepStrictEqual(r.deployments, []);
});

test('concurrency_limit translates like prefect deploy, with ENQUEUE as the default strategy', () => {
  assert.deepStrictEqual(translateConcurrency(3), { concurrency_limit: 3, concurrency_options: null });
  assert.deepStrictEqual(translateConcurrency('2'), { concurrency_limit: 2, concurrency_options: null });
  assert.deepStrictEqual(translateConcurrency(null), { concurrency_limit: null, concurrency_options: null });
  assert.deepStrictEqual(translateConcurrency(undefined), { concurrency_limit: null, concurrency_options: null });
  assert.deepStrictEqual(translateConcurrency({ limit: 1 }), {
    concurrency_limit: 1,
    concurrency_options: { collision_strategy: 'ENQUEUE' },
  });
  assert.deepStrictEqual(translateConcurrency({ limit: 1, collision_strategy: 'CANCEL_NEW', grace_period_seconds: 60 }), {
    concurrency_limit: 1,
    concurrency_options: { collision_strategy: 'CANCEL_NEW', grace_period_seconds: 60 },
  });
});

test('grace periods of 60 and 86400 are accepted, 59 and 86401 refused', () => {
  const doc = (g: number) =>
    `deployments:\n  - {name: d, entrypoint: "f.py:f", work_pool: {name: p}, concurrency_limit: {limit: 1, grace_period_seconds: ${g}}}\n`;
  assert.deepStrictEqual(errors(runText(doc(60))), []);
  assert.deepStrictEqual(errors(runText(doc(86400))), []);
  assert.deepStrictEqual(codes(errors(runText(doc(59)))), ['invalid-grace-period']);
  assert.deepStrictEqual(codes(errors(runText(doc(86401)))), ['invalid-grace-period']);
});

test('a document that is not a mapping, or has no deployments, is said so', () => {
  assert.deepStrictEqual(codes(runText('- a\n- b\n').diagnostics), ['invalid-document']);
  const empty = runText('');
  assert.deepStrictEqual(codes(empty.diagnostics), ['no-deployments']);
  assert.deepStrictEqual(empty.deployments, []);
});

test('a mapping without a limit sets no limit, with a warning', () => {
  const r = runText('deployments:\n  - {name: d, entrypoint: "f.py:f", work_pool: {name: p}, concurrency_limit: {collision_strategy: CANCEL_NEW}}\n');
  assert.deepStrictEqual(codes(r.diagnostics), ['no-concurrency-limit']);
  assert.equal(r.deployments[0]!.concurrency_limit, null);
  assert.equal(r.deployments[0]!.concurrency_options, null);
});
