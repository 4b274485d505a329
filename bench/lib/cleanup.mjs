/**
 * Everything the benchmark starts (temporary directories, child processes, database servers) is
 * registered here and undone on every way out: normal end, an error, Ctrl+C or SIGTERM.
 * Cleanups are synchronous so they also run from process.on('exit').
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const cleanups = [];
let installed = false;
let ran = false;

/** Registers fn (synchronous); returns a function that runs it now and unregisters it. */
export function onCleanup(label, fn) {
  install();
  const entry = { label, fn };
  cleanups.push(entry);
  return () => {
    const i = cleanups.indexOf(entry);
    if (i >= 0) cleanups.splice(i, 1);
    runOne(entry);
  };
}

function runOne(entry) {
  try {
    entry.fn();
  } catch (error) {
    process.stderr.write(`cleanup "${entry.label}" failed: ${error?.message ?? error}\n`);
  }
}

export function runCleanups() {
  if (ran) return;
  ran = true;
  while (cleanups.length > 0) runOne(cleanups.pop());
  ran = false;
}

/** A fresh directory under the system temp dir, removed at the end (or by calling the returned remove()). */
export function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `flowdeck-bench-${prefix}-`));
  const remove = onCleanup(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return { dir, remove };
}

/** Kills a child process (and its process group when it leads one) unless it has exited. */
export function killOnCleanup(child, label, { group = false, signal = 'SIGTERM' } = {}) {
  let exited = child.exitCode !== null || child.signalCode !== null;
  child.once('exit', () => {
    exited = true;
  });
  return onCleanup(label, () => {
    if (exited || !child.pid) return;
    try {
      process.kill(group ? -child.pid : child.pid, signal);
    } catch {
      // already gone
    }
  });
}

function install() {
  if (installed) return;
  installed = true;
  process.on('exit', runCleanups);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: cleaning up servers, processes and temporary directories...\n`);
      runCleanups();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (error) => {
    process.stderr.write(`uncaught: ${error?.stack ?? error}\n`);
    runCleanups();
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    process.stderr.write(`unhandled rejection: ${error?.stack ?? error}\n`);
    runCleanups();
    process.exit(1);
  });
}
