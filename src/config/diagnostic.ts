/** Validation problems are data: a stable code, a severity, a key path and a source position. */

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  /** Stable kebab-case code, e.g. "invalid-collision-strategy". */
  code: string;
  severity: Severity;
  /** Key path such as "deployments[0].concurrency_limit.collision_strategy"; "" for the document. */
  path: string;
  /** 1-based line and column; 0 when unknown. */
  line: number;
  col: number;
  message: string;
  /** File the problem was found in (display name). */
  file: string;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** `prefect.yaml:11:27 error invalid-collision-strategy deployments[0].concurrency_limit.collision_strategy: message` */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file;
  const path = d.path ? `${d.path}: ` : '';
  return `${where} ${d.severity} ${d.code} ${path}${d.message}`;
}
