/** `agent` (hidden): the concurrency agent on stdin/stdout, for flow code run outside a worker. */
import type { Command } from 'commander';
import { leaseSecondsFromEnv } from '../../concurrency/acquire.js';
import { serveConnection } from '../../concurrency/agent.js';
import type { CliContext } from '../context.js';

export function registerAgentCommand(program: Command, ctx: CliContext): void {
  program
    .command('agent', { hidden: true })
    .description('Serve concurrency requests (newline-delimited JSON) on stdin/stdout until stdin closes.')
    .action(async () => {
      const store = await ctx.store();
      await serveConnection(process.stdin, process.stdout, { store, clock: ctx.clock, leaseSeconds: leaseSecondsFromEnv(ctx.env) });
    });
}
