// Test harness for the flow runtimes: a fake concurrency agent (unix socket,
// newline-delimited JSON) and helpers that spawn the real runners.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REPO = process.cwd();
export const PY_RUNNER = path.join(REPO, 'runtimes', 'python', 'flowdeck_runner.py');
export const NODE_RUNNER = path.join(REPO, 'runtimes', 'node', 'runner.mjs');

export interface AgentRequest {
  id: number;
  op: string;
  names?: string[];
  occupy?: number;
  timeout_seconds?: number | null;
  strict?: boolean;
  mode?: string;
  holder?: string;
  lease_id?: string;
  [key: string]: unknown;
}

export type AgentReply = Record<string, unknown>;
/** Returns the response body (without id), or undefined to not answer (yet). */
export type Responder = (req: AgentRequest, agent: FakeAgent, conn: AgentConnection) => AgentReply | undefined | Promise<AgentReply | undefined>;

export interface AgentConnection {
  socket: net.Socket;
  reply(id: number, body: AgentReply): void;
}

/** Grants every acquire with L1, L2, ... and acknowledges every release. */
export const grantAll: Responder = (req, agent) => {
  if (req.op === 'acquire') return { ok: true, lease_id: `L${agent.nextLease()}`, warnings: [] };
  return { ok: true };
};

export class FakeAgent {
  readonly requests: AgentRequest[] = [];
  readonly connections: AgentConnection[] = [];
  closedConnections = 0;
  private leaseCounter = 0;
  private waiters: Array<() => void> = [];

  private constructor(
    readonly dir: string,
    readonly socketPath: string,
    private readonly server: net.Server,
    public responder: Responder,
  ) {}

  static async start(responder: Responder = grantAll): Promise<FakeAgent> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fd-agent-'));
    const socketPath = path.join(dir, 'agent.sock');
    let agent: FakeAgent | undefined;
    const server = net.createServer((socket) => agent!.accept(socket));
    agent = new FakeAgent(dir, socketPath, server, responder);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return agent;
  }

  nextLease(): number {
    this.leaseCounter += 1;
    return this.leaseCounter;
  }

  private accept(socket: net.Socket): void {
    const conn: AgentConnection = {
      socket,
      reply: (id, body) => {
        if (!socket.destroyed) socket.write(`${JSON.stringify({ id, ...body })}\n`);
      },
    };
    this.connections.push(conn);
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim() === '') continue;
        const req = JSON.parse(line) as AgentRequest;
        this.requests.push(req);
        this.notify();
        void Promise.resolve(this.responder(req, this, conn)).then((body) => {
          if (body !== undefined) conn.reply(req.id, body);
        });
      }
    });
    socket.on('close', () => {
      this.closedConnections += 1;
      this.notify();
    });
    socket.on('error', () => undefined);
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once predicate() holds (checked on every request / close), or rejects after timeoutMs. */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; requests: ${JSON.stringify(this.requests)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  ops(): string[] {
    return this.requests.map((r) => r.op);
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ projects

export function makeProject(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fd-flow-'));
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(dir, rel);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  }
  return dir;
}

export function removeProject(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

// ------------------------------------------------------------------- runners

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunnerOptions {
  cwd: string;
  /** The parameters object (serialised as one JSON line), or a raw line to write. */
  params?: unknown;
  rawLine?: string;
  env?: Record<string, string | undefined>;
  /** Start the runner as a process-group leader, as the worker does (default true). */
  detached?: boolean;
  timeoutMs?: number;
}

export interface RunningRunner {
  child: ChildProcessWithoutNullStreams;
  result: Promise<RunResult>;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line matching re. */
  waitForStdout(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(): void;
}

function baseEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('FLOWDECK_') && k !== 'PYTHONPATH' && v !== undefined) env[k] = v;
  }
  env.FLOWDECK_FLOW_RUN_ID = 'run-test-1';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function startRunner(kind: 'python' | 'node', entrypoint: string, opts: RunnerOptions): RunningRunner {
  const argv = kind === 'python' ? ['python3', [PY_RUNNER, entrypoint]] : [process.execPath, [NODE_RUNNER, entrypoint]];
  const child = spawn(argv[0] as string, argv[1] as string[], {
    cwd: opts.cwd,
    env: baseEnv(opts.env),
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: opts.detached ?? true,
  });
  let out = '';
  let err = '';
  const lineWaiters: Array<() => void> = [];
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    out += d;
    for (const w of lineWaiters.splice(0)) w();
  });
  child.stderr.on('data', (d: string) => {
    err += d;
  });
  child.stdin.on('error', () => undefined);
  const line = opts.rawLine ?? `${JSON.stringify(opts.params ?? {})}\n`;
  child.stdin.write(line);
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const result = new Promise<RunResult>((resolve) => {
    const timer = setTimeout(() => {
      try {
        process.kill(opts.detached === false ? child.pid! : -child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  return {
    child,
    result,
    stdout: () => out,
    stderr: () => err,
    async waitForStdout(re, ms = 10_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        for (const l of out.split('\n')) {
          const m = l.match(re);
          if (m) return m;
        }
        const left = deadline - Date.now();
        if (left <= 0 || child.exitCode !== null) {
          throw new Error(`no stdout line matching ${re} (exit ${child.exitCode}); stdout=${out} stderr=${err}`);
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 100));
          lineWaiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    kill() {
      try {
        process.kill(opts.detached === false ? child.pid! : -child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

export async function runRunner(kind: 'python' | 'node', entrypoint: string, opts: RunnerOptions): Promise<RunResult> {
  const r = startRunner(kind, entrypoint, opts);
  try {
    return await r.result;
  } finally {
    r.kill();
  }
}

export function lastLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines[lines.length - 1] ?? '';
}

/** True when the process is gone (or a zombie nobody reaped yet). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Polls until check() is true, or throws after timeoutMs. */
export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

/** Parameters with everything a shell would mangle. */
export const NASTY_PARAMS = {
  semi: '; rm -rf ~',
  subst: '$(echo x)',
  backticks: '`id`',
  quotes: `'single' "double" \\back\\slash`,
  newline: 'line1\nline2\r\nline3',
  tab_nul: 'a\tb\u0000c',
  unicode: 'héllo wörld — ☃ 日本語 😀 \u200b',
  glob: '*.py ~ $HOME ${PATH} !! %s %(x)s {0}',
  number: 12.5,
  big: 9007199254740991,
  negative: -300,
  flag: false,
  nothing: null,
  list: [1, 'two', { three: [3] }],
  nested: { 'key with spaces': { 'ключ': '值' } },
};
