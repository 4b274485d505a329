/** createProgram(ctx): a fresh commander tree. Commands are thin: parse flags, call the store or engine, print. */
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import type { CliContext } from './context.js';
import { safeLines } from './output/color.js';
import { registerAgentCommand } from './commands/agent.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerDeploymentCommands } from './commands/deployment.js';
import { registerFlowRunCommands } from './commands/flow-run.js';
import { registerGclCommands } from './commands/gcl.js';
import { registerWorkPoolCommands } from './commands/work-pool.js';
import { registerWorkQueueCommands } from './commands/work-queue.js';
import { registerWorkerCommands } from './commands/worker.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

export function createProgram(ctx: CliContext): Command {
  const program = new Command('flowdeck');
  program
    .description('Run the scheduled jobs of a prefect.yaml on this machine, honouring every concurrency limit exactly.')
    .version(version(), '-V, --version')
    .addOption(new Option('--home <dir>', 'state directory (default: $FLOWDECK_HOME, else ~/.flowdeck)'))
    .option('--no-color', 'no colour in output (NO_COLOR is honoured too)')
    .showHelpAfterError('(add --help for usage)')
    .enablePositionalOptions()
    .addHelpText(
      'after',
      `
Quick start:
  $ flowdeck validate                       # check prefect.yaml, every problem with line and column
  $ flowdeck deploy --all                   # store its deployments
  $ flowdeck worker start --pool local-work-pool
  $ flowdeck flow-run ls

Exit codes: 0 ok, 1 failed (invalid file, not found, conflict, timeout), 2 usage, 3 state store unusable, 130 interrupted.`,
    );
  configure(program, ctx);
  registerDeployCommands(program, ctx);
  registerDeploymentCommands(program, ctx);
  registerWorkPoolCommands(program, ctx);
  registerWorkQueueCommands(program, ctx);
  registerGclCommands(program, ctx);
  registerFlowRunCommands(program, ctx);
  registerWorkerCommands(program, ctx);
  registerDemoCommand(program, ctx);
  registerAgentCommand(program, ctx);
  for (const cmd of program.commands) configureTree(cmd, ctx);
  return program;
}

function configure(cmd: Command, ctx: CliContext): void {
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => ctx.stdout.write(s),
    writeErr: (s) => ctx.stderr.write(s),
    outputError: (s, write) => write(ctx.errChalk.red(safeLines(s))), // commander quotes the bad argument
  });
}

function configureTree(cmd: Command, ctx: CliContext): void {
  configure(cmd, ctx);
  cmd.showHelpAfterError('(add --help for usage)');
  for (const sub of cmd.commands) configureTree(sub, ctx);
}
