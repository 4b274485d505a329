/** Renews held leases while their holder lives; a holder that dies stops renewing and its slots expire. */
import type { Store } from '../store/store.js';
import type { Clock, TimerHandle } from '../time/clock.js';

export class LeaseKeeper {
  private readonly leases = new Set<string>();
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly leaseSeconds: number,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {}

  add(leaseId: string): void {
    this.leases.add(leaseId);
    this.schedule();
  }

  async release(leaseId: string): Promise<void> {
    this.leases.delete(leaseId);
    await this.store.releaseLease(leaseId);
  }

  async releaseAll(): Promise<void> {
    const ids = [...this.leases];
    this.leases.clear();
    for (const id of ids) await this.store.releaseLease(id);
  }

  get size(): number {
    return this.leases.size;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = this.clock.setTimeout(() => void this.renew(), (this.leaseSeconds * 1000) / 3);
  }

  private async renew(): Promise<void> {
    this.timer = undefined;
    if (this.leases.size === 0 || this.stopped) return;
    const expiresAt = this.clock.now() + this.leaseSeconds * 1000;
    for (const id of [...this.leases]) {
      try {
        if ((await this.store.renewLeases([id], expiresAt)) === 0 && this.leases.delete(id)) {
          // reaped (this process stalled past its lease) or released by someone else
          this.onError(new Error(`lease ${id} was gone before it could be renewed: its slots are no longer reserved`));
        }
      } catch (error) {
        this.onError(error);
      }
    }
    this.schedule();
  }
}
