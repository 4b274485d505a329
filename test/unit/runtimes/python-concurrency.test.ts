// The Python concurrency API (flowdeck + the Prefect shim) against a fake
// concurrency agent speaking the newline-delimited JSON protocol.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  FakeAgent,
  grantAll,
  lastLine,
  makeProject,
  removeProject,
  runRunner,
  waitUntil,
  type AgentRequest,
} from './harness.js';

const SEED_SYNC = `from prefect import flow
from prefect.concurrency.sync import concurrency


@flow
def clickstream_dbt_run(database: str, full_refresh: bool = False, store_timezone_offset_minutes: str = "330"):
    with concurrency("dbt-global", occupy=1, strict=True):
        print(f"inside dbt-global for {database} full_refresh={full_refresh} tz={store_timezone_offset_minutes}")
`;

const SEED_ASYNC = `from prefect import flow
from prefect.concurrency.asyncio import concurrency


@flow
async def clickstream_dbt_run(database: str):
    async with concurrency("dbt-global", occupy=1, strict=True):
        print(f"inside dbt-global (async) for {database}")
`;

const FLOWS: Record<string, string> = {
  'flows/seed_sync.py': SEED_SYNC,
  'flows/seed_async.py': SEED_ASYNC,
  'flows/prefect_rate.py': `
from prefect import flow, task, get_run_logger
from prefect.concurrency.sync import rate_limit
from prefect.concurrency.asyncio import rate_limit as arate_limit

@flow
def sync_rate():
    rate_limit("api", occupy=2)
    get_run_logger().info("rate limited")
    print("RATE OK")

@flow
async def async_rate():
    await arate_limit(["api", "db"], timeout_seconds=5, strict=True)
    print("ARATE OK")
`,
  'flows/gcl.py': `
import asyncio, threading
from flowdeck import (
    concurrency, rate_limit, AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError,
)
import flowdeck.asyncio as fda

def strict_missing():
    with concurrency("x", occupy=1, strict=True):
        print("SHOULD NOT RUN")

def timeout_caught():
    try:
        with concurrency("busy", occupy=1, timeout_seconds=1, strict=False):
            print("SHOULD NOT RUN")
    except TimeoutError as exc:
        print("TIMEOUT", type(exc).__name__, isinstance(exc, AcquireConcurrencySlotTimeoutError), str(exc))

def timeout_uncaught():
    with concurrency("busy", timeout_seconds=1):
        pass

def too_many():
    with concurrency(["a", "b"], occupy=5):
        pass

def with_list_and_prefect_kwargs():
    with concurrency(["a", "b"], occupy=2, timeout_seconds=2.5, max_retries=3, lease_duration=60, holder=None) as c:
        print("INSIDE", c.lease_id)
    with concurrency([]):
        print("EMPTY NAMES NO-OP")
    with concurrency(None):
        print("NONE NAMES NO-OP")

def body_raises():
    with concurrency("a"):
        raise RuntimeError("body failed")

def two_threads():
    results = {}
    def worker(name):
        with concurrency(name) as c:
            results[name] = c.lease_id
    threads = [threading.Thread(target=worker, args=(n,)) for n in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("LEASES", results["first"], results["second"])

def sync_used_with_async_with():
    async def main():
        async with concurrency("a") as c:
            print("ASYNC WITH SYNC CM", c.lease_id)
    asyncio.run(main())

async def cancelled_while_waiting():
    try:
        await asyncio.wait_for(fda.concurrency("slow").__aenter__(), timeout=0.3)
    except asyncio.TimeoutError:
        print("GAVE UP WAITING")
    # stay alive until the late grant was handed back
    await asyncio.sleep(1.5)

async def async_timeout():
    async with fda.concurrency("busy", timeout_seconds=1):
        pass

async def async_concurrent():
    async def one(name):
        async with fda.concurrency(name) as c:
            await asyncio.sleep(0.05)
            return c.lease_id
    print("GATHER", await asyncio.gather(one("a"), one("b"), one("c")))

def lost_connection():
    with concurrency("a"):
        pass
`,
};

interface Ctx {
  project: string;
  agent: FakeAgent;
}

async function withAgent(responder = grantAll): Promise<FakeAgent> {
  return FakeAgent.start(responder);
}

function envFor(agent: FakeAgent, extra: Record<string, string | undefined> = {}) {
  return { FLOWDECK_AGENT_SOCKET: agent.socketPath, ...extra };
}

describe('python concurrency API', () => {
  const ctx = {} as Ctx;
  before(() => {
    ctx.project = makeProject(FLOWS);
  });
  after(() => removeProject(ctx.project));

  it("runs the seed's sync flow file unchanged: acquire then release on the agent", async () => {
    const agent = await withAgent();
    try {
      const r = await runRunner('python', 'flows/seed_sync.py:clickstream_dbt_run', {
        cwd: ctx.project,
        params: { database: 'tarinika-inc', full_refresh: false, store_timezone_offset_minutes: '-300' },
        env: envFor(agent, { FLOWDECK_FLOW_RUN_ID: 'run-abc' }),
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^inside dbt-global for tarinika-inc full_refresh=False tz=-300$/m);
      assert.deepEqual(agent.ops(), ['acquire', 'release']);
      const [acq, rel] = agent.requests as [AgentRequest, AgentRequest];
      assert.deepEqual(
        { ...acq, id: 0 },
        { id: 0, op: 'acquire', names: ['dbt-global'], occupy: 1, timeout_seconds: null, strict: true, mode: 'concurrency', holder: 'run-abc' },
      );
      assert.equal(typeof acq.id, 'number');
      assert.deepEqual({ ...rel, id: 0 }, { id: 0, op: 'release', lease_id: 'L1' });
      assert.notEqual(rel.id, acq.id);
    } finally {
      await agent.close();
    }
  });

  it("runs the seed's async flow file unchanged", async () => {
    const agent = await withAgent();
    try {
      const r = await runRunner('python', 'flows/seed_async.py:clickstream_dbt_run', {
        cwd: ctx.project,
        params: { database: 'store-2' },
        env: envFor(agent),
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^inside dbt-global \(async\) for store-2$/m);
      assert.deepEqual(agent.ops(), ['acquire', 'release']);
      assert.equal(agent.requests[0]!.strict, true);
      assert.equal(agent.requests[0]!.holder, 'run-test-1');
      assert.equal(agent.requests[1]!.lease_id, 'L1');
    } finally {
      await agent.close();
    }
  });

  it('strict=True on a missing limit raises ConcurrencySlotAcquisitionError and exits 1', async () => {
    const agent = await withAgent((req) =>
      req.op === 'acquire'
        ? { ok: false, error: 'missing-limits', message: "Concurrency limits ['x'] must be created before acquiring slots" }
        : { ok: true },
    );
    try {
      const r = await runRunner('python', 'flows/gcl.py:strict_missing', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r.code, 1, r.stderr);
      assert.equal(lastLine(r.stderr), "ConcurrencySlotAcquisitionError: Concurrency limits ['x'] must be created before acquiring slots");
      assert.doesNotMatch(r.stdout, /SHOULD NOT RUN/);
      assert.deepEqual(agent.ops(), ['acquire']);
      assert.equal(agent.requests[0]!.strict, true);
    } finally {
      await agent.close();
    }
  });

  it('a missing-limits reply without a message still names the limits', async () => {
    const agent = await withAgent((req) => (req.op === 'acquire' ? { ok: false, error: 'missing-limits' } : { ok: true }));
    try {
      const r = await runRunner('python', 'flows/gcl.py:strict_missing', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r.code, 1);
      assert.equal(lastLine(r.stderr), "ConcurrencySlotAcquisitionError: Concurrency limits ['x'] must be created before acquiring slots");
    } finally {
      await agent.close();
    }
  });

  it('a timeout raises AcquireConcurrencySlotTimeoutError, a TimeoutError, with the agent message', async () => {
    const message = 'Attempt to acquire concurrency slots timed out after 1 second(s)';
    const agent = await withAgent((req) => (req.op === 'acquire' ? { ok: false, error: 'timeout', message } : { ok: true }));
    try {
      const caught = await runRunner('python', 'flows/gcl.py:timeout_caught', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(caught.code, 0, caught.stderr);
      assert.match(caught.stdout, new RegExp(`^TIMEOUT AcquireConcurrencySlotTimeoutError True ${message.replace(/[()]/g, '\\$&')}$`, 'm'));
      assert.equal(agent.requests[0]!.timeout_seconds, 1);
      assert.equal(agent.requests[0]!.strict, false);

      const uncaught = await runRunner('python', 'flows/gcl.py:timeout_uncaught', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(uncaught.code, 1);
      assert.equal(lastLine(uncaught.stderr), `AcquireConcurrencySlotTimeoutError: ${message}`);

      const asyncUncaught = await runRunner('python', 'flows/gcl.py:async_timeout', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(asyncUncaught.code, 1);
      assert.equal(lastLine(asyncUncaught.stderr), `AcquireConcurrencySlotTimeoutError: ${message}`);
    } finally {
      await agent.close();
    }
  });

  it('too many slots raises ConcurrencySlotAcquisitionError with the agent message', async () => {
    const agent = await withAgent((req) =>
      req.op === 'acquire' ? { ok: false, error: 'too-many-slots', message: "Cannot take 5 slots on 'a': its limit is 2" } : { ok: true },
    );
    try {
      const r = await runRunner('python', 'flows/gcl.py:too_many', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r.code, 1);
      assert.equal(lastLine(r.stderr), "ConcurrencySlotAcquisitionError: Cannot take 5 slots on 'a': its limit is 2");
      assert.deepEqual(agent.requests[0]!.names, ['a', 'b']);
      assert.equal(agent.requests[0]!.occupy, 5);
    } finally {
      await agent.close();
    }
  });

  it('accepts a list of names and Prefect-only kwargs; empty names are a no-op; warnings go to stderr', async () => {
    const agent = await withAgent((req, a) =>
      req.op === 'acquire'
        ? { ok: true, lease_id: `L${a.nextLease()}`, warnings: ["Concurrency limits ['b'] do not exist - skipping acquisition."] }
        : { ok: true },
    );
    try {
      const r = await runRunner('python', 'flows/gcl.py:with_list_and_prefect_kwargs', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^INSIDE L1$/m);
      assert.match(r.stdout, /^EMPTY NAMES NO-OP$/m);
      assert.match(r.stdout, /^NONE NAMES NO-OP$/m);
      assert.match(r.stderr, /WARNING .*Concurrency limits \['b'\] do not exist - skipping acquisition\./);
      assert.deepEqual(agent.ops(), ['acquire', 'release']);
      assert.deepEqual(agent.requests[0]!.names, ['a', 'b']);
      assert.equal(agent.requests[0]!.occupy, 2);
      assert.equal(agent.requests[0]!.timeout_seconds, 2.5);
    } finally {
      await agent.close();
    }
  });

  it('releases the slots when the body raises', async () => {
    const agent = await withAgent();
    try {
      const r = await runRunner('python', 'flows/gcl.py:body_raises', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r.code, 1);
      assert.equal(lastLine(r.stderr), 'RuntimeError: body failed');
      assert.deepEqual(agent.ops(), ['acquire', 'release']);
    } finally {
      await agent.close();
    }
  });

  it('sends rate_limit with mode "rate_limit" and never releases (sync and async, via the shim)', async () => {
    const agent = await withAgent();
    try {
      const r1 = await runRunner('python', 'flows/prefect_rate.py:sync_rate', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r1.code, 0, r1.stderr);
      assert.match(r1.stdout, /^RATE OK$/m);
      assert.match(r1.stderr, /rate limited/);
      const r2 = await runRunner('python', 'flows/prefect_rate.py:async_rate', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r2.code, 0, r2.stderr);
      assert.match(r2.stdout, /^ARATE OK$/m);
      assert.deepEqual(agent.ops(), ['acquire', 'acquire']);
      assert.deepEqual(
        agent.requests.map((q) => [q.mode, q.names, q.occupy, q.strict, q.timeout_seconds]),
        [
          ['rate_limit', ['api'], 2, false, null],
          ['rate_limit', ['api', 'db'], 1, true, 5],
        ],
      );
    } finally {
      await agent.close();
    }
  });

  it('shares one connection between threads and routes out-of-order responses by id', async () => {
    // Hold the first acquire until the second arrives, then answer the second first.
    const held: Array<{ id: number; name: string; reply: (id: number, body: Record<string, unknown>) => void }> = [];
    const agent = await withAgent((req, _a, conn) => {
      if (req.op !== 'acquire') return { ok: true };
      held.push({ id: req.id, name: req.names![0]!, reply: conn.reply });
      if (held.length === 2) {
        for (const h of [...held].reverse()) h.reply(h.id, { ok: true, lease_id: `lease-${h.name}` });
      }
      return undefined;
    });
    try {
      const r = await runRunner('python', 'flows/gcl.py:two_threads', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^LEASES lease-first lease-second$/m);
      assert.equal(agent.connections.length, 1);
      assert.deepEqual(agent.ops().sort(), ['acquire', 'acquire', 'release', 'release']);
      assert.deepEqual(
        agent.requests.filter((q) => q.op === 'release').map((q) => q.lease_id).sort(),
        ['lease-first', 'lease-second'],
      );
      const ids = agent.requests.map((q) => q.id);
      assert.equal(new Set(ids).size, ids.length, 'request ids are unique');
    } finally {
      await agent.close();
    }
  });

  it('async: concurrent `async with` blocks, and the sync concurrency object works with `async with`', async () => {
    const agent = await withAgent();
    try {
      const r1 = await runRunner('python', 'flows/gcl.py:async_concurrent', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r1.code, 0, r1.stderr);
      const gathered = r1.stdout.match(/^GATHER \[(.*)\]$/m);
      assert.ok(gathered, r1.stdout);
      assert.deepEqual(gathered[1]!.split(', ').sort(), ["'L1'", "'L2'", "'L3'"]);
      assert.equal(agent.ops().filter((o) => o === 'release').length, 3);

      const r2 = await runRunner('python', 'flows/gcl.py:sync_used_with_async_with', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r2.code, 0, r2.stderr);
      assert.match(r2.stdout, /^ASYNC WITH SYNC CM L4$/m);
    } finally {
      await agent.close();
    }
  });

  it('a task cancelled while waiting hands back slots the agent grants afterwards', async () => {
    const agent = await withAgent((req, a, conn) => {
      if (req.op !== 'acquire') return { ok: true };
      // grant only after the client gave up (0.3 s)
      setTimeout(() => conn.reply(req.id, { ok: true, lease_id: `L${a.nextLease()}` }), 700);
      return undefined;
    });
    try {
      const r = await runRunner('python', 'flows/gcl.py:cancelled_while_waiting', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^GAVE UP WAITING$/m);
      assert.deepEqual(agent.ops(), ['acquire', 'release']);
      assert.equal(agent.requests[1]!.lease_id, 'L1');
    } finally {
      await agent.close();
    }
  });

  it('a lost agent connection fails the acquisition with ConcurrencySlotAcquisitionError', async () => {
    const agent = await withAgent((_req, _a, conn) => {
      conn.socket.destroy();
      return undefined;
    });
    try {
      const r = await runRunner('python', 'flows/gcl.py:lost_connection', { cwd: ctx.project, env: envFor(agent) });
      assert.equal(r.code, 1);
      assert.match(lastLine(r.stderr), /^AgentConnectionError: .*concurrency agent/);
    } finally {
      await agent.close();
    }
  });

  it('an unreachable agent socket fails with a clear error', async () => {
    const r = await runRunner('python', 'flows/gcl.py:lost_connection', {
      cwd: ctx.project,
      env: { FLOWDECK_AGENT_SOCKET: path.join(ctx.project, 'no-such.sock') },
    });
    assert.equal(r.code, 1);
    assert.match(lastLine(r.stderr), /^AgentConnectionError: Cannot connect to the flowdeck concurrency agent at .*no-such\.sock/);
  });

  it('without FLOWDECK_AGENT_SOCKET, spawns [$FLOWDECK_NODE, $FLOWDECK_CLI, "agent"] once and talks over its stdio', async () => {
    const log = path.join(ctx.project, 'stdio-agent.log');
    const script = path.join(ctx.project, 'fake-cli.mjs');
    writeFileSync(
      script,
      `import { appendFileSync } from 'node:fs';
import readline from 'node:readline';
process.stderr.write('fake agent started with ' + JSON.stringify(process.argv.slice(2)) + '\\n');
let lease = 0;
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  appendFileSync(${JSON.stringify(log)}, line + '\\n');
  const req = JSON.parse(line);
  if (req.op === 'acquire') process.stdout.write(JSON.stringify({ id: req.id, ok: true, lease_id: 'S' + (++lease), warnings: [] }) + '\\n');
  else process.stdout.write(JSON.stringify({ id: req.id, ok: true }) + '\\n');
});
rl.on('close', () => { appendFileSync(${JSON.stringify(log)}, 'EOF\\n'); process.exit(0); });
`,
    );
    const r = await runRunner('python', 'flows/gcl.py:two_threads', {
      cwd: ctx.project,
      env: { FLOWDECK_NODE: process.execPath, FLOWDECK_CLI: script, FLOWDECK_AGENT_SOCKET: undefined },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^LEASES S\d S\d$/m);
    const starts = r.stderr.match(/fake agent started with \["agent"\]/g) ?? [];
    assert.equal(starts.length, 1, r.stderr);
    // the agent sees its stdin close when the flow process ends
    await waitUntil(() => readFileSync(log, 'utf8').includes('EOF'), 5_000, 'the agent to see EOF');
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    const ops = lines.filter((l) => l !== 'EOF').map((l) => (JSON.parse(l) as AgentRequest).op);
    assert.deepEqual(ops.sort(), ['acquire', 'acquire', 'release', 'release']);
  });
});

describe('prefect shim selection (FLOWDECK_PREFECT_SHIM)', () => {
  const realPrefectInstalled = spawnSync('python3', ['-c', 'import prefect'], { stdio: 'ignore' }).status === 0;
  let project: string;
  before(() => {
    project = makeProject({
      // A stand-in for an installed Prefect, importable from the working directory.
      'vendor/prefect/__init__.py': 'REAL = True\ndef flow(fn=None, **kw):\n    return fn if fn else (lambda f: f)\n',
      'flows/which.py': `
import prefect
from prefect import flow

@flow
def which():
    print("PREFECT", "real" if getattr(prefect, "REAL", False) else "shim", getattr(prefect, "__flowdeck_shim__", False))
`,
    });
  });
  after(() => removeProject(project));

  it('auto: uses the shim when no prefect package is importable', { skip: realPrefectInstalled }, async () => {
    const r = await runRunner('python', 'flows/which.py:which', { cwd: project });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^PREFECT shim True$/m);
  });

  it('auto: an importable prefect package wins over the shim', async () => {
    const r = await runRunner('python', 'flows/which.py:which', { cwd: project, env: { PYTHONPATH: path.join(project, 'vendor') } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^PREFECT real False$/m);
  });

  it('always: the shim shadows an importable prefect package', async () => {
    const r = await runRunner('python', 'flows/which.py:which', {
      cwd: project,
      env: { PYTHONPATH: path.join(project, 'vendor'), FLOWDECK_PREFECT_SHIM: 'always' },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^PREFECT shim True$/m);
  });

  it('never: no shim, so `from prefect import flow` fails to load (exit 2)', { skip: realPrefectInstalled }, async () => {
    const r = await runRunner('python', 'flows/which.py:which', { cwd: project, env: { FLOWDECK_PREFECT_SHIM: 'never' } });
    assert.equal(r.code, 2);
    assert.match(lastLine(r.stderr), /ModuleNotFoundError: No module named 'prefect'/);
  });
});
