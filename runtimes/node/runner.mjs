#!/usr/bin/env node
// flowdeck's JavaScript flow runner: one process per flow run.
//
//   node runtimes/node/runner.mjs <entrypoint>
//
// - cwd is the flow's working directory; the entrypoint is relative to it:
//   `flows/x.mjs:func`, `./flows/x.js:func`, `flows/x.cjs:func`, `flows/x.mjs:obj.method`.
//   The name is looked up among the module's named exports, then as a property
//   of its default export.
// - stdin: one line with the parameters as a JSON object; stdin then stays open.
//   At EOF (the worker died or closed it) the whole process group is killed, so
//   no flow process outlives its worker.
// - the export is called with the parameters object as its single argument and
//   awaited.
// - exit status: 0 it returned; 1 it threw (stack on stderr, last line
//   `ErrorName: message`); 2 the entrypoint could not be loaded (or misuse).
// - `import { concurrency, rateLimit } from 'flowdeck'` resolves to this flowdeck's API
//   (dist/src/api/index.js) through a resolution hook, wherever the flow file lives.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as nodeModule from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_LOAD_ERROR = 2;

class LoadError extends Error {
  constructor(message, details) {
    super(message);
    this.name = 'LoadError';
    this.details = details;
  }
}

function err(line) {
  try {
    process.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
  } catch {
    // nothing left to report to
  }
}

// ------------------------------------------------------------- stdin watchdog

function pgrpOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]);
  } catch {
    return undefined;
  }
}

function descendants(rootPid) {
  const children = new Map();
  let entries;
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // the process went away
    }
  }
  const result = [];
  const stack = [rootPid];
  while (stack.length > 0) {
    for (const child of children.get(stack.pop()) ?? []) {
      result.push(child);
      stack.push(child);
    }
  }
  return result;
}

/** The worker is gone: kill this process and everything it started. */
function killEverything() {
  const pid = process.pid;
  const pgrp = pgrpOf(pid);
  if (pgrp === undefined || pgrp === pid) {
    // The worker starts the runner as a process-group leader: the group is
    // exactly this flow run's processes. (If we are not a leader, no group has
    // our pid as its id and this fails with ESRCH: a foreign group is never hit.)
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // fall through
    }
  }
  for (const child of descendants(pid).reverse()) {
    try {
      process.kill(child, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(137);
}

/** Resolves with the first stdin line; afterwards, EOF kills the process group. */
function readParameters() {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    let done = false;
    const stdin = process.stdin;
    stdin.on('data', (chunk) => {
      if (done) return; // later input is ignored; only EOF matters
      buffered = Buffer.concat([buffered, chunk]);
      const nl = buffered.indexOf(10);
      if (nl < 0) return;
      done = true;
      const line = buffered.subarray(0, nl).toString('utf8');
      buffered = Buffer.alloc(0);
      let params;
      try {
        params = JSON.parse(line);
      } catch (e) {
        reject(new LoadError(`flowdeck runner: the parameters line is not valid JSON: ${e.message}`));
        return;
      }
      if (params === null || typeof params !== 'object' || Array.isArray(params)) {
        const kind = params === null ? 'null' : Array.isArray(params) ? 'array' : typeof params;
        reject(new LoadError(`flowdeck runner: the parameters must be a JSON object, got ${kind}`));
        return;
      }
      resolve(params);
    });
    stdin.on('end', killEverything);
    stdin.on('close', killEverything);
    stdin.on('error', killEverything);
  });
}

// --------------------------------------------------------------- entrypoints

function parseEntrypoint(entrypoint) {
  const text = entrypoint.trim();
  const colon = text.lastIndexOf(':');
  if (colon <= 0 || colon === text.length - 1) {
    throw new LoadError(
      `flowdeck runner: invalid entrypoint ${JSON.stringify(entrypoint)} (expected path/to/file.mjs:exportName)`,
    );
  }
  const file = text.slice(0, colon);
  const name = text.slice(colon + 1);
  if (!/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(name)) {
    throw new LoadError(`flowdeck runner: invalid export name ${JSON.stringify(name)} in entrypoint ${JSON.stringify(entrypoint)}`);
  }
  return { file, name };
}

function formatError(e) {
  if (e instanceof Error || (e && typeof e === 'object' && typeof e.stack === 'string')) {
    let name = e.name || 'Error';
    const ctor = e.constructor && e.constructor.name;
    if (name === 'Error' && ctor && ctor !== 'Error' && ctor !== 'Object') name = ctor;
    const message = e.message ?? '';
    const last = message ? `${name}: ${message}` : name;
    const stack = typeof e.stack === 'string' && e.stack ? e.stack : last;
    const lines = stack.replace(/\s+$/, '');
    return lines.endsWith(last) ? lines : `${lines}\n${last}`;
  }
  return `Error: a non-Error value was thrown: ${inspect(e)}`;
}

async function loadEntrypoint(entrypoint) {
  const { file, name } = parseEntrypoint(entrypoint);
  const abs = path.resolve(process.cwd(), file);
  let stat;
  try {
    stat = statSync(abs);
  } catch {
    throw new LoadError(`flowdeck runner: entrypoint file not found: ${file} (in ${process.cwd()})`);
  }
  if (stat.isDirectory()) {
    throw new LoadError(`flowdeck runner: entrypoint ${file} is a directory, not a JavaScript file`);
  }
  if (file.endsWith('.py')) {
    throw new LoadError(`flowdeck runner: ${file} is a Python file (Python flows run under the Python runner)`);
  }
  let mod;
  try {
    mod = await import(pathToFileURL(abs).href);
  } catch (e) {
    throw new LoadError(`flowdeck runner: failed to import ${file}: ${oneLine(e)}`, formatError(e));
  }
  const [first, ...rest] = name.split('.');
  let owner = mod;
  let target;
  if (first in mod && mod[first] !== undefined) {
    target = mod[first];
  } else if (mod.default != null && (typeof mod.default === 'object' || typeof mod.default === 'function') && first in mod.default) {
    owner = mod.default;
    target = mod.default[first];
  } else {
    throw new LoadError(`flowdeck runner: export ${JSON.stringify(first)} not found in ${file}`);
  }
  for (const part of rest) {
    if (target == null || !(part in Object(target))) {
      throw new LoadError(`flowdeck runner: ${JSON.stringify(name)} not found in ${file} (no property ${JSON.stringify(part)})`);
    }
    owner = target;
    target = target[part];
  }
  if (typeof target !== 'function') {
    throw new LoadError(`flowdeck runner: ${name} in ${file} is not a function (it is ${target === null ? 'null' : typeof target})`);
  }
  return { fn: target, owner };
}

function oneLine(e) {
  if (e instanceof Error) {
    const first = String(e.message).split('\n')[0];
    return `${e.name}: ${first}`;
  }
  return inspect(e);
}

// ------------------------------------------------------- import 'flowdeck'

function registerFlowdeckResolution() {
  // module.register exists from Node 20.6; before that, 'flowdeck' resolves only if installed
  if (typeof nodeModule.register !== 'function') return;
  const target = new URL('../../dist/src/api/index.js', import.meta.url).href;
  nodeModule.register('./resolve-flowdeck.mjs', import.meta.url, { data: { target } });
}

// --------------------------------------------------------------------- main

function failed(e) {
  err(formatError(e));
  process.exit(EXIT_FAILED);
}

async function main(argv) {
  if (argv.length !== 1 || argv[0] === '-h' || argv[0] === '--help') {
    err('usage: node runner.mjs <entrypoint>   (parameters: one JSON object line on stdin)');
    process.exit(EXIT_LOAD_ERROR);
  }
  let params;
  let loaded;
  try {
    registerFlowdeckResolution();
    params = await readParameters();
    // From here on, an error thrown outside the flow's promise fails the run.
    process.on('uncaughtException', failed);
    loaded = await loadEntrypoint(argv[0]);
  } catch (e) {
    if (e instanceof LoadError) {
      if (e.details) err(e.details);
      err(e.message);
    } else {
      err(formatError(e));
    }
    process.exit(EXIT_LOAD_ERROR);
  }
  try {
    await loaded.fn.call(loaded.owner, params);
  } catch (e) {
    failed(e);
  }
  // The function returned: the run is over even if it left timers or sockets open.
  process.exit(EXIT_OK);
}

main(process.argv.slice(2));
