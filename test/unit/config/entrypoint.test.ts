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
