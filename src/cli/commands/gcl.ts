/** `gcl ...` (alias `global-concurrency-limit`): named limits shared by any flow or command. */
import type { Command } from 'commander';
import { OperationError } from '../../domain/errors.js';
import type { GlobalConcurrencyLimit, LimitHolder } from '../../domain/types.js';
import { checkName, checkedNumber, nonNegativeInt, nonNegativeNumber, outputFormat } from '../args.js';
import type { CliContext } from '../context.js';
import { renderFields, renderJson, renderTable } from '../output/table.js';
import { gclRunCommand } from './gcl-run.js';

interface CreateOptions {
  limit?: number;
  disable?: boolean;
  activeSlots?: number;
  slotDecayPerSecond?: number;
}

function gclFields(g: GlobalConcurrencyLimit): [string, unknown][] {
  return [
    ['name', g.name],
    ['id', g.id],
    ['limit', g.limit],
    ['active', g.active],
    ['active_slots', g.active_slots],
    ['slot_decay_per_second', g.slot_decay_per_second],
    ['created', g.created],
    ['updated', g.updated],
  ];
}

function holdersText(ctx: CliContext, holders: LimitHolder[]): string {
  if (holders.length === 0) return 'No slots are held.\n';
  return renderTable(ctx.chalk, ['Holder', 'Slots', 'Since', 'Expires', 'Lease'], holders.map((h) => [h.holder, h.slots, h.acquired, h.expires, h.lease_id]), 'Holders');
}

export function registerGclCommands(program: Command, ctx: CliContext): void {
  const gcl = program
    .command('gcl')
    .alias('global-concurrency-limit')
    .description('Manage global concurrency limits: named slot pools taken with concurrency() in flow code or `gcl run` around any command.');

  gcl
    .command('create')
    .description('Create a global concurrency limit.')
    .argument('<name>')
    .option('-l, --limit <n>', 'how many slots the limit has (required)', checkedNumber('--limit', { whole: true }))
    .option('--disable', 'create it inactive (it limits nothing until enabled)')
    .option('--active-slots <n>', 'slots already taken at creation', checkedNumber('--active-slots', { whole: true }))
    .option('--slot-decay-per-second <f>', 'for rate limits: slots that come back per second', checkedNumber('--slot-decay-per-second', { whole: false }))
    .addHelpText('after', '\nExamples:\n  $ flowdeck gcl create dbt-global --limit 4\n  $ flowdeck gcl create api-calls --limit 10 --slot-decay-per-second 2   # a rate limit: 2 calls/s, bursts of 10')
    .action(async (name: string, o: CreateOptions) => {
      checkName(name, 'Global concurrency limit');
      if (o.limit === undefined) throw new OperationError("Missing option '--limit': give the number of slots, e.g. --limit 4");
      const limit = o.limit;
      const activeSlots = o.activeSlots ?? 0;
      const g = await (await ctx.store()).createGcl(
        { name, limit, active: !o.disable, activeSlots, slotDecayPerSecond: o.slotDecayPerSecond ?? 0 },
        ctx.clock.now(),
      );
      ctx.stdout.write(`Created global concurrency limit with name '${g.name}' and ID '${g.id}'. Run \`flowdeck gcl inspect ${g.name}\` to view details.\n`);
    });

  gcl
    .command('ls')
    .description('List global concurrency limits, with the slots in use (after decay).')
    .option('-o, --output <format>', 'json for machine-readable output')
    .action(async (o: { output?: string }) => {
      const format = outputFormat(o.output);
      const limits = await (await ctx.store()).listGcl(ctx.clock.now());
      if (format === 'json') return ctx.stdout.write(renderJson(limits));
      if (limits.length === 0) return ctx.stdout.write('No global concurrency limits found.\n');
      ctx.stdout.write(
        renderTable(
          ctx.chalk,
          ['ID', 'Name', 'Active', 'Limit', 'Active Slots', 'Slot Decay Per Second', 'Created', 'Updated'],
          limits.map((g) => [g.id, g.name, g.active ? 'True' : 'False', g.limit, g.active_slots, g.slot_decay_per_second, g.created, g.updated]),
          'Global Concurrency Limits',
        ),
      );
    });

  gcl
    .command('inspect')
    .description('Show one limit and who holds its slots (run id or process, slots, since, expires).')
    .argument('<name>')
    .option('-o, --output <format>', 'json for machine-readable output')
    .action(async (name: string, o: { output?: string }) => {
      const format = outputFormat(o.output);
      const g = await (await ctx.store()).getGcl(name, ctx.clock.now());
      if (format === 'json') return ctx.stdout.write(renderJson(g));
      ctx.stdout.write(renderFields(ctx.chalk, gclFields(g)) + holdersText(ctx, g.holders));
    });

  gcl
    .command('update')
    .description('Change a limit: its size, its taken slots, its decay, or whether it is active.')
    .argument('<name>')
    .option('-l, --limit <n>', 'new number of slots', checkedNumber('--limit', { whole: true }))
    .option('--active-slots <n>', 'set the slots taken outside leases', checkedNumber('--active-slots', { whole: true }))
    .option('--slot-decay-per-second <f>', 'new decay rate', checkedNumber('--slot-decay-per-second', { whole: false }))
    .option('--enable', 'make it active')
    .option('--disable', 'make it inactive')
    .addHelpText('after', '\nExample:\n  $ flowdeck gcl update dbt-global --limit 6')
    .action(async (name: string, o: CreateOptions & { enable?: boolean }) => {
      if (o.enable && o.disable) throw new OperationError('Cannot enable and disable a global concurrency limit at the same time.');
      const patch = {
        ...(o.limit !== undefined ? { limit: o.limit } : {}),
        ...(o.activeSlots !== undefined ? { activeSlots: o.activeSlots } : {}),
        ...(o.slotDecayPerSecond !== undefined ? { slotDecayPerSecond: o.slotDecayPerSecond } : {}),
        ...(o.enable ? { active: true } : o.disable ? { active: false } : {}),
      };
      if (Object.keys(patch).length === 0) throw new OperationError('No update arguments provided.', { hint: 'pass --limit, --active-slots, --slot-decay-per-second, --enable or --disable' });
      await (await ctx.store()).updateGcl(name, patch, ctx.clock.now());
      ctx.stdout.write(`Updated global concurrency limit with name '${name}'.\n`);
    });

  for (const [verb, active] of [['enable', true], ['disable', false]] as const) {
    gcl
      .command(verb)
      .description(active ? 'Make a limit active.' : 'Make a limit inactive: it limits nothing until enabled.')
      .argument('<name>')
      .action(async (name: string) => {
        const store = await ctx.store();
        const g = await store.getGcl(name, ctx.clock.now());
        if (g.active === active) throw new OperationError(`Global concurrency limit with name '${name}' is already ${verb}d.`);
        await store.updateGcl(name, { active }, ctx.clock.now());
        ctx.stdout.write(`${active ? 'Enabled' : 'Disabled'} global concurrency limit with name '${name}'.\n`);
      });
  }

  gcl
    .command('delete')
    .description('Delete a limit (its held slots vanish with it).')
    .argument('<name>')
    .action(async (name: string) => {
      await (await ctx.store()).deleteGcl(name);
      ctx.stdout.write(`Deleted global concurrency limit with name '${name}'.\n`);
    });

  gcl
    .command('run')
    .description('Hold slots on one or more limits while a command runs; release them when it ends.')
    .argument('<names>', 'limit name, or several separated by commas')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('--occupy <n>', 'slots to take on each limit', nonNegativeInt('--occupy'), 1)
    .option('--timeout <seconds>', 'give up (exit 1) if the slots do not come within this time', nonNegativeNumber('--timeout'))
    .option('--strict', 'fail if a named limit does not exist (otherwise it does not limit)')
    .addHelpText('after', '\nThe command runs directly (no shell), with signals passed through; flowdeck exits with its exit code.\n\nExamples:\n  $ flowdeck gcl run dbt-global -- dbt run --select clickstream\n  $ flowdeck gcl run dbt-global,warehouse --timeout 60 --strict -- ./nightly.sh')
    .action(async (names: string, command: string[], o: { occupy: number; timeout?: number; strict?: boolean }) => {
      ctx.exitCode = await gclRunCommand(ctx, { names, command, occupy: o.occupy, timeoutSeconds: o.timeout ?? null, strict: o.strict ?? false });
    });
}

