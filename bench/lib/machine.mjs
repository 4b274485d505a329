/** What the figures were measured on: CPU, cores, memory, disk, versions, load. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

function out(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim() : null;
}

export function machineInfo(repoRoot, python) {
  const require = createRequire(path.join(repoRoot, 'package.json'));
  let sqlite = 'unknown';
  let bs3 = 'unknown';
  try {
    const Database = require('better-sqlite3');
    const db = new Database(':memory:');
    sqlite = db.prepare('SELECT sqlite_version() AS v').get().v;
    db.close();
    bs3 = require('better-sqlite3/package.json').version;
  } catch {
    // reported as unknown
  }
  let fs = 'unknown';
  const df = out('df', ['-T', os.tmpdir()]);
  if (df) fs = df.split('\n')[1]?.split(/\s+/)[1] ?? fs;
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
  return {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    tmpFs: `${os.tmpdir()} on ${fs}`,
    node: process.version,
    python: `${out(python, ['--version']) ?? 'not found'} (${python})`,
    sqlite: `${sqlite} (better-sqlite3 ${bs3})`,
    flowdeck: pkg.version,
    loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

/**
 * Which Python runs the flows (engine, baseline and peers alike): $FLOWDECK_PYTHON when set, else
 * Debian's /usr/bin/python3 when present, else `python3` on PATH. On this image `python3` on PATH is
 * a pyenv shim (a bash script) in front of an interpreter whose site-packages import certifi at
 * start-up: both add start-up time that no flow needs, so they are measured separately (spawnCosts).
 */
export function choosePython() {
  if (process.env.FLOWDECK_PYTHON) return { python: process.env.FLOWDECK_PYTHON, why: 'from $FLOWDECK_PYTHON' };
  if (existsSync('/usr/bin/python3')) return { python: '/usr/bin/python3', why: "Debian's interpreter (python3 on PATH may be a pyenv shim)" };
  return { python: 'python3', why: 'python3 on PATH' };
}

/** Candidate interpreters for the spawn-cost table: python3 on PATH (resolved) and the chosen one. */
export function pythonCandidates(chosen) {
  const list = [];
  const onPath = out('sh', ['-c', 'command -v python3']);
  if (onPath) list.push({ label: `python3 on PATH (${onPath})`, cmd: onPath });
  const real = out('python3', ['-c', 'import sys; print(sys.executable)']);
  if (real && real !== onPath) list.push({ label: `its interpreter (${real})`, cmd: real });
  if (!list.some((c) => c.cmd === chosen)) list.push({ label: `chosen (${chosen})`, cmd: chosen });
  return list;
}
