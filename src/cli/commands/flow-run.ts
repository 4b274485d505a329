/** `flow-run ...`: list, inspect (state history and why it waits), cancel, logs. */
import type { Command } from 'commander';
import { UsageError } from '../../domain/errors.js';
import type { FlowRun } from '../../domain/types.js';
import type { RunDetails } from '../../store/store.js';
import { outputFormat, positiveInt } from '../args.js';
import type { CliContext } from '../context.js';
import { safeText } from '../output/color.js';
import { renderFields, renderJson, renderTable, type StyledCell } from '../output/table.js';

const FINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED']);
const STATE_TYPES = ['SCHEDULED', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED', 'PAUSED', 'CANCELLING'];
const STATE_NAMES = ['Scheduled', 'Late', 'AwaitingConcurrencySlot', 'Pending', 'Running', 'Completed', 'Failed', 'Cancelling', 'Cancelled', 'Crashed', 'Paused'];

/** `--state` as a known state type or name, any case (`late` -> `Late`); a typo is an error, not an empty list. */
function stateFilter(raw: string): string {
  const name = STATE_NAMES.find((n) => n.toLowerCase() === raw.trim().toLowerCase());
  if (name) return name;
  const type = STATE_TYPES.find((t) => t === raw.trim().toUpperCase());
  if (type) return type;
  throw new UsageError(`unknown state '${safeText(raw)}'; use a state type (${STATE_TYPES.join(', ')}) or name (${STATE_NAMES.join(', ')})`);
}

function stateCell(ctx: CliContext, run: FlowRun): StyledCell {
  const c = ctx.chalk;
  const name = run.state_name;
  const style =
    run.state_type === 'COMPLETED'
      ? c.green
      : run.state_type === 'FAILED' || run.state_type === 'CRASHED'
        ? c.red
        : run.state_type === 'RUNNING'
          ? c.cyan
          : name === 'Late' || name === 'AwaitingConcurrencySlot'
            ? c.yellow
            : (s: string) => s;
  return { text: name, style };
}

function detailsJson(d: RunDetails) {
  return { ...d.run, state_history: d.state_history, ...(d.waiting_on ? { waiting_on: d.waiting_on } : {}) };
}

function waitingText(d: RunDetails): string {
  if (!d.waiting_on || d.waiting_on.length === 0) return '';
  const lines = d.waiting_on.map(
    (w) => `  - ${w.kind} '${safeText(w.name)}': ${w.in_use} of ${w.limit} slot(s) in use${w.holders.length ? `, held by ${w.holders.join(', ')}` : ''}`,
  );
  return `Waiting on:\n${lines.join('\n')}\n`;
}

export function registerFlowRunCommands(program: Command, ctx: CliContext): void {
  const fr = program.command('flow-run').alias('flow-runs').description('Inspect and control flow runs.');

  fr.command('ls')
    .description('List flow runs, most recent scheduled time first.')
    .option('--deployment <flow/name>', 'only runs of this deployment')
    .option('--state <state>', 'only this state type or name (e.g. RUNNING, Late, AwaitingConcurrencySlot)')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 20)
    .option('-o, --output <format>', 'json for machine-readable output')
    .action(async (o: { deployment?: string; state?: string; limit: number; output?: string }) => {
      const format = outputFormat(o.output);
      const runs = await (await ctx.store()).listRuns({ limit: o.limit, ...(o.deployment ? { deployment: o.deployment } : {}), ...(o.state !== undefined ? { state: stateFilter(o.state) } : {}) });
      if (format === 'json') return ctx.stdout.write(renderJson(runs));
      if (runs.length === 0) return ctx.stdout.write('No flow runs found.\n');
      ctx.stdout.write(
        renderTable(
          ctx.chalk,
          ['ID', 'Name', 'Deployment', 'State', 'Scheduled', 'Started', 'Ended'],
          runs.map((r) => [r.id, r.name, r.deployment_name, stateCell(ctx, r), r.expected_start_time, r.start_time ?? '', r.end_time ?? '']),
          'Flow Runs',
        ),
      );
    });

  fr.command('inspect')
    .description('Show a run with its state history and, while it waits, the limit that blocks it and who holds it.')
    .argument('<id>', 'run id (a unique prefix is enough)')
    .option('-o, --output <format>', 'json for machine-readable output')
    .action(async (id: string, o: { output?: string }) => {
      const format = outputFormat(o.output);
      const d = await (await ctx.store()).getRun(id, ctx.clock.now());
      if (format === 'json') return ctx.stdout.write(renderJson(detailsJson(d)));
      ctx.stdout.write(renderFields(ctx.chalk, Object.entries(d.run)));
      ctx.stdout.write(waitingText(d));
      ctx.stdout.write(
        renderTable(ctx.chalk, ['Time', 'Type', 'Name', 'Message'], d.state_history.map((h) => [h.timestamp, h.type, h.name, h.message ?? '']), 'State history'),
      );
    });

  fr.command('cancel')
    .description('Cancel a run: one not started is Cancelled at once; a running one goes Cancelling and its worker stops the process.')
    .argument('<id>')
    .action(async (id: string) => {
      const r = await (await ctx.store()).requestCancel(id, ctx.clock.now());
      if (r.outcome === 'already-final') {
        ctx.stderr.write(`Flow run '${r.runId}' has already finished; nothing to cancel.\n`);
        ctx.exitCode = 1;
      } else if (r.outcome === 'cancelled') ctx.stdout.write(`Flow run '${r.runId}' was cancelled.\n`);
      else ctx.stdout.write(`Flow run '${r.runId}' is Cancelling: its worker is stopping the flow process.\n`);
    });

  fr.command('logs')
    .description("Print a run's output lines; --follow keeps printing until the run ends.")
    .argument('<id>')
    .option('-f, --follow', 'wait for new lines until the run reaches a final state')
    .action(async (id: string, o: { follow?: boolean }) => {
      const store = await ctx.store();
      const details = await store.getRun(id, ctx.clock.now());
      const runId = details.run.id;
      let after = 0;
      for (;;) {
        const lines = await store.readLogs(runId, after, 1000);
        for (const l of lines) {
          ctx.stdout.write(`${safeText(l.line)}\n`);
          after = l.id;
        }
        if (lines.length === 1000) continue;
        if (!o.follow) break;
        const state = await store.runState(runId);
        if (!state || FINAL.has(state.state_type)) {
          const rest = await store.readLogs(runId, after, 100_000);
          for (const l of rest) ctx.stdout.write(`${safeText(l.line)}\n`);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });
}
