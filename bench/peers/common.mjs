/** Shared by the peer harnesses: the job bodies, in-flight tracking, the result line. */
import { runFlowProcess } from '../lib/flow-process.mjs';

export function parseConfig() {
  return JSON.parse(process.argv[2]);
}

/** The work of one job: nothing (scenario a) or the trivial Python flow process (scenario b). */
export function jobBody(cfg) {
  if (cfg.work === 'python') return () => runFlowProcess(cfg.projectDir);
  // like flowdeck's in-process benchmark runner: complete on the next turn of the event loop
  return () => new Promise((resolve) => setImmediate(resolve));
}

/** Highest number of jobs inside their bodies at once, per queue and overall. */
export class InFlight {
  perQueue = new Map();
  maxPerQueue = 0;
  total = 0;
  maxTotal = 0;
  done = 0;
  async around(queue, fn) {
    const n = (this.perQueue.get(queue) ?? 0) + 1;
    this.perQueue.set(queue, n);
    this.maxPerQueue = Math.max(this.maxPerQueue, n);
    this.total++;
    this.maxTotal = Math.max(this.maxTotal, this.total);
    try {
      return await fn();
    } finally {
      this.perQueue.set(queue, this.perQueue.get(queue) - 1);
      this.total--;
      this.done++;
    }
  }
}

export function report(result) {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

export function deadline(ms, what) {
  let timer;
  const p = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  p.catch(() => undefined);
  return { promise: p, clear: () => clearTimeout(timer) };
}
