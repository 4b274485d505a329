/**
 * Semantic rules over the schema-checked document: names, entrypoint shape,
 * work pool, booleans, schedules, duplicates. Each problem has a stable code.
 * The rules are defensive: a value of the wrong type was already reported by
 * the schema and is skipped here.
 */
import { isEntrypointProblem, parseEntrypoint } from './entrypoint.js';
import { isRecord, type KeyPath } from './paths.js';
import type { Reporter } from './report.js';
import { checkScheduleSection } from './schedule-rules.js';
import { describeValue, parseBoolish } from './values.js';

/** Characters Prefect refuses in deployment (and work pool) names. */
const FORBIDDEN_NAME_CHARS = /[/%&><]/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** null when `name` is acceptable, else why not. */
export function nameProblem(name: string): string | null {
  if (name.trim() === '') return 'must not be empty';
  const bad = FORBIDDEN_NAME_CHARS.exec(name);
  if (bad) return `must not contain / % & > <, got "${name}" (contains "${bad[0]}")`;
  if (CONTROL_CHARS.test(name)) return `must not contain control characters, got ${JSON.stringify(name)}`;
  return null;
}

const isBlank = (v: unknown): boolean => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

function checkName(dep: Record<string, unknown>, path: KeyPath, report: Reporter): void {
  const name = dep['name'];
  if (isBlank(name)) {
    const where = name === undefined ? path : [...path, 'name'];
    report.error('missing-name', where, 'a deployment name must be provided (add name: ...)');
    return;
  }
  if (typeof name !== 'string') return;
  const problem = nameProblem(name);
  if (problem) report.error('invalid-name', [...path, 'name'], problem);
}

function checkEntrypoint(dep: Record<string, unknown>, path: KeyPath, report: Reporter): void {
  const entrypoint = dep['entrypoint'];
  if (isBlank(entrypoint)) {
    const where = entrypoint === undefined ? path : [...path, 'entrypoint'];
    report.error('missing-entrypoint', where, 'an entrypoint must be provided, e.g. entrypoint: flows/my_flow.py:my_flow');
    return;
  }
  if (typeof entrypoint !== 'string') return;
  const parsed = parseEntrypoint(entrypoint);
  if (isEntrypointProblem(parsed)) report.add(parsed.severity, parsed.code, [...path, 'entrypoint'], parsed.message);
}

function checkWorkPool(dep: Record<string, unknown>, path: KeyPath, report: Reporter): void {
  const pool = dep['work_pool'];
  const message = 'a work pool is required: add work_pool: {name: <pool>} (flowdeck has no --pool flag)';
  if (pool === undefined || pool === null) {
    report.error('missing-work-pool', pool === undefined ? path : [...path, 'work_pool'], message);
    return;
  }
  if (!isRecord(pool)) return;
  const name = pool['name'];
  if (isBlank(name)) {
    report.error('missing-work-pool', name === undefined ? [...path, 'work_pool'] : [...path, 'work_pool', 'name'], message);
    return;
  }
  if (typeof name !== 'string') return;
  const problem = nameProblem(name);
  if (problem) report.error('invalid-work-pool-name', [...path, 'work_pool', 'name'], problem);
  // the queue is created by deploy and named in its output, like the pool: same rules
  const queue = pool['work_queue_name'];
  const queueProblem = typeof queue === 'string' && queue.trim() !== '' ? nameProblem(queue) : null;
  if (queueProblem) report.error('invalid-work-queue-name', [...path, 'work_pool', 'work_queue_name'], queueProblem);
}

function checkConcurrency(dep: Record<string, unknown>, path: KeyPath, report: Reporter): void {
  const limit = dep['concurrency_limit'];
  if (isRecord(limit) && (limit['limit'] === undefined || limit['limit'] === null)) {
    report.warning(
      'no-concurrency-limit',
      [...path, 'concurrency_limit'],
      'this mapping has no limit, so the deployment gets no concurrency limit (add limit: N)',
    );
  }
}

function checkDeployment(dep: Record<string, unknown>, path: KeyPath, report: Reporter): void {
  checkName(dep, path, report);
  checkEntrypoint(dep, path, report);
  checkWorkPool(dep, path, report);
  checkConcurrency(dep, path, report);
  for (const key of ['paused', 'enforce_parameter_schema']) {
    const value = dep[key];
    if (typeof value === 'string' && parseBoolish(value) === undefined) {
      report.error('invalid-boolean', [...path, key], `must be true or false, got ${describeValue(value)}`);
    }
  }
  if (dep['flow_name'] !== undefined && dep['flow_name'] !== null) {
    report.warning(
      'ignored-key',
      [...path, 'flow_name'],
      'flow_name is ignored: the flow name comes from the entrypoint (@flow(name=...) or the function name)',
      'key',
    );
  }
  checkScheduleSection(dep, path, report);
}

/** Run every per-deployment rule over the document. */
export function checkDocument(data: Record<string, unknown>, report: Reporter): void {
  const deployments = data['deployments'];
  if (deployments === undefined || deployments === null || (Array.isArray(deployments) && deployments.length === 0)) {
    report.warning('no-deployments', deployments === undefined ? [] : ['deployments'], 'the file defines no deployments');
    return;
  }
  if (!Array.isArray(deployments)) return;
  deployments.forEach((dep: unknown, i) => {
    if (isRecord(dep)) checkDeployment(dep, ['deployments', i], report);
  });
}

export interface NamedDeployment {
  index: number;
  name: string;
  flowName: string;
}

/** Two deployments with the same `flow/name` is an error at the later one. */
export function checkDuplicates(deployments: readonly NamedDeployment[], report: Reporter): void {
  const seen = new Map<string, number>();
  for (const d of deployments) {
    const full = `${d.flowName}/${d.name}`;
    const first = seen.get(full);
    if (first === undefined) {
      seen.set(full, d.index);
      continue;
    }
    report.error(
      'duplicate-deployment',
      ['deployments', d.index, 'name'],
      `deployment "${full}" is already defined by deployments[${first}]; names must be unique per flow`,
    );
  }
}
