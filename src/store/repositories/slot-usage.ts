/** Slots in use at one level, always counted from live lease rows (never a stored counter). */
import type { WaitingOn } from '../../domain/types.js';
import { sql, type Db } from '../db.js';

export type LevelKind = 'deployment' | 'queue' | 'pool';

export function slotUsage(db: Db, kind: LevelKind, id: string): { inUse: number; holders: string[] } {
  const rows = sql(
    db,
    `SELECT l.flow_run_id, l.holder, s.slots FROM lease_slot s JOIN lease l ON l.id = s.lease_id
     WHERE s.resource_kind = ? AND s.resource_id = ? ORDER BY l.acquired_at`,
  ).all(kind, id) as { flow_run_id: string | null; holder: string; slots: number }[];
  return { inUse: rows.reduce((n, r) => n + r.slots, 0), holders: rows.map((r) => r.flow_run_id ?? r.holder) };
}

/**
 * What blocks a waiting run, as of now. Dispatch records only which levels block it (their kinds);
 * the limit, the slots in use and the holders are read here, so dispatch never rewrites waiting rows
 * just because a holder changed.
 */
export function describeBlockers(
  db: Db,
  run: { deployment_id: string; work_pool_name: string; work_queue_name: string },
  kinds: readonly LevelKind[],
): WaitingOn[] {
  const out: WaitingOn[] = [];
  for (const kind of kinds) {
    if (kind === 'deployment') {
      const d = sql(db, 'SELECT flow_name, name, concurrency_limit FROM deployment WHERE id = ?').get(run.deployment_id) as
        | { flow_name: string; name: string; concurrency_limit: number | null }
        | undefined;
      if (!d) continue;
      const u = slotUsage(db, 'deployment', run.deployment_id);
      out.push({ kind, name: `${d.flow_name}/${d.name}`, limit: d.concurrency_limit ?? 0, in_use: u.inUse, holders: u.holders });
    } else if (kind === 'pool') {
      const p = sql(db, 'SELECT id, name, concurrency_limit FROM work_pool WHERE name = ?').get(run.work_pool_name) as
        | { id: string; name: string; concurrency_limit: number | null }
        | undefined;
      if (!p) continue;
      const u = slotUsage(db, 'pool', p.id);
      out.push({ kind, name: p.name, limit: p.concurrency_limit ?? 0, in_use: u.inUse, holders: u.holders });
    } else {
      const q = sql(
        db,
        'SELECT q.id, q.name, q.concurrency_limit FROM work_queue q JOIN work_pool p ON p.id = q.pool_id WHERE p.name = ? AND q.name = ?',
      ).get(run.work_pool_name, run.work_queue_name) as { id: string; name: string; concurrency_limit: number | null } | undefined;
      if (!q) continue;
      const u = slotUsage(db, 'queue', q.id);
      out.push({ kind, name: q.name, limit: q.concurrency_limit ?? 0, in_use: u.inUse, holders: u.holders });
    }
  }
  return out;
}
