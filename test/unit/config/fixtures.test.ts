/**
 * Fixture suite: every valid prefect.yaml translates exactly to its expected.json
 * (with no errors, and only the warnings listed in warnings.json); every invalid
 * one yields exactly one error with the expected code, key path, line and column.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { formatDiagnostic, loadProject } from '../../../src/config/index.js';

// Compiled to dist/test/unit/config/: four levels up is the repository root.
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/prefect-yaml/', import.meta.url));

function cases(kind: 'valid' | 'invalid'): string[] {
  return readdirSync(join(FIXTURES, kind)).sort();
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

function run(kind: 'valid' | 'invalid', name: string) {
  const dir = join(FIXTURES, kind, name);
  const envFile = join(dir, 'env.json');
  const env = existsSync(envFile) ? readJson<Record<string, string>>(envFile) : {};
  return { dir, result: loadProject(join(dir, 'prefect.yaml'), { env, displayName: `${name}/prefect.yaml` }) };
}

test('the fixture suite has at least 25 valid and 20 invalid files', () => {
  assert.ok(cases('valid').length >= 25, `valid: ${cases('valid').length}`);
  assert.ok(cases('invalid').length >= 20, `invalid: ${cases('invalid').length}`);
});

for (const name of cases('valid')) {
  test(`valid/${name} translates to expected.json`, () => {
    const { dir, result } = run('valid', name);
    const shown = result.diagnostics.map(formatDiagnostic).join('\n');
    assert.equal(result.diagnostics.filter((d) => d.severity === 'error').length, 0, shown);
    const warningsFile = join(dir, 'warnings.json');
    const expectedWarnings = existsSync(warningsFile) ? readJson<string[]>(warningsFile) : [];
    assert.deepStrictEqual(
      result.diagnostics.map((d) => d.code),
      expectedWarnings,
      shown,
    );
    assert.deepStrictEqual(result.deployments, readJson(join(dir, 'expected.json')));
  });
}

interface ExpectedError {
  code: string;
  path: string;
  line: number;
  col: number;
}

for (const name of cases('invalid')) {
  test(`invalid/${name} reports exactly its one mistake`, () => {
    const { dir, result } = run('invalid', name);
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    const shown = result.diagnostics.map(formatDiagnostic).join('\n');
    assert.equal(errors.length, 1, shown);
    const { code, path, line, col } = errors[0]!;
    assert.deepStrictEqual({ code, path, line, col }, readJson<ExpectedError>(join(dir, 'expected.json')), shown);
    assert.deepStrictEqual(result.deployments, []);
    assert.equal(errors[0]!.file, `${name}/prefect.yaml`);
  });
}
