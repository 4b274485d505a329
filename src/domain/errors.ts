/** Typed errors. Each carries the exit code the CLI maps it to (DESIGN §4); only cli/main.ts exits. */

export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  STORE: 3,
  INTERNAL: 70,
  INTERRUPTED: 130,
} as const;

export class AppError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;
  constructor(message: string, opts: { exitCode?: number; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode ?? EXIT.FAILED;
    this.hint = opts.hint;
  }
}

/** Bad flags or arguments: exit 2. */
export class UsageError extends AppError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: EXIT.USAGE });
  }
}

/** The input or the requested operation failed: exit 1. */
export class OperationError extends AppError {}
export class NotFoundError extends AppError {}
export class ConflictError extends AppError {}
export class ValidationError extends AppError {}

/** Concurrency slots did not come within the timeout. */
export class SlotTimeoutError extends AppError {
  constructor(timeoutSeconds: number) {
    super(`Attempt to acquire concurrency slots timed out after ${timeoutSeconds} second(s)`);
  }
}

/** Slots can never be acquired as asked (missing limits under strict, more slots than the limit...). */
export class SlotAcquisitionError extends AppError {}

/** The state store is unusable: exit 3. */
export class StoreError extends AppError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: EXIT.STORE });
  }
}

export class DbVersionFromFutureError extends StoreError {
  constructor(found: number, known: number, path: string) {
    super(
      `the database ${path} has schema version ${found}, newer than this flowdeck understands (${known})`,
      { hint: 'upgrade flowdeck, or point --home at another state directory' },
    );
  }
}

export class InternalError extends AppError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: EXIT.INTERNAL });
  }
}

export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}
