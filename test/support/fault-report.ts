/**
 * Figures from the fault suite. Each fault test records what it measured; with FLOWDECK_FAULT_REPORT
 * set (scripts/run-tests.mjs sets it), every figure is appended as one JSON line to that file, and
 * scripts/fault-report.mjs turns the file into the Reliability table. Figures are also logged.
 */
import { appendFileSync } from 'node:fs';

export type Figure =
  /** Runs that executed while faults were injected; lost and twice must be 0. */
  | { kind: 'runs'; scenario: string; executed: number; lost: number; twice: number }
  /** Highest number running at once against one limit. */
  | { kind: 'concurrency'; scenario: string; level: 'deployment' | 'queue' | 'pool' | 'gcl'; limit: number; seen: number }
  /** kill -9 of a worker -> first queued run Running (lease seconds given). */
  | { kind: 'recovery'; scenario: string; ms: number; leaseSeconds: number; flowsGoneMs: number }
  /** kill -9 of a flow -> its run Crashed and the next run Running. */
  | { kind: 'flow-kill'; scenario: string; crashedMs: number; nextRunningMs: number }
  /** SIGKILLs landed in write-heavy work; integrity_check results; all-or-nothing deploys. */
  | { kind: 'kills'; scenario: string; kills: number; midTransaction: number; checks: number; integrityOk: number; partialDeploys: number }
  /** A database locked past the busy timeout. */
  | { kind: 'locked'; scenario: string; cases: number; exit3: number; ms: number }
  /** Concurrent writers; how many surfaced contention as a failure. */
  | { kind: 'contention'; scenario: string; commands: number; failures: number }
  /** Hostile input: cases tried, stack traces seen, slowest case. */
  | { kind: 'fuzz'; scenario: string; cases: number; stackTraces: number; crashes: number; slowestMs: number };

export function recordFigure(figure: Figure): void {
  console.log(`figure ${JSON.stringify(figure)}`);
  const file = process.env.FLOWDECK_FAULT_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify({ ...figure, at: new Date().toISOString() })}\n`);
}
