/** Global concurrency limits: definitions, holders, and atomic slot acquisition. */
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, SlotAcquisitionError } from '../../domain/errors.js';
import type { GlobalConcurrencyLimit, LimitHolder, WaitingOn } from '../../domain/types.js';
import { isoTime } from '../../time/clock.js';
import { sql, type Db } from '../db.js';
import { decayedOccupancy, toGcl, type GclRow } from '../rows.js';

const EPSILON = 1e-9;

/** Slots held by live leases (an expired lease holds nothing, even before it is reaped). */
export function gclLeasedSlots(db: Db, gclId: string, now: number): number {
  const row = sql(db, 
      `SELECT COALESCE(SUM(s.slots), 0) AS n FROM lease_slot s JOIN lease l ON l.id = s.lease_id
       WHERE s.resource_kind = 'gcl' AND s.resource_id = ? AND l.expires_at > ?`,
    )
    .get(gclId, now) as { n: number };
  return row.n;
}

function findRow(db: Db, name: string): GclRow | undefined {
  return sql(db, 'SELECT * FROM global_concurrency_limit WHERE name = ?').get(name) as GclRow | undefined;
}

function requireRow(db: Db, name: string): GclRow {
  const row = findRow(db, name);
  if (!row) throw new NotFoundError(`Global concurrency limit '${name}' not found.`);
  return row;
}

export function createGcl(
  db: Db,
  g: { name: string; limit: number; active: boolean; activeSlots: number; slotDecayPerSecond: number },
  now: number,
): GlobalConcurrencyLimit {
  if (findRow(db, g.name)) {
    throw new ConflictError(`Global concurrency limit '${g.name}' already exists. Please try creating with a different name.`);
  }
  const id = randomUUID();
  sql(db, 
    `INSERT INTO global_concurrency_limit (id, name, limit_value, active, occupancy, occupancy_at, slot_decay_per_second, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(id, g.name, g.limit, g.active ? 1 : 0, g.activeSlots, now, g.slotDecayPerSecond, now, now);
  return getGcl(db, g.name, now);
}

export function listGcl(db: Db, now: number): GlobalConcurrencyLimit[] {
  const rows = sql(db, 'SELECT * FROM global_concurrency_limit ORDER BY name').all() as GclRow[];
  return rows.map((r) => toGcl(r, gclLeasedSlots(db, r.id, now), now));
}

export function getGcl(db: Db, name: string, now: number): GlobalConcurrencyLimit {
  const row = requireRow(db, name);
  return toGcl(row, gclLeasedSlots(db, row.id, now), now);
}

export function gclHolders(db: Db, name: string, now: number): LimitHolder[] {
  const row = requireRow(db, name);
  const rows = sql(db, 
      `SELECT l.id, l.holder, s.slots, l.acquired_at, l.expires_at FROM lease_slot s JOIN lease l ON l.id = s.lease_id
       WHERE s.resource_kind = 'gcl' AND s.resource_id = ? AND l.expires_at > ? ORDER BY l.acquired_at`,
    )
    .all(row.id, now) as { id: string; holder: string; slots: number; acquired_at: number; expires_at: number }[];
  return rows.map((r) => ({ lease_id: r.id, holder: r.holder, slots: r.slots, acquired: isoTime(r.acquired_at), expires: isoTime(r.expires_at) }));
}

export interface GclPatch {
  limit?: number;
  active?: boolean;
  activeSlots?: number;
  slotDecayPerSecond?: number;
}

export function updateGcl(db: Db, name: string, patch: GclPatch, now: number): GlobalConcurrencyLimit {
  const row = requireRow(db, name);
  if (patch.limit !== undefined) sql(db, 'UPDATE global_concurrency_limit SET limit_value = ? WHERE id = ?').run(patch.limit, row.id);
  if (patch.active !== undefined) sql(db, 'UPDATE global_concurrency_limit SET active = ? WHERE id = ?').run(patch.active ? 1 : 0, row.id);
  if (patch.slotDecayPerSecond !== undefined || patch.activeSlots !== undefined) {
    // settle decay up to now before changing the rate or the level, so no decay is lost or invented
    const level = patch.activeSlots ?? decayedOccupancy(row, now);
    const decay = patch.slotDecayPerSecond ?? row.slot_decay_per_second;
    sql(db, 'UPDATE global_concurrency_limit SET occupancy = ?, occupancy_at = ?, slot_decay_per_second = ? WHERE id = ?').run(level, now, decay, row.id);
  }
  sql(db, 'UPDATE global_concurrency_limit SET updated_at = ? WHERE id = ?').run(now, row.id);
  return getGcl(db, name, now);
}

export function deleteGcl(db: Db, name: string): void {
  const row = requireRow(db, name);
  sql(db, "DELETE FROM lease_slot WHERE resource_kind = 'gcl' AND resource_id = ?").run(row.id);
  sql(db, 'DELETE FROM global_concurrency_limit WHERE id = ?').run(row.id);
}

export interface GclAcquireRequest {
  names: string[];
  occupy: number;
  mode: 'concurrency' | 'rate_limit';
  holder: string;
  flowRunId: string | null;
  strict: boolean;
  leaseMs: number;
  /** Identifies this waiter across retries, for fair (oldest first) service. */
  waiterId: string;
  waiterTtlMs: number;
}

export type GclAcquireResult =
  | { status: 'acquired'; leaseId: string | null; warnings: string[] }
  /** `ahead`: older waiters sharing one of these limits (0: this waiter is served next). */
  | { status: 'blocked'; waitingOn: WaitingOn[]; warnings: string[]; ahead: number };

export function pyList(names: string[]): string {
  return `[${names.map((n) => `'${n}'`).join(', ')}]`;
}

/** One attempt: take `occupy` slots on every named active limit, or nothing. Call inside an IMMEDIATE transaction. */
export function tryAcquireGcl(db: Db, req: GclAcquireRequest, now: number): GclAcquireResult {
  const warnings: string[] = [];
  if (req.flowRunId && !sql(db, 'SELECT 1 FROM flow_run WHERE id = ?').get(req.flowRunId)) req = { ...req, flowRunId: null };
  const rows = req.names.map((n) => ({ name: n, row: findRow(db, n) }));
  const missing = rows.filter((r) => !r.row).map((r) => r.name);
  if (missing.length > 0) {
    if (req.strict) throw new SlotAcquisitionError(`Concurrency limits ${pyList(missing)} must be created before acquiring slots`);
    warnings.push(`Concurrency limits ${pyList(missing)} do not exist - skipping acquisition.`);
  }
  const present = rows.filter((r) => r.row).map((r) => r.row!);
  const inactive = present.filter((r) => r.active !== 1).map((r) => r.name);
  if (inactive.length > 0) warnings.push(`Concurrency limits ${pyList(inactive)} are disabled - not limiting.`);
  const active = present.filter((r) => r.active === 1);
  if (req.mode === 'rate_limit') {
    const noDecay = active.filter((r) => r.slot_decay_per_second <= 0).map((r) => r.name);
    if (noDecay.length > 0) {
      throw new SlotAcquisitionError(
        `Only concurrency limits with slot decay can be used for rate limiting. The following limits do not have a decay configured: '${noDecay.join(',')}'`,
      );
    }
  }
  const tooSmall = active.filter((r) => r.limit_value < req.occupy);
  if (tooSmall.length > 0) {
    throw new SlotAcquisitionError(
      `Slots requested (${req.occupy}) is greater than the limit of ${tooSmall.map((r) => `'${r.name}' (${r.limit_value})`).join(', ')}`,
    );
  }
  if (active.length === 0) {
    sql(db, 'DELETE FROM gcl_waiter WHERE id = ?').run(req.waiterId);
    return { status: 'acquired', leaseId: null, warnings };
  }
  const usage = active.map((r) => ({ row: r, inUse: inUse(db, r, now) }));
  const fits = usage.every((u) => u.inUse + req.occupy <= u.row.limit_value + EPSILON);
  if (fits && fitsBehindOlderWaiters(db, req, usage, now)) {
    sql(db, 'DELETE FROM gcl_waiter WHERE id = ?').run(req.waiterId);
    if (req.mode === 'rate_limit') {
      const bump = sql(db, 'UPDATE global_concurrency_limit SET occupancy = ?, occupancy_at = ? WHERE id = ?');
      for (const u of usage) bump.run(decayedOccupancy(u.row, now) + req.occupy, now, u.row.id);
      return { status: 'acquired', leaseId: null, warnings };
    }
    const leaseId = randomUUID();
    sql(db, 'INSERT INTO lease (id, holder, flow_run_id, worker_id, acquired_at, expires_at) VALUES (?, ?, ?, NULL, ?, ?)').run(
      leaseId,
      req.holder,
      req.flowRunId,
      now,
      now + req.leaseMs,
    );
    const slot = sql(db, "INSERT INTO lease_slot (lease_id, resource_kind, resource_id, slots) VALUES (?, 'gcl', ?, ?)");
    for (const u of usage) slot.run(leaseId, u.row.id, req.occupy);
    return { status: 'acquired', leaseId, warnings };
  }
  registerWaiter(db, req, now);
  const waitingOn: WaitingOn[] = usage.map((u) => ({
    kind: 'gcl',
    name: u.row.name,
    limit: u.row.limit_value,
    in_use: shownSlots(u.inUse),
    holders: gclHolderNames(db, u.row.id, now),
  }));
  const ahead = olderWaiters(db, req, active.map((r) => r.name), now).length;
  return { status: 'blocked', waitingOn, warnings, ahead };
}

/** A slot partly decayed is still taken: round up, with a little tolerance for float noise. */
function shownSlots(inUse: number): number {
  return Math.max(0, Math.ceil(inUse - EPSILON));
}

function inUse(db: Db, row: GclRow, now: number): number {
  return decayedOccupancy(row, now) + gclLeasedSlots(db, row.id, now);
}

function gclHolderNames(db: Db, gclId: string, now: number): string[] {
  const rows = sql(db, 
      `SELECT l.holder FROM lease_slot s JOIN lease l ON l.id = s.lease_id
       WHERE s.resource_kind = 'gcl' AND s.resource_id = ? AND l.expires_at > ? ORDER BY l.acquired_at`,
    )
    .all(gclId, now) as { holder: string }[];
  return rows.map((r) => r.holder);
}

/**
 * Fair service: the slots free now go first to older waiters, oldest first; this request may
 * have what they leave. An older waiter W sharing a limit L with this request sets aside its
 * slots on L, unless W is short on a limit this request does not ask for: then W cannot run
 * now anyway, and holding L back for it could deadlock (a holder of that other limit waiting
 * for L inside nested concurrency() blocks would wait for W, which waits for it).
 */
function fitsBehindOlderWaiters(db: Db, req: GclAcquireRequest, usage: { row: GclRow; inUse: number }[], now: number): boolean {
  const names = usage.map((u) => u.row.name);
  const older = olderWaiters(db, req, names, now);
  if (older.length === 0) return true;
  const left = new Map(usage.map((u) => [u.row.name, u.row.limit_value - u.inUse]));
  const elsewhere = new Map<string, { row: GclRow; inUse: number } | null>();
  const shortElsewhere = (name: string, occupy: number) => {
    if (!elsewhere.has(name)) {
      const row = findRow(db, name);
      elsewhere.set(name, row && row.active === 1 ? { row, inUse: inUse(db, row, now) } : null);
    }
    const u = elsewhere.get(name)!;
    return u !== null && u.inUse + occupy > u.row.limit_value + EPSILON;
  };
  for (const w of older) {
    if (w.names.some((n) => !left.has(n) && shortElsewhere(n, w.occupy))) continue;
    for (const n of w.names) if (left.has(n)) left.set(n, left.get(n)! - w.occupy);
  }
  return names.every((n) => left.get(n)! + EPSILON >= req.occupy);
}

/** Live waiters registered before this one that share at least one of `names`, oldest first. */
function olderWaiters(db: Db, req: GclAcquireRequest, names: string[], now: number): { names: string[]; occupy: number }[] {
  const mine = sql(db, 'SELECT since FROM gcl_waiter WHERE id = ?').get(req.waiterId) as { since: number } | undefined;
  const since = mine?.since ?? now + 1;
  const rows = sql(db, 'SELECT names_json, occupy FROM gcl_waiter WHERE id <> ? AND expires_at > ? AND (since < ? OR (since = ? AND id < ?)) ORDER BY since, id')
    .all(req.waiterId, now, since, since, req.waiterId) as { names_json: string; occupy: number }[];
  return rows.map((w) => ({ names: JSON.parse(w.names_json) as string[], occupy: w.occupy })).filter((w) => w.names.some((n) => names.includes(n)));
}

function registerWaiter(db: Db, req: GclAcquireRequest, now: number): void {
  sql(db, 
    `INSERT INTO gcl_waiter (id, names_json, holder, flow_run_id, occupy, since, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
  ).run(req.waiterId, JSON.stringify(req.names), req.holder, req.flowRunId, req.occupy, now, now + req.waiterTtlMs);
}

export function dropWaiter(db: Db, waiterId: string): void {
  sql(db, 'DELETE FROM gcl_waiter WHERE id = ?').run(waiterId);
}

/** What a run waiting inside concurrency() waits on. */
export function runGclWaits(db: Db, flowRunId: string, now: number): WaitingOn[] {
  const rows = sql(db, 'SELECT names_json FROM gcl_waiter WHERE flow_run_id = ? AND expires_at > ?').all(flowRunId, now) as { names_json: string }[];
  const out: WaitingOn[] = [];
  for (const w of rows) {
    for (const name of JSON.parse(w.names_json) as string[]) {
      const row = findRow(db, name);
      if (!row) continue;
      out.push({
        kind: 'gcl',
        name,
        limit: row.limit_value,
        in_use: shownSlots(inUse(db, row, now)),
        holders: gclHolderNames(db, row.id, now),
      });
    }
  }
  return out;
}
