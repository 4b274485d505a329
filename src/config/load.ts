/**
 * Read prefect.yaml with source positions.
 *
 * YAML 1.2 core schema plus PyYAML's yes/no/on/off booleans (dates stay text;
 * the rules coerce boolean strings the way Prefect's pydantic models do), merge
 * keys `<<` on, anchors and aliases resolved, and alias expansion bounded so that an
 * "alias bomb" fails fast instead of exhausting memory. The parsed Document is
 * kept so that any key path can be mapped back to a line and column.
 */
import { readFileSync } from 'node:fs';
import {
  Document,
  LineCounter,
  Pair,
  isAlias,
  isMap,
  isScalar,
  isPair,
  isSeq,
  parseDocument,
  type Alias,
  type Node,
  type ScalarTag,
  type YAMLMap,
} from 'yaml';
import type { Diagnostic } from './diagnostic.js';
import type { KeyPath } from './paths.js';

/**
 * PyYAML (which Prefect uses) reads yes/no/on/off as booleans, as YAML 1.1 did;
 * the 1.2 core schema keeps them as text. These two tags restore PyYAML's
 * reading (only its words: unlike the yaml package's 1.1 schema, not y/n)
 * without the rest of 1.1 (dates, octal, sexagesimal numbers).
 */
const PYYAML_BOOLS: ScalarTag[] = [
  {
    tag: 'tag:yaml.org,2002:bool',
    default: true,
    test: /^(?:yes|Yes|YES|on|On|ON)$/,
    resolve: () => true,
  },
  {
    tag: 'tag:yaml.org,2002:bool',
    default: true,
    test: /^(?:no|No|NO|off|Off|OFF)$/,
    resolve: () => false,
  },
];

/** Bound on alias expansion (anchor size x uses); real files stay far below it. */
export const MAX_ALIAS_COUNT = 10_000;

export interface SourcePosition {
  line: number;
  col: number;
}

interface Found {
  /** Deepest node reached (the value at `path` when `complete`). */
  node: Node | null;
  /** The mapping pair whose value is `node`, when the last step went through a mapping. */
  pair: Pair | null;
  complete: boolean;
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol';
}

function keyText(key: unknown): string | null {
  if (isScalar(key)) return typeof key.value === 'symbol' ? null : String(key.value);
  return null;
}

/** A parsed document plus the means to point at any of its keys or values. */
export class LoadedYaml {
  constructor(
    readonly file: string,
    readonly text: string,
    readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  /** Offset -> 1-based line and column. */
  position(offset: number): SourcePosition {
    const { line, col } = this.lineCounter.linePos(offset);
    return { line, col };
  }

  private unwrap(node: unknown, seen: Set<unknown> = new Set()): Node | null {
    let current = node;
    while (isAlias(current)) {
      if (seen.has(current)) return null;
      seen.add(current);
      current = current.resolve(this.doc);
    }
    return (current as Node | undefined) ?? null;
  }

  private readonly keyIndex = new WeakMap<YAMLMap, { own: Map<string, Pair>; merges: Pair[] }>();

  /** A mapping's keys, indexed once: looking each diagnostic's key up by scanning was quadratic (20,000 keys: 8 s). */
  private indexOf(map: YAMLMap): { own: Map<string, Pair>; merges: Pair[] } {
    let index = this.keyIndex.get(map);
    if (!index) {
      index = { own: new Map(), merges: [] };
      for (const pair of map.items) {
        if (isMergeKey(pair.key)) index.merges.push(pair as Pair);
        else {
          const k = keyText(pair.key);
          if (k !== null && !index.own.has(k)) index.own.set(k, pair as Pair);
        }
      }
      this.keyIndex.set(map, index);
    }
    return index;
  }

  /** The pair holding `key` in `map`, looking through `<<` merges (own keys first). */
  private findPair(map: Node, key: string, depth = 0): Pair | null {
    if (!isMap(map) || depth > 20) return null;
    const index = this.indexOf(map);
    const own = index.own.get(key);
    if (own) return own;
    for (const pair of index.merges) {
      const source = this.unwrap(pair.value);
      const sources = isSeq(source) ? source.items.map((item) => this.unwrap(item)) : [source];
      for (const s of sources) {
        const found = s ? this.findPair(s, key, depth + 1) : null;
        if (found) return found;
      }
    }
    return null;
  }

  private walk(path: KeyPath): Found {
    let node = this.unwrap(this.doc.contents);
    let pair: Pair | null = null;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const container = this.unwrap(node);
      let next: Node | null = null;
      let nextPair: Pair | null = null;
      if (isMap(container)) {
        nextPair = this.findPair(container, String(seg));
        next = nextPair ? ((nextPair.value as Node | null) ?? null) : null;
      } else if (isSeq(container) && typeof seg === 'number') {
        next = (container.items[seg] as Node | undefined) ?? null;
      }
      if (!next && !nextPair) return { node: container, pair, complete: false };
      node = next;
      pair = nextPair;
      if (!next) {
        // `key:` with no value: stop at the pair.
        return { node: null, pair, complete: i === path.length - 1 };
      }
    }
    return { node, pair, complete: true };
  }

  /** The YAML node at `path` (aliases not unwrapped), if present. */
  nodeAt(path: KeyPath): Node | null {
    const found = this.walk(path);
    return found.complete ? found.node : null;
  }

  /** The scalar's text as written (e.g. `1.0` for a version the parser made the number 1). */
  scalarSource(path: KeyPath): string | undefined {
    const node = this.unwrap(this.nodeAt(path));
    return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
  }

  /**
   * Where `path` is in the text: the value node, or its key with `at: 'key'`
   * (used for unknown keys). A path that does not exist points at the deepest
   * part that does (e.g. the mapping a required key is missing from).
   */
  positionOf(path: KeyPath, at: 'value' | 'key' = 'value'): SourcePosition {
    const found = this.walk(path);
    const keyNode = found.pair?.key as Node | undefined;
    if (found.complete && at === 'key' && keyNode?.range) return this.position(keyNode.range[0]);
    const range = found.node?.range;
    // `key:` with nothing after it: point at the key rather than the end of the line.
    const empty = isScalar(found.node) && found.node.value === null && range != null && range[0] === range[1];
    if (range && !(empty && keyNode?.range)) return this.position(range[0]);
    if (keyNode?.range) return this.position(keyNode.range[0]);
    return { line: 1, col: 1 };
  }
}

export interface LoadResult {
  diagnostics: Diagnostic[];
  /** null when the file could not be read. */
  yaml: LoadedYaml | null;
  /** The document as plain data (aliases and merges resolved); undefined when it could not be built. */
  data: unknown;
}

function diag(
  file: string,
  code: string,
  message: string,
  pos: SourcePosition | null,
  severity: 'error' | 'warning' = 'error',
): Diagnostic {
  return { code, severity, path: '', line: pos?.line ?? 0, col: pos?.col ?? 0, message, file };
}

/** Deeper than this is refused before anything recursive runs on it (real files nest about 10 levels). */
export const MAX_DEPTH = 256;

interface TreeFacts {
  /** Offsets of keys repeating an earlier scalar key of the same mapping (`<<` merge keys may repeat). */
  duplicates: number[];
  aliases: { alias: Alias; target: Node | undefined }[];
  depth: number;
}

/**
 * One iterative pass over the parsed tree, in the library's visiting order: duplicate keys, depth,
 * and the anchor each alias refers to (the last one of its name before it, as yaml resolves it).
 * The library's own helpers cost a whole-document visit per alias and per mapping (and copy the path
 * at every level): a deep file with a few aliases took 25 s. Each alias is given its target here.
 */
function inspectTree(doc: Document): TreeFacts {
  const facts: TreeFacts = { duplicates: [], aliases: [], depth: 0 };
  const anchors = new Map<string, Node>();
  const stack: [unknown, number][] = [[doc.contents, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    facts.depth = Math.max(facts.depth, depth);
    if (depth > MAX_DEPTH) continue;
    if (isPair(node)) {
      stack.push([node.value, depth], [node.key, depth]);
      continue;
    }
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor) anchors.set(anchor, node as Node);
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      facts.aliases.push({ alias: node, target });
      // the library re-finds the anchor by visiting the whole document each time it is asked without
      // a context (it asks once per alias, and again when counting aliases): answer from this pass
      const resolve = node.resolve.bind(node);
      Object.defineProperty(node, 'resolve', { value: (d: Document, ctx?: unknown) => (ctx ? resolve(d, ctx as never) : target) });
    } else if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = pair.key;
        if (!isScalar(key) || typeof key.value === 'symbol' || Number.isNaN(key.value)) continue;
        if (!seen.has(key.value)) seen.add(key.value);
        else if (key.range) facts.duplicates.push(key.range[0]);
      }
      for (let i = node.items.length - 1; i >= 0; i--) stack.push([node.items[i], depth + 1]);
    } else if (isSeq(node)) {
      for (let i = node.items.length - 1; i >= 0; i--) stack.push([node.items[i], depth + 1]);
    }
  }
  return facts;
}

/**
 * How deep `text` nests, roughly and from the text alone: block levels from the indentation (and
 * `- - x` dashes), flow levels from unclosed brackets (quotes ignored, so it can only overestimate).
 * The parser recurses per level: near the stack limit (about 1,000 levels) V8 can even die with a
 * fatal out-of-memory in its regexp compiler instead of a catchable error, so deep files are refused
 * before parsing. Returns the depth and an offset where it is reached.
 */
function roughNesting(text: string): { depth: number; offset: number } {
  const indents: number[] = [];
  let flow = 0;
  let best = { depth: 0, offset: 0 };
  let lineStart = 0;
  while (lineStart <= text.length) {
    let end = text.indexOf('\n', lineStart);
    if (end < 0) end = text.length;
    let i = lineStart;
    while (i < end && text[i] === ' ') i++;
    if (i < end && text[i] !== '#' && text[i] !== '\r' && flow === 0) {
      const indent = i - lineStart;
      while (indents.length > 0 && indents[indents.length - 1]! > indent) indents.pop();
      if (indents.length === 0 || indents[indents.length - 1]! < indent) indents.push(indent);
    }
    let dashes = 0;
    for (let j = i; j + 1 < end && text[j] === '-' && (text[j + 1] === ' ' || text[j + 1] === '\t'); j += 2) dashes++;
    for (let j = i; j < end; j++) {
      const c = text[j];
      if (c === '[' || c === '{') flow++;
      else if ((c === ']' || c === '}') && flow > 0) flow--;
    }
    const depth = indents.length + dashes + flow;
    if (depth > best.depth) best = { depth, offset: lineStart };
    lineStart = end + 1;
  }
  return best;
}

/** Parse YAML text; `file` is the display name used in diagnostics. */
export function loadYamlText(text: string, file: string): LoadResult {
  const lineCounter = new LineCounter();
  const nesting = roughNesting(text);
  if (nesting.depth > MAX_DEPTH) {
    const line = text.slice(0, nesting.offset).split('\n').length;
    const message = `the document is nested too deeply to read (about ${nesting.depth} levels of lists or mappings; at most ${MAX_DEPTH})`;
    return { diagnostics: [{ code: 'yaml-syntax', severity: 'error', path: '', line, col: 1, message, file }], yaml: null, data: undefined };
  }
  const doc = parseDocument(text, {
    lineCounter,
    merge: true,
    prettyErrors: false,
    // the library's own duplicate check compares every key with every other (40,000 keys: 20 s);
    // inspectTree below finds the same duplicates in one pass
    uniqueKeys: false,
    customTags: (tags) => [...PYYAML_BOOLS, ...tags],
  });
  const yaml = new LoadedYaml(file, text, doc, lineCounter);
  const diagnostics: Diagnostic[] = [];
  for (const err of doc.errors) {
    const code = err.code === 'DUPLICATE_KEY' ? 'yaml-duplicate-key' : 'yaml-syntax';
    const message =
      err.code === 'TAB_AS_INDENT'
        ? `${err.message} (indent with spaces)`
        : err.code === 'MULTIPLE_DOCS'
          ? 'the file holds more than one YAML document (---); prefect.yaml must be a single document'
          : /Maximum call stack/i.test(err.message)
            ? 'the document is nested too deeply to read (hundreds of levels of lists or mappings)'
            : err.message;
    diagnostics.push(diag(file, code, message, yaml.position(err.pos[0])));
  }
  const tree = inspectTree(doc);
  for (const offset of tree.duplicates) {
    diagnostics.push(diag(file, 'yaml-duplicate-key', 'Map keys must be unique', yaml.position(offset)));
  }
  if (tree.depth > MAX_DEPTH && !diagnostics.some((d) => d.severity === 'error')) {
    diagnostics.push(diag(file, 'yaml-syntax', `the document is nested too deeply to read (more than ${MAX_DEPTH} levels of lists or mappings)`, null));
  }
  for (const warn of doc.warnings) {
    diagnostics.push(diag(file, 'yaml-warning', warn.message, yaml.position(warn.pos[0]), 'warning'));
  }
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics, yaml, data: undefined };

  const firstAlias: Node | null = tree.aliases[0]?.alias ?? null;
  for (const { alias: node, target } of tree.aliases) {
    const pos = node.range ? yaml.position(node.range[0]) : null;
    if (target === undefined) {
      diagnostics.push(
        diag(file, 'yaml-unresolved-alias', `alias *${node.source} has no anchor &${node.source} before it`, pos),
      );
    } else if (node.range && target.range && node.range[0] >= target.range[0] && node.range[0] < target.range[2]) {
      // `a: &a [*a]` makes a structure that contains itself: no plain data can hold it
      diagnostics.push(
        diag(file, 'yaml-recursive-alias', `alias *${node.source} is inside the node anchored &${node.source} it refers to (a structure that contains itself)`, pos),
      );
    }
  }
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics, yaml, data: undefined };

  try {
    const data: unknown = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    return { diagnostics, yaml, data };
  } catch (err) {
    const alias = firstAlias;
    const pos = alias?.range ? yaml.position(alias.range[0]) : null;
    const message = /alias count/i.test((err as Error).message)
      ? `aliases expand to too much data (more than ${MAX_ALIAS_COUNT} nodes); is this an alias bomb?`
      : `cannot build the document: ${(err as Error).message}`;
    diagnostics.push(diag(file, 'yaml-alias-limit', message, pos));
    return { diagnostics, yaml, data: undefined };
  }
}

/** Read and parse a file; `displayName` (default: the path as given) names it in diagnostics. */
export function loadYamlFile(filePath: string, displayName: string = filePath): LoadResult {
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const diagnostic =
      code === 'ENOENT'
        ? diag(displayName, 'file-not-found', `file not found: ${filePath}`, null)
        : diag(displayName, 'file-unreadable', `cannot read ${filePath}: ${(err as Error).message}`, null);
    return { diagnostics: [diagnostic], yaml: null, data: undefined };
  }
  return loadYamlText(text, displayName);
}
