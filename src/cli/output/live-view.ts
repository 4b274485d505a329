/** The worker's live view on a terminal: counts of running / waiting / late runs and recent transitions. */
import type { Worker } from '../../engine/worker.js';
import type { CliContext } from '../context.js';

const RECENT = 8;

export class LiveView {
  private readonly recent: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private drawnLines = 0;

  constructor(
    private readonly ctx: CliContext,
    private readonly worker: Worker,
    private readonly pool: string,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.draw(), 500);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    void this.draw();
  }

  record(line: string): void {
    const time = new Date(this.ctx.clock.now()).toISOString().slice(11, 19);
    this.recent.push(`${time} ${line}`);
    if (this.recent.length > RECENT) this.recent.shift();
  }

  private async draw(): Promise<void> {
    const store = await this.ctx.store();
    const scheduled = await store.listRuns({ state: 'SCHEDULED', limit: 10_000 });
    const mine = scheduled.filter((r) => r.work_pool_name === this.pool);
    const waiting = mine.filter((r) => r.state_name === 'AwaitingConcurrencySlot').length;
    const late = mine.filter((r) => r.state_name === 'Late').length;
    const c = this.ctx.errChalk;
    const s = this.worker.stats;
    const lines = [
      c.bold(`flowdeck worker — pool ${this.pool}`),
      `${c.green(`running ${this.worker.activeCount}`)}  ${c.yellow(`waiting ${waiting}`)}  ${c.red(`late ${late}`)}  ` +
        `completed ${s.completed}  failed ${s.failed}  crashed ${s.crashed}  cancelled ${s.cancelled}`,
      c.dim('recent:'),
      ...this.recent.map((l) => `  ${l.slice(0, (process.stderr.columns ?? 120) - 3)}`),
    ];
    let out = '';
    if (this.drawnLines > 0) out += `\u001b[${this.drawnLines}A\u001b[0J`;
    out += lines.join('\n') + '\n';
    this.drawnLines = lines.length;
    this.ctx.stderr.write(out);
  }
}
