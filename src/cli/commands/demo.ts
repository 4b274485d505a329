/** `demo`: deploy the example project into a temporary state directory and run a worker for a while. */
import type { Command } from 'commander';
import { positiveSeconds } from '../args.js';
import type { CliContext } from '../context.js';

export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('Run the bundled example (stores with limit 1 ENQUEUE, one CANCEL_NEW, a pool limit, a global limit) for ~30 s and summarise.')
    .option('--seconds <n>', 'how long the worker runs', positiveSeconds('--seconds'), 30)
    .option('--keep', 'keep the temporary state directory and print its path')
    .action(async (o: { seconds: number; keep?: boolean }) => {
      const { runDemo } = await import('../demo-run.js');
      ctx.exitCode = await runDemo(ctx, o);
    });
}
