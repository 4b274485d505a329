/**
 * Runs one flow run as one process: argv only, never a shell. Python entrypoints go through
 * runtimes/python/flowdeck_runner.py, JavaScript ones through runtimes/node/runner.mjs. The runner
 * reads the parameters from the first stdin line and exits when stdin closes, so a flow never
 * outlives its worker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ExecutableRun {
  id: string;
  name: string;
  deploymentName: string;
  entrypoint: string;
  projectDir: string;
  parameters: Record<string, unknown>;
  jobVariables: Record<string, unknown>;
}

export type Outcome =
  | { kind: 'completed' }
  | { kind: 'failed'; message: string }
  | { kind: 'crashed'; message: string }
  | { kind: 'cancelled'; message: string };

export interface RunHooks {
  onLog(stream: 'stdout' | 'stderr', line: string): void;
}

export interface RunHandle {
  readonly pid: number;
  readonly done: Promise<Outcome>;
  /** Stop the flow: SIGTERM to its process group, SIGKILL after `killAfterMs`. */
  terminate(reason: 'cancel' | 'shutdown', killAfterMs?: number): void;
}

/** The runner is an interface: benchmarks use one that completes runs in process. */
export interface Runner {
  start(run: ExecutableRun, env: Record<string, string>, hooks: RunHooks): Promise<RunHandle>;
}

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const RUNTIMES_DIR = path.join(REPO_ROOT, 'runtimes');
export const CLI_PATH = path.join(REPO_ROOT, 'bin', 'flowdeck.js');

const JS_FILE = /\.(m?js|cjs)$/i;
const TAIL_LINES = 12;

export function commandFor(entrypoint: string): { command: string; args: string[] } {
  const file = entrypoint.includes(':') ? entrypoint.slice(0, entrypoint.lastIndexOf(':')) : entrypoint;
  if (JS_FILE.test(file)) return { command: process.execPath, args: [path.join(RUNTIMES_DIR, 'node', 'runner.mjs'), entrypoint] };
  return { command: process.env.FLOWDECK_PYTHON || 'python3', args: ['-u', path.join(RUNTIMES_DIR, 'python', 'flowdeck_runner.py'), entrypoint] };
}

function stringEnv(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

export function workingDirFor(run: ExecutableRun): string {
  const wd = run.jobVariables.working_dir;
  return typeof wd === 'string' && wd.trim() !== '' ? path.resolve(run.projectDir, wd) : run.projectDir;
}

export class ProcessRunner implements Runner {
  async start(run: ExecutableRun, env: Record<string, string>, hooks: RunHooks): Promise<RunHandle> {
    const { command, args } = commandFor(run.entrypoint);
    const cwd = workingDirFor(run);
    if (!existsSync(cwd)) throw new Error(`working directory ${cwd} does not exist`);
    const child = spawn(command, args, {
      cwd,
      shell: false,
      detached: true, // its own process group, so the whole tree can be signalled
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...stringEnv(run.jobVariables.env), ...env, PYTHONUNBUFFERED: '1' },
    });
    return await attach(child, run, hooks);
  }
}

function attach(child: ChildProcess, run: ExecutableRun, hooks: RunHooks): Promise<RunHandle> {
  return new Promise((resolveStart, rejectStart) => {
    const tail: string[] = [];
    let stoppedFor: 'cancel' | 'shutdown' | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let started = false;
    const lineReader = (stream: 'stdout' | 'stderr') => {
      let buffer = '';
      return (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, '');
          buffer = buffer.slice(nl + 1);
          emit(stream, line);
          nl = buffer.indexOf('\n');
        }
        if (buffer.length > 64 * 1024) {
          emit(stream, buffer);
          buffer = '';
        }
      };
    };
    const emit = (stream: 'stdout' | 'stderr', line: string) => {
      hooks.onLog(stream, line);
      if (stream === 'stderr') {
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
      }
    };
    child.stdout!.on('data', lineReader('stdout'));
    child.stderr!.on('data', lineReader('stderr'));
    child.stdin!.on('error', () => undefined); // the flow may exit before reading its parameters

    const done = new Promise<Outcome>((resolveDone) => {
      child.on('error', (err) => {
        if (!started) {
          rejectStart(new Error(`cannot start ${child.spawnfile}: ${err.message}`));
          return;
        }
        resolveDone({ kind: 'crashed', message: `flow process error: ${err.message}` });
      });
      child.on('close', (code, signal) => {
        if (killTimer) clearTimeout(killTimer);
        const last = tail.filter((l) => l.trim() !== '').slice(-5).join('\n');
        if (stoppedFor === 'cancel') resolveDone({ kind: 'cancelled', message: 'Cancelled: the flow process was stopped on request.' });
        else if (stoppedFor === 'shutdown' && code !== 0) {
          resolveDone({ kind: 'crashed', message: `The worker shut down and terminated the flow process${signal ? ` (${signal})` : ''} after its grace period.` });
        } else if (code === 0) resolveDone({ kind: 'completed' });
        else if (signal) resolveDone({ kind: 'crashed', message: `The flow process was killed by ${signal}.${last ? `\n${last}` : ''}` });
        else if (code === 2 && /flowdeck: cannot load/.test(last)) resolveDone({ kind: 'failed', message: last });
        else {
          const final = tail.filter((l) => l.trim() !== '').at(-1);
          resolveDone({ kind: 'failed', message: `Flow run failed with exit code ${code}${final ? `: ${final.trim()}` : '.'}${last ? `\n${last}` : ''}` });
        }
      });
    });

    child.on('spawn', () => {
      started = true;
      // first line: the parameters; then stdin stays open as the worker's lifeline
      child.stdin!.write(`${JSON.stringify(run.parameters)}\n`);
      resolveStart({
        pid: child.pid!,
        done,
        terminate(reason, killAfterMs = 5000) {
          stoppedFor ??= reason;
          signalGroup(child, 'SIGTERM');
          killTimer ??= setTimeout(() => signalGroup(child, 'SIGKILL'), killAfterMs);
        },
      });
    });
  });
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}
