/** Installing the peers' packages into bench/peers/node_modules (never into the project's own install). */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export function ensurePeers(peersDir, log) {
  const lock = path.join(peersDir, 'package-lock.json');
  const marker = path.join(peersDir, 'node_modules', '.package-lock.json');
  const fresh = existsSync(marker) && existsSync(lock) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs && existsSync(path.join(peersDir, 'node_modules', 'graphile-worker')) && existsSync(path.join(peersDir, 'node_modules', 'bullmq'));
  if (!fresh) {
    const args = existsSync(lock) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'];
    log(`  installing the peers' packages: npm ${args[0]} in ${path.relative(process.cwd(), peersDir) || peersDir} ...`);
    const r = spawnSync('npm', args, { cwd: peersDir, encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) return { ok: false, why: `npm ${args[0]} failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' ')}` };
  }
  const version = (name) => {
    try {
      return JSON.parse(readFileSync(path.join(peersDir, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return null;
    }
  };
  return { ok: true, versions: { graphile: version('graphile-worker'), bullmq: version('bullmq'), pg: version('pg'), ioredis: version('ioredis') } };
}
