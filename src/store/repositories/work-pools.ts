/** Work pools and work queues. Every pool has a "default" queue with priority 1. */
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError } from '../../domain/errors.js';
import type { WorkPool, WorkQueue } from '../../domain/types.js';
import { isoTime } from '../../time/clock.js';
import { sql, type Db } from '../db.js';
import { toWorkQueue, type WorkQueueRow } from '../rows.js';

export const DEFAULT_QUEUE = 'default';

interface PoolRow {
  id: string;
  name: string;
  type: string;
  concurrency_limit: number | null;
  is_paused: number;
  created_at: number;
  slots_in_use: number;
  online_workers: number;
}

const POOL_SELECT = `
  SELECT p.id, p.name, p.type, p.concurrency_limit, p.is_paused, p.created_at,
    (SELECT COALESCE(SUM(s.slots), 0) FROM lease_slot s WHERE s.resource_kind = 'pool' AND s.resource_id = p.id) AS slots_in_use,
    (SELECT COUNT(*) FROM worker w WHERE w.work_pool_name = p.name AND w.stopped_at IS NULL AND w.heartbeat_at > ?) AS online_workers
  FROM work_pool p`;

const QUEUE_SELECT = `
  SELECT q.id, q.pool_id, p.name AS pool_name, q.name, q.priority, q.concurrency_limit, q.is_paused, q.created_at,
    (SELECT COALESCE(SUM(s.slots), 0) FROM lease_slot s WHERE s.resource_kind = 'queue' AND s.resource_id = q.id) AS slots_in_use
  FROM work_queue q JOIN work_pool p ON p.id = q.pool_id`;

/** A worker is online when it heartbeat within this window. */
const ONLINE_WINDOW_MS = 90_000;

function toPool(row: PoolRow): WorkPool {
  const isPaused = row.is_paused === 1;
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    concurrency_limit: row.concurrency_limit,
    is_paused: isPaused,
    status: isPaused ? 'PAUSED' : row.online_workers > 0 ? 'READY' : 'NOT_READY',
    slots_in_use: row.slots_in_use,
    default_queue_name: DEFAULT_QUEUE,
    created: isoTime(row.created_at),
  };
}

export function insertPool(db: Db, p: { name: string; type: string; concurrencyLimit: number | null; paused?: boolean }, now: number): string {
  const exists = sql(db, 'SELECT 1 FROM work_pool WHERE name = ?').get(p.name);
  if (exists) throw new ConflictError(`Work pool named '${p.name}' already exists.`);
  const id = randomUUID();
  sql(db, 
    'INSERT INTO work_pool (id, name, type, concurrency_limit, is_paused, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(id, p.name, p.type, p.concurrencyLimit, p.paused ? 1 : 0, now, now);
  sql(db, 
    'INSERT INTO work_queue (id, pool_id, name, priority, concurrency_limit, is_paused, created_at, updated_at) VALUES (?, ?, ?, 1, NULL, 0, ?, ?)',
  ).run(randomUUID(), id, DEFAULT_QUEUE, now, now);
  return id;
}

export function poolIdByName(db: Db, name: string): string | undefined {
  const row = sql(db, 'SELECT id FROM work_pool WHERE name = ?').get(name) as { id: string } | undefined;
  return row?.id;
}

export function requirePoolId(db: Db, name: string): string {
  const id = poolIdByName(db, name);
  if (!id) throw new NotFoundError(`Work pool '${name}' not found!`, { hint: `create it with: flowdeck work-pool create '${name}'` });
  return id;
}

export function listPools(db: Db, now: number): WorkPool[] {
  const rows = sql(db, `${POOL_SELECT} ORDER BY p.created_at DESC, p.name`).all(now - ONLINE_WINDOW_MS) as PoolRow[];
  return rows.map(toPool);
}

export function getPool(db: Db, name: string, now: number): WorkPool {
  const row = sql(db, `${POOL_SELECT} WHERE p.name = ?`).get(now - ONLINE_WINDOW_MS, name) as PoolRow | undefined;
  if (!row) throw new NotFoundError(`Work pool '${name}' not found!`);
  return toPool(row);
}

export function updatePool(db: Db, name: string, patch: { concurrencyLimit?: number | null; isPaused?: boolean }, now: number): void {
  const id = requirePoolId(db, name);
  if (patch.concurrencyLimit !== undefined) {
    sql(db, 'UPDATE work_pool SET concurrency_limit = ?, updated_at = ? WHERE id = ?').run(patch.concurrencyLimit, now, id);
  }
  if (patch.isPaused !== undefined) {
    sql(db, 'UPDATE work_pool SET is_paused = ?, updated_at = ? WHERE id = ?').run(patch.isPaused ? 1 : 0, now, id);
  }
}

export function deletePool(db: Db, name: string): void {
  const id = poolIdByName(db, name);
  if (!id) throw new NotFoundError(`Work pool '${name}' does not exist.`);
  const active = sql(db, "SELECT COUNT(*) AS n FROM flow_run WHERE work_pool_name = ? AND state_type IN ('PENDING', 'RUNNING', 'CANCELLING')")
    .get(name) as { n: number };
  if (active.n > 0) {
    throw new ConflictError(`Work pool '${name}' has ${active.n} active flow run(s); cancel them or wait before deleting it.`);
  }
  sql(db, 'DELETE FROM work_pool WHERE id = ?').run(id);
}

export function insertQueue(
  db: Db,
  q: { pool: string; name: string; priority?: number | undefined; concurrencyLimit: number | null },
  now: number,
): void {
  const poolId = requirePoolId(db, q.pool);
  const exists = sql(db, 'SELECT 1 FROM work_queue WHERE pool_id = ? AND name = ?').get(poolId, q.name);
  if (exists) throw new ConflictError(`Work queue '${q.name}' already exists in work pool '${q.pool}'.`);
  const priorities = (sql(db, 'SELECT priority FROM work_queue WHERE pool_id = ? ORDER BY priority').all(poolId) as { priority: number }[]).map((r) => r.priority);
  let priority = q.priority;
  if (priority === undefined) {
    priority = 1;
    while (priorities.includes(priority)) priority++;
  } else if (priorities.includes(priority)) {
    // keep priorities sequential: inserting at a taken priority shifts the others down
    sql(db, 'UPDATE work_queue SET priority = priority + 1 WHERE pool_id = ? AND priority >= ?').run(poolId, priority);
  }
  sql(db, 
    'INSERT INTO work_queue (id, pool_id, name, priority, concurrency_limit, is_paused, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)',
  ).run(randomUUID(), poolId, q.name, priority, q.concurrencyLimit, now, now);
}

export function ensureQueue(db: Db, pool: string, name: string, now: number): boolean {
  const poolId = requirePoolId(db, pool);
  if (sql(db, 'SELECT 1 FROM work_queue WHERE pool_id = ? AND name = ?').get(poolId, name)) return false;
  insertQueue(db, { pool, name, concurrencyLimit: null }, now);
  return true;
}

export function listQueues(db: Db, pool: string | undefined): WorkQueue[] {
  const rows = pool
    ? (sql(db, `${QUEUE_SELECT} WHERE p.name = ? ORDER BY q.priority, q.name`).all(pool) as WorkQueueRow[])
    : (sql(db, `${QUEUE_SELECT} ORDER BY p.name, q.priority, q.name`).all() as WorkQueueRow[]);
  if (pool && rows.length === 0) requirePoolId(db, pool);
  return rows.map(toWorkQueue);
}

export function getQueue(db: Db, pool: string, name: string): WorkQueue {
  requirePoolId(db, pool);
  const row = sql(db, `${QUEUE_SELECT} WHERE p.name = ? AND q.name = ?`).get(pool, name) as WorkQueueRow | undefined;
  if (!row) throw new NotFoundError(`Work queue '${name}' not found in work pool '${pool}'.`);
  return toWorkQueue(row);
}

export function updateQueue(
  db: Db,
  pool: string,
  name: string,
  patch: { concurrencyLimit?: number | null; isPaused?: boolean; priority?: number },
  now: number,
): void {
  const q = getQueue(db, pool, name);
  if (patch.concurrencyLimit !== undefined) {
    sql(db, 'UPDATE work_queue SET concurrency_limit = ?, updated_at = ? WHERE id = ?').run(patch.concurrencyLimit, now, q.id);
  }
  if (patch.isPaused !== undefined) {
    sql(db, 'UPDATE work_queue SET is_paused = ?, updated_at = ? WHERE id = ?').run(patch.isPaused ? 1 : 0, now, q.id);
  }
  if (patch.priority !== undefined) setQueuePriority(db, q.id, patch.priority, now);
}

/**
 * Gives a queue a priority and keeps the pool's priorities unique (Prefect's
 * bulk_update_work_queue_priorities): queues at or after it move down only as far as needed.
 */
function setQueuePriority(db: Db, queueId: string, priority: number, now: number): void {
  const { pool_id: poolId } = sql(db, 'SELECT pool_id FROM work_queue WHERE id = ?').get(queueId) as { pool_id: string };
  const others = sql(db, 'SELECT id, priority FROM work_queue WHERE pool_id = ? AND id <> ? ORDER BY priority, created_at')
    .all(poolId, queueId) as { id: string; priority: number }[];
  const at = others.findIndex((o) => o.priority >= priority);
  const ordered = [...others];
  ordered.splice(at < 0 ? ordered.length : at, 0, { id: queueId, priority });
  const update = sql(db, 'UPDATE work_queue SET priority = ?, updated_at = ? WHERE id = ?');
  let last = 0;
  for (const o of ordered) {
    const next = o.priority <= last ? last + 1 : o.priority;
    if (next !== o.priority || o.id === queueId) update.run(next, now, o.id);
    last = next;
  }
}

export function deleteQueue(db: Db, pool: string, name: string): void {
  if (name === DEFAULT_QUEUE) throw new ConflictError(`The default queue of work pool '${pool}' cannot be deleted.`);
  const q = getQueue(db, pool, name);
  const active = sql(db, "SELECT COUNT(*) AS n FROM flow_run WHERE work_pool_name = ? AND work_queue_name = ? AND state_type IN ('PENDING', 'RUNNING', 'CANCELLING')")
    .get(pool, name) as { n: number };
  if (active.n > 0) throw new ConflictError(`Work queue '${name}' has ${active.n} active flow run(s).`);
  sql(db, 'DELETE FROM work_queue WHERE id = ?').run(q.id);
}
