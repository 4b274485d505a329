/**
 * Reading a V8 .cpuprofile (node --cpu-prof): inclusive time of a few categories of frames, to say
 * what a CLI command spends its time on (module loading, the store, rendering...).
 */
import { readFileSync } from 'node:fs';

/** categories: [{ label, match: (frame) => boolean }]; a sample counts once per category on its stack. */
export function categorize(file, categories) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const totals = Object.fromEntries(categories.map((c) => [c.label, 0]));
  let total = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const us = p.timeDeltas[i] ?? 0;
    total += us;
    let id = p.samples[i];
    const leaf = byId.get(id)?.callFrame.functionName;
    if (leaf === '(idle)') idle += us;
    const hit = new Set();
    while (id !== undefined) {
      const f = byId.get(id).callFrame;
      for (const c of categories) if (!hit.has(c.label) && c.match(f)) hit.add(c.label);
      id = parent.get(id);
    }
    for (const h of hit) totals[h] += us;
  }
  const ms = (us) => us / 1000;
  return { totalMs: ms(total), idleMs: ms(idle), categories: Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, ms(v)])) };
}

const fn = (name, file) => (f) => f.functionName === name && (!file || f.url.includes(file));

/** Categories for a flowdeck CLI process. */
export const CLI_CATEGORIES = [
  { label: 'module loading', match: (f) => /esm\/(loader|module_job|translators|load)|cjs\/loader|bootstrap\/realm/.test(f.url) || ['compileSourceTextModule', 'compileForInternalLoader'].includes(f.functionName) },
  { label: 'opening the database (+ migrations check)', match: fn('openStateDatabase', 'store/db.js') },
  { label: 'store queries', match: (f) => (f.functionName === 'read' || f.functionName === 'write') && f.url.includes('store/store.js') },
  { label: 'table rendering', match: fn('renderTable', 'output/table.js') },
];
