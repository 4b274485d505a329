/**
 * Hostile variants of a valid prefect.yaml, for the fuzz test: truncation, wrong types, deep
 * nesting, huge values, odd unicode, duplicate keys, alias bombs, broken lines. Pure functions of
 * (text, rng), so a case is replayed from its seed alone.
 */
import type { prng } from './fault-kit.js';

type Rng = ReturnType<typeof prng>;
/** `scale` shrinks the huge and deep cases (1 = full size: strings up to 1 MB, 50,000 items, 3,000 levels). */
export type Mutator = (text: string, rng: Rng, scale: number) => string;

const sized = (r: Rng, lo: number, hi: number, scale: number) => r.int(Math.max(2, Math.round(lo * scale)), Math.max(3, Math.round(hi * scale)));

const KEY_LINE = /^(\s*(?:-\s+)?)([A-Za-z_$][\w$-]*):(\s*)(.*)$/;

function keyLines(lines: string[]): number[] {
  return lines.map((l, i) => (KEY_LINE.test(l) ? i : -1)).filter((i) => i >= 0);
}

/** Replaces the value of a random `key: value` line (or the text's end) with `value`. */
function setValue(text: string, rng: Rng, value: string): string {
  const lines = text.split('\n');
  const candidates = keyLines(lines);
  if (candidates.length === 0) return `${text}\n${value}`;
  const i = rng.pick(candidates);
  const m = KEY_LINE.exec(lines[i]!)!;
  lines[i] = `${m[1]}${m[2]}: ${value}`;
  return lines.join('\n');
}

const WRONG_TYPES = [
  '[1, 2, 3]', '{a: 1, b: [2]}', 'true', 'false', 'null', '~', '-1', '0', '-0.0', '1e999', '-1e999', '.nan', '.inf', '0x1F', '0o17',
  '"a string"', "''", '"  "', '2001-12-14t21:59:43.10-05:00', '!!binary aGVsbG8=', '!!set {a, b}', '!!omap [a: 1, b: 2]',
  '!!python/object:os.system ["echo pwned"]', '!!js/function "function(){}"', '!!str', '!custom-tag 3', '&anchor 5', '*nowhere',
  '|\n  block\n  text', '>-\n  folded', '[', '{', '"unterminated', "'also", '- a\n- b', '? complex key\n: value', '@reserved', '`backtick`',
  '%percent', '!!int "12"', '!!float 1', '!!bool yes', '!!null ""', '!!map {}', '!!seq []', '9007199254740993', '-9223372036854775809',
];

const ODD_UNICODE = [
  '\u202e', '\u200b', '\ufeff', '\u0000', '\u001b[31m', '\u001b]0;title\u0007', '\u001b[2J', '\ud800', '\udfff', '😀', '👩‍👩‍👧', 'e\u0301\u0301\u0301',
  '\u2028', '\u2029', '\u0085', '\uff1a', '\r', '\t', '\u00a0', '\u3000', 'ﬁ', 'İ', 'ß', '\u0007', '\u007f', '\u009b', '\\', '\\u0000', '%2F', '../', '${HOME}', '{{ $HOME }}', '{{', '}}',
];

export const MUTATORS: Record<string, Mutator> = {
  truncate: (t, r) => t.slice(0, r.int(0, t.length)),
  truncateMidToken: (t, r) => {
    const cut = r.int(0, t.length);
    return t.slice(0, cut) + (r.chance(0.5) ? '"' : ':');
  },
  wrongType: (t, r) => setValue(t, r, r.pick(WRONG_TYPES)),
  deepFlowNesting: (t, r, k) => {
    const depth = sized(r, 50, 3000, k);
    return setValue(t, r, r.chance(0.5) ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`);
  },
  deepBlockNesting: (t, r, k) => {
    const depth = sized(r, 50, 1500, k);
    const block = Array.from({ length: depth }, (_, i) => `${' '.repeat(2 * (i + 1))}k${i}:`).join('\n');
    return setValue(t, r, `\n${block} 1`);
  },
  hugeString: (t, r, k) => setValue(t, r, `"${'x'.repeat(sized(r, 10_000, 1_000_000, k))}"`),
  hugeNumber: (t, r) => setValue(t, r, r.pick(['9'.repeat(r.int(20, 5000)), `1e${r.int(300, 100000)}`, `0.${'0'.repeat(r.int(10, 5000))}1`, `-${'9'.repeat(400)}`])),
  hugeList: (t, r, k) => setValue(t, r, `[${Array.from({ length: sized(r, 1000, 50_000, k) }, (_, i) => i).join(', ')}]`),
  hugeKeyCount: (t, r, k) => setValue(t, r, `{${Array.from({ length: sized(r, 1000, 20_000, k) }, (_, i) => `k${i}: ${i}`).join(', ')}}`),
  oddUnicode: (t, r) => {
    let out = t;
    for (let n = r.int(1, 6); n > 0; n--) {
      const at = r.int(0, out.length);
      out = out.slice(0, at) + r.pick(ODD_UNICODE) + out.slice(at);
    }
    return out;
  },
  oddName: (t, r) => t.replace(/name: ([^\n]*)/, (_m, v: string) => `name: "${v.replace(/"/g, '')}${r.pick(['\\e[31m', '\\x1b]0;pwn\\x07', '\\0', '\\u202e', '\\r\\n', '/../../etc', '%', '&', '<script>', '\\t'])}"`),
  duplicateKey: (t, r) => {
    const lines = t.split('\n');
    const candidates = keyLines(lines);
    if (candidates.length === 0) return t;
    const i = r.pick(candidates);
    const m = KEY_LINE.exec(lines[i]!)!;
    lines.splice(i + 1, 0, `${m[1]!.replace('-', ' ')}${m[2]}: ${r.pick(['1', 'dup', '[]', '{}'])}`);
    return lines.join('\n');
  },
  billionLaughs: (t, r) => {
    const width = r.int(5, 12);
    const levels = r.int(4, 9);
    const defs = ['definitions:', `  l0: &l0 [${Array(width).fill('"lol"').join(', ')}]`];
    for (let i = 1; i < levels; i++) defs.push(`  l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(', ')}]`);
    const body = t.replace(/^definitions:\s*$/m, 'old_definitions:');
    const withUse = body.replace(/parameters:([^\n]*)/, `parameters: {bomb: *l${levels - 1}}`);
    return `${defs.join('\n')}\n${withUse === body ? `${body}\nbomb: *l${levels - 1}` : withUse}`;
  },
  aliasTricks: (t, r) =>
    `${r.pick([
      'definitions:\n  self: &self [*self]\n',
      'definitions:\n  a: &a {x: 1}\n  b: &b {<<: *a, <<: *a}\n',
      'definitions:\n  s: &s scalar\n  m: {<<: *s}\n',
      'definitions:\n  m: {<<: [*undefined_anchor]}\n',
      'definitions:\n  a: &a {deployments: [{name: x}]}\n<<: *a\n',
      'x: &x {y: *x}\n',
      '&a a: *a\n',
    ])}${t.replace(/^definitions:\s*$/m, 'old_definitions:')}`,
  deleteLine: (t, r) => {
    const lines = t.split('\n');
    lines.splice(r.int(0, Math.max(0, lines.length - 1)), 1);
    return lines.join('\n');
  },
  swapLines: (t, r) => {
    const lines = t.split('\n');
    const a = r.int(0, lines.length - 1);
    const b = r.int(0, lines.length - 1);
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    return lines.join('\n');
  },
  reindent: (t, r) => {
    const lines = t.split('\n');
    const i = r.int(0, lines.length - 1);
    lines[i] = r.chance(0.3) ? lines[i]!.replace(/^ +/, (s) => '\t'.repeat(Math.max(1, s.length / 2))) : ' '.repeat(r.int(0, 9)) + lines[i]!.trimStart();
    return lines.join('\n');
  },
  punctuation: (t, r) => {
    const at = r.int(0, Math.max(0, t.length - 1));
    return t.slice(0, at) + r.pick([':', '-', '{', '}', '[', ']', '&', '*', '!', '|', '>', '%', '@', '`', '#', "'", '"', ',', '?', '<<']) + t.slice(at + 1);
  },
  directives: (t, r) => r.pick([`%YAML 1.1\n---\n${t}`, `${t}\n---\n${t}`, `%TAG ! tag:evil.com,2000:\n---\n${t}`, `---\n${t}\n...\n`, `%YAML 9.9\n---\n${t}`, `--- !!str\n${t}`]),
  documentShape: (_t, r) => r.pick(['', '\n', '---', '[]', '"just a string"', '42', 'null', '- a\n- b', 'deployments:', 'deployments: null', 'deployments: {}', 'deployments: [1, "x", null, []]', 'deployments:\n  - {}', '\u0000\u0001\u0002', '\ufeff']),
  nullsEverywhere: (t) => t.replace(/: [^\n]+/g, ': null'),
  envTemplate: (t, r) => setValue(t, r, r.pick(['"{{ $HOME }}"', '"{{ $UNSET_VAR_XYZ }}"', '"{{ prefect.blocks.secret.x }}"', '"{{ $ }}"', '"{{{{ $HOME }}}}"', `"${'{{ $HOME }}'.repeat(2000)}"`])),
};

export const MUTATOR_NAMES = Object.keys(MUTATORS);

/** One hostile case: 1-3 mutations of `text`. */
export function mutate(text: string, rng: Rng, scale = 1): { text: string; applied: string[] } {
  let out = text;
  const applied: string[] = [];
  for (let n = rng.chance(0.6) ? 1 : rng.int(2, 3); n > 0; n--) {
    const name = rng.pick(MUTATOR_NAMES);
    out = MUTATORS[name]!(out, rng, scale);
    applied.push(name);
  }
  return { text: out, applied };
}
