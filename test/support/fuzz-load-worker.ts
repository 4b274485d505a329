/**
 * Worker thread for the fuzz test: writes each case to its file and runs loadProject on it, replying
 * with a summary. Living in a thread lets the test time-bound every case: a case that hangs is
 * detected by the main thread, which terminates this thread and reports the case.
 */
import { writeFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { loadProject } from '../../src/config/index.js';

export interface FuzzRequest {
  id: number;
  file: string;
  text: string;
}

export interface FuzzReply {
  id: number;
  ms: number;
  threw?: string;
  errors: number;
  deployments: number;
  diagnostics: { code: unknown; severity: unknown; line: unknown; col: unknown; message: unknown; path: unknown }[];
}

parentPort!.on('message', (m: FuzzRequest) => {
  writeFileSync(m.file, m.text);
  const started = performance.now();
  let reply: FuzzReply;
  try {
    const result = loadProject(m.file, { env: { HOME: '/home/fuzz' }, displayName: 'prefect.yaml', checkEntrypointFiles: true });
    reply = {
      id: m.id,
      ms: performance.now() - started,
      errors: result.diagnostics.filter((d) => d.severity === 'error').length,
      deployments: result.deployments.length,
      diagnostics: result.diagnostics.slice(0, 50).map((d) => ({
        code: d.code,
        severity: d.severity,
        line: d.line,
        col: d.col,
        path: d.path,
        message: typeof d.message === 'string' ? d.message.slice(0, 2000) : d.message,
      })),
    };
  } catch (error) {
    reply = { id: m.id, ms: performance.now() - started, threw: error instanceof Error ? (error.stack ?? error.message) : String(error), errors: 0, deployments: 0, diagnostics: [] };
  }
  parentPort!.postMessage(reply);
});
