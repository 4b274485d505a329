/**
 * JSON-schema validation of prefect.yaml (schemas/prefect.yaml.schema.json, draft
 * 2020-12) with ajv, compiled once. ajv errors become Diagnostics with positions;
 * the noise of anyOf branches is collapsed to the one error that explains the value.
 */
import { readFileSync } from 'node:fs';
import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { UNSUPPORTED_KEYS, contextOf, unknownKeyMessage } from './hints.js';
import { pointerToPath } from './paths.js';
import type { Reporter } from './report.js';
import { describeValue } from './values.js';

/** Where the schema lives (repo root, next to package.json; the compiled file is dist/src/config/). */
export const SCHEMA_URL = new URL('../../../schemas/prefect.yaml.schema.json', import.meta.url);

// ajv ships CommonJS with `exports.default`; under NodeNext the default import is the module object.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;

let compiled: ValidateFunction | null = null;

/** The compiled validator (compiled on first use, then reused). */
export function schemaValidator(): ValidateFunction {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as Record<string, unknown>;
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
    for (const keyword of ['x-code', 'x-expected', 'x-unknown-key-severity']) {
      ajv.addKeyword({ keyword, schemaType: 'string' });
    }
    compiled = ajv.compile(schema);
  }
  return compiled;
}

type SchemaNode = Record<string, unknown> | undefined;

function annotation(e: ErrorObject, key: string): string | undefined {
  const value = (e.parentSchema as SchemaNode)?.[key];
  return typeof value === 'string' ? value : undefined;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function typeWords(types: unknown): string {
  const list = (Array.isArray(types) ? types : [types]).map((t) => TYPE_WORDS[String(t)] ?? String(t));
  return list.length <= 1 ? (list[0] ?? 'valid') : `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}`;
}

function orList(values: readonly string[]): string {
  return values.length <= 1 ? (values[0] ?? '') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}

const UNION = new Set(['anyOf', 'oneOf']);

/**
 * Keep, per value, the error that explains it: errors deeper in the value win over
 * the union's own error; otherwise a keyword error of the branch whose type matched
 * (minimum, pattern, enum, additionalProperties...); otherwise one union error.
 */
export function collapseUnionErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    const list = byPath.get(e.instancePath) ?? [];
    list.push(e);
    byPath.set(e.instancePath, list);
  }
  // every proper ancestor of an error's path, so "is there an error deeper than this?" is one lookup
  // (scanning all errors for each union was quadratic in the number of errors)
  const ancestors = new Set<string>();
  for (const p of byPath.keys()) {
    for (let i = p.lastIndexOf('/'); i >= 0; i = i === 0 ? -1 : p.lastIndexOf('/', i - 1)) ancestors.add(p.slice(0, i));
  }
  const out: ErrorObject[] = [];
  for (const [path, errs] of byPath) {
    const unions = errs.filter((e) => UNION.has(e.keyword));
    if (unions.length === 0) {
      out.push(...errs);
      continue;
    }
    const deeper = ancestors.has(path);
    const specific = errs.filter((e) => e.keyword !== 'type' && !UNION.has(e.keyword));
    if (deeper || specific.length > 0) out.push(...specific);
    else out.push(unions[unions.length - 1]!); // ajv reports the outermost union last
  }
  const seen = new Set<string>();
  return out.filter((e) => {
    const key = `${e.instancePath}|${e.keyword}|${JSON.stringify(e.params)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function valueMessage(e: ErrorObject): string {
  const got = describeValue(e.data);
  const expected = annotation(e, 'x-expected');
  switch (e.keyword) {
    case 'type':
      return `must be ${expected ?? typeWords(e.params['type'])}, got ${got}`;
    case 'enum': {
      const allowed = ((e.params['allowedValues'] as unknown[]) ?? []).filter((v) => v !== null).map(String);
      const caseMatch =
        typeof e.data === 'string' ? allowed.find((v) => v.toLowerCase() === (e.data as string).trim().toLowerCase()) : undefined;
      const hint = caseMatch ? ` (values are case-sensitive: did you mean "${caseMatch}"?)` : '';
      return `must be ${orList(allowed)}, got ${got}${hint}`;
    }
    case 'anyOf':
    case 'oneOf':
      return `must be ${expected ?? 'one of the allowed forms'}, got ${got}`;
    default:
      return expected ? `must be ${expected}, got ${got}` : `${e.message ?? 'is invalid'}, got ${got}`;
  }
}

function reportUnknownKey(e: ErrorObject, data: unknown, report: Reporter): void {
  const key = String(e.params['additionalProperty']);
  const parent = pointerToPath(e.instancePath, data);
  const path = [...parent, key];
  const unsupported = UNSUPPORTED_KEYS[key];
  if (unsupported) {
    report.error('unsupported-key', path, unsupported, 'key');
    return;
  }
  const props = (e.parentSchema as SchemaNode)?.['properties'];
  const known = props && typeof props === 'object' ? Object.keys(props) : [];
  if (annotation(e, 'x-unknown-key-severity') === 'error') {
    // Prefect's schedule model forbids extra keys, so the whole file would be rejected.
    const message = `${unknownKeyMessage(key, contextOf(parent), known, false)} (schedule items accept only ${known.join(', ')})`;
    report.error('unknown-schedule-key', path, message, 'key');
    return;
  }
  report.warning('unknown-key', path, unknownKeyMessage(key, contextOf(parent), known, true), 'key');
}

/** Validate the (templated) document against the schema, reporting every problem. */
export function validateSchema(data: unknown, report: Reporter): boolean {
  const validate = schemaValidator();
  if (validate(data)) return true;
  for (const e of collapseUnionErrors(validate.errors ?? [])) {
    if (e.keyword === 'additionalProperties') {
      reportUnknownKey(e, data, report);
      continue;
    }
    const path = pointerToPath(e.instancePath, data);
    const code = annotation(e, 'x-code') ?? (e.keyword === 'type' || UNION.has(e.keyword) ? 'invalid-type' : 'invalid-value');
    report.error(code, path, valueMessage(e));
  }
  return false;
}
