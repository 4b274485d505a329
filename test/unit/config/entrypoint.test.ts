import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flowNameFromPython, isEntrypointProblem, parseEntrypoint } from '../../../src/config/entrypoint.js';

test('entrypoint shapes Prefect accepts are parsed', () => {
  const table: Array<[string, string, string, string]> = [
    ['flows/clickstream.py:clickstream_dbt_run', 'python-file', 'flows/clickstream.py', 'clickstream_dbt_run'],
    ['./flows/etl.py:run_etl', 'python-file', './flows/etl.py', 'run_etl'],
    ['flows/jobs.py:Jobs.refresh', 'python-file', 'flows/jobs.py', 'Jobs.refresh'],
    ['flows/report.mjs:build_report', 'js-file', 'flows/report.mjs', 'build_report'],
    ['flows/sync.js:syncAll', 'js-file', 'flows/sync.js', 'syncAll'],
    ['flows/old.cjs:run', 'js-file', 'flows/old.cjs', 'run'],
    ['pipelines.sales:daily_sales', 'python-module', 'pipelines.sales', 'daily_sales'],
    ['pipelines.sales.weekly_rollup', 'python-module', 'pipelines.sales', 'weekly_rollup'],
  ];
  for (const [text, kind, target, attribute] of table) {
    const parsed = parseEntrypoint(text);
    assert.ok(!isEntrypointProblem(parsed), text);
    assert.deepStrictEqual([parsed.kind, parsed.target, parsed.attribute], [kind, target, attribute], text);
  }
});

test('a file path without a function is an error of its own', () => {
  for (const text of ['flows/etl.py', 'etl.py', 'flows/etl.py:', 'flows/report.js']) {
    const parsed = parseEntrypoint(text);
    assert.ok(isEntrypointProblem(parsed), text);
    assert.equal(parsed.code, 'entrypoint-missing-function', text);
  }
});

test('other shapes are invalid entrypoints', () => {
  for (const text of ['main', 'flows/etl.ipynb:run', 'flows/etl.py:run-etl', 'a b:c']) {
    const parsed = parseEntrypoint(text);
    assert.ok(isEntrypointProblem(parsed), text);
    assert.equal(parsed.code, 'invalid-entrypoint', text);
  }
});

const SOURCE = `
from prefect import flow
import prefect


@flow(name="Daily Sales")
def daily():
    pass


@flow(
    retries=2,
    name='multi line',
    flow_run_name="run-{x}",
)
async def multi():
    pass


@flow
def plain_one():
    pass


@prefect.flow(name=f"dyn-{1}")
def dynamic():
    pass


@flow(flow_run_name="only-run-name")
def run_name_only():
    pass


class Jobs:
    @flow(name="method-flow")
    def nightly(self):
        pass


assigned_flow = flow(plain_one)
`;

test('the @flow(name=...) of the entrypoint function is read statically', () => {
  assert.equal(flowNameFromPython(SOURCE, 'daily'), 'Daily Sales');
  assert.equal(flowNameFromPython(SOURCE, 'multi'), 'multi line');
  assert.equal(flowNameFromPython(SOURCE, 'Jobs.nightly'), 'method-flow');
});

test('no static flow name gives null, an undefined function gives undefined', () => {
  assert.equal(flowNameFromPython(SOURCE, 'plain_one'), null);
  assert.equal(flowNameFromPython(SOURCE, 'dynamic'), null);
  assert.equal(flowNameFromPython(SOURCE, 'run_name_only'), null);
  assert.equal(flowNameFromPython(SOURCE, 'assigned_flow'), null);
  assert.equal(flowNameFromPython(SOURCE, 'not_there'), undefined);
});

test('entrypoint files are resolved next to prefect.yaml', async () => {
  const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadProject } = await import('../../../src/config/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'flowdeck-config-'));
  try {
    mkdirSync(join(dir, 'flows'));
    writeFileSync(join(dir, 'flows', 'a.py'), '@flow(name="bad/name")\ndef a():\n    pass\n\ndef b():\n    pass\n');
    writeFileSync(
      join(dir, 'prefect.yaml'),
      [
        'deployments:',
        '  - {name: one, entrypoint: "flows/a.py:b", work_pool: {name: p}}',
        '  - {name: two, entrypoint: "flows/a.py:nope", work_pool: {name: p}}',
        '  - {name: three, entrypoint: "installed.module:run", work_pool: {name: p}}',
        '  - {name: four, entrypoint: "flows/a.py:a", work_pool: {name: p}}',
        '  - {name: five, entrypoint: "flows/missing.py:a", work_pool: {name: p}}',
        '',
      ].join('\n'),
    );
    const r = loadProject(join(dir, 'prefect.yaml'), { env: {} });
    assert.deepStrictEqual(
      r.diagnostics.map((d) => [d.severity, d.code, d.line]),
      [
        ['warning', 'entrypoint-function-not-found', 3],
        ['warning', 'entrypoint-module-not-found', 4],
        ['error', 'invalid-flow-name', 5],
        ['error', 'entrypoint-not-found', 6],
      ],
    );
    const unchecked = loadProject(join(dir, 'prefect.yaml'), { env: {}, checkEntrypointFiles: false });
    assert.deepStrictEqual(unchecked.diagnostics, []);
    assert.deepStrictEqual(
      unchecked.deployments.map((d) => d.full_name),
      ['b/one', 'nope/two', 'run/three', 'a/four', 'a/five'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
