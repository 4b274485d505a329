/** Printing validation diagnostics to stderr: one line each, with a code frame on a terminal. */
import type { ChalkInstance } from 'chalk';
import { readFileSync } from 'node:fs';
import { formatDiagnostic, type Diagnostic } from '../../config/diagnostic.js';
import type { Output } from '../context.js';
import { safeText } from './color.js';

export function printDiagnostics(
  out: Output,
  chalk: ChalkInstance,
  diagnostics: readonly Diagnostic[],
  opts: { codeFrames: boolean; sourcePath?: string },
): void {
  let lines: string[] | undefined;
  if (opts.codeFrames && opts.sourcePath) {
    try {
      lines = readFileSync(opts.sourcePath, 'utf8').split(/\r?\n/);
    } catch {
      lines = undefined;
    }
  }
  for (const d of diagnostics) {
    const text = safeText(formatDiagnostic(d));
    out.write(`${d.severity === 'error' ? chalk.red(text) : chalk.yellow(text)}\n`);
    if (lines && d.line > 0 && d.line <= lines.length) {
      const src = lines[d.line - 1]!;
      out.write(`${chalk.dim(`  ${String(d.line).padStart(4)} | `)}${safeText(src)}\n`);
      out.write(`${chalk.dim('       | ')}${' '.repeat(Math.max(0, d.col - 1))}${chalk.red('^')}\n`);
    }
  }
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  if (diagnostics.length > 0) out.write(`${errors} error(s), ${warnings} warning(s)\n`);
}
