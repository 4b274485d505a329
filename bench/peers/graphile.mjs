#!/usr/bin/env node
/**
 * graphile-worker 0.17 in the seed's shape: one task `noop`, every job in a named queue q0..q(N-1)
 * (a named queue runs one job at a time), one runner with `concurrency` (the global cap),
 * `pollInterval` as given, localQueue off (it breaks named-queue serialisation, graphile/worker#621).
 * Jobs are added with addJobs before the runner starts; throughput = jobs / (run() -> last completion).
 *
 *   node bench/peers/graphile.mjs '{"url":..., "queues":8, "jobs":2000, "concurrency":4, "pollInterval":10, "work":"noop"|"python", "projectDir":..., "schema":...}'
 */
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import { deadline, InFlight, jobBody, parseConfig, report } from './common.mjs';

const cfg = parseConfig();
const logger = new Logger(() => (level, message) => {
  if (level === 'error') process.stderr.write(`graphile-worker: ${message}\n`);
});
const schema = cfg.schema ?? 'graphile_worker';
const utils = await makeWorkerUtils({ connectionString: cfg.url, schema, logger });
await utils.migrate();
const specs = Array.from({ length: cfg.jobs }, (_, i) => ({ identifier: 'noop', payload: { q: `q${i % cfg.queues}` }, queueName: `q${i % cfg.queues}`, maxAttempts: 1 }));
for (let i = 0; i < specs.length; i += 500) await utils.addJobs(specs.slice(i, i + 500));

const inflight = new InFlight();
const body = jobBody(cfg);
let resolveAll;
const all = new Promise((r) => (resolveAll = r));
let failures = 0;
const t0 = performance.now();
const runner = await run({
  connectionString: cfg.url,
  schema,
  concurrency: cfg.concurrency,
  pollInterval: cfg.pollInterval,
  noHandleSignals: true,
  logger,
  taskList: {
    noop: async (payload) => {
      await inflight.around(payload.q, body);
    },
  },
});
runner.events.on('job:complete', () => {
  if (inflight.done >= cfg.jobs) resolveAll();
});
runner.events.on('job:failed', () => failures++);
const limit = deadline(cfg.timeoutMs ?? 600_000, 'graphile-worker');
await Promise.race([all, limit.promise]);
const ms = performance.now() - t0;
limit.clear();
await runner.stop();
const left = await utils.withPgClient((c) => c.query(`SELECT count(*)::int AS n FROM ${schema}._private_jobs`).catch(() => c.query(`SELECT count(*)::int AS n FROM ${schema}.jobs`)));
await utils.release();
report({ jobs: cfg.jobs, ms, perSecond: (cfg.jobs * 1000) / ms, maxPerQueue: inflight.maxPerQueue, maxInFlight: inflight.maxTotal, failures, jobsLeft: left.rows[0].n });
