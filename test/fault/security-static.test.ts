/**
 * Security by reading the code: no shell anywhere (every process is spawned from an argv list with
 * shell: false; no exec/execSync, os.system, shell=True), and every SQL statement is built from
 * constants only, with values bound as parameters. The SQL check walks the TypeScript syntax tree of
 * src/store: the text given to prepare()/sql()/exec()/pragma() may only be string literals, constants
 * and fragments from closed sets (placeholders lists, WHERE clauses of literal conditions, numbers).
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';
import { REPO } from '../support/run-cli.js';

function files(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...files(full, ext));
    else if (ext.test(name)) out.push(full);
  }
  return out;
}

const rel = (f: string) => path.relative(REPO, f);

describe('no shell anywhere', () => {
  const sources = [...files(path.join(REPO, 'src'), /\.ts$/), ...files(path.join(REPO, 'runtimes'), /\.(mjs|js|py)$/), path.join(REPO, 'bin', 'flowdeck.js')];

  test('no shell: true, exec/execSync, os.system, os.popen or shell=True in src/, runtimes/ or bin/', () => {
    const banned: [RegExp, string][] = [
      [/shell\s*:\s*true/, 'shell: true'],
      [/\bshell\s*=\s*True\b/, 'shell=True'],
      [/\b(?:exec|execSync)\s*(?:,|\})[^;]*from\s*['"](?:node:)?child_process['"]/, 'exec imported from child_process'],
      [/child_process['"]?\)?\.(?:exec|execSync)\s*\(/, 'child_process.exec()'],
      [/\bos\.(?:system|popen)\s*\(/, 'os.system/os.popen'],
      [/\bcommands\.getoutput\b|\bpty\.spawn\b/, 'shell helpers'],
    ];
    const hits: string[] = [];
    for (const f of sources) {
      const text = readFileSync(f, 'utf8');
      for (const [re, what] of banned) if (re.test(text)) hits.push(`${rel(f)}: ${what}`);
    }
    assert.deepEqual(hits, []);
  });

  test('every spawn() and subprocess.Popen() takes an argv list, with shell: false spelled out in TypeScript', () => {
    const problems: string[] = [];
    let spawns = 0;
    for (const f of sources.filter((s) => s.endsWith('.ts'))) {
      const sf = ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.ES2022, true);
      const visit = (node: ts.Node): void => {
        if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'spawn') {
          spawns++;
          const where = `${rel(f)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
          const [cmd, args, opts] = node.arguments;
          if (!cmd || ts.isTemplateExpression(cmd) || ts.isBinaryExpression(cmd)) problems.push(`${where}: the command is built from strings`);
          if (!args || ts.isStringLiteralLike(args) || ts.isTemplateExpression(args)) problems.push(`${where}: the arguments are not an argv list`);
          if (!opts || !/shell\s*:\s*false/.test(opts.getText(sf))) problems.push(`${where}: shell: false is not spelled out`);
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
    for (const f of sources.filter((s) => s.endsWith('.py'))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/subprocess\.(?:Popen|run|call|check_output|check_call)\(\s*([^,)\s]+)/g)) {
        spawns++;
        if (/^["'f]/.test(m[1]!)) problems.push(`${rel(f)}: subprocess given a string command: ${m[0]}`);
      }
    }
    assert.ok(spawns >= 3, `found the process launches (${spawns})`);
    assert.deepEqual(problems, []);
  });
});

/** Is `expr` SQL text made only of literals and constants from closed sets (never a runtime value)? */
class SqlChecker {
  private readonly decls = new Map<string, ts.Expression[]>();
  private readonly pushes = new Map<string, ts.Expression[]>();
  constructor(private readonly sf: ts.SourceFile) {
    const collect = (node: ts.Node): void => {
      if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
        this.decls.set(node.name.text, [...(this.decls.get(node.name.text) ?? []), node.initializer]);
      }
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'push' && ts.isIdentifier(node.expression.expression)) {
        const name = node.expression.expression.text;
        this.pushes.set(name, [...(this.pushes.get(name) ?? []), ...node.arguments]);
      }
      ts.forEachChild(node, collect);
    };
    collect(sf);
  }

  /** Why `expr` is not safe SQL text, or null when it is. */
  problem(expr: ts.Expression, seen = new Set<string>()): string | null {
    if (ts.isStringLiteralLike(expr) || ts.isNumericLiteral(expr)) return null;
    if (ts.isParenthesizedExpression(expr) || ts.isAsExpression(expr)) return this.problem(expr.expression, seen);
    if (ts.isTemplateExpression(expr)) {
      for (const span of expr.templateSpans) {
        const p = this.problem(span.expression, seen);
        if (p) return p;
      }
      return null;
    }
    if (ts.isConditionalExpression(expr)) return this.problem(expr.whenTrue, seen) ?? this.problem(expr.whenFalse, seen);
    if (ts.isBinaryExpression(expr) && expr.operatorToken.kind === ts.SyntaxKind.PlusToken) return this.problem(expr.left, seen) ?? this.problem(expr.right, seen);
    if (ts.isIdentifier(expr)) {
      const name = expr.text;
      const inits = this.decls.get(name);
      if (!inits || seen.has(name)) return `${name} is not a constant of this file`;
      seen.add(name);
      for (const init of inits) {
        // an array of literal conditions, joined later (WHERE clauses)
        if (ts.isArrayLiteralExpression(init)) {
          for (const e of [...init.elements, ...(this.pushes.get(name) ?? [])]) {
            const p = this.problem(e as ts.Expression, seen);
            if (p) return `${name} holds ${p}`;
          }
          continue;
        }
        const p = this.problem(init, seen);
        if (p) return p;
      }
      return null;
    }
    if (ts.isCallExpression(expr) && ts.isPropertyAccessExpression(expr.expression)) {
      const method = expr.expression.name.text;
      const target = expr.expression.expression;
      // xs.map(() => '?').join(', '): a list of placeholders
      if (method === 'join' && ts.isCallExpression(target) && ts.isPropertyAccessExpression(target.expression) && target.expression.name.text === 'map') {
        const fn = target.arguments[0];
        if (fn && ts.isArrowFunction(fn) && ts.isStringLiteralLike(fn.body as ts.Expression) && /^[?, ]*$/.test((fn.body as ts.StringLiteral).text)) return null;
      }
      // where.join(' AND '): literal conditions
      if (method === 'join' && ts.isIdentifier(target)) return this.problem(target, seen);
      // numbers only (pragmas cannot take bound parameters)
      if (ts.isIdentifier(target) && target.text === 'Math') return null;
    }
    if (ts.isPropertyAccessExpression(expr) && expr.getText(this.sf) === 'm.sql') return null; // numbered migration files
    return `\`${expr.getText(this.sf).slice(0, 80)}\` may carry a value`;
  }
}

/** The statement cache `sql(db, text)` prepares what its callers pass; the callers are what is checked. */
function insideSqlHelper(node: ts.Node): boolean {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) if (ts.isFunctionDeclaration(n)) return n.name?.text === 'sql';
  return false;
}

describe('SQL uses bound parameters', () => {
  test('every statement text in src/store is made of literals and constants; values are bound', () => {
    const problems: string[] = [];
    let statements = 0;
    for (const f of files(path.join(REPO, 'src', 'store'), /\.ts$/)) {
      const sf = ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.ES2022, true);
      const checker = new SqlChecker(sf);
      const visit = (node: ts.Node): void => {
        if (ts.isCallExpression(node)) {
          const callee = node.expression;
          const method = ts.isPropertyAccessExpression(callee) ? callee.name.text : ts.isIdentifier(callee) ? callee.text : '';
          const isDb = ts.isPropertyAccessExpression(callee) && ['prepare', 'exec', 'pragma'].includes(method) && /db|database/i.test(callee.expression.getText(sf)) && !insideSqlHelper(node);
          const isHelper = ts.isIdentifier(callee) && method === 'sql' && node.arguments.length >= 2;
          const text = isDb ? node.arguments[0] : isHelper ? node.arguments[1] : undefined;
          if (text) {
            statements++;
            const p = checker.problem(text);
            if (p) problems.push(`${rel(f)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}: ${p}`);
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(sf);
    }
    assert.ok(statements > 50, `found the statements (${statements})`);
    assert.deepEqual(problems, []);
  });

  test('the check itself flags values spliced into SQL (and passes constants)', () => {
    const src = [
      "const TABLE = 'flow_run';",
      "const cols = ['a = ?'];",
      "cols.push('b = ?');",
      "function f(db, name, ids) {",
      "  db.prepare(`SELECT * FROM ${TABLE} WHERE ${cols.join(' AND ')} AND id IN (${ids.map(() => '?').join(', ')})`);",
      "  db.prepare(`SELECT * FROM t WHERE name = '${name}'`);",
      "  db.prepare('SELECT * FROM t WHERE name = ' + name);",
      "  const where = [];",
      "  where.push(`name = '${name}'`);",
      "  db.prepare(`SELECT 1 WHERE ${where.join(' AND ')}`);",
      '}',
    ].join('\n');
    const sf = ts.createSourceFile('probe.ts', src, ts.ScriptTarget.ES2022, true);
    const checker = new SqlChecker(sf);
    const verdicts: (string | null)[] = [];
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'prepare') verdicts.push(checker.problem(node.arguments[0]!));
      ts.forEachChild(node, visit);
    };
    visit(sf);
    assert.equal(verdicts.length, 4);
    assert.equal(verdicts[0], null);
    assert.ok(verdicts.slice(1).every((v) => v !== null), JSON.stringify(verdicts));
  });

  test('no SQL outside src/store', () => {
    const hits: string[] = [];
    for (const f of files(path.join(REPO, 'src'), /\.ts$/)) {
      if (f.startsWith(path.join(REPO, 'src', 'store'))) continue;
      const text = readFileSync(f, 'utf8');
      if (/\.prepare\s*\(|\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b[^\n]*\b(FROM|VALUES|WHERE|SET)\b/.test(text)) hits.push(rel(f));
    }
    assert.deepEqual(hits, []);
  });
});
