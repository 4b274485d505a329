/**
 * Stress: 8 processes (4 JavaScript through the API, 4 Python through `flowdeck agent`), each doing
 * 200 acquire/release cycles on a limit of 3. The processes record every acquisition and release
 * themselves; the running sum of those records must never exceed 3, and nothing stays held.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { cliEnv, REPO, runCli, runJson } from '../support/run-cli.js';

const PROCESSES = 8;
const CYCLES = 200;
const LIMIT = 3;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('stress on one global limit', { timeout: 300_000 }, () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-gcl-stress-'));
  const p = { cwd, home: path.join(cwd, '.state') };
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test(`${PROCESSES} processes x ${CYCLES} acquire/release cycles never hold more than ${LIMIT} slots, and leave none held`, async (t) => {
    assert.equal(runCli(['gcl', 'create', 'stress', '--limit', String(LIMIT)], p).code, 0);
    const record = path.join(cwd, 'record.txt');
    const env: NodeJS.ProcessEnv = { ...cliEnv(p.home), PYTHONPATH: path.join(REPO, 'runtimes/python') };
    delete env.FLOWDECK_FLOW_RUN_ID;
    delete env.FLOWDECK_AGENT_SOCKET;
    const clients = Array.from({ length: PROCESSES }, (_, i) =>
      i % 2 === 0
        ? run(process.execPath, [path.join(REPO, 'test/fixtures/concurrency/stress-client.mjs'), 'stress', String(CYCLES), record], env)
        : run('python3', [path.join(REPO, 'test/fixtures/concurrency/stress_client.py'), 'stress', String(CYCLES), record], env),
    );
    const started = Date.now();
    const results = await Promise.all(clients);
    const seconds = (Date.now() - started) / 1000;
    for (const r of results) assert.equal(r.code, 0, r.output);

    const lines = readFileSync(record, 'utf8').split('\n').filter((l) => l !== '');
    assert.equal(lines.length, PROCESSES * CYCLES * 2);
    let held = 0;
    let most = 0;
    for (const [i, l] of lines.entries()) {
      held += l.startsWith('+1 ') ? 1 : -1;
      assert.ok(held <= LIMIT, `${held} holders at record line ${i + 1}: ${l}`);
      most = Math.max(most, held);
    }
    assert.equal(held, 0);
    assert.ok(most >= 2, `the records show overlap (most at once: ${most})`);
    t.diagnostic(`${PROCESSES * CYCLES} cycles in ${seconds.toFixed(1)} s; most holders at once: ${most}`);

    const g = runJson<{ active_slots: number; holders: unknown[] }>(['gcl', 'inspect', 'stress'], p);
    assert.deepEqual([g.active_slots, g.holders], [0, []]);
  });
});
