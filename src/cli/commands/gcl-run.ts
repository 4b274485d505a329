/** `gcl run`: hold global slots around any command (argv, never a shell), passing signals through. */
import { spawn } from 'node:child_process';
import { acquireSlots, leaseSecondsFromEnv } from '../../concurrency/acquire.js';
import { LeaseKeeper } from '../../concurrency/lease-keeper.js';
import { OperationError, UsageError } from '../../domain/errors.js';
import type { CliContext } from '../context.js';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;

export async function gclRunCommand(
  ctx: CliContext,
  o: { names: string; command: string[]; occupy: number; timeoutSeconds: number | null; strict: boolean },
): Promise<number> {
  const names = o.names.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0) throw new UsageError('name at least one global concurrency limit');
  if (o.command.length === 0) throw new UsageError('give the command to run after --');
  if (o.occupy < 1) throw new UsageError('--occupy must be at least 1');
  const store = await ctx.store();
  const leaseSeconds = leaseSecondsFromEnv(ctx.env);
  const acquired = await acquireSlots(store, ctx.clock, {
    names,
    occupy: o.occupy,
    mode: 'concurrency',
    holder: `pid:${process.pid} ${o.command[0]}`,
    // inside a flow run, `flow-run inspect` then shows what the run waits on
    flowRunId: ctx.env.FLOWDECK_FLOW_RUN_ID || null,
    strict: o.strict,
    timeoutSeconds: o.timeoutSeconds,
    leaseSeconds,
    onBlocked: (waitingOn) => {
      const what = waitingOn.map((w) => `'${w.name}' (${w.in_use}/${w.limit} in use)`).join(', ');
      ctx.stderr.write(`flowdeck: waiting for slots on ${what}\n`);
    },
  });
  for (const w of acquired.warnings) ctx.stderr.write(`flowdeck: warning: ${w}\n`);
  const keeper = new LeaseKeeper(store, ctx.clock, leaseSeconds, (e) => ctx.stderr.write(`flowdeck: lease renewal failed: ${(e as Error).message}\n`));
  if (acquired.leaseId) keeper.add(acquired.leaseId);
  try {
    return await runChild(o.command, ctx);
  } finally {
    keeper.stop();
    if (acquired.leaseId) await keeper.release(acquired.leaseId);
  }
}

function runChild(command: string[], ctx: CliContext): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', shell: false, env: ctx.env, cwd: ctx.cwd });
    const handlers = FORWARDED.map((sig) => {
      const h = () => {
        child.kill(sig);
      };
      process.on(sig, h);
      return [sig, h] as const;
    });
    const cleanup = () => handlers.forEach(([sig, h]) => process.off(sig, h));
    child.on('error', (err: NodeJS.ErrnoException) => {
      cleanup();
      reject(new OperationError(err.code === 'ENOENT' ? `command not found: ${command[0]}` : `cannot run ${command[0]}: ${err.message}`, { cause: err }));
    });
    child.on('exit', (code, signal) => {
      cleanup();
      if (code !== null) resolve(code);
      else resolve(128 + (signal ? signalNumber(signal) : 0));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };
  return table[signal] ?? 1;
}
