/** The errors of the JavaScript concurrency API, named as in Prefect (and as flowdeck's Python API). */

/**
 * Slots cannot be acquired as asked: a missing limit with `strict: true`, more slots than a limit
 * has, `rateLimit` on a limit without decay, an invalid `occupy`.
 */
export class ConcurrencySlotAcquisitionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConcurrencySlotAcquisitionError';
  }
}

/** The slots did not come within `timeoutSeconds`. */
export class AcquireConcurrencySlotTimeoutError extends Error {
  readonly timeoutSeconds: number;
  constructor(timeoutSeconds: number, options?: { cause?: unknown }) {
    super(`Attempt to acquire concurrency slots timed out after ${timeoutSeconds} second(s)`, options);
    this.name = 'AcquireConcurrencySlotTimeoutError';
    this.timeoutSeconds = timeoutSeconds;
  }
}
