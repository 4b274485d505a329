/**
 * SIGKILL in the middle of write-heavy work: `deploy --all` of a big generated file (killed while it
 * holds the write lock, or at a random moment), bursts of `deployment run`, and a worker killed during
 * its first scheduler pass. After every kill `PRAGMA integrity_check` is ok, foreign keys hold, every
 * run has its history, a deploy is all or nothing, and scheduled runs are never duplicated.
 * Rounds: 2 / 2 / 1 by default; 20 / 8 / 8 with FLOWDECK_FAULT_FULL=1.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, cliEnv } from '../support/run-cli.js';
import { FAULT_FULL, StateDb, cliOk, makeProject, prng } from '../support/fault-kit.js';
import { recordFigure } from '../support/fault-report.js';

const DEPLOY_ROUNDS = FAULT_FULL ? 20 : 2;
const RUN_ROUNDS = FAULT_FULL ? 8 : 2;
const WORKER_ROUNDS = FAULT_FULL ? 8 : 1;
const BIG = 250;

function bigPrefectYaml(prefix: string): string {
  const lines = ['deployments:'];
  for (let i = 0; i < BIG; i++) {
    lines.push(
      `  - name: ${prefix}-d${i}`,
      '    entrypoint: flows/work.py:work',
      `    parameters: {ms: ${i}, tag: "${prefix}"}`,
      `    work_pool: {name: kill-pool, work_queue_name: q${i % 5}}`,
      `    concurrency_limit: {limit: ${1 + (i % 3)}, collision_strategy: ${i % 2 ? 'ENQUEUE' : 'CANCEL_NEW'}}`,
      '    schedules:',
      `      - interval: ${60 + i}`,
      `      - cron: "${i % 60} * * * *"`,
      '        timezone: Europe/Paris',
    );
  }
  return `${lines.join('\n')}\n`;
}

function launch(args: string[], p: { cwd: string; home: string }): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: p.cwd, env: cliEnv(p.home), stdio: 'ignore' });
  return { child, exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null)))) };
}

/** Polls (every event-loop turn) whether another connection holds the write lock; true when seen before `deadline`. */
async function waitForWriteLock(probe: Database.Database, exited: () => boolean, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline && !exited()) {
    try {
      probe.exec('BEGIN IMMEDIATE');
      probe.exec('ROLLBACK');
    } catch (error) {
      if (/SQLITE_BUSY|locked/i.test(String((error as { code?: string }).code ?? (error as Error).message))) return true;
      throw error;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return false;
}

function consistency(state: StateDb): string[] {
  const problems: string[] = [];
  const integrity = state.integrity();
  if (integrity !== 'ok') problems.push(`integrity_check: ${integrity}`);
  const fk = state.db.pragma('foreign_key_check') as unknown[];
  if (fk.length) problems.push(`foreign_key_check: ${JSON.stringify(fk.slice(0, 3))}`);
  const orphans = state.db.prepare('SELECT COUNT(*) AS n FROM flow_run r WHERE NOT EXISTS (SELECT 1 FROM flow_run_state s WHERE s.flow_run_id = r.id)').get() as { n: number };
  if (orphans.n) problems.push(`${orphans.n} run(s) without state history`);
  const dupes = state.db.prepare('SELECT COUNT(*) AS n FROM (SELECT idempotency_key FROM flow_run WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key HAVING COUNT(*) > 1)').get() as { n: number };
  if (dupes.n) problems.push(`${dupes.n} duplicated scheduled run key(s)`);
  return problems;
}

describe('SIGKILL in the middle of write-heavy work', { timeout: FAULT_FULL ? 900_000 : 300_000 }, () => {
  const figures = { kills: 0, midTransaction: 0, checks: 0, integrityOk: 0, partialDeploys: 0 };
  after(() => recordFigure({ kind: 'kills', scenario: 'SIGKILL during deploy, deployment run and scheduler writes', ...figures }));

  test(`deploy --all of ${BIG} deployments killed halfway ${DEPLOY_ROUNDS} times: integrity ok, all or nothing`, async () => {
    const rng = prng(42);
    const p = makeProject();
    const probe = { db: undefined as Database.Database | undefined };
    try {
      await cliOk(['work-pool', 'create', 'kill-pool'], p); // creates and migrates the database
      probe.db = new Database(path.join(p.home, 'flowdeck.db'), { timeout: 0 });
      const outcomes: string[] = [];
      for (let k = 0; k < DEPLOY_ROUNDS; k++) {
        const file = `big-${k}.yaml`;
        writeFileSync(path.join(p.cwd, file), bigPrefectYaml(`k${k}`));
        const run = launch(['deploy', '--all', '--prefect-file', file], p);
        let exited = false;
        void run.exited.then(() => (exited = true));
        // even rounds: kill the moment the deploy holds the write lock; odd rounds: at a random moment
        const inTxn = k % 2 === 0 ? await waitForWriteLock(probe.db, () => exited, 30_000) : (await sleep(rng.int(300, 2500)), false);
        run.child.kill('SIGKILL');
        const code = await run.exited;
        figures.kills++;
        if (inTxn) figures.midTransaction++;
        const state = new StateDb(p.home);
        try {
          const problems = consistency(state);
          figures.checks++;
          if (problems.length === 0) figures.integrityOk++;
          assert.deepEqual(problems, [], `round ${k}`);
          const n = (state.db.prepare("SELECT COUNT(*) AS n FROM deployment WHERE name LIKE ? || '-d%'").get(`k${k}`) as { n: number }).n;
          const schedules = (state.db.prepare("SELECT COUNT(*) AS n FROM deployment_schedule s JOIN deployment d ON d.id = s.deployment_id WHERE d.name LIKE ? || '-d%'").get(`k${k}`) as { n: number }).n;
          if (!(n === 0 && schedules === 0) && !(n === BIG && schedules === 2 * BIG)) figures.partialDeploys++;
          assert.ok((n === 0 && schedules === 0) || (n === BIG && schedules === 2 * BIG), `round ${k}: ${n} deployments and ${schedules} schedules of ${BIG} stored`);
          outcomes.push(`${inTxn ? 'in-txn' : 'random'}:${code === -1 ? 'killed' : `exit ${code}`}:${n === 0 ? 'none' : 'all'}`);
        } finally {
          state.close();
        }
      }
      console.log(`deploy kills: ${outcomes.join(', ')}`);
      // and a deploy left alone stores everything
      writeFileSync(path.join(p.cwd, 'big-final.yaml'), bigPrefectYaml('final'));
      await cliOk(['deploy', '--all', '--prefect-file', 'big-final.yaml'], p);
      const state = new StateDb(p.home);
      try {
        assert.equal((state.db.prepare("SELECT COUNT(*) AS n FROM deployment WHERE name LIKE 'final-d%'").get() as { n: number }).n, BIG);
      } finally {
        state.close();
      }
    } finally {
      probe.db?.close();
      p.dispose();
    }
  });

  test(`bursts of eight concurrent deployment run killed at random ${RUN_ROUNDS} times: integrity ok, every run whole`, async () => {
    const rng = prng(7);
    const p = makeProject('deployments:\n  - name: target\n    entrypoint: flows/work.py:work\n    work_pool: {name: kill-pool}\n');
    try {
      await cliOk(['deploy', '--all'], p);
      for (let k = 0; k < RUN_ROUNDS; k++) {
        const runs = Array.from({ length: 8 }, () => launch(['deployment', 'run', 'work/target', '--params', '{"ms": 1}'], p));
        await sleep(rng.int(150, 450));
        for (const r of runs) r.child.kill('SIGKILL');
        await Promise.all(runs.map((r) => r.exited));
        figures.kills += runs.length;
        const state = new StateDb(p.home);
        try {
          const problems = consistency(state);
          figures.checks++;
          if (problems.length === 0) figures.integrityOk++;
          assert.deepEqual(problems, [], `round ${k}`);
        } finally {
          state.close();
        }
      }
    } finally {
      p.dispose();
    }
  });

  test(`a worker killed during its first scheduler pass ${WORKER_ROUNDS} times: integrity ok, no scheduled run twice`, async () => {
    const rng = prng(99);
    const p = makeProject(bigPrefectYaml('sched').replace(/kill-pool/g, 'sched-pool'));
    const probe = { db: undefined as Database.Database | undefined };
    try {
      await cliOk(['deploy', '--all'], p);
      await cliOk(['deployment', 'pause', 'work/sched-d0'], p); // a little variety: one schedule not materialised
      const runCounts: number[] = [];
      probe.db = new Database(path.join(p.home, 'flowdeck.db'), { timeout: 0 });
      for (let k = 0; k < WORKER_ROUNDS; k++) {
        const w = launch(['worker', 'start', '--pool', 'sched-pool', '--no-live', '--lease-seconds', '2'], p);
        let exited = false;
        void w.exited.then(() => (exited = true));
        // even rounds: the first write-lock seen after 1 s (the scheduler pass inserting thousands of runs
        // comes after about 2 s of computing; registering the worker comes earlier); odd rounds: at random
        await sleep(k % 2 === 0 ? 1000 : rng.int(300, 3000));
        const inTxn = k % 2 === 0 && (await waitForWriteLock(probe.db, () => exited, 30_000));
        w.child.kill('SIGKILL');
        await w.exited;
        figures.kills++;
        if (inTxn) figures.midTransaction++;
        const state = new StateDb(p.home);
        try {
          const problems = consistency(state);
          figures.checks++;
          if (problems.length === 0) figures.integrityOk++;
          assert.deepEqual(problems, [], `round ${k}`);
          runCounts.push((state.db.prepare('SELECT COUNT(*) AS n FROM flow_run').get() as { n: number }).n);
          const paused = state.db.prepare("SELECT COUNT(*) AS n FROM flow_run r JOIN deployment d ON d.id = r.deployment_id WHERE d.name = 'sched-d0'").get() as { n: number };
          assert.equal(paused.n, 0);
        } finally {
          state.close();
        }
      }
      console.log(`scheduled runs stored after each worker kill: ${runCounts.join(', ')}`);
    } finally {
      probe.db?.close();
      p.dispose();
    }
  });
});
