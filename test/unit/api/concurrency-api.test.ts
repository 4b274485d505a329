// The JavaScript API (`import { concurrency, rateLimit } from 'flowdeck'`) against a real state
// store in a temporary folder, in process and in spawned scripts and flows.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  acquireConcurrency,
  AcquireConcurrencySlotTimeoutError,
  closeConcurrency,
  concurrency,
  ConcurrencySlotAcquisitionError,
  rateLimit,
} from '../../../src/api/index.js';
import { SqliteStore } from '../../../src/store/store.js';
import { REPO } from '../../support/run-cli.js';
import { lastLine, makeProject, removeProject, runRunner } from '../runtimes/harness.js';

const API_URL = pathToFileURL(path.join(REPO, 'dist', 'src', 'api', 'index.js')).href;

describe('JavaScript concurrency API', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-api-'));
  const home = path.join(dir, 'home');
  let store: SqliteStore;
  const limit = (name: string, n: number, decay = 0) =>
    store.createGcl({ name, limit: n, active: true, activeSlots: 0, slotDecayPerSecond: decay }, Date.now());
  const holders = async (name: string) => (await store.getGcl(name, Date.now())).holders;

  before(() => {
    store = SqliteStore.open(home);
  });
  after(async () => {
    await closeConcurrency();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('concurrency() runs fn while holding the slots and returns its result', async () => {
    await limit('a', 2);
    const seen = await concurrency('a', { occupy: 2, home }, async () => holders('a'));
    assert.deepEqual(seen.map((h) => [h.holder, h.slots]), [[`pid:${process.pid}`, 2]]);
    assert.deepEqual(await holders('a'), []);
    assert.equal(await concurrency(['a'], { home }, () => 'plain function'), 'plain function');
  });

  test('concurrency() releases the slots when fn throws, and rethrows its error', async () => {
    await limit('b', 1);
    const boom = new RangeError('dbt failed');
    await assert.rejects(concurrency('b', { home }, async () => Promise.reject(boom)), (e) => e === boom);
    assert.deepEqual(await holders('b'), []);
  });

  test('acquireConcurrency() returns a handle; release() is idempotent and is also Symbol.asyncDispose', async () => {
    await limit('c', 1);
    const held = await acquireConcurrency('c', { home });
    assert.ok(held.leaseId);
    assert.deepEqual([held.names, held.occupy], [['c'], 1]);
    assert.deepEqual((await holders('c')).map((h) => h.lease_id), [held.leaseId]);
    await held.release();
    await held.release();
    assert.deepEqual(await holders('c'), []);
    const again = await acquireConcurrency('c', { home });
    await again[Symbol.asyncDispose]();
    assert.deepEqual(await holders('c'), []);
  });

  test('a timeout is an AcquireConcurrencySlotTimeoutError with Prefect\'s message', async () => {
    await limit('d', 1);
    const held = await acquireConcurrency('d', { home });
    await assert.rejects(acquireConcurrency('d', { home, timeoutSeconds: 0.2 }), (e: unknown) => {
      assert.ok(e instanceof AcquireConcurrencySlotTimeoutError);
      assert.ok(!(e instanceof ConcurrencySlotAcquisitionError));
      assert.equal(e.name, 'AcquireConcurrencySlotTimeoutError');
      assert.equal(e.message, 'Attempt to acquire concurrency slots timed out after 0.2 second(s)');
      assert.equal(e.timeoutSeconds, 0.2);
      return true;
    });
    await held.release();
  });

  test('strict on a missing limit is a ConcurrencySlotAcquisitionError; without strict it does not limit and warns', async () => {
    await assert.rejects(concurrency(['nope'], { home, strict: true }, () => 1), (e: unknown) => {
      assert.ok(e instanceof ConcurrencySlotAcquisitionError);
      assert.equal(e.name, 'ConcurrencySlotAcquisitionError');
      assert.equal(e.message, "Concurrency limits ['nope'] must be created before acquiring slots");
      return true;
    });
    const held = await acquireConcurrency('nope', { home });
    assert.equal(held.leaseId, null);
    assert.deepEqual(held.warnings, ["Concurrency limits ['nope'] do not exist - skipping acquisition."]);
    await held.release();
  });

  test('invalid requests fail at once: more slots than the limit, bad occupy', async () => {
    await limit('e', 1);
    await assert.rejects(acquireConcurrency('e', { home, occupy: 2 }), ConcurrencySlotAcquisitionError);
    await assert.rejects(acquireConcurrency('e', { home, occupy: 0 }), /occupy must be a whole number of at least 1/);
    const none = await acquireConcurrency([], { home });
    assert.equal(none.leaseId, null);
  });

  test('rateLimit() takes slots that come back only by decay, and needs a decay', async () => {
    await limit('no-decay', 2);
    await assert.rejects(rateLimit('no-decay', { home }), /do not have a decay configured: 'no-decay'/);
    await limit('slow-rate', 2, 0.1); // one slot back every 10 s
    await rateLimit('slow-rate', { home });
    await rateLimit('slow-rate', { home });
    assert.equal((await store.getGcl('slow-rate', Date.now())).active_slots, 2);
    await assert.rejects(rateLimit('slow-rate', { home, timeoutSeconds: 0.3 }), AcquireConcurrencySlotTimeoutError);
    assert.deepEqual(await holders('slow-rate'), []);
  });

  test('a waiter in the same process gets the slot as soon as it is released', async () => {
    await limit('f', 1);
    const first = await acquireConcurrency('f', { home });
    const second = acquireConcurrency('f', { home });
    await first.release();
    const got = await second;
    assert.ok(got.leaseId);
    await got.release();
  });

  test('an aborted signal stops the wait with its reason', async () => {
    await limit('g', 1);
    const held = await acquireConcurrency('g', { home });
    const ac = new AbortController();
    const waiting = acquireConcurrency('g', { home, signal: ac.signal });
    ac.abort(new Error('no longer needed'));
    await assert.rejects(waiting, /no longer needed/);
    await held.release();
    assert.deepEqual(await holders('g'), []);
  });

  test('a script exits on its own after releasing, and slots it forgot are released at exit', async () => {
    await limit('h', 2);
    const script = path.join(dir, 'script.mjs');
    writeFileSync(
      script,
      `import { acquireConcurrency, concurrency } from ${JSON.stringify(API_URL)};
       await concurrency('h', async () => console.log('inside'));
       await concurrency('missing', async () => undefined);
       const forgotten = await acquireConcurrency('h', { occupy: 2 });
       console.log('holding ' + forgotten.leaseId);\n`,
    );
    const child = spawn(process.execPath, [script], { env: { ...process.env, FLOWDECK_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /inside\n/);
    assert.match(out, /flowdeck: warning: Concurrency limits \['missing'\] do not exist - skipping acquisition\.\n/);
    assert.match(out, /holding [0-9a-f-]{36}/);
    assert.deepEqual(await holders('h'), []);
  });
});

describe("the node runner resolves 'flowdeck' for flows outside this package", () => {
  let project: string;
  const home = () => path.join(project, '.state');
  before(() => {
    project = makeProject({
      'flows/guarded.mjs': `
import { concurrency, rateLimit, AcquireConcurrencySlotTimeoutError } from 'flowdeck';
export async function guarded({ name }) {
  const holder = await concurrency(name, { occupy: 1, strict: true }, async () => process.env.FLOWDECK_FLOW_RUN_ID);
  console.log('GUARDED as ' + holder + ' ' + (typeof AcquireConcurrencySlotTimeoutError));
}
export async function strictMissing() {
  await concurrency('missing-limit', { strict: true }, () => undefined);
}
`,
    });
  });
  after(() => removeProject(project));

  test("import { concurrency } from 'flowdeck' works in a flow file with no node_modules", async () => {
    const s = SqliteStore.open(home());
    await s.createGcl({ name: 'js-limit', limit: 1, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, Date.now());
    await s.close();
    const res = await runRunner('node', 'flows/guarded.mjs:guarded', { cwd: project, params: { name: 'js-limit' }, env: { FLOWDECK_HOME: home() } });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /GUARDED as run-test-1 function/);
  });

  test('a ConcurrencySlotAcquisitionError fails the flow with its name and message', async () => {
    const res = await runRunner('node', 'flows/guarded.mjs:strictMissing', { cwd: project, env: { FLOWDECK_HOME: home() } });
    assert.equal(res.code, 1);
    assert.equal(lastLine(res.stderr), "ConcurrencySlotAcquisitionError: Concurrency limits ['missing-limit'] must be created before acquiring slots");
  });
});
