/**
 * `{{ ... }}` placeholders (Prefect's templating syntax).
 *
 * `{{ $NAME }}` is resolved from the environment map at deploy time; an unset
 * variable is an error naming it. Every other placeholder (prefect.blocks.*,
 * prefect.variables.*, step outputs such as `{{ build-image.image }}`, ctx.*)
 * stays as text with a warning, since flowdeck runs no build steps and has no
 * blocks or variables. Only deployment fields flowdeck uses are templated:
 * build/push/pull steps, triggers and sla are left alone.
 */
import { isRecord, type KeyPath, type PathSegment } from './paths.js';
import type { Reporter } from './report.js';

/** Prefect's placeholder pattern. */
export const PLACEHOLDER = /\{\{\s*([\w.\-[\]$]+)\s*\}\}/g;

const NOT_TEMPLATED = new Set(['build', 'push', 'pull', 'triggers', 'sla']);

export type Env = Readonly<Record<string, string | undefined>>;

function whyLeft(name: string): string {
  if (name.startsWith('prefect.blocks.')) return 'flowdeck does not resolve Prefect blocks';
  if (name.startsWith('prefect.variables.')) return 'flowdeck does not resolve Prefect variables';
  if (name.startsWith('ctx.')) return 'it is filled in by Prefect at run time, which flowdeck does not do';
  return 'flowdeck runs no build or push steps, so step outputs are not available';
}

function resolveString(text: string, path: KeyPath, env: Env, report: Reporter): string {
  if (!text.includes('{{')) return text;
  return text.replace(PLACEHOLDER, (whole: string, name: string) => {
    if (name.startsWith('$')) {
      const variable = name.slice(1);
      const value = env[variable];
      if (value === undefined) {
        report.error('unset-env-var', path, `environment variable ${variable} is not set (used as ${whole})`);
        return whole;
      }
      return value;
    }
    report.warning('unresolved-placeholder', path, `${whole} is left as text: ${whyLeft(name)}`);
    return whole;
  });
}

function resolveValue(value: unknown, path: PathSegment[], env: Env, report: Reporter): unknown {
  if (typeof value === 'string') return resolveString(value, path, env, report);
  if (Array.isArray(value)) return value.map((item, i) => resolveValue(item, [...path, i], env, report));
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveValue(v, [...path, k], env, report);
    return out;
  }
  return value;
}

/**
 * A copy of the document with placeholders resolved in the deployments for
 * which `selected(index)` is true (the others are returned untouched).
 */
export function resolveTemplates(
  data: Record<string, unknown>,
  env: Env,
  report: Reporter,
  selected: (index: number) => boolean = () => true,
): Record<string, unknown> {
  const deployments = data['deployments'];
  if (!Array.isArray(deployments)) return data;
  const resolved = deployments.map((dep: unknown, i) => {
    if (!isRecord(dep) || !selected(i)) return dep;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(dep)) {
      out[key] = NOT_TEMPLATED.has(key) ? value : resolveValue(value, ['deployments', i, key], env, report);
    }
    return out;
  });
  return { ...data, deployments: resolved };
}
