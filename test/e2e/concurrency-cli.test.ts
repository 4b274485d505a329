/**
 * Global concurrency around any command and from scripts, through the built CLI: `gcl run`,
 * `gcl inspect` holders, `gcl ls` after decay, and holders killed with SIGKILL.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { BIN, cliEnv, REPO, runCli, runJson, startCli } from '../support/run-cli.js';
import { waitFor } from '../support/wait-for.js';

interface Holder {
  lease_id: string;
  holder: string;
  slots: number;
  acquired: string;
  expires: string;
}
interface Gcl {
  name: string;
  limit: number;
  active_slots: number;
  holders: Holder[];
}

/** Highest running sum of "+1"/"-1" lines, in file order. */
function highest(lines: string[]): number {
  let n = 0;
  let most = 0;
  for (const l of lines) {
    n += l.startsWith('+1') ? 1 : l.startsWith('-1') ? -1 : 0;
    most = Math.max(most, n);
  }
  return most;
}

/** A process in its own group (so SIGKILL to the group takes its children too), with its output collected. */
function spawnGroup(cmd: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe('gcl run, gcl inspect and gcl ls', { timeout: 180_000 }, () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-gcl-cli-'));
  const p = { cwd, home: path.join(cwd, '.state') };
  const inspect = (name: string, env: Record<string, string> = {}) => runJson<Gcl>(['gcl', 'inspect', name], { ...p, env });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test('five `gcl run cli-limit` started at once on a limit of 2: at most 2 commands run at once, all exit 0', async () => {
    assert.equal(runCli(['gcl', 'create', 'cli-limit', '--limit', '2'], p).code, 0);
    const rec = path.join(cwd, 'cli-record.txt');
    // each command records its start, waits (bounded) until two commands have started, then ends
    const script = [
      'echo "+1 $$" >> "$REC"',
      'i=0; while [ "$(grep -c "^+1" "$REC")" -lt 2 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done',
      'sleep 0.3',
      'echo "-1 $$" >> "$REC"',
    ].join('\n');
    const runs = Array.from({ length: 5 }, () => startCli(['gcl', 'run', 'cli-limit', '--', 'sh', '-c', script], { ...p, env: { REC: rec } }));
    const codes = await Promise.all(runs.map((r) => r.exited));
    assert.deepEqual(codes, [0, 0, 0, 0, 0], runs.map((r) => r.output()).join('\n'));
    const lines = readFileSync(rec, 'utf8').split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 10);
    assert.equal(highest(lines), 2, lines.join('\n'));
    assert.deepEqual(inspect('cli-limit').holders, []);
  });

  test('with the limit held, `gcl run --timeout 1` exits 1 after about a second and says it timed out; the holder shows in inspect', async () => {
    const holder = startCli(['gcl', 'run', 'cli-limit', '--occupy', '2', '--', 'sleep', '60'], p);
    const [h] = await waitFor(() => {
      const g = inspect('cli-limit');
      return g.holders.length === 1 ? g.holders : undefined;
    }, { what: 'the holder of cli-limit' });
    assert.match(h!.holder, /^pid:\d+ sleep$/);
    assert.equal(h!.slots, 2);
    assert.ok(Date.parse(h!.expires) > Date.parse(h!.acquired));
    const text = runCli(['gcl', 'inspect', 'cli-limit'], p).stdout;
    assert.match(text, /active_slots\s+2/);
    assert.match(text, /pid:\d+ sleep/);
    assert.equal(inspect('cli-limit').active_slots, 2);

    const started = Date.now();
    const res = runCli(['gcl', 'run', 'cli-limit', '--timeout', '1', '--', 'true'], p);
    const elapsed = Date.now() - started;
    assert.equal(res.code, 1);
    assert.match(res.stderr, /waiting for slots on 'cli-limit' \(2\/2 in use\)/);
    assert.match(res.stderr, /Attempt to acquire concurrency slots timed out after 1 second\(s\)/);
    assert.ok(elapsed >= 1000, `${elapsed} ms`);

    // signals pass through: SIGTERM ends `sleep`, gcl run exits with its status and frees the slots
    holder.child.kill('SIGTERM');
    assert.equal(await holder.exited, 143);
    assert.deepEqual(inspect('cli-limit').holders, []);
  });

  test("gcl run exits with the command's code; --strict on a missing limit and a missing command fail with exit 1", () => {
    assert.equal(runCli(['gcl', 'run', 'cli-limit', '--', 'sh', '-c', 'exit 7'], p).code, 7);
    const strict = runCli(['gcl', 'run', 'nope', '--strict', '--', 'true'], p);
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /Concurrency limits \['nope'\] must be created before acquiring slots/);
    const loose = runCli(['gcl', 'run', 'nope', '--', 'true'], p);
    assert.equal(loose.code, 0);
    assert.match(loose.stderr, /Concurrency limits \['nope'\] do not exist - skipping acquisition/);
    const missing = runCli(['gcl', 'run', 'cli-limit', '--', 'no-such-command-xyz'], p);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /command not found: no-such-command-xyz/);
    assert.deepEqual(inspect('cli-limit').holders, []);
  });

  test('gcl ls shows the slots in use after decay', async () => {
    assert.equal(runCli(['gcl', 'create', 'decaying', '--limit', '5', '--active-slots', '4', '--slot-decay-per-second', '0.5'], p).code, 0);
    const inUse = () => runJson<Gcl[]>(['gcl', 'ls'], p).find((g) => g.name === 'decaying')!.active_slots;
    const first = inUse();
    assert.ok(first > 0 && first <= 4, String(first));
    await waitFor(() => inUse() < first, { timeoutMs: 20_000, what: 'decay below the first reading' });
    await waitFor(() => inUse() === 0, { timeoutMs: 20_000, what: 'full decay' });
    assert.match(runCli(['gcl', 'ls'], p).stdout, /decaying/);
  });

  test('kill -9 of `gcl run` gives its slots back once its lease expires', async () => {
    assert.equal(runCli(['gcl', 'create', 'kill-limit', '--limit', '1'], p).code, 0);
    const env = cliEnv(p.home, { FLOWDECK_LEASE_SECONDS: '2' });
    const held = spawnGroup(process.execPath, [BIN, 'gcl', 'run', 'kill-limit', '--', 'sleep', '60'], env);
    const [h] = await waitFor(() => {
      const g = inspect('kill-limit');
      return g.holders.length === 1 ? g.holders : undefined;
    }, { what: 'gcl run to hold kill-limit' });
    // a 2 s lease (renewed every third of it while the holder lives, so it may already reach further)
    assert.ok(Date.parse(h!.expires) - Date.parse(h!.acquired) >= 2000);
    process.kill(-held.child.pid!, 'SIGKILL'); // the node process and its `sleep`: nothing releases
    await held.exited;
    await waitFor(() => inspect('kill-limit').holders.length === 0, { timeoutMs: 20_000, what: 'the lease to expire' });
    assert.equal(runCli(['gcl', 'run', 'kill-limit', '--timeout', '10', '--', 'true'], p).code, 0);
  });

  test('kill -9 of a Python process inside `with concurrency(...)` (outside a worker) gives its slots back', async () => {
    const script = [
      'import time',
      'from prefect.concurrency.sync import concurrency',
      'with concurrency("kill-limit", occupy=1, strict=True):',
      '    print("INSIDE", flush=True)',
      '    time.sleep(60)',
    ].join('\n');
    const py = (lease: string) => {
      const env: NodeJS.ProcessEnv = { ...cliEnv(p.home, { FLOWDECK_LEASE_SECONDS: lease }), PYTHONPATH: [path.join(REPO, 'runtimes/python'), path.join(REPO, 'runtimes/python/prefect_shim')].join(path.delimiter) };
      delete env.FLOWDECK_FLOW_RUN_ID;
      delete env.FLOWDECK_AGENT_SOCKET;
      return spawnGroup('python3', ['-c', script], env);
    };
    const inside = async (proc: ReturnType<typeof py>) => {
      await waitFor(() => proc.output().includes('INSIDE'), { timeoutMs: 20_000, what: `python inside the block: ${proc.output()}` });
      const [h] = inspect('kill-limit').holders;
      assert.equal(h!.holder, `pid:${proc.child.pid}`);
    };

    // the Python process alone: its agent (`flowdeck agent` on its stdio) sees EOF and releases at once,
    // long before the 60 s lease would expire
    const alone = py('60');
    await inside(alone);
    process.kill(alone.child.pid!, 'SIGKILL');
    await alone.exited;
    await waitFor(() => inspect('kill-limit').holders.length === 0, { timeoutMs: 20_000, what: 'the agent to release' });

    // Python and its agent together: nothing releases, the 2 s lease expires
    const both = py('2');
    await inside(both);
    process.kill(-both.child.pid!, 'SIGKILL');
    await both.exited;
    await waitFor(() => inspect('kill-limit').holders.length === 0, { timeoutMs: 20_000, what: 'the lease to expire' });
  });
});
