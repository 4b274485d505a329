/**
 * Fuzzing the prefect.yaml loader with hostile variants of every valid fixture (truncation, wrong
 * types, deep nesting, huge values, odd unicode, duplicate keys, alias bombs...). loadProject must
 * never throw, never hang (each case runs in a worker thread under a deadline), never put a stack
 * trace in a diagnostic, and report errors as well-formed diagnostics; a sample goes through the CLI
 * (`validate`, `deploy --all`), which must exit 0 or 1 with diagnostics, no stack trace and no raw
 * control characters. Seeded: FLOWDECK_FUZZ_SEED replays a run; failing inputs are saved to a folder.
 * 1,000 + 10 cases (huge values scaled down) by default; 5,000 + 120 at full size with FLOWDECK_FAULT_FULL=1.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { REPO } from '../support/run-cli.js';
import { FAULT_FULL, STACK_TRACE, cli, inParallel, prng } from '../support/fault-kit.js';
import { recordFigure } from '../support/fault-report.js';
import type { FuzzReply } from '../support/fuzz-load-worker.js';
import { mutate } from '../support/yaml-mutators.js';

const SEED = Number(process.env.FLOWDECK_FUZZ_SEED ?? 20260101);
/** Huge and deep cases at full size only in the long run (a 1 MB string per case adds up). */
const SCALE = FAULT_FULL ? 1 : 0.15;
const CASES = FAULT_FULL ? 5_000 : 1_000;
const CLI_CASES = FAULT_FULL ? 120 : 10;
/** A case still running after this is a hang (generous: a 2-core CI box running other tests). */
const CASE_DEADLINE_MS = 30_000;
const VALID = path.join(REPO, 'test', 'fixtures', 'prefect-yaml', 'valid');
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/** Runs loadProject in a worker thread, one case at a time, with a deadline per case. */
class Loader {
  private worker: Worker;
  constructor() {
    this.worker = this.spawn();
  }
  private spawn(): Worker {
    const worker = new Worker(new URL('../support/fuzz-load-worker.js', import.meta.url));
    worker.unref(); // a case stuck in a loop must not keep the test process alive
    return worker;
  }
  load(id: number, file: string, text: string): Promise<FuzzReply | 'hang'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.worker.removeAllListeners('message');
        void this.worker.terminate();
        this.worker = this.spawn();
        resolve('hang');
      }, CASE_DEADLINE_MS);
      this.worker.once('message', (reply: FuzzReply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.worker.postMessage({ id, file, text });
    });
  }
  close(): Promise<number> {
    return this.worker.terminate();
  }
}

function diagnosticProblems(reply: FuzzReply): string[] {
  const problems: string[] = [];
  if (reply.threw) problems.push(`loadProject threw: ${reply.threw.split('\n').slice(0, 3).join(' | ')}`);
  for (const d of reply.diagnostics) {
    if (typeof d.code !== 'string' || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(d.code)) problems.push(`bad code ${JSON.stringify(d.code)}`);
    if (d.severity !== 'error' && d.severity !== 'warning') problems.push(`bad severity ${JSON.stringify(d.severity)}`);
    if (!Number.isInteger(d.line) || !Number.isInteger(d.col) || (d.line as number) < 0 || (d.col as number) < 0) problems.push(`bad position ${d.line}:${d.col}`);
    if (typeof d.message !== 'string' || d.message.trim() === '') problems.push(`empty message for ${String(d.code)}`);
    else if (STACK_TRACE.test(d.message)) problems.push(`stack trace in ${String(d.code)}: ${d.message.slice(0, 200)}`);
    if (typeof d.path !== 'string') problems.push(`bad path ${JSON.stringify(d.path)}`);
  }
  if (reply.errors > 0 && reply.deployments > 0) problems.push(`${reply.deployments} deployment(s) translated despite ${reply.errors} error(s)`);
  return problems;
}

describe('hostile prefect.yaml files', { timeout: FAULT_FULL ? 1_800_000 : 240_000 }, () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-fuzz-'));
  const failuresDir = path.join(os.tmpdir(), `flowdeck-fuzz-failures-${SEED}`);
  const fixtures = readdirSync(VALID).sort();
  const stats = { cases: 0, stackTraces: 0, crashes: 0, slowestMs: 0 };
  const byMutator = new Map<string, number>();

  before(() => {
    for (const f of fixtures) cpSync(path.join(VALID, f), path.join(root, f), { recursive: true });
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
    recordFigure({ kind: 'fuzz', scenario: `prefect.yaml fuzz, seed ${SEED}`, ...stats, slowestMs: Math.round(stats.slowestMs) });
  });

  function save(kind: string, i: number, text: string): string {
    mkdirSync(failuresDir, { recursive: true });
    const file = path.join(failuresDir, `${kind}-${i}.yaml`);
    writeFileSync(file, text);
    return file;
  }

  test(`loadProject on ${CASES} mutated files: never throws, never hangs, well-formed diagnostics only`, async () => {
    const loader = new Loader();
    const failures: string[] = [];
    let errorsReported = 0;
    try {
      for (let i = 0; i < CASES; i++) {
        const rng = prng(SEED * 100_003 + i);
        const fixture = rng.pick(fixtures);
        const { text, applied } = mutate(readFileSync(path.join(VALID, fixture, 'prefect.yaml'), 'utf8'), rng, SCALE);
        for (const a of applied) byMutator.set(a, (byMutator.get(a) ?? 0) + 1);
        const reply = await loader.load(i, path.join(root, fixture, 'prefect.yaml'), text);
        stats.cases++;
        if (reply === 'hang') {
          stats.crashes++;
          failures.push(`case ${i} (${fixture}: ${applied.join('+')}) hung past ${CASE_DEADLINE_MS} ms; input saved to ${save('hang', i, text)}`);
          continue;
        }
        stats.slowestMs = Math.max(stats.slowestMs, reply.ms);
        if (reply.errors > 0) errorsReported++;
        const problems = diagnosticProblems(reply);
        if (reply.threw) stats.crashes++;
        if (reply.threw && STACK_TRACE.test(reply.threw)) stats.stackTraces++;
        stats.stackTraces += problems.filter((p) => p.startsWith('stack trace')).length;
        if (problems.length) failures.push(`case ${i} (${fixture}: ${applied.join('+')}): ${problems.slice(0, 3).join('; ')}; input saved to ${save('case', i, text)}`);
      }
    } finally {
      await loader.close();
    }
    console.log(`fuzz seed ${SEED} (size scale ${SCALE}): ${CASES} cases (${errorsReported} reported errors); slowest ${stats.slowestMs.toFixed(0)} ms; mutations: ${[...byMutator].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failing case(s) (replay with FLOWDECK_FUZZ_SEED=${SEED})`);
    assert.ok(errorsReported > CASES / 4, 'the mutations do produce invalid files');
  });

  test(`the CLI on ${CLI_CASES} mutated files: exit 0 or 1, diagnostics, no stack trace, no raw control characters`, async () => {
    const failures: string[] = [];
    const cases = Array.from({ length: CLI_CASES }, (_, i) => i);
    await inParallel(cases, 2, async (i) => {
      const rng = prng(SEED + 7_000_000 + i);
      const fixture = rng.pick(fixtures);
      const { text, applied } = mutate(readFileSync(path.join(VALID, fixture, 'prefect.yaml'), 'utf8'), rng, SCALE);
      const dir = path.join(root, `cli-${i}`);
      cpSync(path.join(VALID, fixture), dir, { recursive: true });
      writeFileSync(path.join(dir, 'prefect.yaml'), text);
      const args = i % 4 === 3 ? ['deploy', '--all'] : ['validate'];
      const r = await cli(args, { cwd: dir, home: path.join(dir, '.state') }, { timeoutMs: 30_000 });
      stats.cases++;
      const where = `cli case ${i} (${args[0]} ${fixture}: ${applied.join('+')})`;
      const problems: string[] = [];
      if (r.code !== 0 && r.code !== 1) problems.push(`exit ${r.code}`);
      if (r.code === -1) stats.crashes++;
      if (STACK_TRACE.test(r.stderr) || STACK_TRACE.test(r.stdout)) {
        stats.stackTraces++;
        problems.push('stack trace printed');
      }
      if (/Internal error/.test(r.stderr)) problems.push('internal error');
      if (RAW_CONTROL.test(r.stdout) || RAW_CONTROL.test(r.stderr)) problems.push('raw control characters printed');
      if (r.code === 1 && !/error/.test(r.stderr)) problems.push('exit 1 without a diagnostic');
      if (r.code === 0 && args[0] === 'validate' && !/is valid/.test(r.stdout)) problems.push('exit 0 without "is valid"');
      if (problems.length) failures.push(`${where}: ${problems.join(', ')}; stderr: ${r.stderr.slice(0, 300)}; input saved to ${save('cli', i, text)}`);
    });
    assert.deepEqual(failures, []);
  });
});
