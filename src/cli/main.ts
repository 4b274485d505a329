/** argv -> exit code. The only place that sets the process exit code. */
import { CommanderError } from 'commander';
import { AppError, EXIT, coerceError } from '../domain/errors.js';
import { systemClock } from '../time/clock.js';
import { createContext, type CliContext } from './context.js';
import { colorWanted, safeLines } from './output/color.js';
import { createProgram } from './program.js';

export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const noColor = argv.includes('--no-color');
  const homeIndex = argv.findIndex((a) => a === '--home' || a.startsWith('--home='));
  const ctx: CliContext = createContext(
    {
      stdout: { write: (s) => void process.stdout.write(s) },
      stderr: { write: (s) => void process.stderr.write(s) },
      env,
      cwd: process.cwd(),
      clock: systemClock,
      color: { stdout: colorWanted(process.stdout, noColor, env), stderr: colorWanted(process.stderr, noColor, env) },
      stdoutIsTTY: Boolean(process.stdout.isTTY),
      stderrIsTTY: Boolean(process.stderr.isTTY),
    },
    () => {
      if (homeIndex < 0) return undefined;
      const a = argv[homeIndex]!;
      return a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[homeIndex + 1];
    },
  );
  const program = createProgram(ctx);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (error) {
    return reportError(ctx, error, env);
  } finally {
    await ctx.close().catch(() => undefined);
  }
}

export function reportError(ctx: CliContext, error: unknown, env: NodeJS.ProcessEnv): number {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.OK;
    // commander already printed its message
    return EXIT.USAGE;
  }
  if (error instanceof AppError) {
    // messages quote what the user typed ("Deployment 'x' not found"): never let it drive the terminal
    ctx.stderr.write(`${ctx.errChalk.red('Error:')} ${safeLines(error.message)}\n`);
    if (error.hint) ctx.stderr.write(`${ctx.errChalk.dim('hint:')} ${safeLines(error.hint)}\n`);
    return error.exitCode;
  }
  const e = coerceError(error);
  ctx.stderr.write(`${ctx.errChalk.red('Internal error:')} ${safeLines(e.message)}\nThis is a bug in flowdeck; please report it${env.FLOWDECK_DEBUG ? '' : ' (set FLOWDECK_DEBUG=1 for the stack trace)'}.\n`);
  if (env.FLOWDECK_DEBUG) ctx.stderr.write(`${e.stack ?? ''}\n`);
  return EXIT.INTERNAL;
}

