/**
 * Security at run time: shell metacharacters in parameters reach real Python and JavaScript flows
 * byte for byte through `deployment run --params` and a real worker (and nothing is executed); the
 * state directory is 0700 and the database files 0600 even under umask 000; names with control
 * characters or ANSI escapes are refused (pool, queue, limit, deployment, queue from YAML) and anything
 * a user typed is echoed escaped, so no output can drive the terminal.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { BIN, cliEnv } from '../support/run-cli.js';
import { FAULT_FULL, StateDb, cli, cliOk, inParallel, makeProject, startWorker, stopWorkers } from '../support/fault-kit.js';
import { waitFor } from '../support/wait-for.js';

const ESC = '\u001b';
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const mode = (f: string) => statSync(f).mode & 0o777;

describe('parameters reach the flow byte for byte, and nothing is executed', { timeout: 120_000 }, () => {
  test('shell metacharacters, quotes, newlines and escapes in --params and --param, Python and JavaScript flows', async () => {
    const p = makeProject(
      'deployments:\n' +
        '  - {name: py, entrypoint: flows/echo.py:echo, work_pool: {name: sec-pool}}\n' +
        '  - {name: js, entrypoint: flows/echo.mjs:echo, work_pool: {name: sec-pool}}\n',
    );
    // a sandbox HOME with a canary: if `rm -rf ~` ever ran, it would only reach this
    const sandbox = path.join(p.cwd, 'home');
    mkdirSync(sandbox);
    writeFileSync(path.join(sandbox, 'canary'), 'still here');
    const env = { HOME: sandbox };
    const pwned = (n: string) => path.join(sandbox, `pwned-${n}`);
    const payload = {
      semicolon: '; rm -rf ~',
      subst: `$(touch ${pwned('subst')})`,
      backticks: `\`touch ${pwned('backticks')}\``,
      quotes: `'"\\'\\"'`,
      newlines: 'one\ntwo\r\nthree\n',
      mixed: `a'; echo "$HOME" | tee ${pwned('tee')}; \`id\` $(id) && rm -rf / # ${'>'}${pwned('redirect')}`,
      dollar: '$HOME ${HOME} %PATH% !!',
      glob: '* ?.py [a-z]*',
      flag: '--help',
      escape: `${ESC}[31mred${ESC}[0m ${ESC}]0;title\u0007`,
      nul: 'before\u0000after',
      unicode: 'ünïcødé ✓ 😀 \u202eevil\u202c',
      path: '../../../etc/passwd',
      number: 1.5,
      flag_on: true,
      nothing: null,
      nested: { list: ['$(id)', '`id`', ';', '|', '&&'], deeper: { s: '|| reboot' } },
      'key with spaces; rm -rf ~': 'value',
    };
    const workers: ReturnType<typeof startWorker>[] = [];
    let state: StateDb | undefined;
    try {
      await cliOk(['deploy', '--all'], p);
      workers.push(startWorker(p, 'sec-pool', ['--lease-seconds', '5'], env));
      const ids: Record<string, string> = {};
      for (const d of ['py', 'js']) {
        ids[d] = (JSON.parse(await cliOk(['deployment', 'run', `echo/${d}`, '--params', JSON.stringify(payload), '-o', 'json'], p, env)) as { id: string }).id;
      }
      // the --param k=v form: a value that is not JSON stays a string, exactly
      ids.param = (JSON.parse(await cliOk(['deployment', 'run', 'echo/py', '--param', 'semicolon=; rm -rf ~', '--param', `subst=$(touch ${pwned('param')})`, '-o', 'json'], p, env)) as { id: string }).id;
      state = new StateDb(p.home);
      const db = state;
      await waitFor(() => Object.values(ids).every((id) => db.run(id).state_type === 'COMPLETED') || Object.values(ids).find((id) => ['FAILED', 'CRASHED'].includes(db.run(id).state_type)), {
        what: 'the echo runs to finish',
      });
      for (const [what, id] of Object.entries(ids)) assert.equal(db.run(id).state_type, 'COMPLETED', `${what}: ${db.run(id).state_message}`);
      const received = (id: string) => JSON.parse(readFileSync(path.join(p.cwd, `echo-${id}.json`), 'utf8')) as unknown;
      assert.deepEqual(received(ids.py!), payload, 'Python flow');
      assert.deepEqual(received(ids.js!), payload, 'JavaScript flow');
      assert.deepEqual(received(ids.param!), { semicolon: '; rm -rf ~', subst: `$(touch ${pwned('param')})` });
      assert.deepEqual(readdirSync(sandbox).filter((f) => f.startsWith('pwned-')), [], 'no command in a parameter ran');
      assert.equal(readFileSync(path.join(sandbox, 'canary'), 'utf8'), 'still here');
      // what the store kept is the same bytes
      const stored = (await cliOk(['flow-run', 'inspect', ids.py!, '-o', 'json'], p)).toString();
      assert.deepEqual((JSON.parse(stored) as { parameters: unknown }).parameters, payload);
      assert.deepEqual(await stopWorkers(workers), [0]);
      workers.length = 0;
    } finally {
      for (const w of workers) w.kill('SIGKILL');
      state?.close();
      p.dispose();
    }
  });
});

describe('file permissions of the state', () => {
  for (const umask of ['022', '000']) {
    test(`a new state directory is 0700 and the database files 0600 (umask ${umask})`, async () => {
      const p = makeProject('deployments:\n  - {name: one, entrypoint: flows/work.py:work, work_pool: {name: perm-pool}}\n');
      try {
        const home = path.join(p.cwd, 'nested', 'state', 'home');
        // umask is per process: set it in a tiny launcher (argv only; "$@" passes the arguments unchanged)
        const run = (...args: string[]) =>
          spawnSync('/bin/sh', ['-c', `umask ${umask} && exec "$@"`, 'sh', process.execPath, BIN, ...args], { cwd: p.cwd, env: cliEnv(home), encoding: 'utf8' });
        for (const args of [['deploy', '--all'], ['deployment', 'run', 'work/one']]) assert.equal(run(...args).status, 0, args.join(' '));
        assert.equal(mode(home), 0o700, 'state directory');
        for (const f of ['flowdeck.db', 'flowdeck.db-wal', 'flowdeck.db-shm']) {
          const file = path.join(home, f);
          if (existsSync(file)) assert.equal(mode(file), 0o600, f);
        }
        assert.ok(existsSync(path.join(home, 'flowdeck.db')));
        for (const dir of [path.join(p.cwd, 'nested'), path.join(p.cwd, 'nested', 'state')]) assert.equal(mode(dir) & 0o077, 0, `${dir} is private too`);
      } finally {
        p.dispose();
      }
    });
  }

  test('the concurrency agent socket of a running worker sits in a private (0700) folder', async () => {
    const p = makeProject('deployments:\n  - {name: one, entrypoint: flows/work.py:work, work_pool: {name: sock-pool}}\n');
    const before = new Set(readdirSync(os.tmpdir()).filter((d) => d.startsWith('flowdeck-agent-')));
    try {
      await cliOk(['deploy', '--all'], p);
      const w = startWorker(p, 'sock-pool');
      try {
        await waitFor(() => /Worker [0-9a-f]{8} started/.test(w.output()), { what: 'the worker to start' });
        const mine = readdirSync(os.tmpdir()).filter((d) => d.startsWith('flowdeck-agent-') && !before.has(d));
        assert.ok(mine.length >= 1);
        for (const d of mine) if (existsSync(path.join(os.tmpdir(), d))) assert.equal(mode(path.join(os.tmpdir(), d)), 0o700, d);
      } finally {
        await stopWorkers([w]);
      }
    } finally {
      p.dispose();
    }
  });
});

describe('names that could confuse a terminal or escape a path', { timeout: 240_000 }, () => {
  const hostile = [`evil${ESC}[31m`, `title${ESC}]0;pwned\u0007`, 'bell\u0007', 'nul\u0000x', 'csi\u009b2J', 'tab\tname', 'new\nline', '../../etc', 'a/b', '50%', 'a&b', '<x>'];

  test('pool, queue and global limit names with control characters, escapes or / % & < > are refused, echoed escaped', async () => {
    const p = makeProject();
    try {
      await cliOk(['work-pool', 'create', 'names-pool'], p);
      const problems: string[] = [];
      const commands = (name: string) => [['work-pool', 'create', name], ['work-queue', 'create', name, '--pool', 'names-pool'], ['gcl', 'create', name, '--limit', '1']];
      // argv cannot carry NUL (the YAML case below covers it); by default each name goes to one of the
      // three commands in turn (a process each), all three in the full run
      const cases = hostile.filter((n) => !n.includes('\u0000')).flatMap((name, i) => (FAULT_FULL ? commands(name) : [commands(name)[i % 3]!]).map((args) => ({ name, args })));
      await inParallel(cases, 3, async ({ name, args }) => {
        const r = await cli(args, p);
        const what = `${args.slice(0, 2).join(' ')} ${JSON.stringify(name)}`;
        if (r.code !== 1) problems.push(`${what}: exit ${r.code}`);
        if (!/Error: .*(control characters|may not contain)/.test(r.stderr)) problems.push(`${what}: ${r.stderr}`);
        if (RAW_CONTROL.test(r.stdout + r.stderr)) problems.push(`${what}: raw control characters in the output`);
      });
      assert.deepEqual(problems, []);
      const listed = await cliOk(['work-pool', 'ls', '-o', 'json'], p);
      assert.deepEqual((JSON.parse(listed) as { name: string }[]).map((x) => x.name), ['names-pool']);
    } finally {
      p.dispose();
    }
  });

  test('a deployment or queue name with an escape sequence in prefect.yaml is refused by validation, shown escaped', async () => {
    const cases = [
      ['name', 'deployments:\n  - name: "bad\\e[2Jname"\n    entrypoint: flows/work.py:work\n    work_pool: {name: y-pool}\n'],
      ['name', 'deployments:\n  - name: "nul\\0name"\n    entrypoint: flows/work.py:work\n    work_pool: {name: y-pool}\n'],
      ['name', 'deployments:\n  - name: "c1\\x9b2Jname"\n    entrypoint: flows/work.py:work\n    work_pool: {name: y-pool}\n'],
      ['work_pool.name', 'deployments:\n  - name: ok\n    entrypoint: flows/work.py:work\n    work_pool: {name: "pool\\e]0;x\\a"}\n'],
      ['work_pool.work_queue_name', 'deployments:\n  - name: ok\n    entrypoint: flows/work.py:work\n    work_pool: {name: y-pool, work_queue_name: "q\\e[31m"}\n'],
    ] as const;
    // validate each; deploy too for the queue (deploy used to print the name of the queue it created)
    await inParallel(cases, 3, async ([field, yaml]) => {
      const p = makeProject(yaml);
      try {
        for (const cmd of field === 'work_pool.work_queue_name' || FAULT_FULL ? [['validate'], ['deploy', '--all']] : [['validate']]) {
          const r = await cli(cmd, p);
          assert.equal(r.code, 1, `${cmd[0]} ${field}: ${r.stderr}`);
          assert.match(r.stderr, new RegExp(`error invalid-[a-z-]*name deployments\\[0\\]\\.${field.replace('.', '\\.')}: must not contain control characters`));
          assert.doesNotMatch(r.stdout + r.stderr, RAW_CONTROL, `${cmd[0]} ${field}: raw control characters printed`);
        }
      } finally {
        p.dispose();
      }
    });
  });

  test('what the user typed is echoed escaped in errors (not found, unknown command, bad state)', async () => {
    const p = makeProject('deployments:\n  - {name: one, entrypoint: flows/work.py:work, work_pool: {name: echo-pool}}\n');
    try {
      await cliOk(['deploy', '--all'], p);
      const cases = [
        ['deployment', 'inspect', `work/x${ESC}[2J`],
        ['work-pool', 'inspect', `p${ESC}]0;pwned\u0007`],
        ['flow-run', 'inspect', `id${ESC}[31m`],
        ['flow-run', 'ls', '--state', `Late${ESC}[2J`],
        [`cmd${ESC}[2J`],
        ['deployment', 'run', 'work/one', '--param', `k${ESC}[31m`],
      ];
      const results = await inParallel(cases, 3, (args) => cli(args, p));
      for (const [i, r] of results.entries()) {
        const args = cases[i]!;
        assert.ok(r.code === 1 || r.code === 2, `${JSON.stringify(args)}: exit ${r.code}`);
        assert.ok(!r.stderr.includes(ESC) && !r.stdout.includes(ESC), `${JSON.stringify(args)} printed a raw escape: ${JSON.stringify(r.stderr)}`);
        assert.match(r.stderr, /\\u001b/, 'shown escaped');
      }
    } finally {
      p.dispose();
    }
  });
});
