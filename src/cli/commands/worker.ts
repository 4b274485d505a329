/** `worker start`: run the pool's deployments on schedule within every limit, until stopped. */
import type { Command } from 'commander';
import { leaseSecondsFromEnv } from '../../concurrency/acquire.js';
import { EXIT } from '../../domain/errors.js';
import { collect, positiveInt, positiveSeconds } from '../args.js';
import type { CliContext } from '../context.js';

interface StartOptions {
  pool: string;
  workQueue?: string[];
  limit?: number;
  runOnce?: boolean;
  leaseSeconds?: number;
  gracePeriod: number;
  live?: boolean;
}

export function registerWorkerCommands(program: Command, ctx: CliContext): void {
  const worker = program.command('worker').description('Run workers that execute flow runs.');
  worker
    .command('start')
    .description('Schedule, dispatch and execute the runs of a work pool, honouring deployment, queue, pool and global limits.')
    .requiredOption('-p, --pool <pool>', 'the work pool to serve')
    .option('-q, --work-queue <queue>', 'serve only this queue; repeatable', collect)
    .option('-l, --limit <n>', 'most flow runs this worker runs at once', positiveInt('--limit'))
    .option('--run-once', 'start what is due now, wait for it to finish, then exit')
    .option('--lease-seconds <n>', 'how long slots survive without renewal if this worker dies (default $FLOWDECK_LEASE_SECONDS or 30)', positiveSeconds('--lease-seconds'))
    .option('--grace-period <seconds>', 'on SIGINT/SIGTERM, how long running flows may finish before they are terminated', positiveSeconds('--grace-period'), 30)
    .option('--no-live', 'plain log lines even on a terminal')
    .addHelpText(
      'after',
      `
Several workers may serve one pool against the same state directory. A worker that dies is noticed
when its leases expire: its runs become Crashed and their slots free for the others.

Examples:
  $ flowdeck worker start --pool local-work-pool
  $ flowdeck worker start --pool local-work-pool -q critical --limit 2 --lease-seconds 10`,
    )
    .action(async (o: StartOptions) => {
      ctx.exitCode = await workerStartCommand(ctx, o);
    });
}

async function workerStartCommand(ctx: CliContext, o: StartOptions): Promise<number> {
  const store = await ctx.store();
  await store.getPool(o.pool, ctx.clock.now()); // a missing pool is an error, not an idle worker
  const leaseSeconds = o.leaseSeconds ?? leaseSecondsFromEnv(ctx.env);
  const { launchWorker } = await import('../worker-runtime.js');
  const launched = await launchWorker(ctx, store, {
    pool: o.pool,
    ...(o.workQueue ? { queues: o.workQueue } : {}),
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
    leaseSeconds,
    runOnce: o.runOnce ?? false,
    live: o.live !== false,
    home: ctx.home(),
  });
  const w = launched.worker;
  let signalExit: number | undefined;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      if (signalExit !== undefined) return;
      signalExit = sig === 'SIGINT' ? EXIT.INTERRUPTED : EXIT.OK;
      launched.log(`${sig} received: taking no new runs; waiting up to ${o.gracePeriod}s for ${w.activeCount} running flow(s)`);
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    if (o.runOnce) w.once('idle', () => resolve());
  });
  launched.log(`Worker ${w.id.slice(0, 8)} started on pool '${o.pool}'${o.workQueue ? ` (queues ${o.workQueue.join(', ')})` : ''}; lease ${leaseSeconds}s. Press Ctrl+C to stop.`);
  await stopped;
  await launched.shutdown(o.gracePeriod * 1000);
  launched.log(`Worker stopped: ${w.stats.completed} completed, ${w.stats.failed} failed, ${w.stats.crashed} crashed, ${w.stats.cancelled} cancelled.`);
  return signalExit ?? EXIT.OK;
}
