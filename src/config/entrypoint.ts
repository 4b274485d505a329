/**
 * Entrypoints: `path/file.py:func`, `./path/file.py:Class.method`,
 * `path/file.js|.mjs|.cjs:func`, or a Python module path (`pkg.mod:func`,
 * `pkg.mod.func`); and the flow name read statically from the file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

export type EntrypointKind = 'python-file' | 'js-file' | 'python-module';

export interface Entrypoint {
  kind: EntrypointKind;
  /** File path as written (file kinds) or the module's dotted name. */
  target: string;
  /** Attribute path after the file or module: `func` or `Class.method`. */
  attribute: string;
  /** Last part of `attribute`: the function that is the flow. */
  functionName: string;
}

export interface EntrypointProblem {
  code: string;
  severity: 'error' | 'warning';
  message: string;
}

const IDENT = '[\\p{L}_$][\\p{L}\\p{N}_$]*';
const DOTTED = new RegExp(`^${IDENT}(?:\\.${IDENT})*$`, 'u');
const FILE_EXT = /\.(py|js|mjs|cjs)$/i;

function shapeHelp(): string {
  return 'write path/to/file.py:function (or file.js:function, or a module path such as pkg.module:function)';
}

/** Parse the entrypoint's shape, or say what is wrong with it. */
export function parseEntrypoint(raw: string): Entrypoint | EntrypointProblem {
  const text = raw.trim();
  const colon = text.lastIndexOf(':');
  if (colon < 0) {
    if (FILE_EXT.test(text) || /[/\\]/.test(text)) {
      return {
        code: 'entrypoint-missing-function',
        severity: 'error',
        message: `"${text}" names a file but no function; write ${text}:<flow function>`,
      };
    }
    if (DOTTED.test(text) && text.includes('.')) {
      const dot = text.lastIndexOf('.');
      const fn = text.slice(dot + 1);
      return { kind: 'python-module', target: text.slice(0, dot), attribute: fn, functionName: fn };
    }
    return { code: 'invalid-entrypoint', severity: 'error', message: `"${text}" is not an entrypoint; ${shapeHelp()}` };
  }
  const left = text.slice(0, colon);
  const attribute = text.slice(colon + 1).trim();
  if (attribute === '') {
    return {
      code: 'entrypoint-missing-function',
      severity: 'error',
      message: `"${text}" names no function after ":"; write ${left}:<flow function>`,
    };
  }
  if (!DOTTED.test(attribute)) {
    return {
      code: 'invalid-entrypoint',
      severity: 'error',
      message: `"${attribute}" is not a function name (expected func or Class.method after ":")`,
    };
  }
  const functionName = attribute.slice(attribute.lastIndexOf('.') + 1);
  const ext = FILE_EXT.exec(left);
  if (ext) {
    const kind = ext[1]!.toLowerCase() === 'py' ? 'python-file' : 'js-file';
    return { kind, target: left, attribute, functionName };
  }
  if (DOTTED.test(left)) return { kind: 'python-module', target: left, attribute, functionName };
  return {
    code: 'invalid-entrypoint',
    severity: 'error',
    message: `"${left}" must be a .py, .js, .mjs or .cjs file or a dotted Python module path; ${shapeHelp()}`,
  };
}

export function isEntrypointProblem(value: Entrypoint | EntrypointProblem): value is EntrypointProblem {
  return 'code' in value;
}

/** Prefect's default flow name: the function name with `_` replaced by `-`. */
export function defaultFlowName(functionName: string): string {
  return functionName.replace(/_/g, '-');
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The text of the balanced `( ... )` starting at `open`, quotes respected; null if unbalanced. */
function balancedArgs(text: string, open: number): string | null {
  let depth = 0;
  let quote: string | null = null;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return text.slice(open + 1, i);
  }
  return null;
}

/** The decorator lines just above line `defLine` (which holds `def`). */
function decoratorBlock(lines: readonly string[], defLine: number): string {
  const block: string[] = [];
  let depth = 0; // open parentheses still to find, scanning upwards
  for (let i = defLine - 1; i >= 0; i--) {
    const line = lines[i]!;
    const trimmed = line.trim();
    const closes = (line.match(/\)/g) ?? []).length;
    const opens = (line.match(/\(/g) ?? []).length;
    if (depth === 0 && (trimmed === '' || (!trimmed.startsWith('@') && !trimmed.startsWith('#') && closes <= opens))) break;
    depth += closes - opens;
    block.unshift(line);
    if (depth <= 0 && trimmed.startsWith('@')) depth = 0;
  }
  return block.join('\n');
}

const NAME_ARG = /(?:^|[\s,(])name\s*=\s*([A-Za-z]{0,2})("""|'''|"|')((?:\\.|(?!\2)[^\\])*)\2\s*(?=[,)]|$)/;

/**
 * The `name=` of the `@flow(...)` decorator on `def <attribute>` in Python source:
 * a string when it is a plain literal, null when the function has no static name
 * (no name=, an f-string, an expression), undefined when the function is not defined.
 */
export function flowNameFromPython(source: string, attribute: string): string | null | undefined {
  const parts = attribute.split('.');
  const fn = parts[parts.length - 1]!;
  let from = 0;
  if (parts.length > 1) {
    const cls = new RegExp(`^[ \\t]*class[ \\t]+${escapeRe(parts[parts.length - 2]!)}\\b`, 'mu').exec(source);
    if (cls) from = cls.index;
  }
  const defRe = new RegExp(`^[ \\t]*(?:async[ \\t]+)?def[ \\t]+${escapeRe(fn)}[ \\t]*\\(`, 'gmu');
  defRe.lastIndex = from;
  const def = defRe.exec(source);
  if (!def) {
    const assigned = new RegExp(`^${escapeRe(fn)}[ \\t]*(?::[^=\\n]*)?=`, 'mu').test(source);
    return assigned ? null : undefined;
  }
  const lines = source.split(/\r?\n/);
  const defLine = source.slice(0, def.index + (def[0].length - def[0].trimStart().length)).split(/\r?\n/).length - 1;
  const block = decoratorBlock(lines, defLine);
  const deco = /@(?:[\w]+\.)*flow\b\s*/.exec(block);
  if (!deco) return null;
  const open = deco.index + deco[0].length;
  if (block[open] !== '(') return null;
  const args = balancedArgs(block, open);
  if (args === null) return null;
  const m = NAME_ARG.exec(args);
  if (!m) return null;
  const prefix = m[1]!.toLowerCase();
  if (prefix.includes('f') || prefix.includes('b')) return null;
  return prefix.includes('r') ? m[3]! : m[3]!.replace(/\\(.)/g, '$1');
}

export interface ResolvedEntrypoint {
  flowName: string;
  problem?: EntrypointProblem;
}

function readIfFile(path: string): string | null {
  try {
    return statSync(path).isFile() ? readFileSync(path, 'utf8') : null;
  } catch {
    return null;
  }
}

function pythonFlowName(entry: Entrypoint, source: string, shown: string): ResolvedEntrypoint {
  const name = flowNameFromPython(source, entry.attribute);
  const fallback = defaultFlowName(entry.functionName);
  if (name === undefined) {
    return {
      flowName: fallback,
      problem: {
        code: 'entrypoint-function-not-found',
        severity: 'warning',
        message: `${shown} does not seem to define ${entry.attribute}`,
      },
    };
  }
  return { flowName: name ?? fallback };
}

/**
 * The flow name for an entrypoint, reading the file (relative to `baseDir`)
 * when `checkFiles` is on. A missing file is an error; a module path that is
 * not a file under `baseDir` may be an installed package, so only a warning.
 */
export function resolveEntrypoint(entry: Entrypoint, baseDir: string, checkFiles: boolean): ResolvedEntrypoint {
  const fallback = defaultFlowName(entry.functionName);
  if (!checkFiles) return { flowName: fallback };
  if (entry.kind === 'python-module') {
    const rel = entry.target.split('.');
    const candidates = [join(baseDir, ...rel) + '.py', join(baseDir, ...rel, '__init__.py')];
    const found = candidates.find((c) => existsSync(c));
    const source = found ? readIfFile(found) : null;
    if (source === null) {
      return {
        flowName: fallback,
        problem: {
          code: 'entrypoint-module-not-found',
          severity: 'warning',
          message: `module ${entry.target} is not a file under ${baseDir} (${rel.join('/')}.py); it must be importable by python3 when the flow runs`,
        },
      };
    }
    return pythonFlowName(entry, source, `module ${entry.target}`);
  }
  const full = isAbsolute(entry.target) ? entry.target : resolve(baseDir, entry.target);
  const source = readIfFile(full);
  if (source === null) {
    return {
      flowName: fallback,
      problem: {
        code: 'entrypoint-not-found',
        severity: 'error',
        message: `entrypoint file ${entry.target} does not exist (looked for ${full})`,
      },
    };
  }
  if (entry.kind === 'python-file') return pythonFlowName(entry, source, entry.target);
  if (!new RegExp(`(?<![\\w$])${escapeRe(entry.functionName)}(?![\\w$])`, 'u').test(source)) {
    return {
      flowName: fallback,
      problem: {
        code: 'entrypoint-function-not-found',
        severity: 'warning',
        message: `${entry.target} does not seem to define ${entry.attribute}`,
      },
    };
  }
  return { flowName: fallback };
}
