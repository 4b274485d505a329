/** Small statistics and table helpers: percentiles, median with spread over repetitions, text and Markdown tables. */

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 1) return s[0];
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

export const median = (values) => percentile(values, 50);

/** Median and min..max of one figure measured once per repetition. */
export function summary(values) {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0, values: [] };
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length, values: v };
}

export function fmt(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return 'n/a';
  if (typeof x !== 'number') return String(x);
  if (!Number.isFinite(x)) return String(x);
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2);
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** "12.3 (11.9–13.0, n=3)": median with the spread over the repetitions. */
export function fmtSummary(s, digits, unit = '') {
  if (!s || s.n === 0) return 'n/a';
  const u = unit ? ` ${unit}` : '';
  if (s.n === 1) return `${fmt(s.median, digits)}${u} (n=1)`;
  return `${fmt(s.median, digits)}${u} (${fmt(s.min, digits)}–${fmt(s.max, digits)}, n=${s.n})`;
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) return 'n/a';
  if (n >= 1 << 30) return `${fmt(n / (1 << 30), 2)} GiB`;
  if (n >= 1 << 20) return `${fmt(n / (1 << 20), 1)} MiB`;
  if (n >= 1 << 10) return `${fmt(n / (1 << 10), 1)} KiB`;
  return `${n} B`;
}

/** A table: { title, columns: [...], rows: [[...]], notes: [...] } rendered as aligned text or Markdown. */
export function textTable(t) {
  const cells = [t.columns, ...t.rows].map((r) => r.map((c) => String(c ?? '')));
  const widths = t.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [`\n${t.title}`, line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)];
  for (const n of t.notes ?? []) out.push(`  ${n}`);
  return out.join('\n');
}

export function markdownTable(t) {
  const esc = (c) => String(c ?? '').replace(/\|/g, '\\|');
  // a column is right-aligned when most of its filled cells are figures
  const numeric = t.columns.map((_, i) => {
    const cells = t.rows.map((r) => String(r[i] ?? '')).filter((c) => c !== '');
    return i > 0 && cells.length > 0 && cells.filter((c) => /^[\d.,<>=x~-]/.test(c)).length * 2 > cells.length;
  });
  const out = [`| ${t.columns.map(esc).join(' | ')} |`, `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`];
  for (const r of t.rows) out.push(`| ${r.map(esc).join(' | ')} |`);
  return out.join('\n');
}
