/**
 * A private copy of the built engine (dist/, bin/, runtimes/, package.json; node_modules linked)
 * taken right after `npm run build`, so that every scenario measures one consistent build even if
 * someone rebuilds dist/ in the shared tree while the benchmark runs. Checked by loading it.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './cleanup.mjs';

export async function snapshotEngine(repoRoot, log) {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const { dir, remove } = tempDir('engine');
    for (const p of ['dist', 'bin', 'runtimes', 'package.json']) cpSync(path.join(repoRoot, p), path.join(dir, p), { recursive: true });
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const check = spawnSync(process.execPath, ['-e', `await import(${JSON.stringify(path.join(dir, 'dist', 'src', 'cli', 'main.js'))}); await import(${JSON.stringify(path.join(dir, 'dist', 'src', 'engine', 'worker.js'))}); await import(${JSON.stringify(path.join(dir, 'dist', 'src', 'store', 'store.js'))})`, '--input-type=module'], { encoding: 'utf8', timeout: 60_000 });
    const version = spawnSync(process.execPath, [path.join(dir, 'bin', 'flowdeck.js'), '--version'], { encoding: 'utf8', timeout: 60_000 });
    if (check.status === 0 && version.status === 0) return dir;
    log(`  the copy of dist/ does not load (attempt ${attempt}; is a build running?): ${(check.stderr || version.stderr).trim().split('\n').slice(-1)[0]}`);
    remove();
    await new Promise((r) => setTimeout(r, 3000));
  }
  throw new Error('could not take a consistent copy of dist/: run `npm run build` and try again');
}
