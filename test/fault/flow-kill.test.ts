/**
 * A flow process killed from outside (kill -9, then kill -TERM): its run becomes Crashed at once with
 * the signal in the message, and its slots (deployment limit 1 and a global limit taken in flow code)
 * free at once, so the next queued run starts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StateDb, cliOk, highestOverlap, makeProject, readEvents, startWorker, stopWorkers } from '../support/fault-kit.js';
import { recordFigure } from '../support/fault-report.js';
import { waitFor } from '../support/wait-for.js';

const PREFECT_YAML = `
deployments:
  - name: solo
    entrypoint: flows/hold.py:hold
    parameters: {seconds: 60, gcl: solo-gcl}
    concurrency_limit: 1
    work_pool: {name: kill-pool}
`;

describe('kill of a flow process', { timeout: 120_000 }, () => {
  test('the run Crashes at once naming the signal, and the next queued run starts at once', async () => {
    const p = makeProject(PREFECT_YAML);
    const worker = { current: undefined as ReturnType<typeof startWorker> | undefined };
    let state: StateDb | undefined;
    try {
      await cliOk(['deploy', '--all'], p);
      await cliOk(['gcl', 'create', 'solo-gcl', '--limit', '1'], p);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((JSON.parse(await cliOk(['deployment', 'run', 'hold/solo', '-o', 'json'], p)) as { id: string }).id);
      state = new StateDb(p.home);
      const db = state;
      worker.current = startWorker(p, 'kill-pool', ['--grace-period', '1']);
      const acquired = (id: string) => readEvents(p.cwd).find((e) => e.id === id && e.what === 'acquired');

      const signals: NodeJS.Signals[] = ['SIGKILL', 'SIGTERM'];
      for (const [i, signal] of signals.entries()) {
        const victim = ids[i]!;
        const next = ids[i + 1]!;
        await waitFor(() => db.run(victim).state_type === 'RUNNING' && acquired(victim), { what: `run ${i + 1} Running with its global slot` });
        assert.equal(db.run(next).state_name, 'AwaitingConcurrencySlot');
        const killAt = Date.now();
        process.kill(db.run(victim).pid!, signal);
        await waitFor(() => db.run(victim).state_type === 'CRASHED', { timeoutMs: 5000, intervalMs: 5, what: 'the killed run to be Crashed' });
        const crashedMs = db.run(victim).end_time! - killAt;
        await waitFor(() => db.run(next).start_time !== null, { timeoutMs: 5000, intervalMs: 5, what: 'the next run to start' });
        const nextRunningMs = db.run(next).start_time! - killAt;
        await waitFor(() => acquired(next), { timeoutMs: 5000, what: 'the next run to take the global slot' });
        console.log(`flow ${signal}: Crashed after ${crashedMs} ms, next run Running after ${nextRunningMs} ms, global slot re-taken after ${acquired(next)!.at - killAt} ms`);
        recordFigure({ kind: 'flow-kill', scenario: `flow-${signal}`, crashedMs, nextRunningMs });
        assert.match(db.run(victim).state_message ?? '', new RegExp(`killed by ${signal}`));
        assert.ok(crashedMs < 2000, `Crashed ${crashedMs} ms after the kill`);
        assert.ok(nextRunningMs < 2000, `next run Running ${nextRunningMs} ms after the kill`);
        assert.ok(acquired(next)!.at - killAt < 3000);
      }
      assert.deepEqual(await stopWorkers([worker.current]), [0]);
      worker.current = undefined;
      const runs = db.runs();
      assert.deepEqual(runs.map((r) => r.state_type).sort(), ['CRASHED', 'CRASHED', 'CRASHED']);
      const executed = new Map<string, number>();
      for (const e of readEvents(p.cwd)) executed.set(e.id, (executed.get(e.id) ?? 0) + 1);
      recordFigure({ kind: 'runs', scenario: 'flow-kill', executed: executed.size, lost: runs.filter((r) => r.end_time === null).length, twice: [...executed.values()].filter((n) => n > 1).length });
      recordFigure({ kind: 'concurrency', scenario: 'flow-kill', level: 'deployment', limit: 1, seen: highestOverlap(runs.map((r) => [r.start_time!, r.end_time!])) });
      assert.equal(db.slots().length, 0, 'no slot outlives its run');
    } finally {
      worker.current?.kill('SIGKILL');
      await worker.current?.exited;
      state?.close();
      p.dispose();
    }
  });
});
