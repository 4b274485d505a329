import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadYamlText } from '../../../src/config/load.js';

const DOC = `definitions:
  pool: &pool
    name: local
  defaults: &defaults
    tags: [a]
    work_pool: *pool
deployments:
  - <<: *defaults
    name: first
    version: 1.0
`;

test('a key path maps to the line and column of its value, or of its key', () => {
  const { yaml, diagnostics } = loadYamlText(DOC, 'prefect.yaml');
  assert.deepStrictEqual(diagnostics, []);
  assert.deepStrictEqual(yaml!.positionOf(['deployments', 0, 'name']), { line: 9, col: 11 });
  assert.deepStrictEqual(yaml!.positionOf(['deployments', 0, 'name'], 'key'), { line: 9, col: 5 });
  assert.deepStrictEqual(yaml!.positionOf(['deployments', 0]), { line: 8, col: 5 });
});

test('paths through << merge keys and aliases point into the anchored definition', () => {
  const { yaml } = loadYamlText(DOC, 'prefect.yaml');
  assert.deepStrictEqual(yaml!.positionOf(['deployments', 0, 'tags', 0]), { line: 5, col: 12 });
  assert.deepStrictEqual(yaml!.positionOf(['deployments', 0, 'work_pool', 'name']), { line: 3, col: 11 });
});

test('a missing key points at the nearest mapping that exists', () => {
  const { yaml } = loadYamlText(DOC, 'prefect.yaml');
  assert.deepStrictEqual(yaml!.positionOf(['deployments', 0, 'schedules', 0, 'cron']), { line: 8, col: 5 });
});

test('merge keys and aliases are resolved in the data', () => {
  const { data } = loadYamlText(DOC, 'prefect.yaml');
  const dep = (data as { deployments: Record<string, unknown>[] }).deployments[0];
  assert.deepStrictEqual(dep, { tags: ['a'], work_pool: { name: 'local' }, name: 'first', version: 1 });
});

test('the scalar text as written is kept (version 1.0 is not 1)', () => {
  const { yaml } = loadYamlText(DOC, 'prefect.yaml');
  assert.equal(yaml!.scalarSource(['deployments', 0, 'version']), '1.0');
});

test('a tab used for indentation is a yaml-syntax error with its position', () => {
  const { diagnostics, data } = loadYamlText('deployments:\n  - name: x\n    work_pool:\n\tname: p\n', 'p.yaml');
  assert.equal(data, undefined);
  assert.deepStrictEqual(
    diagnostics.map((d) => [d.code, d.line, d.col, d.file]),
    [['yaml-syntax', 4, 1, 'p.yaml']],
  );
});

test('duplicate keys and aliases without anchors are errors with positions', () => {
  const dup = loadYamlText('a: 1\nb: 2\na: 3\n', 'p.yaml').diagnostics;
  assert.deepStrictEqual(dup.map((d) => [d.code, d.line, d.col]), [['yaml-duplicate-key', 3, 1]]);
  const alias = loadYamlText('a: 1\nb: *nope\n', 'p.yaml').diagnostics;
  assert.deepStrictEqual(alias.map((d) => [d.code, d.line, d.col]), [['yaml-unresolved-alias', 2, 4]]);
});

test('an alias bomb is refused instead of expanding', { timeout: 5000 }, () => {
  const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  const names = 'abcdefghij';
  for (let i = 1; i < names.length; i++) {
    const prev = `*${names[i - 1]}`;
    levels.push(`${names[i]}: &${names[i]} [${Array(9).fill(prev).join(',')}]`);
  }
  const { diagnostics, data } = loadYamlText(levels.join('\n') + '\n', 'bomb.yaml');
  assert.equal(data, undefined);
  assert.deepStrictEqual(diagnostics.map((d) => d.code), ['yaml-alias-limit']);
  assert.ok(diagnostics[0]!.line > 0);
});

test('an unreadable path is a file-not-found diagnostic, not an exception', async () => {
  const { loadYamlFile } = await import('../../../src/config/load.js');
  const r = loadYamlFile('/nonexistent/dir/prefect.yaml', 'prefect.yaml');
  assert.deepStrictEqual(r.diagnostics.map((d) => [d.code, d.file]), [['file-not-found', 'prefect.yaml']]);
});

test('yes/no/on/off are booleans as in PyYAML, while dates and y/n stay text', () => {
  const { data } = loadYamlText('a: yes\nb: Off\nc: y\nd: 2024-01-01\ne: "yes"\nf: 00:10:00\n', 'p.yaml');
  assert.deepStrictEqual(data, { a: true, b: false, c: 'y', d: '2024-01-01', e: 'yes', f: '00:10:00' });
});
