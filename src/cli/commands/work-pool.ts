/** `work-pool ...`: pools and their concurrency limits. */
import type { Command } from 'commander';
import { OperationError } from '../../domain/errors.js';
import type { WorkPool } from '../../domain/types.js';
import { checkName, limitArgument, nonNegativeInt, outputFormat } from '../args.js';
import type { CliContext } from '../context.js';
import { renderFields, renderJson, renderTable } from '../output/table.js';

const POOL_TYPES = ['process'];

function poolFields(p: WorkPool): [string, unknown][] {
  return [
    ['name', p.name],
    ['id', p.id],
    ['type', p.type],
    ['status', p.status],
    ['concurrency_limit', p.concurrency_limit],
    ['slots_in_use', p.slots_in_use],
    ['is_paused', p.is_paused],
    ['default_queue_name', p.default_queue_name],
    ['created', p.created],
  ];
}

export function registerWorkPoolCommands(program: Command, ctx: CliContext): void {
  const pool = program.command('work-pool').description('Manage work pools: where runs wait for a worker, with an optional pool-wide concurrency limit.');

  pool
    .command('create')
    .description('Create a work pool (with its "default" queue, priority 1).')
    .argument('<name>', 'pool name')
    .option('-t, --type <type>', 'pool type (only "process" runs flows locally)', 'process')
    .option('--concurrency-limit <n>', 'most runs at once in this pool (0 = none run)', nonNegativeInt('--concurrency-limit'))
    .option('--paused', 'create it paused')
    .addHelpText('after', '\nExample:\n  $ flowdeck work-pool create local-work-pool --concurrency-limit 4')
    .action(async (name: string, o: { type: string; concurrencyLimit?: number; paused?: boolean }) => {
      checkName(name, 'Work pool');
      if (!POOL_TYPES.includes(o.type)) {
        throw new OperationError(`Unknown work pool type '${o.type}'. Please choose from ${POOL_TYPES.join(', ')}.`);
      }
      const store = await ctx.store();
      const p = await store.createPool({ name, type: o.type, concurrencyLimit: o.concurrencyLimit ?? null, paused: o.paused ?? false }, ctx.clock.now());
      ctx.stdout.write(`Created work pool '${name}'!\n`);
      if (!p.is_paused) ctx.stdout.write(`To start a worker for this work pool, run:\n\tflowdeck worker start --pool '${name}'\n`);
      ctx.stdout.write(`└── UUID: ${p.id}\n└── Type: ${p.type}\n└── Concurrency limit: ${p.concurrency_limit ?? 'None'}\n`);
    });

  pool
    .command('ls')
    .description('List work pools, newest first.')
    .option('-o, --output <format>', 'json for machine-readable output')
    .action(async (o: { output?: string }) => {
      const format = outputFormat(o.output);
      const pools = await (await ctx.store()).listPools(ctx.clock.now());
      if (format === 'json') return ctx.stdout.write(renderJson(pools));
      if (pools.length === 0) return ctx.stdout.write('No work pools found.\n');
      ctx.stdout.write(
        renderTable(
          ctx.chalk,
          ['Name', 'Type', 'ID', 'Concurrency Limit', 'Slots In Use', 'Status'],
          pools.map((p) => [p.is_paused ? `${p.name} (**)` : p.name, p.type, p.id, p.concurrency_limit ?? 'None', p.slots_in_use, p.status]),
          'Work Pools',
        ) + '(**) denotes a paused pool\n',
      );
    });

  pool
    .command('inspect')
    .description('Show one work pool, including the slots in use.')
    .argument('<name>')
    .option('-o, --output <format>', 'json for machine-readable output')
    .action(async (name: string, o: { output?: string }) => {
      const format = outputFormat(o.output);
      const p = await (await ctx.store()).getPool(name, ctx.clock.now());
      ctx.stdout.write(format === 'json' ? renderJson(p) : renderFields(ctx.chalk, poolFields(p)));
    });

  pool
    .command('set-concurrency-limit')
    .description('Limit how many runs of this pool may be Pending, Running or Cancelling at once.')
    .argument('<name>')
    .argument('<limit>', 'a whole number, 0 or more')
    .addHelpText('after', '\nExample:\n  $ flowdeck work-pool set-concurrency-limit local-work-pool 4')
    .action(async (name: string, raw: string) => {
      const limit = limitArgument(raw, 'the concurrency limit', true);
      await (await ctx.store()).updatePool(name, { concurrencyLimit: limit }, ctx.clock.now());
      ctx.stdout.write(`Set concurrency limit for work pool '${name}' to ${limit}\n`);
    });

  pool
    .command('clear-concurrency-limit')
    .description('Remove the pool-wide concurrency limit.')
    .argument('<name>')
    .action(async (name: string) => {
      await (await ctx.store()).updatePool(name, { concurrencyLimit: null }, ctx.clock.now());
      ctx.stdout.write(`Cleared concurrency limit for work pool '${name}'\n`);
    });

  for (const [verb, paused] of [['pause', true], ['resume', false]] as const) {
    pool
      .command(verb)
      .description(paused ? 'Pause a pool: workers start none of its runs until resumed.' : 'Resume a paused pool.')
      .argument('<name>')
      .action(async (name: string) => {
        await (await ctx.store()).updatePool(name, { isPaused: paused }, ctx.clock.now());
        ctx.stdout.write(`${paused ? 'Paused' : 'Resumed'} work pool '${name}'\n`);
      });
  }

  pool
    .command('delete')
    .description('Delete a work pool and its queues (refused while runs of it are active).')
    .argument('<name>')
    .action(async (name: string) => {
      await (await ctx.store()).deletePool(name);
      ctx.stdout.write(`Deleted work pool '${name}'\n`);
    });
}
