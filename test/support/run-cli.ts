/** Spawning the built CLI (bin/flowdeck.js) in a temp folder with its own FLOWDECK_HOME. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';

export const REPO = process.cwd();
export const BIN = path.join(REPO, 'bin', 'flowdeck.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cliEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, NO_COLOR: '1', FLOWDECK_HOME: home, ...extra };
}

/** Runs `flowdeck ...args` to completion. */
export function runCli(args: string[], opts: { cwd: string; home: string; env?: Record<string, string>; input?: string }): CliResult {
  const res = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: cliEnv(opts.home, opts.env),
    encoding: 'utf8',
    input: opts.input ?? '',
    timeout: 60_000,
  });
  return { code: res.status, stdout: stripVTControlCharacters(res.stdout ?? ''), stderr: stripVTControlCharacters(res.stderr ?? '') };
}

export function runJson<T = unknown>(args: string[], opts: { cwd: string; home: string; env?: Record<string, string> }): T {
  const res = runCli([...args, '-o', 'json'], opts);
  if (res.code !== 0) throw new Error(`flowdeck ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
  return JSON.parse(res.stdout) as T;
}

/** Starts a long-running command (e.g. `worker start`); collect its output; stop it with a signal. */
export function startCli(args: string[], opts: { cwd: string; home: string; env?: Record<string, string> }): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd, env: cliEnv(opts.home, opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return { child, output: () => stripVTControlCharacters(out), exited };
}
