/** Starting a worker with its concurrency agent and its output (live view or log lines). */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AgentServer } from '../concurrency/agent.js';
import { CLI_PATH, ProcessRunner, type Runner } from '../engine/runner.js';
import { Worker } from '../engine/worker.js';
import type { Store } from '../store/store.js';
import type { CliContext } from './context.js';
import { safeText } from './output/color.js';
import { LiveView } from './output/live-view.js';

export interface LaunchOptions {
  pool: string;
  queues?: string[];
  limit?: number;
  leaseSeconds: number;
  runOnce?: boolean;
  live: boolean;
  home: string;
  runner?: Runner;
}

export interface LaunchedWorker {
  worker: Worker;
  log(line: string): void;
  /** Graceful stop: no new runs, wait up to graceMs, terminate the rest, close the agent. */
  shutdown(graceMs: number): Promise<void>;
}

export async function launchWorker(ctx: CliContext, store: Store, o: LaunchOptions): Promise<LaunchedWorker> {
  const socketDir = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-agent-'));
  const socketPath = path.join(socketDir, 'agent.sock');
  const agent = new AgentServer(socketPath, { store, clock: ctx.clock, leaseSeconds: o.leaseSeconds });
  await agent.listen();
  const worker = new Worker(store, ctx.clock, o.runner ?? new ProcessRunner(), {
    pool: o.pool,
    ...(o.queues ? { queues: o.queues } : {}),
    limit: o.limit ?? Infinity,
    leaseSeconds: o.leaseSeconds,
    runOnce: o.runOnce ?? false,
    flowEnv: {
      FLOWDECK_HOME: o.home,
      FLOWDECK_AGENT_SOCKET: socketPath,
      FLOWDECK_CLI: CLI_PATH,
      FLOWDECK_NODE: process.execPath,
      FLOWDECK_LEASE_SECONDS: String(o.leaseSeconds),
    },
  });
  const live = o.live && ctx.stderrIsTTY ? new LiveView(ctx, worker, o.pool) : undefined;
  const log = (s: string) => {
    if (live) live.record(s);
    else ctx.stderr.write(`${new Date(ctx.clock.now()).toISOString()} ${s}\n`);
  };
  worker.on('transition', (t) => {
    log(`${t.state.padEnd(23)} ${safeText(t.deployment)} ${t.runName} (${t.runId.slice(0, 8)})${t.message ? `: ${safeText(t.message.split('\n')[0]!)}` : ''}`);
  });
  worker.on('error', (e) => log(`error: ${e.message}`));
  await worker.start();
  live?.start();
  return {
    worker,
    log,
    async shutdown(graceMs: number) {
      await worker.stop(graceMs);
      live?.stop();
      await agent.close();
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}
