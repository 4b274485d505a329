#!/usr/bin/env node
/**
 * BullMQ (OSS) in the seed's shape: N queues, each with setGlobalConcurrency(1) and one
 * Worker(concurrency 1); BullMQ has no cross-queue limit, so the global cap of 4 is a shared
 * in-process semaphore around the job body (BullMQ Pro groups would be the native shape; Pro is not
 * installable here). Jobs are added with addBulk (removeOnComplete) before the workers start;
 * throughput = jobs / (workers started -> last 'completed' event).
 *
 *   node bench/peers/bullmq.mjs '{"host":..., "port":..., "queues":8, "jobs":2000, "concurrency":4, "work":"noop"|"python", "projectDir":..., "prefix":...}'
 */
import { Queue, Worker } from 'bullmq';
import { deadline, InFlight, jobBody, parseConfig, report } from './common.mjs';

const cfg = parseConfig();
const connection = { host: cfg.host, port: cfg.port, maxRetriesPerRequest: null };
const prefix = cfg.prefix ?? 'bench';

class Semaphore {
  waiters = [];
  constructor(n) {
    this.free = n;
  }
  async acquire() {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise((r) => this.waiters.push(r));
  }
  release() {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}

const names = Array.from({ length: cfg.queues }, (_, i) => `q${i}`);
const queues = names.map((n) => new Queue(n, { connection, prefix }));
for (const q of queues) {
  await q.setGlobalConcurrency(1);
}
for (const [qi, q] of queues.entries()) {
  const count = Math.floor(cfg.jobs / cfg.queues) + (qi < cfg.jobs % cfg.queues ? 1 : 0);
  const jobs = Array.from({ length: count }, () => ({ name: 'noop', data: {}, opts: { removeOnComplete: true, removeOnFail: false, attempts: 1 } }));
  for (let i = 0; i < jobs.length; i += 500) await q.addBulk(jobs.slice(i, i + 500));
}

const sem = new Semaphore(cfg.concurrency);
const inflight = new InFlight();
const body = jobBody(cfg);
let completed = 0;
let failures = 0;
let resolveAll;
const all = new Promise((r) => (resolveAll = r));
const workers = names.map(
  (n) =>
    new Worker(
      n,
      async () => {
        await sem.acquire();
        try {
          await inflight.around(n, body);
        } finally {
          sem.release();
        }
      },
      { connection, prefix, concurrency: 1, autorun: false },
    ),
);
for (const w of workers) {
  w.on('completed', () => {
    if (++completed >= cfg.jobs) resolveAll();
  });
  w.on('failed', () => failures++);
  w.on('error', (e) => process.stderr.write(`bullmq: ${e.message}\n`));
}
const t0 = performance.now();
for (const w of workers) void w.run();
const limit = deadline(cfg.timeoutMs ?? 600_000, 'bullmq');
await Promise.race([all, limit.promise]);
const ms = performance.now() - t0;
limit.clear();
await Promise.all(workers.map((w) => w.close()));
let left = 0;
for (const q of queues) {
  const c = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
  left += c.waiting + c.active + c.delayed + c.failed;
  await q.obliterate({ force: true }).catch(() => undefined);
  await q.close();
}
report({ jobs: cfg.jobs, ms, perSecond: (cfg.jobs * 1000) / ms, maxPerQueue: inflight.maxPerQueue, maxInFlight: inflight.maxTotal, failures, jobsLeft: left });
