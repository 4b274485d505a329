/** `validate` and `deploy`: check a prefect.yaml (every problem at once), then store its deployments. */
import type { Command } from 'commander';
import path from 'node:path';
import { hasErrors } from '../../config/diagnostic.js';
import { OperationError, UsageError } from '../../domain/errors.js';
import type { DeploymentSpec } from '../../domain/types.js';
import { collect, outputFormat } from '../args.js';
import type { CliContext } from '../context.js';
import { printDiagnostics } from '../output/diagnostics.js';
import { renderJson } from '../output/table.js';
import { deploymentJson } from './deployment.js';

interface DeployOptions {
  all?: boolean;
  name?: string[];
  prefectFile: string;
  dryRun?: boolean;
  output?: string;
}

/** The config pipeline (yaml, ajv, schedules) loads only for the commands that need it. */
async function loadProjectLazily() {
  return (await import('../../config/index.js')).loadProject;
}

async function load(ctx: CliContext, file: string, names: string[] | undefined) {
  const resolved = path.resolve(ctx.cwd, file);
  const loadProject = await loadProjectLazily();
  const result = loadProject(resolved, { env: ctx.env, checkEntrypointFiles: true, displayName: file, ...(names && names.length ? { names } : {}) });
  printDiagnostics(ctx.stderr, ctx.errChalk, result.diagnostics, { codeFrames: ctx.stderrIsTTY, sourcePath: resolved });
  return { ...result, resolved };
}

export function registerDeployCommands(program: Command, ctx: CliContext): void {
  program
    .command('validate')
    .description('Check a prefect.yaml and print every problem with file:line:col, its key path and what is allowed.')
    .option('--prefect-file <file>', 'the file to check', 'prefect.yaml')
    .option('-o, --output <format>', 'json: print the diagnostics as JSON on stdout')
    .addHelpText('after', '\nExit code 0 when the file has no errors (warnings allowed), 1 otherwise.\n\nExample:\n  $ flowdeck validate --prefect-file prefect.yaml\n  prefect.yaml:11:27 error invalid-collision-strategy deployments[0].concurrency_limit.collision_strategy: must be ENQUEUE or CANCEL_NEW, got "QUEUE"')
    .action(async (o: { prefectFile: string; output?: string }) => {
      const format = outputFormat(o.output);
      const resolved = path.resolve(ctx.cwd, o.prefectFile);
      const loadProject = await loadProjectLazily();
      const result = loadProject(resolved, { env: ctx.env, checkEntrypointFiles: true, displayName: o.prefectFile });
      if (format === 'json') ctx.stdout.write(renderJson({ valid: !hasErrors(result.diagnostics), diagnostics: result.diagnostics, deployments: result.deployments.map((d) => d.full_name) }));
      else {
        printDiagnostics(ctx.stderr, ctx.errChalk, result.diagnostics, { codeFrames: ctx.stderrIsTTY, sourcePath: resolved });
        if (!hasErrors(result.diagnostics)) ctx.stdout.write(`${o.prefectFile} is valid: ${result.deployments.length} deployment(s).\n`);
      }
      if (hasErrors(result.diagnostics)) ctx.exitCode = 1;
    });

  program
    .command('deploy')
    .description('Validate prefect.yaml and store its deployments (upserted by flow/name, all or nothing).')
    .option('--all', 'deploy every deployment in the file')
    .option('-n, --name <name>', 'deploy this one (name, flow/name, or a pattern with *); repeatable', collect)
    .option('--prefect-file <file>', 'the prefect.yaml to read', 'prefect.yaml')
    .option('--dry-run', 'print the translated deployments as JSON and store nothing')
    .option('-o, --output <format>', 'json: print the stored deployments as JSON')
    .addHelpText(
      'after',
      `
A file with any error deploys nothing (exit 1). A work pool that does not exist is created (type process).
A redeploy updates the deployment, replaces its schedules, drops its future scheduled runs (they are
regenerated) and removes its concurrency limit if the file no longer sets one.

Examples:
  $ flowdeck deploy --all
  $ flowdeck deploy -n '[Tarinika-Inc(US Store)]: Clickstream Aggregation'
  $ flowdeck deploy --all --dry-run -o json`,
    )
    .action(async (o: DeployOptions) => {
      const format = outputFormat(o.output);
      if (o.all && o.name?.length) throw new UsageError('Cannot use both `--all` and `--name` at the same time. Use only one.');
      const { diagnostics, deployments, resolved } = await load(ctx, o.prefectFile, o.name);
      if (hasErrors(diagnostics)) {
        ctx.stderr.write(`Nothing was deployed: fix the error(s) above in ${o.prefectFile}.\n`);
        ctx.exitCode = 1;
        return;
      }
      if (!o.all && !o.name?.length && deployments.length > 1) {
        throw new OperationError(
          `Discovered ${deployments.length} deployment configurations, but no name was given.`,
          { hint: 'deploy them all with --all, or pick some with -n NAME' },
        );
      }
      if (deployments.length === 0) throw new OperationError(`${o.prefectFile} defines no deployments.`);
      if (o.dryRun) {
        ctx.stdout.write(renderJson(deployments));
        return;
      }
      const store = await ctx.store();
      const projectDir = path.dirname(resolved);
      const result = await store.applyDeployments(deployments.map((d: DeploymentSpec) => ({ ...d, project_dir: projectDir })), ctx.clock.now());
      for (const pool of result.pools_created) ctx.stderr.write(`Work pool '${pool}' did not exist: created it (type process).\n`);
      for (const q of result.queues_created) ctx.stderr.write(`Work queue '${q.queue}' did not exist in pool '${q.pool}': created it.\n`);
      if (format === 'json') {
        const stored = await Promise.all(result.deployments.map((d) => store.getDeployment(d.full_name)));
        ctx.stdout.write(renderJson(stored.map(deploymentJson)));
        return;
      }
      for (const d of result.deployments) {
        ctx.stdout.write(`Deployment '${d.full_name}' successfully ${d.created ? 'created' : 'updated'} with id '${d.id}'.\n`);
      }
      const pools = [...new Set(deployments.map((d) => d.work_pool_name))];
      ctx.stdout.write(`\nTo execute flow runs from these deployments, start a worker:\n${pools.map((p) => `\tflowdeck worker start --pool '${p}'`).join('\n')}\n`);
    });
}
