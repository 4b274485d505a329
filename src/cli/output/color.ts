/** One chalk instance for the whole CLI: colour only on a TTY, never with NO_COLOR or --no-color. */
import { Chalk, type ChalkInstance } from 'chalk';

export function makeChalk(opts: { enabled: boolean }): ChalkInstance {
  return new Chalk({ level: opts.enabled ? 1 : 0 });
}

export function colorWanted(stream: NodeJS.WriteStream | { isTTY?: boolean }, noColorFlag: boolean, env: NodeJS.ProcessEnv): boolean {
  if (noColorFlag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return Boolean(stream.isTTY);
}

/** safeText line by line: keeps the line breaks of a multi-line message, escapes everything else. */
export function safeLines(value: string): string {
  return value.split('\n').map(safeText).join('\n');
}

/** Shows control characters and ANSI escapes in names harmlessly (a name must not drive the terminal). */
export function safeText(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
