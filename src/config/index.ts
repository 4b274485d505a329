/**
 * The prefect.yaml pipeline: load (yaml, positions) -> templates ({{ $ENV }}) ->
 * schema (ajv) -> semantic rules -> entrypoint files -> translate.
 * Problems are data; a file with any error translates to no deployments.
 */
import { dirname, resolve } from 'node:path';
import type { DeploymentSpec } from '../domain/types.js';
import { hasErrors, type Diagnostic } from './diagnostic.js';
import {
  defaultFlowName,
  isEntrypointProblem,
  parseEntrypoint,
  resolveEntrypoint,
  type EntrypointProblem,
} from './entrypoint.js';
import { loadYamlFile, loadYamlText, type LoadResult } from './load.js';
import { isRecord } from './paths.js';
import { Reporter } from './report.js';
import { checkDocument, checkDuplicates, nameProblem, type NamedDeployment } from './rules.js';
import { resolveTemplates, type Env } from './template.js';
import { translateDocument } from './translate.js';
import { describeValue } from './values.js';
import { validateSchema } from './validate.js';

export type { Diagnostic, Severity } from './diagnostic.js';
export { formatDiagnostic, hasErrors } from './diagnostic.js';
export { loadYamlFile, loadYamlText, LoadedYaml, MAX_ALIAS_COUNT } from './load.js';
export { validateSchema, schemaValidator, SCHEMA_URL } from './validate.js';
export { translateDocument, translateDeployment, translateSchedule, translateConcurrency } from './translate.js';
export { parseInterval, parseBoolish, timezoneProblem, anchorToIso } from './values.js';
export { parseEntrypoint, flowNameFromPython, defaultFlowName } from './entrypoint.js';
export { formatPath } from './paths.js';

export interface LoadProjectOptions {
  /** Values for `{{ $NAME }}` placeholders (usually process.env). */
  env: Env;
  /** Deploy only these: a name or `flow/name`, `*` matching any text. Default: all. */
  names?: readonly string[];
  /** Read entrypoint files (relative to the prefect.yaml's folder); default true. */
  checkEntrypointFiles?: boolean;
  /** Name shown in diagnostics; default: `filePath` as given. */
  displayName?: string;
}

export interface ProjectResult {
  diagnostics: Diagnostic[];
  /** The selected deployments translated; [] when any error exists. */
  deployments: DeploymentSpec[];
}

interface EntryInfo {
  flowName: string;
  /** The entrypoint's function name, and its default flow name (`my_flow` -> `my-flow`), for name patterns. */
  functionName: string;
  defaultName: string;
  problem?: EntrypointProblem;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'u');
}

/** Indexes of deployments matching any of `patterns`; unmatched patterns are errors. */
function selectDeployments(
  deployments: readonly unknown[],
  entries: ReadonlyMap<number, EntryInfo>,
  patterns: readonly string[],
  report: Reporter,
): Set<number> {
  const selected = new Set<number>();
  const known: string[] = [];
  for (const pattern of patterns) {
    const re = globToRegExp(pattern.trim());
    let matched = false;
    deployments.forEach((dep, i) => {
      if (!isRecord(dep) || typeof dep['name'] !== 'string') return;
      const name = dep['name'];
      const info = entries.get(i);
      if (info && known.length < deployments.length) known.push(`${info.flowName}/${name}`);
      const candidates = pattern.includes('/')
        ? info
          ? [`${info.flowName}/${name}`, `${info.defaultName}/${name}`, `${info.functionName}/${name}`]
          : []
        : [name];
      if (candidates.some((c) => re.test(c))) {
        selected.add(i);
        matched = true;
      }
    });
    if (!matched) {
      const list = [...new Set(known)].join(', ');
      report.error('deployment-not-found', [], `no deployment matches "${pattern}"${list ? ` (deployments: ${list})` : ''}`);
    }
  }
  return selected;
}

/** Same problem at the same place (e.g. through a shared anchor) is reported once; file-level first, then by position. */
function tidy(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const unique = diagnostics.filter((d) => {
    const key = `${d.severity}|${d.code}|${d.line}|${d.col}|${d.message}|${d.line > 0 ? '' : d.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique
    .map((d, i) => ({ d, i }))
    .sort((a, b) => a.d.line - b.d.line || a.d.col - b.d.col || a.i - b.i)
    .map(({ d }) => d);
}

/** Replace Date objects (YAML timestamps, if a loader produces them) by ISO strings. */
function withoutDates(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (Array.isArray(value)) return value.map(withoutDates);
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutDates(v)]));
  return value;
}

/**
 * Validate and translate a prefect.yaml. `filePath` is shown in diagnostics as
 * given (or `opts.displayName`); entrypoint files are resolved relative to its folder.
 */
export function loadProject(filePath: string, opts: LoadProjectOptions): ProjectResult {
  const shown = opts.displayName ?? filePath;
  return analyze(loadYamlFile(filePath, shown), shown, dirname(resolve(filePath)), opts);
}

/** Same as loadProject for text in memory; entrypoints are resolved against `baseDir`. */
export function loadProjectText(
  text: string,
  opts: LoadProjectOptions & { baseDir: string; displayName?: string },
): ProjectResult {
  const shown = opts.displayName ?? 'prefect.yaml';
  return analyze(loadYamlText(text, shown), shown, opts.baseDir, opts);
}

/**
 * ajv gathers the errors of each item it checks through a $ref by copying all the errors gathered so
 * far, so checking grows with the square of the bad items: 40,000 bad deployments took 5 s (100,000:
 * minutes). Lists that big are refused up front; real files are far below these bounds.
 */
export const MAX_DEPLOYMENTS = 5000;
export const MAX_SCHEDULES = 200;

function oversizedLists(raw: Record<string, unknown>, report: Reporter): boolean {
  const deployments = raw['deployments'];
  if (!Array.isArray(deployments)) return false;
  if (deployments.length > MAX_DEPLOYMENTS) {
    report.error('too-many-deployments', ['deployments'], `the file lists ${deployments.length} deployments; flowdeck reads at most ${MAX_DEPLOYMENTS} from one file (split it)`);
    return true;
  }
  let oversized = false;
  deployments.forEach((dep, i) => {
    const schedules = isRecord(dep) ? dep['schedules'] : undefined;
    if (Array.isArray(schedules) && schedules.length > MAX_SCHEDULES) {
      report.error('too-many-schedules', ['deployments', i, 'schedules'], `${schedules.length} schedules; a deployment may have at most ${MAX_SCHEDULES}`);
      oversized = true;
    }
  });
  return oversized;
}

function analyze(loaded: LoadResult, shown: string, baseDir: string, opts: LoadProjectOptions): ProjectResult {
  const report = new Reporter(shown, loaded.yaml);
  report.diagnostics.push(...loaded.diagnostics);
  if (hasErrors(loaded.diagnostics) || loaded.yaml === null) return { diagnostics: tidy(report.diagnostics), deployments: [] };

  const raw = withoutDates(loaded.data ?? {});
  if (!isRecord(raw)) {
    report.error('invalid-document', [], `the file must be a mapping with a deployments: list, got ${describeValue(raw)}`);
    return { diagnostics: tidy(report.diagnostics), deployments: [] };
  }
  if (oversizedLists(raw, report)) return { diagnostics: tidy(report.diagnostics), deployments: [] };

  // Flow names, from the entrypoint files (as written, before templating).
  const checkFiles = opts.checkEntrypointFiles ?? true;
  const deployments: unknown[] = Array.isArray(raw['deployments']) ? raw['deployments'] : [];
  const entries = new Map<number, EntryInfo>();
  deployments.forEach((dep, i) => {
    if (!isRecord(dep) || typeof dep['entrypoint'] !== 'string') return;
    const parsed = parseEntrypoint(dep['entrypoint']);
    if (isEntrypointProblem(parsed)) return; // reported by the rules
    const resolved = resolveEntrypoint(parsed, baseDir, checkFiles);
    entries.set(i, { ...resolved, functionName: parsed.functionName, defaultName: defaultFlowName(parsed.functionName) });
  });

  // Names as they will be once templated (e.g. `etl-{{ $ENV }}`), for selection and duplicates.
  const preview = resolveTemplates(raw, opts.env, new Reporter(shown, null))['deployments'];
  const names: unknown[] = Array.isArray(preview) ? preview : deployments;
  const selected =
    opts.names && opts.names.length > 0
      ? selectDeployments(names, entries, opts.names, report)
      : new Set(deployments.map((_, i) => i));

  const data = resolveTemplates(raw, opts.env, report, (i) => selected.has(i));
  validateSchema(data, report);
  checkDocument(data, report);
  for (const [i, info] of entries) {
    if (!selected.has(i)) continue;
    const at = ['deployments', i, 'entrypoint'];
    if (info.problem) report.add(info.problem.severity, info.problem.code, at, info.problem.message);
    const problem = nameProblem(info.flowName);
    if (problem) report.error('invalid-flow-name', at, `the flow name "${info.flowName}" read from @flow(name=...) ${problem}`);
  }
  const named: NamedDeployment[] = [];
  names.forEach((dep, i) => {
    const info = entries.get(i);
    if (isRecord(dep) && typeof dep['name'] === 'string' && info) named.push({ index: i, name: dep['name'], flowName: info.flowName });
  });
  checkDuplicates(named, report);

  const diagnostics = tidy(report.diagnostics);
  if (hasErrors(diagnostics)) return { diagnostics, deployments: [] };
  const yaml = loaded.yaml;
  const specs = translateDocument(
    data,
    {
      flowName: (i) => entries.get(i)?.flowName ?? 'unknown-flow',
      sourceOf: (path) => yaml.scalarSource(path),
    },
    [...selected].sort((a, b) => a - b),
  );
  return { diagnostics, deployments: specs };
}
