/** `work-queue ...`: queues inside a pool, with priorities and limits. */
import type { Command } from 'commander';
import type { WorkQueue } from '../../domain/types.js';
import { checkName, limitArgument, nonNegativeInt, outputFormat, positiveInt } from '../args.js';
import type { CliContext } from '../context.js';
import { renderFields, renderJson, renderTable } from '../output/table.js';

const POOL_OPTION = ['-p, --pool <pool>', 'the work pool the queue belongs to'] as const;

function queueJson(q: WorkQueue) {
  return { id: q.id, name: q.name, work_pool_name: q.work_pool_name, priority: q.priority, concurrency_limit: q.concurrency_limit, is_paused: q.is_paused, slots_in_use: q.slots_in_use, created: q.created };
}

export function registerWorkQueueCommands(program: Command, ctx: CliContext): void {
  const queue = program.command('work-queue').description('Manage work queues: priorities (1 = served first) and per-queue concurrency limits.');

  queue
    .command('create')
    .description('Create a queue in a pool.')
    .argument('<name>')
    .requiredOption(...POOL_OPTION)
    .option('-q, --priority <n>', 'priority, 1 = highest (default: the first free)', positiveInt('--priority'))
    .option('-l, --limit <n>', 'concurrency limit for this queue', nonNegativeInt('--limit'))
    .addHelpText('after', '\nExample:\n  $ flowdeck work-queue create critical --pool local-work-pool --priority 1 --limit 2')
    .action(async (name: string, o: { pool: string; priority?: number; limit?: number }) => {
      checkName(name, 'Work queue');
      const q = await (await ctx.store()).createQueue(
        { pool: o.pool, name, concurrencyLimit: o.limit ?? null, ...(o.priority !== undefined ? { priority: o.priority } : {}) },
        ctx.clock.now(),
      );
      ctx.stdout.write(
        `Created work queue with properties:\n    name - '${q.name}'\n    work pool - '${q.work_pool_name}'\n    id - ${q.id}\n    priority - ${q.priority}\n    concurrency limit - ${q.concurrency_limit ?? 'None'}\n`,
      );
    });

  queue
    .command('ls')
    .description('List queues (of one pool with --pool), by priority.')
    .option('-p, --pool <pool>', 'only this pool')
    .option('-o, --output <format>', 'json for machine-readable output')
    .action(async (o: { pool?: string; output?: string }) => {
      const format = outputFormat(o.output);
      const queues = await (await ctx.store()).listQueues(o.pool);
      if (format === 'json') return ctx.stdout.write(renderJson(queues.map(queueJson)));
      if (queues.length === 0) return ctx.stdout.write('No work queues found.\n');
      ctx.stdout.write(
        renderTable(
          ctx.chalk,
          ['Name', 'Pool', 'Priority', 'Concurrency Limit', 'Slots In Use', 'Paused'],
          queues.map((q) => [q.name, q.work_pool_name, q.priority, q.concurrency_limit ?? 'None', q.slots_in_use, q.is_paused ? 'yes' : 'no']),
          'Work Queues',
        ),
      );
    });

  queue
    .command('inspect')
    .description('Show one queue.')
    .argument('<name>')
    .requiredOption(...POOL_OPTION)
    .option('-o, --output <format>', 'json for machine-readable output')
    .action(async (name: string, o: { pool: string; output?: string }) => {
      const format = outputFormat(o.output);
      const q = await (await ctx.store()).getQueue(o.pool, name);
      ctx.stdout.write(format === 'json' ? renderJson(queueJson(q)) : renderFields(ctx.chalk, Object.entries(queueJson(q))));
    });

  queue
    .command('set-concurrency-limit')
    .description('Limit how many runs of this queue may be active at once.')
    .argument('<name>')
    .argument('<limit>')
    .requiredOption(...POOL_OPTION)
    .action(async (name: string, raw: string, o: { pool: string }) => {
      const limit = limitArgument(raw, 'the concurrency limit', true);
      await (await ctx.store()).updateQueue(o.pool, name, { concurrencyLimit: limit }, ctx.clock.now());
      ctx.stdout.write(`Concurrency limit of ${limit} set on work queue '${name}' in work pool '${o.pool}'\n`);
    });

  queue
    .command('clear-concurrency-limit')
    .description("Remove the queue's concurrency limit.")
    .argument('<name>')
    .requiredOption(...POOL_OPTION)
    .action(async (name: string, o: { pool: string }) => {
      await (await ctx.store()).updateQueue(o.pool, name, { concurrencyLimit: null }, ctx.clock.now());
      ctx.stdout.write(`Concurrency limits removed on work queue '${name}' in work pool '${o.pool}'\n`);
    });

  for (const [verb, paused] of [['pause', true], ['resume', false]] as const) {
    queue
      .command(verb)
      .description(paused ? 'Pause a queue: its runs wait until resumed.' : 'Resume a paused queue.')
      .argument('<name>')
      .requiredOption(...POOL_OPTION)
      .action(async (name: string, o: { pool: string }) => {
        await (await ctx.store()).updateQueue(o.pool, name, { isPaused: paused }, ctx.clock.now());
        ctx.stdout.write(`Work queue '${name}' in work pool '${o.pool}' ${paused ? 'paused' : 'resumed'}\n`);
      });
  }

  queue
    .command('delete')
    .description('Delete a queue (not the default one).')
    .argument('<name>')
    .requiredOption(...POOL_OPTION)
    .action(async (name: string, o: { pool: string }) => {
      await (await ctx.store()).deleteQueue(o.pool, name);
      ctx.stdout.write(`Deleted work queue '${name}' in work pool '${o.pool}'\n`);
    });
}
