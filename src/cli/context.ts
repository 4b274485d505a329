/** What every command needs: where state lives, where output goes, the clock. Built once per invocation. */
import type { ChalkInstance } from 'chalk';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../domain/errors.js';
import { SqliteStore, type Store } from '../store/store.js';
import type { Clock } from '../time/clock.js';
import { makeChalk } from './output/color.js';

export interface Output {
  write(text: string): void;
}

export interface CliContext {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
  clock: Clock;
  /** Colour for stdout / stderr (decided per stream). */
  chalk: ChalkInstance;
  errChalk: ChalkInstance;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  home(): string;
  store(): Promise<Store>;
  close(): Promise<void>;
  /** Set by commands that want to end with a code other than 0 without throwing. */
  exitCode: number;
}

export interface ContextOptions {
  stdout: Output;
  stderr: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
  clock: Clock;
  color: { stdout: boolean; stderr: boolean };
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
}

export function defaultHome(env: NodeJS.ProcessEnv): string {
  return env.FLOWDECK_HOME && env.FLOWDECK_HOME.trim() !== '' ? env.FLOWDECK_HOME : path.join(os.homedir(), '.flowdeck');
}

export function createContext(opts: ContextOptions, getHomeFlag: () => string | undefined): CliContext {
  let store: SqliteStore | undefined;
  const ctx: CliContext = {
    stdout: opts.stdout,
    stderr: opts.stderr,
    env: opts.env,
    cwd: opts.cwd,
    clock: opts.clock,
    chalk: makeChalk({ enabled: opts.color.stdout }),
    errChalk: makeChalk({ enabled: opts.color.stderr }),
    stdoutIsTTY: opts.stdoutIsTTY,
    stderrIsTTY: opts.stderrIsTTY,
    exitCode: 0,
    home() {
      const flag = getHomeFlag();
      // `--home ""` would silently make the current folder the state directory
      if (flag !== undefined && flag.trim() === '') throw new UsageError('--home needs a directory; it cannot be empty');
      return path.resolve(opts.cwd, flag ?? defaultHome(opts.env));
    },
    async store() {
      store ??= SqliteStore.open(ctx.home(), busyTimeout(opts.env));
      return store;
    },
    async close() {
      await store?.close();
      store = undefined;
    },
  };
  return ctx;
}

function busyTimeout(env: NodeJS.ProcessEnv): { busyTimeoutMs?: number } {
  const raw = env.FLOWDECK_BUSY_TIMEOUT_MS;
  if (raw === undefined || raw === '') return {};
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`FLOWDECK_BUSY_TIMEOUT_MS must be a whole number of milliseconds, got '${raw}'`);
  return { busyTimeoutMs: n };
}
