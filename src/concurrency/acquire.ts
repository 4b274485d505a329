/**
 * Taking global concurrency slots: one atomic attempt in the store, retried with backoff and
 * jitter until it succeeds or the timeout passes. Waiters are served oldest first by the store.
 */
import { randomUUID } from 'node:crypto';
import { SlotTimeoutError } from '../domain/errors.js';
import type { WaitingOn } from '../domain/types.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../time/clock.js';

export const DEFAULT_LEASE_SECONDS = 30;

export interface AcquireOptions {
  names: string[];
  occupy: number;
  mode: 'concurrency' | 'rate_limit';
  holder: string;
  flowRunId?: string | null;
  strict: boolean;
  /** null or undefined: wait for ever. */
  timeoutSeconds?: number | null;
  leaseSeconds?: number;
  signal?: AbortSignal;
  /** Called once when the first attempt is refused, with what blocks it. */
  onBlocked?: (waitingOn: WaitingOn[]) => void;
  /** Wakes a waiting attempt early (e.g. a release in this process). */
  wake?: (listener: () => void) => () => void;
}

export interface Acquired {
  leaseId: string | null;
  warnings: string[];
}

const FIRST_BACKOFF_MS = 5;
const MAX_BACKOFF_MS = 100;
/**
 * Waiters at the front of the line poll faster: a freed slot is kept for the oldest waiter (no
 * stealing by newcomers), so it stays idle until that waiter's next poll. Only the first few
 * waiters of a limit poll this fast, which bounds the load on the store.
 */
const FRONT_MAX_BACKOFF_MS = 20;
const FRONT_POSITIONS = 4;

export function leaseSecondsFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.FLOWDECK_LEASE_SECONDS;
  const n = raw === undefined || raw === '' ? DEFAULT_LEASE_SECONDS : Number(raw);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_LEASE_SECONDS;
}

export async function acquireSlots(store: Store, clock: Clock, o: AcquireOptions): Promise<Acquired> {
  const waiterId = randomUUID();
  const start = clock.now();
  const deadline = o.timeoutSeconds === null || o.timeoutSeconds === undefined ? Infinity : start + o.timeoutSeconds * 1000;
  const leaseMs = (o.leaseSeconds ?? DEFAULT_LEASE_SECONDS) * 1000;
  let backoff = FIRST_BACKOFF_MS;
  let reported = false;
  try {
    for (;;) {
      o.signal?.throwIfAborted();
      const now = clock.now();
      const res = await store.tryAcquireGcl(
        {
          names: o.names,
          occupy: o.occupy,
          mode: o.mode,
          holder: o.holder,
          flowRunId: o.flowRunId ?? null,
          strict: o.strict,
          leaseMs,
          waiterId,
          // a waiter that stops retrying (its process died) loses its place quickly
          waiterTtlMs: Math.max(2000, MAX_BACKOFF_MS * 20),
        },
        now,
      );
      if (res.status === 'acquired') return { leaseId: res.leaseId, warnings: res.warnings };
      if (!reported) {
        reported = true;
        o.onBlocked?.(res.waitingOn);
      }
      const left = deadline - clock.now();
      if (left <= 0) throw new SlotTimeoutError(o.timeoutSeconds!);
      const front = res.ahead < Math.min(FRONT_POSITIONS, ...res.waitingOn.map((w) => w.limit));
      backoff = Math.min(front ? FRONT_MAX_BACKOFF_MS : MAX_BACKOFF_MS, backoff);
      const jitter = Math.random() * backoff * 0.5;
      await sleep(clock, Math.min(left, backoff + jitter), o.signal, o.wake);
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    }
  } catch (error) {
    await store.dropGclWaiter(waiterId).catch(() => undefined);
    throw error;
  }
}

function sleep(clock: Clock, ms: number, signal?: AbortSignal, wake?: AcquireOptions['wake']): Promise<void> {
  return new Promise((resolve, reject) => {
    let unsubscribe: (() => void) | undefined;
    const done = () => {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      unsubscribe?.();
      resolve();
    };
    const onAbort = () => {
      clock.clearTimeout(timer);
      unsubscribe?.();
      reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
    unsubscribe = wake?.(done);
  });
}
