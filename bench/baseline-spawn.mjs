#!/usr/bin/env node
/**
 * The bare-spawn baseline of scenario 2(b): a plain Node script that starts the same trivial Python
 * flow process (runtimes/python/flowdeck_runner.py flows/noop.py:noop, spawned as ProcessRunner
 * spawns it) COUNT times with PARALLEL at once, and nothing else: the physical limit of this
 * machine for this job. Prints one JSON line: { count, parallel, ms, perSecond }.
 *
 *   node bench/baseline-spawn.mjs <projectDir> <count> <parallel> [runner|bare]
 *
 * `bare` spawns `python -c pass` instead: the interpreter's own start-up, the floor under any runner.
 */
import { spawnMany } from './lib/flow-process.mjs';

const [projectDir, count = '100', parallel = '4', mode = 'runner'] = process.argv.slice(2);
if (!projectDir) {
  console.error('usage: node bench/baseline-spawn.mjs <projectDir> <count> <parallel>');
  process.exit(2);
}
const n = Number(count);
const ms = await spawnMany(projectDir, n, Number(parallel), mode === 'bare' ? null : undefined);
console.log(JSON.stringify({ count: n, parallel: Number(parallel), ms, perSecond: (n * 1000) / ms }));
