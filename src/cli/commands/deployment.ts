/** `deployment ...`: list, inspect, run, pause, resume, delete stored deployments. */
import type { Command } from 'commander';
import { OperationError, UsageError } from '../../domain/errors.js';
import type { DeploymentWithDir } from '../../store/store.js';
import { collect, outputFormat, parseDuration } from '../args.js';
import type { CliContext } from '../context.js';
import { renderFields, renderJson, renderTable } from '../output/table.js';

/** DESIGN §4 deployment shape (the internal project_dir is not part of it). */
export function deploymentJson(d: DeploymentWithDir) {
  return {
    id: d.id,
    name: d.name,
    flow_name: d.flow_name,
    full_name: d.full_name,
    entrypoint: d.entrypoint,
    description: d.description,
    version: d.version,
    tags: d.tags,
    parameters: d.parameters,
    work_pool_name: d.work_pool_name,
    work_queue_name: d.work_queue_name,
    job_variables: d.job_variables,
    concurrency_limit: d.concurrency_limit,
    concurrency_options: d.concurrency_options,
    paused: d.paused,
    schedules: d.schedules,
    created: d.created,
    updated: d.updated,
  };
}

function scheduleText(d: DeploymentWithDir): string {
  if (d.schedules.length === 0) return 'none';
  return d.schedules
    .map((s) => {
      const sch = s.schedule;
      const what = sch.interval !== undefined ? `every ${sch.interval}s` : sch.cron !== undefined ? `cron '${sch.cron}'` : `rrule '${sch.rrule}'`;
      return `${what}${sch.timezone ? ` (${sch.timezone})` : ''}${s.active ? '' : ' [inactive]'}`;
    })
    .join('; ');
}

/** `--param k=v` values are JSON when they parse as JSON, else strings (as Prefect does). */
export function parseParams(pairs: string[] | undefined, json: string | undefined): Record<string, unknown> {
  if (pairs?.length && json !== undefined) throw new UsageError('Can only pass one of `param` or `params` options');
  if (json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (cause) {
      throw new UsageError(`--params must be a JSON object: ${(cause as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('--params must be a JSON object');
    return parsed as Record<string, unknown>;
  }
  const out: Record<string, unknown> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param takes key=value, got '${pair}'`);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    out[pair.slice(0, eq)] = value;
  }
  return out;
}

export function registerDeploymentCommands(program: Command, ctx: CliContext): void {
  const dep = program.command('deployment').alias('deployments').description('Work with stored deployments (named flow/deployment).');

  dep
    .command('ls')
    .description('List deployments by flow and name.')
    .option('-o, --output <format>', 'json for machine-readable output')
    .action(async (o: { output?: string }) => {
      const format = outputFormat(o.output);
      const all = await (await ctx.store()).listDeployments();
      if (format === 'json') return ctx.stdout.write(renderJson(all.map(deploymentJson)));
      if (all.length === 0) return ctx.stdout.write('No deployments found. Deploy some with: flowdeck deploy --all\n');
      ctx.stdout.write(
        renderTable(
          ctx.chalk,
          ['Name', 'Work Pool', 'Concurrency', 'Schedules', 'Paused'],
          all.map((d) => [
            d.full_name,
            d.work_pool_name,
            d.concurrency_limit === null ? '' : `${d.concurrency_limit} ${d.concurrency_options?.collision_strategy ?? 'ENQUEUE'}`,
            scheduleText(d),
            d.paused ? 'yes' : '',
          ]),
          'Deployments',
        ),
      );
    });

  dep
    .command('inspect')
    .description('Show one deployment: concurrency_limit, concurrency_options, schedules, pool, queue.')
    .argument('<flow/name>')
    .option('-o, --output <format>', 'json for machine-readable output')
    .addHelpText('after', "\nExample:\n  $ flowdeck deployment inspect 'clickstream-dbt-run/[Tarinika-Inc(US Store)]: Clickstream Aggregation' -o json")
    .action(async (name: string, o: { output?: string }) => {
      const format = outputFormat(o.output);
      const d = deploymentJson(await (await ctx.store()).getDeployment(name));
      ctx.stdout.write(format === 'json' ? renderJson(d) : renderFields(ctx.chalk, Object.entries(d)));
    });

  dep
    .command('run')
    .description('Create a manual run now (or later with --start-in); it obeys the same limits as scheduled runs.')
    .argument('<flow/name>')
    .option('--param <key=value>', 'a parameter (value parsed as JSON when it is JSON); repeatable', collect)
    .option('--params <json>', 'all parameters as one JSON object')
    .option('--start-in <duration>', 'schedule it this far ahead (30s, 5m, 1h)')
    .option('-o, --output <format>', 'json: print the new run as JSON')
    .addHelpText('after', "\nExample:\n  $ flowdeck deployment run 'clickstream-dbt-run/nightly' --param full_refresh=true --start-in 5m")
    .action(async (name: string, o: { param?: string[]; params?: string; startIn?: string; output?: string }) => {
      const format = outputFormat(o.output);
      const params = parseParams(o.param, o.params);
      const now = ctx.clock.now();
      const start = o.startIn !== undefined ? now + parseDuration(o.startIn) : now;
      const store = await ctx.store();
      const id = await store.createManualRun(name, params, start, now);
      const details = await store.getRun(id, now);
      if (format === 'json') return ctx.stdout.write(renderJson(details.run));
      ctx.stdout.write(`Created flow run '${details.run.name}' (${id}) for '${name}', scheduled ${details.run.expected_start_time}.\n`);
      ctx.stdout.write(`Follow it with: flowdeck flow-run logs ${id} --follow\n`);
    });

  dep
    .command('delete')
    .description('Delete a deployment with its schedules and runs.')
    .argument('<flow/name>')
    .action(async (name: string) => {
      await (await ctx.store()).deleteDeployment(name);
      ctx.stdout.write(`Deleted deployment '${name}'.\n`);
    });

  for (const [verb, paused] of [['pause', true], ['resume', false]] as const) {
    dep
      .command(verb)
      .description(paused ? 'Pause: the scheduler creates no runs and future scheduled ones are removed.' : 'Resume a paused deployment.')
      .argument('<flow/name>')
      .action(async (name: string) => {
        const changed = await (await ctx.store()).setDeploymentPaused(name, paused, ctx.clock.now());
        if (!changed) throw new OperationError(`Deployment '${name}' is already ${paused ? 'paused' : 'active'}.`);
        ctx.stdout.write(`${paused ? 'Paused' : 'Resumed'} deployment '${name}'.\n`);
      });
  }
}
