// The Python flow runner (runtimes/python/flowdeck_runner.py): entrypoints,
// parameters, exit codes, and the stdin watchdog.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  lastLine,
  makeProject,
  NASTY_PARAMS,
  processGone,
  removeProject,
  runRunner,
  startRunner,
  waitUntil,
} from './harness.js';

const FLOWS = {
  'flows/params.py': `
import json, os
from helper import SUFFIX

def plain(**kwargs):
    with open(os.environ["OUT_FILE"], "w", encoding="utf-8") as fh:
        json.dump(kwargs, fh, ensure_ascii=False)
    print("PARAMS " + json.dumps(kwargs, sort_keys=True))
    print("UNICODE " + kwargs.get("unicode", ""))
    print("SUFFIX " + SUFFIX)
`,
  'flows/helper.py': `SUFFIX = "sibling-import-ok"\n`,
  'flows/decorated.py': `
import asyncio
from flowdeck import flow

@flow
def bare(name, count=1):
    print("BARE", bare.name, name, count)

@flow(name="Named Flow", log_prints=True, retries=0, some_prefect_option=True)
def named(name):
    print("NAMED", named.name, name, named.fn.__name__)

@flow
async def async_flow(delay):
    await asyncio.sleep(delay)
    print("ASYNC DONE", delay)

async def plain_async(x):
    await asyncio.sleep(0.05)
    print("PLAIN ASYNC", x)

def returns_coroutine(x):
    return plain_async(x)

attempts = {"n": 0}

@flow(retries=2, retry_delay_seconds=0)
def flaky():
    attempts["n"] += 1
    if attempts["n"] < 3:
        raise RuntimeError("attempt %d" % attempts["n"])
    print("FLAKY OK after", attempts["n"])

class Jobs:
    @staticmethod
    def static_job(x):
        print("STATIC", x)

    @classmethod
    def class_job(cls, x):
        print("CLASS", cls.__name__, x)

    @staticmethod
    @flow
    def static_flow(x):
        print("STATIC FLOW", x)
`,
  'flows/failing.py': `
class CustomError(Exception):
    pass

def value_error():
    raise ValueError("boom: bad value")

def custom():
    raise CustomError("custom failure")

def chained():
    try:
        {}["missing"]
    except KeyError as exc:
        raise RuntimeError("wrapped") from exc

def exits(code):
    raise SystemExit(code)
`,
  'flows/broken_import.py': `
import definitely_not_a_module_xyz

def f():
    pass
`,
  'flows/not_callable.py': `VALUE = 3\n`,
  'flows/my flow.py': `def run(x):\n    print("SPACES", x)\n`,
  'pkg/__init__.py': '',
  'pkg/jobs.py': `
from flowdeck import flow

@flow
def nightly(day):
    print("MODULE", __name__, day)

class Group:
    @staticmethod
    def job(day):
        print("GROUP", day)
`,
  'flows/tasks.py': `
from flowdeck import flow, task, unmapped

@task
def double(x):
    return x * 2

@task
def add(x, y):
    return x + y

@task
async def async_inc(x):
    return x + 1

@flow
def uses_tasks():
    f = double.submit(21)
    print("SUBMIT", f.result())
    mapped = add.map([1, 2, 3], unmapped(10))
    print("MAP", mapped.result())
    chained = double.submit(f)
    print("CHAINED", chained.result())
    print("DIRECT", double(4))
    print("ASYNC TASK", async_inc.submit(1).result())
    mapped.wait()
`,
  'project_pkg/__init__.py': '',
  'project_pkg/flows/__init__.py': '',
  'project_pkg/flows/util.py': `GREETING = "relative-import-ok"\n`,
  'project_pkg/flows/main.py': `
from .util import GREETING

def run():
    print(GREETING, __name__)
`,
  'flows/spawner.py': `
import subprocess, time

def spawn_and_wait():
    child = subprocess.Popen(["sleep", "30"])
    print("CHILD %d" % child.pid)
    time.sleep(60)

def reads_stdin():
    import sys
    data = sys.stdin.read()
    child = subprocess.run(["cat"], capture_output=True)
    print("STDIN %r CHILD %r" % (data, child.stdout))
`,
};

describe('python runner', () => {
  let project: string;
  before(() => {
    project = makeProject(FLOWS);
  });
  after(() => removeProject(project));

  it('passes parameters through byte for byte, as keyword arguments', async () => {
    const out = path.join(project, 'out-params.json');
    const r = await runRunner('python', 'flows/params.py:plain', { cwd: project, params: NASTY_PARAMS, env: { OUT_FILE: out } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), NASTY_PARAMS);
    const printed = r.stdout.split('\n').find((l) => l.startsWith('PARAMS '));
    assert.deepEqual(JSON.parse(printed!.slice('PARAMS '.length)), NASTY_PARAMS);
    // stdout is UTF-8 whatever the locale
    assert.ok(r.stdout.includes(`UNICODE ${NASTY_PARAMS.unicode}\n`), r.stdout);
    // the flow file's folder is importable (sibling import)
    assert.ok(r.stdout.includes('SUFFIX sibling-import-ok'), r.stdout);
  });

  it('accepts ./ paths and paths with spaces (argv, no shell)', async () => {
    const out = path.join(project, 'out-dot.json');
    const r1 = await runRunner('python', './flows/params.py:plain', { cwd: project, params: { a: 1 }, env: { OUT_FILE: out } });
    assert.equal(r1.code, 0, r1.stderr);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), { a: 1 });
    const r2 = await runRunner('python', 'flows/my flow.py:run', { cwd: project, params: { x: '$(touch pwned)' } });
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(r2.stdout.includes('SPACES $(touch pwned)'));
  });

  it('runs @flow and @flow(name=...) decorated functions', async () => {
    const r1 = await runRunner('python', 'flows/decorated.py:bare', { cwd: project, params: { name: 'store-1' } });
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /^BARE bare store-1 1$/m);
    const r2 = await runRunner('python', 'flows/decorated.py:named', { cwd: project, params: { name: 'x' } });
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /^NAMED Named Flow x named$/m);
  });

  it('awaits async flows and returned coroutines', async () => {
    const r1 = await runRunner('python', 'flows/decorated.py:async_flow', { cwd: project, params: { delay: 0.1 } });
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /^ASYNC DONE 0\.1$/m);
    const r2 = await runRunner('python', 'flows/decorated.py:plain_async', { cwd: project, params: { x: 7 } });
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /^PLAIN ASYNC 7$/m);
    const r3 = await runRunner('python', 'flows/decorated.py:returns_coroutine', { cwd: project, params: { x: 8 } });
    assert.equal(r3.code, 0, r3.stderr);
    assert.match(r3.stdout, /^PLAIN ASYNC 8$/m);
  });

  it('retries a flow with retries=N', async () => {
    const r = await runRunner('python', 'flows/decorated.py:flaky', { cwd: project });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /FLAKY OK after 3/);
    assert.match(r.stderr, /attempt 1\/3/);
  });

  it('loads Class.method entrypoints (staticmethod, classmethod, static @flow)', async () => {
    for (const [ep, expected] of [
      ['flows/decorated.py:Jobs.static_job', /^STATIC 1$/m],
      ['flows/decorated.py:Jobs.class_job', /^CLASS Jobs 1$/m],
      ['flows/decorated.py:Jobs.static_flow', /^STATIC FLOW 1$/m],
    ] as const) {
      const r = await runRunner('python', ep, { cwd: project, params: { x: 1 } });
      assert.equal(r.code, 0, `${ep}: ${r.stderr}`);
      assert.match(r.stdout, expected);
    }
  });

  it('loads module entrypoints pkg.mod:func, pkg.mod.func and pkg.mod.Class.method', async () => {
    for (const [ep, expected] of [
      ['pkg.jobs:nightly', /^MODULE pkg\.jobs mon$/m],
      ['pkg.jobs.nightly', /^MODULE pkg\.jobs mon$/m],
      ['pkg.jobs.Group.job', /^GROUP mon$/m],
    ] as const) {
      const r = await runRunner('python', ep, { cwd: project, params: { day: 'mon' } });
      assert.equal(r.code, 0, `${ep}: ${r.stderr}`);
      assert.match(r.stdout, expected);
    }
  });

  it('supports relative imports in a flow file that lives in a package', async () => {
    const r = await runRunner('python', 'project_pkg/flows/main.py:run', { cwd: project });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^relative-import-ok project_pkg\.flows\.main$/m);
  });

  it('supports tasks: submit/result, map with unmapped, futures as arguments, async tasks', async () => {
    const r = await runRunner('python', 'flows/tasks.py:uses_tasks', { cwd: project });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^SUBMIT 42$/m);
    assert.match(r.stdout, /^MAP \[11, 12, 13\]$/m);
    assert.match(r.stdout, /^CHAINED 84$/m);
    assert.match(r.stdout, /^DIRECT 8$/m);
    assert.match(r.stdout, /^ASYNC TASK 2$/m);
  });

  it('exits 1 when the flow raises, traceback on stderr, last line "Type: message"', async () => {
    const r = await runRunner('python', 'flows/failing.py:value_error', { cwd: project });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Traceback \(most recent call last\)/);
    assert.match(r.stderr, /failing\.py", line \d+, in value_error/);
    assert.equal(lastLine(r.stderr), 'ValueError: boom: bad value');
    assert.doesNotMatch(r.stderr, /flowdeck_runner\.py/);

    const custom = await runRunner('python', 'flows/failing.py:custom', { cwd: project });
    assert.equal(custom.code, 1);
    assert.equal(lastLine(custom.stderr), 'CustomError: custom failure');

    const chained = await runRunner('python', 'flows/failing.py:chained', { cwd: project });
    assert.equal(chained.code, 1);
    assert.match(chained.stderr, /KeyError: 'missing'/);
    assert.equal(lastLine(chained.stderr), 'RuntimeError: wrapped');
  });

  it('exits 1 with a clear message when the parameters do not fit the signature', async () => {
    const r = await runRunner('python', 'flows/decorated.py:bare', { cwd: project, params: { nope: 1 } });
    assert.equal(r.code, 1);
    assert.match(lastLine(r.stderr), /^ParameterBindError: .*'bare'.*name/);
  });

  it('passes SystemExit codes through', async () => {
    const ok = await runRunner('python', 'flows/failing.py:exits', { cwd: project, params: { code: 0 } });
    assert.equal(ok.code, 0);
    const bad = await runRunner('python', 'flows/failing.py:exits', { cwd: project, params: { code: 5 } });
    assert.equal(bad.code, 5);
  });

  it('exits 2 with a one-line message when the entrypoint cannot be loaded', async () => {
    const cases: Array<[string, RegExp]> = [
      ['flows/missing.py:f', /^flowdeck runner: entrypoint file not found: flows\/missing\.py/],
      ['flows/params.py:nope', /^flowdeck runner: function 'nope' not found in flows\/params\.py$/],
      ['flows/decorated.py:Jobs.nope', /not found in flows\/decorated\.py/],
      ['flows/not_callable.py:VALUE', /is not callable/],
      ['pkg.nothere:f', /^flowdeck runner: module not found: pkg\.nothere/],
      ['nopkg_xyz.mod.f', /module not found/],
      ['flows/params.py', /invalid entrypoint/],
    ];
    for (const [ep, re] of cases) {
      const r = await runRunner('python', ep, { cwd: project });
      assert.equal(r.code, 2, `${ep}: ${r.stderr}`);
      assert.match(lastLine(r.stderr), re, ep);
    }
  });

  it('exits 2 on an import error, with its traceback', async () => {
    const r = await runRunner('python', 'flows/broken_import.py:f', { cwd: project });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Traceback \(most recent call last\)/);
    assert.match(r.stderr, /broken_import\.py", line 2/);
    assert.equal(
      lastLine(r.stderr),
      "flowdeck runner: failed to import flows/broken_import.py: ModuleNotFoundError: No module named 'definitely_not_a_module_xyz'",
    );
  });

  it('exits 2 when the parameters line is not a JSON object', async () => {
    const r1 = await runRunner('python', 'flows/params.py:plain', { cwd: project, rawLine: 'not json\n' });
    assert.equal(r1.code, 2);
    assert.match(lastLine(r1.stderr), /not valid JSON/);
    const r2 = await runRunner('python', 'flows/params.py:plain', { cwd: project, rawLine: '[1, 2]\n' });
    assert.equal(r2.code, 2);
    assert.match(lastLine(r2.stderr), /must be a JSON object, got list/);
  });

  it('gives the flow /dev/null as stdin (the worker pipe stays private to the runner)', async () => {
    const r = await runRunner('python', 'flows/spawner.py:reads_stdin', { cwd: project, rawLine: '{}\nextra input\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^STDIN '' CHILD b''$/m);
  });

  it('kills itself and its children promptly when stdin closes', async () => {
    const r = startRunner('python', 'flows/spawner.py:spawn_and_wait', { cwd: project });
    try {
      const m = await r.waitForStdout(/^CHILD (\d+)$/);
      const childPid = Number(m[1]);
      assert.equal(processGone(childPid), false);
      r.child.stdin.end();
      const res = await r.result;
      assert.equal(res.signal, 'SIGKILL');
      const waited = await waitUntil(() => processGone(childPid), 5_000, 'the sleep child to die');
      assert.ok(waited < 5_000);
    } finally {
      r.kill();
    }
  });

  it('kills only its own descendants when it is not a process-group leader', async () => {
    // Started without detached: it shares the test's process group, which it must not kill.
    const r = startRunner('python', 'flows/spawner.py:spawn_and_wait', { cwd: project, detached: false });
    try {
      const m = await r.waitForStdout(/^CHILD (\d+)$/);
      const childPid = Number(m[1]);
      r.child.stdin.end();
      const res = await r.result;
      assert.equal(res.code, 137);
      await waitUntil(() => processGone(childPid), 5_000, 'the sleep child to die');
    } finally {
      r.kill();
    }
  });
});
