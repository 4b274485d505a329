/** The demo: the bundled example project, deployed into a temporary state directory, run for a while, summarised. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hasErrors } from '../config/diagnostic.js';
import { loadProject } from '../config/index.js';
import { REPO_ROOT } from '../engine/runner.js';
import { SqliteStore } from '../store/store.js';
import type { CliContext } from './context.js';
import { printDiagnostics } from './output/diagnostics.js';
import { renderTable } from './output/table.js';
import { launchWorker } from './worker-runtime.js';

export const DEMO_DIR = path.join(REPO_ROOT, 'examples', 'demo');
const POOL = 'demo-pool';

export async function runDemo(ctx: CliContext, o: { seconds: number; keep?: boolean }): Promise<number> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-demo-'));
  const file = path.join(DEMO_DIR, 'prefect.yaml');
  const out = (s: string) => ctx.stdout.write(s);
  const { diagnostics, deployments } = loadProject(file, { env: ctx.env, checkEntrypointFiles: true, displayName: 'examples/demo/prefect.yaml' });
  printDiagnostics(ctx.stderr, ctx.errChalk, diagnostics, { codeFrames: false });
  if (hasErrors(diagnostics)) return 1;
  const store = SqliteStore.open(home);
  try {
    const now = ctx.clock.now();
    await store.applyDeployments(deployments.map((d) => ({ ...d, project_dir: DEMO_DIR })), now);
    await store.updatePool(POOL, { concurrencyLimit: 4 }, now);
    await store.createGcl({ name: 'dbt-global', limit: 2, active: true, activeSlots: 0, slotDecayPerSecond: 0 }, now);
    out(ctx.chalk.bold('flowdeck demo\n'));
    out(`  state directory: ${home}\n`);
    out(`  deployed ${deployments.length} deployments from examples/demo/prefect.yaml:\n`);
    for (const d of deployments) {
      const limit = d.concurrency_limit === null ? 'no limit' : `limit ${d.concurrency_limit} ${d.concurrency_options?.collision_strategy ?? 'ENQUEUE'}`;
      out(`    - ${d.full_name} (${limit}, every ${d.schedules[0]?.schedule.interval ?? '?'}s)\n`);
    }
    out(`  work-pool set-concurrency-limit ${POOL} 4; gcl create dbt-global --limit 2 (taken in flow code)\n`);
    out(`  running a worker for ${o.seconds}s...\n\n`);
    const launched = await launchWorker(ctx, store, { pool: POOL, leaseSeconds: 10, live: true, home });
    await new Promise<void>((resolve) => {
      const t = ctx.clock.setTimeout(resolve, o.seconds * 1000);
      const stop = () => {
        ctx.clock.clearTimeout(t);
        resolve();
      };
      process.once('SIGINT', stop);
    });
    launched.log('time is up: stopping (running flows get 10 s to finish)');
    await launched.shutdown(10_000);
    out('\n' + (await summary(ctx, store)));
    return 0;
  } finally {
    await store.close();
    if (o.keep) out(`State kept in ${home}: try FLOWDECK_HOME=${home} flowdeck flow-run ls\n`);
    else rmSync(home, { recursive: true, force: true });
  }
}

async function summary(ctx: CliContext, store: SqliteStore): Promise<string> {
  const runs = await store.listRuns({ limit: 100_000 });
  const now = ctx.clock.now();
  const started = runs.filter((r) => r.start_time !== null);
  const byDeployment = new Map<string, { completed: number; failed: number; crashed: number; cancelled: number; queued: number; stillWaiting: number }>();
  for (const r of runs) {
    if (r.state_type === 'SCHEDULED' && Date.parse(r.expected_start_time) > now) continue; // future runs
    const row = byDeployment.get(r.deployment_name) ?? { completed: 0, failed: 0, crashed: 0, cancelled: 0, queued: 0, stillWaiting: 0 };
    if (r.state_type === 'COMPLETED') row.completed++;
    else if (r.state_type === 'FAILED') row.failed++;
    else if (r.state_type === 'CRASHED') row.crashed++;
    else if (r.state_type === 'CANCELLED') row.cancelled++;
    else if (r.state_type === 'SCHEDULED') row.stillWaiting++;
    byDeployment.set(r.deployment_name, row);
  }
  for (const r of started) {
    const d = await store.getRun(r.id, now);
    if (d.state_history.some((h) => h.name === 'AwaitingConcurrencySlot')) byDeployment.get(r.deployment_name)!.queued++;
  }
  let text = renderTable(
    ctx.chalk,
    ['Deployment', 'Completed', 'Failed', 'Crashed', 'Cancelled', 'Queued first (ENQUEUE)', 'Still waiting'],
    [...byDeployment].map(([name, r]) => [name, r.completed, r.failed, r.crashed, r.cancelled, r.queued, r.stillWaiting]),
    'What happened',
  );
  const cancelled = runs.filter((r) => r.state_type === 'CANCELLED');
  if (cancelled.length > 0) text += `\nWhy runs were cancelled (e.g. ${cancelled[0]!.deployment_name}):\n  ${cancelled[0]!.state_message}\n`;
  const waits = runs.filter((r) => r.state_type === 'SCHEDULED' && Date.parse(r.expected_start_time) <= now);
  if (waits.length > 0) {
    const awaiting = waits.filter((r) => r.state_name === 'AwaitingConcurrencySlot').length;
    text += `\n${waits.length} due run(s) were still waiting when the demo stopped: ${awaiting} behind their deployment's limit (AwaitingConcurrencySlot, in FIFO order), ${waits.length - awaiting} behind the pool limit (Scheduled or Late; CANCEL_NEW only cancels for the deployment's own limit).\n`;
  }
  const perDeployment = [...new Set(started.map((r) => r.deployment_name))].map((name) => highestOverlap(started.filter((r) => r.deployment_name === name), now));
  text += `\nHighest concurrency seen (from the runs' start and end times): ${Math.max(0, ...perDeployment)} per deployment (limit 1), ${highestOverlap(started, now)} in the pool (limit 4).\n`;
  return text;
}

/** The most runs that were Running at the same instant. */
export function highestOverlap(runs: { start_time: string | null; end_time: string | null }[], now: number): number {
  const events: [number, number][] = [];
  for (const r of runs) {
    if (!r.start_time) continue;
    events.push([Date.parse(r.start_time), 1]);
    events.push([r.end_time ? Date.parse(r.end_time) : now, -1]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let best = 0;
  for (const [, delta] of events) {
    current += delta;
    best = Math.max(best, current);
  }
  return best;
}
