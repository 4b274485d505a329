/** Collects diagnostics for one file, turning key paths into positions. */
import type { Diagnostic, Severity } from './diagnostic.js';
import type { LoadedYaml } from './load.js';
import { formatPath, type KeyPath } from './paths.js';

export class Reporter {
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    readonly file: string,
    private readonly yaml: LoadedYaml | null,
  ) {}

  add(severity: Severity, code: string, path: KeyPath, message: string, at: 'value' | 'key' = 'value'): void {
    const pos = path.length === 0 && at === 'value' ? null : (this.yaml?.positionOf(path, at) ?? null);
    this.diagnostics.push({
      code,
      severity,
      path: formatPath(path),
      line: pos?.line ?? 0,
      col: pos?.col ?? 0,
      message,
      file: this.file,
    });
  }

  error(code: string, path: KeyPath, message: string, at: 'value' | 'key' = 'value'): void {
    this.add('error', code, path, message, at);
  }

  warning(code: string, path: KeyPath, message: string, at: 'value' | 'key' = 'value'): void {
    this.add('warning', code, path, message, at);
  }
}
