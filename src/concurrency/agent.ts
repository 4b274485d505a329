/**
 * The concurrency agent: serves acquire/release requests from flow code (Python or JavaScript)
 * over newline-delimited JSON, on a unix socket served by the worker or on the stdio of
 * `flowdeck agent`. Leases taken on a connection are renewed while it is open and released when
 * it closes, so a flow that dies gives its slots back at once.
 */
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { AppError, SlotAcquisitionError, SlotTimeoutError } from '../domain/errors.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../time/clock.js';
import { acquireSlots } from './acquire.js';
import { LeaseKeeper } from './lease-keeper.js';

interface AcquireMessage {
  id: number;
  op: 'acquire';
  names: string[] | string;
  occupy?: number;
  timeout_seconds?: number | null;
  strict?: boolean;
  mode?: 'concurrency' | 'rate_limit';
  holder?: string;
}

interface ReleaseMessage {
  id: number;
  op: 'release';
  lease_id: string;
}

type Reply = { id: number; ok: true; lease_id?: string | null; warnings?: string[] } | { id: number; ok: false; error: string; message: string };

export interface AgentOptions {
  store: Store;
  clock: Clock;
  leaseSeconds: number;
  /** Called when any lease is released here, to wake local waiters at once. */
  notify?: () => void;
  subscribe?: (listener: () => void) => () => void;
}

/** Serves one connection until its input ends; then releases everything it held. */
export async function serveConnection(input: Readable, output: Writable, o: AgentOptions): Promise<void> {
  const keeper = new LeaseKeeper(o.store, o.clock, o.leaseSeconds);
  const aborter = new AbortController();
  const pending = new Set<Promise<void>>();
  const send = (reply: Reply) => {
    if (!output.writableEnded && !output.destroyed) output.write(`${JSON.stringify(reply)}\n`);
  };
  const handle = async (line: string) => {
    let msg: AcquireMessage | ReleaseMessage;
    try {
      msg = JSON.parse(line) as AcquireMessage | ReleaseMessage;
    } catch {
      return send({ id: -1, ok: false, error: 'invalid', message: 'request is not JSON' });
    }
    const id = typeof msg.id === 'number' ? msg.id : -1;
    try {
      if (msg.op === 'release') {
        await keeper.release(msg.lease_id);
        o.notify?.();
        return send({ id, ok: true });
      }
      if (msg.op !== 'acquire') return send({ id, ok: false, error: 'invalid', message: `unknown op '${String((msg as { op?: unknown }).op)}'` });
      const names = (Array.isArray(msg.names) ? msg.names : [msg.names]).filter((n) => typeof n === 'string' && n !== '');
      const occupy = msg.occupy ?? 1;
      if (!Number.isInteger(occupy) || occupy < 1) return send({ id, ok: false, error: 'invalid', message: `occupy must be a whole number of at least 1, got ${occupy}` });
      if (names.length === 0) return send({ id, ok: true, lease_id: null, warnings: [] });
      const holder = msg.holder ?? 'unknown';
      const acquired = await acquireSlots(o.store, o.clock, {
        names,
        occupy,
        mode: msg.mode ?? 'concurrency',
        holder,
        flowRunId: holder.startsWith('pid:') ? null : holder,
        strict: msg.strict ?? false,
        timeoutSeconds: msg.timeout_seconds ?? null,
        leaseSeconds: o.leaseSeconds,
        signal: aborter.signal,
        ...(o.subscribe ? { wake: o.subscribe } : {}),
      });
      if (acquired.leaseId) keeper.add(acquired.leaseId);
      send({ id, ok: true, lease_id: acquired.leaseId, warnings: acquired.warnings });
    } catch (error) {
      if (aborter.signal.aborted) return;
      const kind = error instanceof SlotTimeoutError ? 'timeout' : error instanceof SlotAcquisitionError ? (/must be created/.test(error.message) ? 'missing-limits' : /greater than the limit/.test(error.message) ? 'too-many-slots' : 'invalid') : 'error';
      send({ id, ok: false, error: kind, message: error instanceof AppError || error instanceof Error ? error.message : String(error) });
    }
  };

  await new Promise<void>((resolve) => {
    let buffer = '';
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      buffer += chunk;
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) {
          const p = handle(line).finally(() => pending.delete(p));
          pending.add(p);
        }
        nl = buffer.indexOf('\n');
      }
    });
    input.on('end', resolve);
    input.on('close', resolve);
    input.on('error', resolve);
  });
  aborter.abort(new Error('connection closed'));
  await Promise.allSettled([...pending]);
  keeper.stop();
  await keeper.releaseAll();
  o.notify?.();
}

/** A unix-socket agent for the flows of one worker. */
export class AgentServer {
  private readonly server: net.Server;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly socketPath: string,
    o: Omit<AgentOptions, 'notify' | 'subscribe'>,
  ) {
    const opts: AgentOptions = {
      ...o,
      notify: () => this.listeners.forEach((l) => l()),
      subscribe: (l) => {
        this.listeners.add(l);
        return () => this.listeners.delete(l);
      },
    };
    this.server = net.createServer((socket) => {
      socket.on('error', () => undefined);
      void serveConnection(socket, socket, opts);
    });
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => resolve());
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
