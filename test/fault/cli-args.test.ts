/**
 * Bad command-line values across the commands: negative, zero, NaN, huge, empty, malformed JSON and
 * durations, unknown names. Each must end quickly with exit 1 (the operation failed: not found,
 * conflict, invalid value) or 2 (usage), an error message on stderr, no stack trace and no
 * "internal error". Every other case by default (a process each); all of them with FLOWDECK_FAULT_FULL=1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FAULT_FULL, STACK_TRACE, cli, cliOk, inParallel, makeProject, type Project } from '../support/fault-kit.js';
import { recordFigure } from '../support/fault-report.js';

type Case = [args: string[], exit?: 1 | 2, env?: Record<string, string>];

const HUGE = '99999999999999999999';
const ALL_CASES: Case[] = [
  // work pools
  [['work-pool', 'create', 'p2', '--concurrency-limit', '-1'], 2],
  [['work-pool', 'create', 'p2', '--concurrency-limit', 'NaN'], 2],
  [['work-pool', 'create', 'p2', '--concurrency-limit', '1e999'], 2],
  [['work-pool', 'create', 'p2', '--concurrency-limit', HUGE], 2],
  [['work-pool', 'create', 'p2', '--concurrency-limit', ''], 2],
  [['work-pool', 'create', 'p2', '--concurrency-limit', '2.5'], 2],
  [['work-pool', 'create', ''], 1],
  [['work-pool', 'create', '   '], 1],
  [['work-pool', 'create', 'p2', '--type', 'kubernetes'], 1],
  [['work-pool', 'create', 'args-pool'], 1],
  [['work-pool', 'set-concurrency-limit', 'args-pool', '-1']],
  [['work-pool', 'set-concurrency-limit', 'args-pool', 'NaN']],
  [['work-pool', 'set-concurrency-limit', 'args-pool', '1e400']],
  [['work-pool', 'set-concurrency-limit', 'args-pool', HUGE]],
  [['work-pool', 'set-concurrency-limit', 'no-such-pool', '3'], 1],
  [['work-pool', 'inspect', 'no-such-pool'], 1],
  [['work-pool', 'inspect', ''], 1],
  [['work-pool', 'delete', 'no-such-pool'], 1],
  [['work-pool', 'pause', 'no-such-pool'], 1],
  [['work-pool', 'ls', '-o', 'yaml'], 1],
  // work queues
  [['work-queue', 'create', 'q2', '--pool', 'args-pool', '--priority', '0'], 2],
  [['work-queue', 'create', 'q2', '--pool', 'args-pool', '--priority', '-3']],
  [['work-queue', 'create', 'q2', '--pool', 'args-pool', '--limit', '-1']],
  [['work-queue', 'create', 'q2', '--pool', 'args-pool', '--priority', HUGE], 2],
  [['work-queue', 'create', 'q2', '--pool', 'no-such-pool'], 1],
  [['work-queue', 'create', 'q2'], 2],
  [['work-queue', 'set-concurrency-limit', 'default', 'NaN', '--pool', 'args-pool']],
  [['work-queue', 'set-concurrency-limit', 'no-such-queue', '2', '--pool', 'args-pool'], 1],
  [['work-queue', 'inspect', 'no-such-queue', '--pool', 'args-pool'], 1],
  [['work-queue', 'delete', 'default', '--pool', 'args-pool'], 1],
  // global concurrency limits
  [['gcl', 'create', 'g2', '--limit', '-1'], 1],
  [['gcl', 'create', 'g2', '--limit', 'NaN'], 1],
  [['gcl', 'create', 'g2', '--limit', '1e999'], 1],
  [['gcl', 'create', 'g2', '--limit', ''], 1],
  [['gcl', 'create', 'g2', '--limit', '0.5'], 1],
  [['gcl', 'create', 'g2', '--limit', HUGE], 1],
  [['gcl', 'create', 'g2'], 1],
  [['gcl', 'create', 'g2', '--limit', '2', '--active-slots', '-1'], 1],
  [['gcl', 'create', 'g2', '--limit', '2', '--slot-decay-per-second', '-0.5'], 1],
  [['gcl', 'create', 'g2', '--limit', '2', '--slot-decay-per-second', 'Infinity'], 1],
  [['gcl', 'create', 'args-gcl', '--limit', '2'], 1],
  [['gcl', 'update', 'no-such-limit', '--limit', '3'], 1],
  [['gcl', 'update', 'args-gcl'], 1],
  [['gcl', 'inspect', 'no-such-limit'], 1],
  [['gcl', 'delete', 'no-such-limit'], 1],
  [['gcl', 'enable', 'no-such-limit'], 1],
  [['gcl', 'run', 'no-such-limit', '--strict', '--timeout', '1', '--', 'true'], 1],
  [['gcl', 'run', 'args-gcl', '--occupy', '0', '--', 'true'], 2],
  [['gcl', 'run', 'args-gcl', '--occupy', '-1', '--', 'true'], 2],
  [['gcl', 'run', 'args-gcl', '--occupy', '3', '--', 'true'], 1],
  [['gcl', 'run', 'args-gcl', '--timeout', '-1', '--', 'true'], 2],
  [['gcl', 'run', 'args-gcl', '--', 'definitely-not-a-command-xyz'], 1],
  [['gcl', 'run', '', '--', 'true'], 2],
  // deployments
  [['deployment', 'run', 'nope/nope'], 1],
  [['deployment', 'run', 'no-slash']],
  [['deployment', 'run', '']],
  [['deployment', 'run', 'work/one', '--params', '[1]'], 2],
  [['deployment', 'run', 'work/one', '--params', '{'], 2],
  [['deployment', 'run', 'work/one', '--params', ''], 2],
  [['deployment', 'run', 'work/one', '--param', 'novalue'], 2],
  [['deployment', 'run', 'work/one', '--param', 'a=1', '--params', '{}'], 2],
  [['deployment', 'run', 'work/one', '--start-in', '-5s'], 2],
  [['deployment', 'run', 'work/one', '--start-in', 'NaN'], 2],
  [['deployment', 'run', 'work/one', '--start-in', ''], 2],
  [['deployment', 'run', 'work/one', '--start-in', `${HUGE}d`], 2],
  [['deployment', 'run', 'work/one', '--start-in', HUGE], 2],
  [['deployment', 'run', 'work/one', '--start-in', '1e999'], 2],
  [['deployment', 'inspect', ''], 2],
  [['deployment', 'inspect', 'work/nope'], 1],
  [['deployment', 'delete', 'nope/x'], 1],
  [['deployment', 'pause', 'nope/x'], 1],
  // flow runs
  [['flow-run', 'ls', '--limit', '0'], 2],
  [['flow-run', 'ls', '--limit', '-1'], 2],
  [['flow-run', 'ls', '--limit', 'abc'], 2],
  [['flow-run', 'ls', '--limit', '1e999'], 2],
  [['flow-run', 'ls', '--limit', HUGE], 2],
  [['flow-run', 'ls', '--state', 'NOT-A-STATE'], 2],
  [['flow-run', 'ls', '--deployment', 'nope/x'], 1],
  [['flow-run', 'ls', '-o', 'yaml'], 1],
  [['flow-run', 'inspect', 'no-such-run'], 1],
  [['flow-run', 'inspect', ''], 1],
  [['flow-run', 'cancel', '00000000-0000-0000-0000-000000000000'], 1],
  [['flow-run', 'logs', 'zzz'], 1],
  // workers
  [['worker', 'start', '--pool', 'no-such-pool'], 1],
  [['worker', 'start'], 2],
  [['worker', 'start', '--pool', 'args-pool', '--lease-seconds', '0'], 2],
  [['worker', 'start', '--pool', 'args-pool', '--lease-seconds', '-3'], 2],
  [['worker', 'start', '--pool', 'args-pool', '--lease-seconds', 'NaN'], 2],
  [['worker', 'start', '--pool', 'args-pool', '--lease-seconds', '1e999'], 2],
  [['worker', 'start', '--pool', 'args-pool', '--limit', '0'], 2],
  [['worker', 'start', '--pool', 'args-pool', '--grace-period', '-1'], 2],
  // files and the program itself
  [['deploy', '--all', '--prefect-file', 'missing.yaml'], 1],
  [['validate', '--prefect-file', ''], 1],
  [['validate', '--prefect-file', '.'], 1],
  [['deploy', '--all', '-n', 'x'], 2],
  [['deploy', '-n', 'no-such-deployment'], 1],
  [['no-such-command'], 2],
  [['work-pool', 'frobnicate'], 2],
  [['--home', '', 'work-pool', 'ls'], 2],
  [['work-pool', 'ls'], 2, { FLOWDECK_BUSY_TIMEOUT_MS: 'abc' }],
  [['work-pool', 'ls'], 2, { FLOWDECK_BUSY_TIMEOUT_MS: '-5' }],
];

const CASES = FAULT_FULL ? ALL_CASES : ALL_CASES.filter((_, i) => i % 2 === 0);

describe('bad command-line values', { timeout: 300_000 }, () => {
  let p: Project;
  before(async () => {
    p = makeProject('deployments:\n  - name: one\n    entrypoint: flows/work.py:work\n    work_pool: {name: args-pool}\n');
    await cliOk(['deploy', '--all'], p);
    await cliOk(['gcl', 'create', 'args-gcl', '--limit', '2'], p);
  });
  after(() => p.dispose());

  test(`${CASES.length} cases across every command: a clear error, exit 1 or 2, never a stack trace`, async () => {
    const results = await inParallel(CASES, 4, ([args, , env]) => cli(args, p, { timeoutMs: 20_000, ...(env ? { env } : {}) }));
    const problems: string[] = [];
    const table: string[] = [];
    for (const [i, [args, exit, env]] of CASES.entries()) {
      const r = results[i]!;
      const what = `${env ? `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} ` : ''}flowdeck ${args.map((a) => (a === '' || /\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`;
      const firstLine = r.stderr.split('\n').find((l) => l.trim() !== '') ?? '';
      table.push(`${r.code}  ${what}  ->  ${firstLine}`);
      if (exit !== undefined ? r.code !== exit : r.code !== 1 && r.code !== 2) problems.push(`${what}: exit ${r.code}, wanted ${exit ?? '1 or 2'}: ${r.stderr.trim()}`);
      if (!/error/i.test(r.stderr)) problems.push(`${what}: no error message (stderr: ${JSON.stringify(r.stderr)})`);
      if (STACK_TRACE.test(r.stderr) || /Internal error/.test(r.stderr)) problems.push(`${what}: ${r.stderr}`);
    }
    console.log(table.join('\n'));
    recordFigure({ kind: 'fuzz', scenario: 'bad command-line values', cases: CASES.length, stackTraces: results.filter((r) => STACK_TRACE.test(r.stderr)).length, crashes: results.filter((r) => r.code !== 1 && r.code !== 2).length, slowestMs: Math.max(...results.map((r) => r.ms)) });
    assert.deepEqual(problems, []);
  });
});
