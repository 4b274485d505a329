/** Parsing and checking of command-line values. Bad values are usage errors (exit 2) unless noted. */
import { InvalidArgumentError } from 'commander';
import { OperationError, UsageError } from '../domain/errors.js';

function wholeNumber(raw: string, what: string, min: number): number {
  const text = raw.trim();
  if (!/^[+-]?\d+$/.test(text)) throw new InvalidArgumentError(`${what} must be a whole number, got '${raw}'.`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${what} is too large: '${raw}'.`);
  if (n < min) throw new InvalidArgumentError(`${what} must be ${min === 0 ? '0 or more' : `at least ${min}`}, got ${n}.`);
  return n;
}

export const positiveInt = (what: string) => (raw: string) => wholeNumber(raw, what, 1);
export const nonNegativeInt = (what: string) => (raw: string) => wholeNumber(raw, what, 0);

export const nonNegativeNumber = (what: string) => (raw: string) => {
  const text = raw.trim();
  const n = Number(text);
  if (text === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${what} must be a number, got '${raw}'.`);
  if (n < 0) throw new InvalidArgumentError(`${what} must be 0 or more, got ${n}.`);
  return n;
};

export const positiveSeconds = (what: string) => (raw: string) => {
  const n = nonNegativeNumber(what)(raw);
  if (n <= 0) throw new InvalidArgumentError(`${what} must be more than 0, got ${n}.`);
  return n;
};

/** Value-checked positional limit: Prefect-style "Invalid arguments provided" is an operation failure (exit 1). */
export function limitArgument(raw: string, what: string, allowZero: boolean): number {
  const text = raw.trim();
  if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${what} must be a whole number, got '${raw}'.`);
  }
  const n = Number(text);
  if (n < (allowZero ? 0 : 1)) throw new OperationError(`Invalid arguments provided: ${what} must be ${allowZero ? '0 or more' : 'at least 1'}, got ${n}.`);
  return n;
}

export type OutputFormat = 'table' | 'json';

export function outputFormat(raw: string | undefined): OutputFormat {
  if (raw === undefined) return 'table';
  if (raw.toLowerCase() === 'json') return 'json';
  throw new OperationError("Only 'json' output format is supported.");
}

const MAX_DURATION_MS = 100 * 365 * 86_400_000;

/** "90", "90s", "5m", "1h30m", "2d" -> milliseconds. */
export function parseDuration(raw: string): number {
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const ms = Number(text) * 1000;
    if (!(ms <= MAX_DURATION_MS)) throw new UsageError(`duration '${raw}' is too long: at most 100 years`);
    return Math.round(ms);
  }
  const re = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
    total += Number(m[1]) * unit;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== text.length) {
    throw new UsageError(`invalid duration '${raw}': use seconds or units such as 30s, 5m, 1h30m, 2d`);
  }
  // `99999999999999999999d` parses, but no date lies that far ahead (it crashed as "Invalid time value")
  if (!(total <= MAX_DURATION_MS)) throw new UsageError(`duration '${raw}' is too long: at most 100 years`);
  return Math.round(total);
}

/** A name for a pool, queue or limit: no / % & > <, no control characters, not empty. */
export function checkName(raw: string, what: string): string {
  if (raw.trim() === '') throw new OperationError(`${what} name cannot be empty.`);
  if (/[/%&><]/.test(raw)) throw new OperationError(`${what} name '${raw}' may not contain any of / % & > <`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(raw)) throw new OperationError(`${what} name may not contain control characters.`);
  if (raw.length > 200) throw new OperationError(`${what} name is too long (${raw.length} characters; at most 200).`);
  return raw;
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * A number option whose bad values fail the operation (exit 1, Prefect's "Invalid arguments provided")
 * rather than the usage (exit 2): gcl limits, slots and decay.
 */
export const checkedNumber = (what: string, opts: { whole: boolean }) => (raw: string) => {
  const text = raw.trim();
  const n = Number(text);
  if (text === '' || !Number.isFinite(n)) throw new OperationError(`Invalid arguments provided: ${what} must be a number, got '${raw}'.`);
  if (n < 0) throw new OperationError(`Invalid arguments provided: ${what} must be greater than or equal to 0, got ${n}.`);
  if (opts.whole && !Number.isInteger(n)) throw new OperationError(`Invalid arguments provided: ${what} must be a whole number, got ${n}.`);
  if (opts.whole && !Number.isSafeInteger(n)) throw new OperationError(`Invalid arguments provided: ${what} is too large: '${raw}'.`);
  return n;
};
