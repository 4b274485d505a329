/**
 * The state store: atomic domain operations, each one transaction. Methods return Promises so a
 * networked store (PostgreSQL) can implement the same interface without touching the engine.
 */
import type { Deployment, FlowRun, GlobalConcurrencyLimit, LimitHolder, WorkPool, WorkQueue } from '../domain/types.js';
import type { Db } from './db.js';
import { openStateDatabase, translateSqliteError } from './db.js';
import * as deployments from './repositories/deployments.js';
import { dispatchDueRuns, type DispatchRequest, type DispatchResult } from './repositories/dispatch.js';
import * as runs from './repositories/flow-runs.js';
import * as gcl from './repositories/gcl.js';
import * as leases from './repositories/leases.js';
import type { StateChange } from './repositories/run-states.js';
import * as pools from './repositories/work-pools.js';
import type { DeploymentWithDir } from './rows.js';

export type { ApplyResult, DeploymentInput } from './repositories/deployments.js';
export type { DispatchRequest, DispatchResult } from './repositories/dispatch.js';
export type { LogLine, NewRun, RunDetails, RunFilter, SchedulableRow } from './repositories/flow-runs.js';
export type { GclAcquireRequest, GclAcquireResult, GclPatch } from './repositories/gcl.js';
export type { ReapResult } from './repositories/leases.js';
export type { StateChange } from './repositories/run-states.js';
export type { DeploymentWithDir } from './rows.js';

export interface Store {
  readonly location: string;
  close(): Promise<void>;
  /** Changes whenever another connection commits: a cheap "did anything happen?" probe. */
  dataVersion(): Promise<number>;

  applyDeployments(inputs: deployments.DeploymentInput[], now: number): Promise<deployments.ApplyResult>;
  listDeployments(): Promise<DeploymentWithDir[]>;
  getDeployment(fullName: string): Promise<DeploymentWithDir>;
  getDeploymentById(id: string): Promise<DeploymentWithDir | undefined>;
  deleteDeployment(fullName: string): Promise<void>;
  setDeploymentPaused(fullName: string, paused: boolean, now: number): Promise<boolean>;

  createPool(p: { name: string; type: string; concurrencyLimit: number | null; paused?: boolean }, now: number): Promise<WorkPool>;
  listPools(now: number): Promise<WorkPool[]>;
  getPool(name: string, now: number): Promise<WorkPool>;
  updatePool(name: string, patch: { concurrencyLimit?: number | null; isPaused?: boolean }, now: number): Promise<WorkPool>;
  deletePool(name: string): Promise<void>;
  createQueue(q: { pool: string; name: string; priority?: number; concurrencyLimit: number | null }, now: number): Promise<WorkQueue>;
  listQueues(pool?: string): Promise<WorkQueue[]>;
  getQueue(pool: string, name: string): Promise<WorkQueue>;
  updateQueue(pool: string, name: string, patch: { concurrencyLimit?: number | null; isPaused?: boolean; priority?: number }, now: number): Promise<WorkQueue>;
  deleteQueue(pool: string, name: string): Promise<void>;

  createGcl(g: { name: string; limit: number; active: boolean; activeSlots: number; slotDecayPerSecond: number }, now: number): Promise<GlobalConcurrencyLimit>;
  listGcl(now: number): Promise<GlobalConcurrencyLimit[]>;
  getGcl(name: string, now: number): Promise<GlobalConcurrencyLimit & { holders: LimitHolder[] }>;
  updateGcl(name: string, patch: gcl.GclPatch, now: number): Promise<GlobalConcurrencyLimit>;
  deleteGcl(name: string): Promise<void>;
  tryAcquireGcl(req: gcl.GclAcquireRequest, now: number): Promise<gcl.GclAcquireResult>;
  dropGclWaiter(waiterId: string): Promise<void>;

  schedulableSchedules(pool: string | null): Promise<runs.SchedulableRow[]>;
  insertScheduledRuns(batch: { scheduleId: string; until: number; runs: runs.NewRun[] }[], now: number): Promise<number>;
  createManualRun(fullName: string, parameters: Record<string, unknown>, expectedStart: number, now: number): Promise<string>;
  markLateRuns(now: number): Promise<string[]>;
  dispatch(req: DispatchRequest, now: number): Promise<DispatchResult>;
  startRun(runId: string, pid: number, now: number): Promise<boolean>;
  finishRun(runId: string, to: StateChange, now: number): Promise<boolean>;
  requestCancel(runId: string, now: number): Promise<{ runId: string; outcome: 'cancelled' | 'cancelling' | 'already-final' }>;
  runState(runId: string): Promise<{ state_type: string; cancel_requested: number } | undefined>;
  runsOfWorker(workerId: string, stateType: 'CANCELLING' | 'RUNNING' | 'PENDING'): Promise<string[]>;
  listRuns(filter: runs.RunFilter): Promise<FlowRun[]>;
  getRun(id: string, now: number): Promise<runs.RunDetails>;
  appendLogs(runId: string, lines: runs.LogLine[]): Promise<void>;
  readLogs(runId: string, afterId: number, limit: number): Promise<(runs.LogLine & { id: number })[]>;

  registerWorker(w: { id: string; name: string; pool: string; pid: number }, now: number): Promise<void>;
  heartbeatWorker(workerId: string, leaseExpiresAt: number, now: number): Promise<void>;
  stopWorker(workerId: string, now: number): Promise<void>;
  renewLeases(leaseIds: readonly string[], expiresAt: number): Promise<number>;
  releaseLease(leaseId: string): Promise<boolean>;
  reapExpired(now: number): Promise<leases.ReapResult>;
}

export class SqliteStore implements Store {
  constructor(
    readonly db: Db,
    readonly location: string,
  ) {}

  static open(home: string, opts: { busyTimeoutMs?: number } = {}): SqliteStore {
    return new SqliteStore(openStateDatabase(home, opts), home);
  }

  /** Runs fn synchronously; IMMEDIATE transactions for every write. Errors become typed store errors. */
  private write<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(this.db.transaction(fn).immediate());
    } catch (error) {
      return Promise.reject(translateSqliteError(error, this.location));
    }
  }

  private read<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(translateSqliteError(error, this.location));
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
  dataVersion() {
    return this.read(() => this.db.pragma('data_version', { simple: true }) as number);
  }

  applyDeployments(inputs: deployments.DeploymentInput[], now: number) {
    return this.write(() => deployments.applyDeployments(this.db, inputs, now));
  }
  listDeployments() {
    return this.read(() => deployments.listDeployments(this.db));
  }
  getDeployment(fullName: string) {
    return this.read(() => deployments.getDeployment(this.db, fullName));
  }
  getDeploymentById(id: string) {
    return this.read(() => deployments.getDeploymentById(this.db, id));
  }
  deleteDeployment(fullName: string) {
    return this.write(() => deployments.deleteDeployment(this.db, fullName));
  }
  setDeploymentPaused(fullName: string, paused: boolean, now: number) {
    return this.write(() => deployments.setDeploymentPaused(this.db, fullName, paused, now));
  }

  createPool(p: { name: string; type: string; concurrencyLimit: number | null; paused?: boolean }, now: number) {
    return this.write(() => {
      pools.insertPool(this.db, p, now);
      return pools.getPool(this.db, p.name, now);
    });
  }
  listPools(now: number) {
    return this.read(() => pools.listPools(this.db, now));
  }
  getPool(name: string, now: number) {
    return this.read(() => pools.getPool(this.db, name, now));
  }
  updatePool(name: string, patch: { concurrencyLimit?: number | null; isPaused?: boolean }, now: number) {
    return this.write(() => {
      pools.updatePool(this.db, name, patch, now);
      return pools.getPool(this.db, name, now);
    });
  }
  deletePool(name: string) {
    return this.write(() => pools.deletePool(this.db, name));
  }
  createQueue(q: { pool: string; name: string; priority?: number; concurrencyLimit: number | null }, now: number) {
    return this.write(() => {
      pools.insertQueue(this.db, q, now);
      return pools.getQueue(this.db, q.pool, q.name);
    });
  }
  listQueues(pool?: string) {
    return this.read(() => pools.listQueues(this.db, pool));
  }
  getQueue(pool: string, name: string) {
    return this.read(() => pools.getQueue(this.db, pool, name));
  }
  updateQueue(pool: string, name: string, patch: { concurrencyLimit?: number | null; isPaused?: boolean; priority?: number }, now: number) {
    return this.write(() => {
      pools.updateQueue(this.db, pool, name, patch, now);
      return pools.getQueue(this.db, pool, name);
    });
  }
  deleteQueue(pool: string, name: string) {
    return this.write(() => pools.deleteQueue(this.db, pool, name));
  }

  createGcl(g: { name: string; limit: number; active: boolean; activeSlots: number; slotDecayPerSecond: number }, now: number) {
    return this.write(() => gcl.createGcl(this.db, g, now));
  }
  listGcl(now: number) {
    return this.read(() => gcl.listGcl(this.db, now));
  }
  getGcl(name: string, now: number) {
    return this.read(() => ({ ...gcl.getGcl(this.db, name, now), holders: gcl.gclHolders(this.db, name, now) }));
  }
  updateGcl(name: string, patch: gcl.GclPatch, now: number) {
    return this.write(() => gcl.updateGcl(this.db, name, patch, now));
  }
  deleteGcl(name: string) {
    return this.write(() => gcl.deleteGcl(this.db, name));
  }
  tryAcquireGcl(req: gcl.GclAcquireRequest, now: number) {
    return this.write(() => {
      leases.reapExpired(this.db, now);
      return gcl.tryAcquireGcl(this.db, req, now);
    });
  }
  dropGclWaiter(waiterId: string) {
    return this.write(() => gcl.dropWaiter(this.db, waiterId));
  }

  schedulableSchedules(pool: string | null) {
    return this.read(() => runs.schedulableSchedules(this.db, pool));
  }
  insertScheduledRuns(batch: { scheduleId: string; until: number; runs: runs.NewRun[] }[], now: number) {
    return this.write(() => {
      let created = 0;
      for (const b of batch) {
        created += runs.insertRuns(this.db, b.runs, now).length;
        runs.setScheduledUntil(this.db, b.scheduleId, b.until);
      }
      return created;
    });
  }
  createManualRun(fullName: string, parameters: Record<string, unknown>, expectedStart: number, now: number) {
    return this.write(() => runs.createManualRun(this.db, fullName, parameters, expectedStart, now));
  }
  markLateRuns(now: number) {
    return this.write(() => runs.markLateRuns(this.db, now));
  }
  dispatch(req: DispatchRequest, now: number) {
    return this.write(() => dispatchDueRuns(this.db, req, now));
  }
  startRun(runId: string, pid: number, now: number) {
    return this.write(() => runs.startRun(this.db, runId, pid, now));
  }
  finishRun(runId: string, to: StateChange, now: number) {
    return this.write(() => runs.finishRun(this.db, runId, to, now));
  }
  requestCancel(runId: string, now: number) {
    return this.write(() => runs.requestCancel(this.db, runId, now));
  }
  runState(runId: string) {
    return this.read(() => runs.runState(this.db, runId));
  }
  runsOfWorker(workerId: string, stateType: 'CANCELLING' | 'RUNNING' | 'PENDING') {
    return this.read(() => runs.runsWithWorker(this.db, workerId, stateType));
  }
  listRuns(filter: runs.RunFilter) {
    return this.read(() => runs.listRuns(this.db, filter));
  }
  getRun(id: string, now: number) {
    return this.read(() => runs.getRunDetails(this.db, id, now));
  }
  appendLogs(runId: string, lines: runs.LogLine[]) {
    return this.write(() => runs.appendLogs(this.db, runId, lines));
  }
  readLogs(runId: string, afterId: number, limit: number) {
    return this.read(() => runs.readLogs(this.db, runs.findRunRow(this.db, runId).id, afterId, limit));
  }

  registerWorker(w: { id: string; name: string; pool: string; pid: number }, now: number) {
    return this.write(() => leases.registerWorker(this.db, w, now));
  }
  heartbeatWorker(workerId: string, leaseExpiresAt: number, now: number) {
    return this.write(() => {
      leases.heartbeatWorker(this.db, workerId, now);
      leases.renewWorkerLeases(this.db, workerId, leaseExpiresAt);
    });
  }
  stopWorker(workerId: string, now: number) {
    return this.write(() => leases.stopWorker(this.db, workerId, now));
  }
  renewLeases(leaseIds: readonly string[], expiresAt: number) {
    return this.write(() => leases.renewLeases(this.db, leaseIds, expiresAt));
  }
  releaseLease(leaseId: string) {
    return this.write(() => leases.releaseLease(this.db, leaseId));
  }
  reapExpired(now: number) {
    return this.write(() => leases.reapExpired(this.db, now));
  }
}

export type { Deployment };
