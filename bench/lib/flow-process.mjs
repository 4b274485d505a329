/**
 * Starting the trivial flow's process exactly as flowdeck's ProcessRunner does (same command,
 * argv, cwd, detached process group, piped stdio, the parameters line on stdin, stdout/stderr read
 * line by line), without any orchestration around it. Used by the bare-spawn baseline and by the
 * peers' jobs in scenario (b).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ENGINE_ROOT = process.env.FLOWDECK_BENCH_ENGINE_ROOT || REPO_ROOT;
export const PY_RUNNER = path.join(ENGINE_ROOT, 'runtimes', 'python', 'flowdeck_runner.py');
export const PY_ENTRY = 'flows/noop.py:noop';

/**
 * Resolves with the exit code once the process has exited and its pipes are closed.
 * entrypoint null: `python -c pass` (the bare interpreter) instead of the runner.
 */
export function runFlowProcess(projectDir, entrypoint = PY_ENTRY) {
  const python = process.env.FLOWDECK_PYTHON || 'python3';
  const args = entrypoint === null ? ['-c', 'pass'] : ['-u', PY_RUNNER, entrypoint];
  return new Promise((resolve, reject) => {
    const child = spawn(python, args, {
      cwd: projectDir,
      shell: false,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
    const lines = { stdout: 0, stderr: 0 };
    let tail = '';
    const reader = (stream) => {
      let buffer = '';
      return (chunk) => {
        buffer += chunk.toString('utf8');
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          lines[stream]++;
          if (stream === 'stderr') tail = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
        }
      };
    };
    child.stdout.on('data', reader('stdout'));
    child.stderr.on('data', reader('stderr'));
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('spawn', () => child.stdin.write('{}\n'));
    child.on('close', (code) => (code === 0 ? resolve(code) : reject(new Error(`flow process exited with ${code}: ${tail}`))));
  });
}

/** One process started like a flow (detached, piped stdio, '{}' on stdin kept open); resolves with its wall ms. */
export function timeProcess(command, args, cwd) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(command, args, { cwd, shell: false, detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    child.stdout.resume();
    child.stderr.resume();
    child.stdin.on('error', () => undefined);
    child.on('error', reject);
    child.on('spawn', () => child.stdin.write('{}\n'));
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${command} exited with ${code}`))));
  });
}

/** Runs `count` flow processes with at most `parallel` at once; returns the wall time in ms. */
export async function spawnMany(projectDir, count, parallel, entrypoint = PY_ENTRY) {
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < count) {
      next++;
      await runFlowProcess(projectDir, entrypoint);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, lane));
  return performance.now() - t0;
}
