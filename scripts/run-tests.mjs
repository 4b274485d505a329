#!/usr/bin/env node
// Runs the compiled tests (dist/test/**/*.test.js) with node's test runner.
// `--fault` runs the long fault suite (test/fault) too; by default only its quick part runs.
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const withFault = process.argv.includes('--fault');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
if (python.status !== 0) {
  console.error('flowdeck tests need python3 (flows under test are Python). Install it, e.g. `apt-get install -y python3`.');
  process.exit(1);
}

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full));
    else if (name.endsWith('.test.js')) out.push(full);
  }
  return out;
}

let files = walk(path.join(root, 'dist', 'test')).sort();
if (only.length > 0) files = files.filter((f) => only.some((o) => f.includes(o)));
process.env.FLOWDECK_FAULT_FULL = withFault ? '1' : '';

// the fault suite (test/fault) records its figures here; they are printed as a table at the end
const report = process.env.FLOWDECK_FAULT_REPORT || path.join(root, 'dist', 'fault-report.jsonl');
rmSync(report, { force: true });

const args = ['--test', '--test-concurrency=2', '--test-reporter=spec', ...files];
const res = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root, env: { ...process.env, NO_COLOR: '1', FLOWDECK_FAULT_REPORT: report } });
const { readFigures, renderReport } = await import('./fault-report.mjs');
const figures = readFigures(report);
if (figures.length > 0) console.log(`\nReliability figures from this run (${withFault ? 'full fault suite' : 'quick fault suite; npm run test:fault for the long one'}; ${report}):\n\n${renderReport(figures)}`);
process.exit(res.status ?? 1);
