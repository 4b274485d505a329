/** In-memory prefect.yaml runs for focused tests (entrypoint files are not read). */
import type { Diagnostic } from '../../../src/config/diagnostic.js';
import { loadProjectText, type ProjectResult } from '../../../src/config/index.js';

export function runText(
  text: string,
  opts: { env?: Record<string, string | undefined>; names?: string[] } = {},
): ProjectResult {
  return loadProjectText(text, {
    env: opts.env ?? {},
    baseDir: '/nonexistent',
    checkEntrypointFiles: false,
    ...(opts.names ? { names: opts.names } : {}),
  });
}

/** A one-deployment file with the given schedule item lines (YAML, indented for the item). */
export function withSchedule(item: string): string {
  return `deployments:
  - name: d
    entrypoint: flows/f.py:f
    work_pool:
      name: p
    schedules:
      - ${item.trim().split('\n').join('\n        ')}
`;
}

export const errors = (r: ProjectResult): Diagnostic[] => r.diagnostics.filter((d) => d.severity === 'error');
export const codes = (ds: readonly Diagnostic[]): string[] => ds.map((d) => d.code);
