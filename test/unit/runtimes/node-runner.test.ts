// The JavaScript flow runner (runtimes/node/runner.mjs).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { lastLine, makeProject, NASTY_PARAMS, processGone, removeProject, runRunner, startRunner, waitUntil } from './harness.js';

const FLOWS: Record<string, string> = {
  'flows/params.mjs': `
import { writeFileSync } from 'node:fs';
export function plain(params) {
  writeFileSync(process.env.OUT_FILE, JSON.stringify(params));
  console.log('PARAMS ' + JSON.stringify(params));
  console.log('UNICODE ' + params.unicode);
  console.log('ARGS ' + arguments.length);
}
`,
  'flows/shapes.mjs': `
export async function slow({ delay, label }) {
  await new Promise((resolve) => setTimeout(resolve, delay));
  console.log('ASYNC DONE ' + label);
}
export default {
  fromDefault(p) { console.log('DEFAULT ' + p.x); },
};
export const group = {
  prefix: 'G',
  method(p) { console.log('METHOD ' + this.prefix + ' ' + p.x); },
};
export const notAFunction = 42;
export async function leavesTimer() {
  setInterval(() => {}, 1000);
  console.log('LEFT A TIMER');
}
`,
  'flows/common.cjs': `
exports.cjsFlow = async (p) => { console.log('CJS ' + p.x); };
module.exports.other = (p) => { console.log('CJS OTHER ' + p.x); };
`,
  'flows/plain.js': `
module.exports = { jsFlow(p) { console.log('JS ' + p.x); } };
`,
  'flows/failing.mjs': `
export function typeError() { throw new TypeError('bad thing happened'); }
class StoreError extends Error {}
export function custom() { throw new StoreError('store is closed'); }
export async function rejects() { await null; throw new RangeError('out of range'); }
export function throwsString() { throw 'just a string'; }
export function asyncCrash() {
  setTimeout(() => { throw new Error('crash in a timer'); }, 10);
  return new Promise(() => { setTimeout(() => {}, 5000); });
}
`,
  'flows/broken.mjs': `import { nothing } from './missing-dep.mjs';\nexport function f() {}\n`,
  'flows/syntax.mjs': `export function f( {\n`,
  'flows/spawner.mjs': `
import { spawn } from 'node:child_process';
export async function spawnAndWait() {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  console.log('CHILD ' + child.pid);
  await new Promise((resolve) => setTimeout(resolve, 60000));
}
`,
};

describe('node runner', () => {
  let project: string;
  before(() => {
    project = makeProject(FLOWS);
  });
  after(() => removeProject(project));

  it('passes the parameters object through byte for byte, as the single argument', async () => {
    const out = path.join(project, 'out.json');
    const r = await runRunner('node', 'flows/params.mjs:plain', { cwd: project, params: NASTY_PARAMS, env: { OUT_FILE: out } });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), NASTY_PARAMS);
    const printed = r.stdout.split('\n').find((l) => l.startsWith('PARAMS '));
    assert.deepEqual(JSON.parse(printed!.slice('PARAMS '.length)), NASTY_PARAMS);
    assert.ok(r.stdout.includes(`UNICODE ${NASTY_PARAMS.unicode}\n`));
    assert.match(r.stdout, /^ARGS 1$/m);
  });

  it('awaits async exports, and exits when they return even if timers are left', async () => {
    const r1 = await runRunner('node', './flows/shapes.mjs:slow', { cwd: project, params: { delay: 100, label: 'x' } });
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /^ASYNC DONE x$/m);
    const r2 = await runRunner('node', 'flows/shapes.mjs:leavesTimer', { cwd: project, timeoutMs: 10_000 });
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /^LEFT A TIMER$/m);
  });

  it('finds properties of the default export and dotted object methods', async () => {
    const r1 = await runRunner('node', 'flows/shapes.mjs:fromDefault', { cwd: project, params: { x: 1 } });
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /^DEFAULT 1$/m);
    const r2 = await runRunner('node', 'flows/shapes.mjs:group.method', { cwd: project, params: { x: 2 } });
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /^METHOD G 2$/m);
  });

  it('runs .cjs and CommonJS .js files', async () => {
    const r1 = await runRunner('node', 'flows/common.cjs:cjsFlow', { cwd: project, params: { x: 3 } });
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /^CJS 3$/m);
    const r2 = await runRunner('node', 'flows/common.cjs:other', { cwd: project, params: { x: 4 } });
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, /^CJS OTHER 4$/m);
    const r3 = await runRunner('node', 'flows/plain.js:jsFlow', { cwd: project, params: { x: 5 } });
    assert.equal(r3.code, 0, r3.stderr);
    assert.match(r3.stdout, /^JS 5$/m);
  });

  it('exits 1 when the flow throws or rejects, last stderr line "Name: message"', async () => {
    const cases: Array<[string, string]> = [
      ['flows/failing.mjs:typeError', 'TypeError: bad thing happened'],
      ['flows/failing.mjs:custom', 'StoreError: store is closed'],
      ['flows/failing.mjs:rejects', 'RangeError: out of range'],
      ['flows/failing.mjs:asyncCrash', 'Error: crash in a timer'],
    ];
    for (const [ep, last] of cases) {
      const r = await runRunner('node', ep, { cwd: project });
      assert.equal(r.code, 1, `${ep}: ${r.stderr}`);
      assert.equal(lastLine(r.stderr), last, ep);
      assert.match(r.stderr, /failing\.mjs:\d+:\d+/, ep);
    }
    const s = await runRunner('node', 'flows/failing.mjs:throwsString', { cwd: project });
    assert.equal(s.code, 1);
    assert.equal(lastLine(s.stderr), "Error: a non-Error value was thrown: 'just a string'");
  });

  it('exits 2 with a one-line message when the entrypoint cannot be loaded', async () => {
    const cases: Array<[string, RegExp]> = [
      ['flows/missing.mjs:f', /^flowdeck runner: entrypoint file not found: flows\/missing\.mjs/],
      ['flows/shapes.mjs:nope', /^flowdeck runner: export "nope" not found in flows\/shapes\.mjs$/],
      ['flows/shapes.mjs:group.nope', /not found in flows\/shapes\.mjs/],
      ['flows/shapes.mjs:notAFunction', /is not a function/],
      ['flows/shapes.mjs', /invalid entrypoint/],
      ['flows/broken.mjs:f', /^flowdeck runner: failed to import flows\/broken\.mjs: Error: Cannot find module/],
      ['flows/syntax.mjs:f', /^flowdeck runner: failed to import flows\/syntax\.mjs: SyntaxError/],
    ];
    for (const [ep, re] of cases) {
      const r = await runRunner('node', ep, { cwd: project });
      assert.equal(r.code, 2, `${ep}: ${r.stderr}`);
      assert.match(lastLine(r.stderr), re, ep);
    }
  });

  it('exits 2 when the parameters line is not a JSON object', async () => {
    const r = await runRunner('node', 'flows/params.mjs:plain', { cwd: project, rawLine: '"text"\n' });
    assert.equal(r.code, 2);
    assert.match(lastLine(r.stderr), /must be a JSON object, got string/);
  });

  it('kills itself and its children promptly when stdin closes', async () => {
    const r = startRunner('node', 'flows/spawner.mjs:spawnAndWait', { cwd: project });
    try {
      const m = await r.waitForStdout(/^CHILD (\d+)$/);
      const childPid = Number(m[1]);
      assert.equal(processGone(childPid), false);
      r.child.stdin.end();
      const res = await r.result;
      assert.equal(res.signal, 'SIGKILL');
      await waitUntil(() => processGone(childPid), 5_000, 'the sleep child to die');
    } finally {
      r.kill();
    }
  });

  it('kills only its own descendants when it is not a process-group leader', async () => {
    const r = startRunner('node', 'flows/spawner.mjs:spawnAndWait', { cwd: project, detached: false });
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
