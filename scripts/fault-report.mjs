#!/usr/bin/env node
// Turns the figures the fault suite recorded (JSON lines, test/support/fault-report.ts) into the
// "Reliability" table of the README. Usage: node scripts/fault-report.mjs [dist/fault-report.jsonl]
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const sum = (xs, f) => xs.reduce((n, x) => n + f(x), 0);
const max = (xs, f) => (xs.length ? Math.max(...xs.map(f)) : NaN);
const median = (values) => {
  const v = [...values].sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : NaN;
};

/** Markdown table from the recorded figures. */
export function renderReport(figures) {
  const of = (kind) => figures.filter((f) => f.kind === kind);
  const rows = [];
  const runs = of('runs');
  if (runs.length) {
    rows.push(['Runs executed under faults', String(sum(runs, (r) => r.executed)), `${runs.length} scenarios: kill -9 of workers and flows, 3 workers on one database, a held database lock`]);
    rows.push(['Runs lost', String(sum(runs, (r) => r.lost)), 'must be 0']);
    rows.push(['Runs executed twice', String(sum(runs, (r) => r.twice)), 'must be 0']);
  }
  const conc = of('concurrency');
  const byLimit = new Map();
  for (const c of conc) {
    const key = `${c.level} limit ${c.limit}`;
    const cur = byLimit.get(key) ?? { level: c.level, limit: c.limit, seen: 0, n: 0 };
    cur.seen = Math.max(cur.seen, c.seen);
    cur.n++;
    byLimit.set(key, cur);
  }
  const levels = ['deployment', 'queue', 'pool', 'gcl'];
  for (const c of [...byLimit.values()].sort((a, b) => levels.indexOf(a.level) - levels.indexOf(b.level) || a.limit - b.limit)) {
    rows.push([`Highest concurrency, ${c.level} limit ${c.limit}`, `${c.seen}`, `${c.seen <= c.limit ? 'never above the limit' : 'LIMIT EXCEEDED'} (${c.n} checks)`]);
  }
  const exceeded = conc.filter((c) => c.seen > c.limit).length;
  if (conc.length) rows.push(['Limit exceeded', String(exceeded), `must be 0 (${conc.length} checks: slots sampled from the lease rows, Running intervals, flow-recorded intervals)`]);
  const rec = of('recovery');
  if (rec.length) {
    rows.push([`Recovery after kill -9 of a worker (lease ${rec[0].leaseSeconds} s)`, `${(median(rec.map((r) => r.ms)) / 1000).toFixed(1)} s median, ${(max(rec, (r) => r.ms) / 1000).toFixed(1)} s max`, 'kill -> first queued run Running; must be < 10 s']);
    rows.push(['Flow processes outliving a killed worker', `${max(rec, (r) => r.flowsGoneMs)} ms at most`, 'until every flow pid of the dead worker is gone']);
  }
  const fk = of('flow-kill');
  if (fk.length) rows.push(['Kill of a flow process -> next run Running', `${max(fk, (f) => f.nextRunningMs)} ms at most`, `run Crashed after ${max(fk, (f) => f.crashedMs)} ms at most, signal named (${fk.map((f) => f.scenario.replace('flow-', '')).join(', ')})`]);
  const kills = of('kills');
  if (kills.length) {
    rows.push(['SIGKILLs during write-heavy work', String(sum(kills, (k) => k.kills)), `${sum(kills, (k) => k.midTransaction)} landed while the write lock was held`]);
    rows.push(['integrity_check after those kills', `${sum(kills, (k) => k.integrityOk)} of ${sum(kills, (k) => k.checks ?? k.integrityOk)} ok`, 'after every round: integrity_check, foreign_key_check, every run has its history, no scheduled run twice']);
    rows.push(['Partial deploys after a kill', String(sum(kills, (k) => k.partialDeploys)), 'must be 0 (all or nothing)']);
  }
  const locked = of('locked');
  if (locked.length) rows.push(['Writes against a database locked past the busy timeout', `${sum(locked, (l) => l.exit3)}/${sum(locked, (l) => l.cases)} exit 3`, `clear "locked" message; the slowest process ended ${max(locked, (l) => l.ms)} ms after it started (busy timeout 200 ms, Node start-up included)`]);
  const cont = of('contention');
  if (cont.length) rows.push(['Concurrent CLI commands failing on contention', `${sum(cont, (c) => c.failures)} of ${sum(cont, (c) => c.commands)}`, 'must be 0']);
  const fuzz = of('fuzz');
  if (fuzz.length) {
    rows.push(['Fuzz cases tried', String(sum(fuzz, (f) => f.cases)), fuzz.map((f) => `${f.scenario}: ${f.cases}`).join('; ')]);
    rows.push(['Crashes or hangs on hostile input', String(sum(fuzz, (f) => f.crashes)), 'must be 0']);
    rows.push(['Stack traces seen', String(sum(fuzz, (f) => f.stackTraces)), 'must be 0']);
  }
  const head = '| Figure | Value | Notes |\n| --- | --- | --- |';
  return `${head}\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`;
}

export function readFigures(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const file = process.argv[2] ?? path.join(root, 'dist', 'fault-report.jsonl');
  const figures = readFigures(file);
  if (figures.length === 0) {
    console.error(`no figures in ${file}: run npm test (or npm run test:fault) first`);
    process.exit(1);
  }
  process.stdout.write(renderReport(figures));
}
