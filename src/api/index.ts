/**
 * flowdeck's JavaScript API: global concurrency limits from flow code and scripts.
 *
 *   import { concurrency, rateLimit } from 'flowdeck';
 *   await concurrency('dbt-global', { occupy: 1, strict: true }, async () => { ... });
 *
 * It talks to the state store directly ($FLOWDECK_HOME, else ~/.flowdeck). Held slots are a lease
 * renewed while this process lives; if it dies the lease expires ($FLOWDECK_LEASE_SECONDS, default
 * 30) and the slots free. Nothing here keeps the process alive once every slot is released.
 */
import os from 'node:os';
import path from 'node:path';
import { acquireSlots, leaseSecondsFromEnv } from '../concurrency/acquire.js';
import { LeaseKeeper } from '../concurrency/lease-keeper.js';
import { SlotAcquisitionError, SlotTimeoutError } from '../domain/errors.js';
import { SqliteStore } from '../store/store.js';
import { systemClock, type Clock, type TimerHandle } from '../time/clock.js';
import { AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError } from './errors.js';

export { AcquireConcurrencySlotTimeoutError, ConcurrencySlotAcquisitionError } from './errors.js';

/** One limit name or several; all of them are taken at once, or none. Empty means "no limit". */
export type LimitNames = string | readonly string[];

export interface ConcurrencyOptions {
  /** Slots to take on every named limit (default 1). */
  occupy?: number;
  /** Give up with AcquireConcurrencySlotTimeoutError after this long; null/undefined waits for ever. */
  timeoutSeconds?: number | null;
  /** Fail with ConcurrencySlotAcquisitionError when a named limit does not exist (default false: it does not limit). */
  strict?: boolean;
  /** Stop waiting when this signal aborts (rejects with its reason). */
  signal?: AbortSignal;
  /** State directory; default $FLOWDECK_HOME, else ~/.flowdeck. */
  home?: string;
}

export type RateLimitOptions = ConcurrencyOptions;

/** Slots held until release() (or until this process dies and the lease expires). */
export interface ConcurrencyHandle {
  /** The lease holding the slots; null when nothing limited (missing or inactive limits, no names). */
  readonly leaseId: string | null;
  readonly names: readonly string[];
  readonly occupy: number;
  /** Why something did not limit (missing or disabled limits); also written to stderr. */
  readonly warnings: readonly string[];
  /** Gives the slots back; calling it again does nothing. */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Timers that never keep the process alive: lease renewal must not outlive the work it guards. */
const backgroundClock: Clock = (() => {
  let next = 1;
  const timers = new Map<number, NodeJS.Timeout>();
  return {
    now: () => Date.now(),
    setTimeout(fn: () => void, ms: number): TimerHandle {
      const id = next++;
      const t = setTimeout(() => {
        timers.delete(id);
        fn();
      }, Math.max(0, ms));
      t.unref();
      timers.set(id, t);
      return { id };
    },
    clearTimeout(handle: TimerHandle) {
      const t = timers.get(handle.id);
      if (t) clearTimeout(t);
      timers.delete(handle.id);
    },
  };
})();

interface Connection {
  store: SqliteStore;
  keeper: LeaseKeeper;
  held: Set<string>;
}

const connections = new Map<string, Connection>();
const wakeListeners = new Set<() => void>();
let exitHookInstalled = false;

function homeDir(o: { home?: string }): string {
  const env = process.env.FLOWDECK_HOME;
  return path.resolve(o.home ?? (env && env.trim() !== '' ? env : path.join(os.homedir(), '.flowdeck')));
}

function connect(o: { home?: string }): Connection {
  const home = homeDir(o);
  let c = connections.get(home);
  if (!c) {
    const store = SqliteStore.open(home);
    c = { store, keeper: new LeaseKeeper(store, backgroundClock, leaseSecondsFromEnv(process.env), (e) => warn(`lease renewal failed: ${(e as Error).message}`)), held: new Set() };
    connections.set(home, c);
  }
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', releaseAtExit);
  }
  return c;
}

/**
 * On process.exit() (the flow runner exits as soon as the flow returns) release what is still held.
 * SqliteStore runs its statement synchronously inside the call, so this completes before the exit.
 */
function releaseAtExit(): void {
  for (const c of connections.values()) {
    for (const id of c.held) void c.store.releaseLease(id).catch(() => undefined);
    c.held.clear();
    c.keeper.stop();
  }
}

function normalizeNames(names: LimitNames | null | undefined): string[] {
  if (names === null || names === undefined) return [];
  const list = typeof names === 'string' ? [names] : [...names];
  for (const n of list) {
    if (typeof n !== 'string') throw new TypeError(`concurrency limit names must be strings, got ${typeof n}`);
  }
  return list.filter((n) => n !== '');
}

function checkOccupy(occupy: number): void {
  if (!Number.isInteger(occupy) || occupy < 1) throw new ConcurrencySlotAcquisitionError(`occupy must be a whole number of at least 1, got ${occupy}`);
}

/** Written at once (a flow may exit right after): a process warning would be printed too late. */
function warn(message: string): void {
  process.stderr.write(`flowdeck: warning: ${message}\n`);
}

function holder(): { holder: string; flowRunId: string | null } {
  const run = process.env.FLOWDECK_FLOW_RUN_ID;
  return run ? { holder: run, flowRunId: run } : { holder: `pid:${process.pid}`, flowRunId: null };
}

function translate(error: unknown): unknown {
  if (error instanceof SlotTimeoutError) {
    const seconds = Number(/after ([\d.]+) second/.exec(error.message)?.[1] ?? NaN);
    return new AcquireConcurrencySlotTimeoutError(seconds, { cause: error });
  }
  if (error instanceof SlotAcquisitionError) return new ConcurrencySlotAcquisitionError(error.message, { cause: error });
  return error;
}

async function take(names: string[], o: ConcurrencyOptions, mode: 'concurrency' | 'rate_limit'): Promise<{ conn: Connection; leaseId: string | null; warnings: string[] }> {
  const occupy = o.occupy ?? 1;
  checkOccupy(occupy);
  const conn = connect(o);
  try {
    const got = await acquireSlots(conn.store, systemClock, {
      names,
      occupy,
      mode,
      ...holder(),
      strict: o.strict ?? false,
      timeoutSeconds: o.timeoutSeconds ?? null,
      leaseSeconds: leaseSecondsFromEnv(process.env),
      ...(o.signal ? { signal: o.signal } : {}),
      wake: (listener) => {
        wakeListeners.add(listener);
        return () => wakeListeners.delete(listener);
      },
    });
    for (const w of got.warnings) warn(w);
    return { conn, leaseId: got.leaseId, warnings: got.warnings };
  } catch (error) {
    throw translate(error);
  }
}

/** Takes the slots (waiting as needed) and returns a handle; call `release()` when done, e.g. in `finally`. */
export async function acquireConcurrency(names: LimitNames, options: ConcurrencyOptions = {}): Promise<ConcurrencyHandle> {
  const list = normalizeNames(names);
  const occupy = options.occupy ?? 1;
  if (list.length === 0) {
    checkOccupy(occupy);
    return handle(list, occupy, null, [], undefined);
  }
  const { conn, leaseId, warnings } = await take(list, options, 'concurrency');
  if (leaseId) {
    conn.held.add(leaseId);
    conn.keeper.add(leaseId);
  }
  return handle(list, occupy, leaseId, warnings, conn);
}

function handle(names: string[], occupy: number, leaseId: string | null, warnings: string[], conn: Connection | undefined): ConcurrencyHandle {
  let released: Promise<void> | undefined;
  const release = (): Promise<void> => {
    released ??= (async () => {
      if (!leaseId || !conn) return;
      conn.held.delete(leaseId);
      try {
        await conn.keeper.release(leaseId);
      } finally {
        for (const l of [...wakeListeners]) l();
      }
    })();
    return released;
  };
  return { leaseId, names, occupy, warnings, release, [Symbol.asyncDispose]: release };
}

/**
 * Runs `fn` while holding `occupy` slots on every named limit, and releases them when it settles.
 *
 *   await concurrency('dbt-global', async () => runDbt());
 *   await concurrency(['dbt-global', 'warehouse'], { occupy: 1, timeoutSeconds: 60, strict: true }, async () => runDbt());
 */
export function concurrency<T>(names: LimitNames, fn: () => T | Promise<T>): Promise<T>;
export function concurrency<T>(names: LimitNames, options: ConcurrencyOptions, fn: () => T | Promise<T>): Promise<T>;
export async function concurrency<T>(names: LimitNames, a: ConcurrencyOptions | (() => T | Promise<T>), b?: () => T | Promise<T>): Promise<T> {
  const fn = typeof a === 'function' ? a : b;
  const options = typeof a === 'function' ? {} : (a ?? {});
  if (typeof fn !== 'function') throw new TypeError('concurrency(names, [options], fn): fn must be a function');
  const held = await acquireConcurrency(names, options);
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    await held.release().catch(() => undefined); // the lease expires anyway; the flow's own error matters more
    throw error;
  }
  await held.release();
  return result;
}

/**
 * Takes `occupy` slots on every named limit and keeps them: they come back by decay, so the limits
 * need `slot_decay_per_second > 0` (`flowdeck gcl create api --limit 10 --slot-decay-per-second 2`).
 */
export async function rateLimit(names: LimitNames, options: RateLimitOptions = {}): Promise<void> {
  const list = normalizeNames(names);
  if (list.length === 0) return checkOccupy(options.occupy ?? 1);
  await take(list, options, 'rate_limit');
}

/** Releases every slot this process still holds and closes the state store connections. */
export async function closeConcurrency(): Promise<void> {
  for (const [home, c] of connections) {
    c.keeper.stop();
    c.held.clear();
    await c.keeper.releaseAll();
    await c.store.close();
    connections.delete(home);
  }
}
