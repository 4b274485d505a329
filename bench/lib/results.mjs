/**
 * bench/RESULTS.md: machine, settings, the headline table, every scenario's table, the query plans,
 * a reading of the figures and, for each goal missed, what bounds it and what in the engine could
 * change. The reading is written from the figures of this run (numbers are filled in, and a
 * sentence is only included when the figures support it).
 */
import { plansText } from '../scenarios/commands.mjs';
import { fmt, fmtSummary } from './stats.mjs';

const section = (report, key) => report.sections.find((s) => s.key === key && !s.error);
const verdict = (ok) => (ok === undefined ? '—' : ok ? 'met' : '**missed**');

function figures(report) {
  const h = section(report, 'handoff')?.results;
  const t = section(report, 'throughput')?.results;
  const s = section(report, 'scheduler')?.results;
  const c = section(report, 'commands');
  const k = section(report, 'contention')?.results;
  const sched = s ? Object.values(s)[0] : undefined;
  const minute = s ? Object.entries(s).find(([label]) => label.startsWith('every minute'))?.[1] : undefined;
  return { h, t, s: sched, minute, c, k };
}

export function headlineTable(report, sizes) {
  const { h, t, s, c, k } = figures(report);
  const rows = [];
  const py = h?.['Python flow'];
  const js = h?.['JavaScript flow'];
  if (py) rows.push(['Handoff, Python flow: gap p50 / p99', `${fmt(py.p50.median, 1)} / ${fmt(py.p99.median, 1)} ms`, 'Prefect: the next worker poll, 0–10 s by default (not measured here)', '<= 20 / <= 100 ms', verdict(py.p50.median <= 20 && py.p99.median <= 100)]);
  if (js) rows.push(['Handoff, JavaScript flow: gap p50 / p99', `${fmt(js.p50.median, 1)} / ${fmt(js.p99.median, 1)} ms`, '', '', '—']);
  if (t) {
    const a = t.a;
    const peerText = Number.isFinite(a.bestPeer) ? `${a.bestPeerName}: ${fmt(a.bestPeer, 0)} jobs/s` : 'no peer ran';
    rows.push(['Throughput (a), orchestration only: runs/s', `${fmt(a.flowdeck.median, 0)} (max ${a.maxDep} per deployment, ${a.maxPool} in pool)`, peerText, '>= 3x best peer; 1 / 4', verdict(Number.isFinite(a.bestPeer) ? a.flowdeck.median >= 3 * a.bestPeer && a.maxDep === 1 && a.maxPool === 4 : undefined)]);
    const b = t.b;
    rows.push(['Throughput (b), trivial Python flow: runs/s', `${fmt(b.flowdeck.median, 1)} (x${fmt(b.ratio.median, 2)} of baseline)`, `bare spawn: ${fmt(b.baseline.median, 1)}/s${b.bullmq.n ? `; BullMQ ${fmt(b.bullmq.median, 1)}` : ''}${b.graphile.n ? `; graphile-worker ${fmt(b.graphile.median, 1)}` : ''}`, '>= 0.8x baseline', verdict(b.ratio.median >= 0.8)]);
  }
  if (s) rows.push([`Scheduler: first pass, ${fmt(sizes.schedulerDeployments, 0)} deployments`, `${fmt(s.firstMs.median / 1000, 2)} s (${fmt(s.created, 0)} runs; 2nd pass ${fmt(s.secondMs.median, 0)} ms)`, '', '< 5 s', verdict(s.firstMs.median < 5000)]);
  if (c) {
    const r = c.results;
    if (r.deploymentLs) rows.push([`\`deployment ls\`, ${fmt(sizes.cliDeployments, 0)} deployments (whole process)`, `${fmt(r.deploymentLs.median, 0)} ms`, '', '< 300 ms', verdict(r.deploymentLs.median < 300)]);
    if (r.flowRunLs) rows.push([`\`flow-run ls --limit 50\`, ${fmt(sizes.cliRuns, 0)} runs (whole process)`, `${fmt(r.flowRunLs.median, 0)} ms`, '', '< 300 ms', verdict(r.flowRunLs.median < 300)]);
    if (r.gclInspect) rows.push(['`gcl inspect` (whole process)', `${fmt(r.gclInspect.median, 0)} ms`, '', '', '—']);
  }
  if (k?.['4']) {
    const w = k['4'];
    rows.push(['Contention, 4 worker processes: transitions/s; worst lock wait', `${fmt(w.transitionsPerSecond.median, 1)}/s; ${fmt(w.waitMax.max, 0)} ms (p99 ${fmt(w.waitP99.median, 1)} ms), ${w.busyErrors} SQLITE_BUSY`, '', '', '—']);
  }
  return { title: 'Headline (medians over repetitions; all systems measured in the same run)', columns: ['figure', 'flowdeck', 'reference (same run unless noted)', 'goal', 'verdict'], rows };
}

function readingAndBounds(report, sizes) {
  const { h, t, s, minute, c, k } = figures(report);
  const reading = [];
  const bounds = [];
  const py = h?.['Python flow'];
  const js = h?.['JavaScript flow'];
  const costs = section(report, 'costs')?.tables?.[0];

  if (py) {
    reading.push(
      `**Handoff.** A freed slot reaches the next queued run in ${fmt(py.p50.median, 1)} ms at the median and ${fmt(py.p99.median, 1)} ms at p99 with Python flows (${fmt(js?.p50.median, 1)} / ${fmt(js?.p99.median, 1)} ms with JavaScript flows): as soon as a run's end is recorded the worker dispatches again (\`Worker.finish\` -> \`wake\`), without waiting for a poll, and of that gap ${fmt(py.spawnP50.median, 1)} ms (median) is spawning the next process and ${fmt(py.orchestrationP50.median, 1)} ms the store work around it. ` +
        `Prefect's worker only looks again at its next poll (10 s by default), so the gap there is seconds, not milliseconds. The run itself (interpreter start-up and the flow) takes ${fmt(py.runMs.median, 0)} ms; that is the process, not the orchestrator.`,
    );
    if (!(py.p50.median <= 20 && py.p99.median <= 100)) {
      bounds.push(
        `**Handoff** (p50 ${fmt(py.p50.median, 1)} ms, p99 ${fmt(py.p99.median, 1)} ms). The gap is finishRun + one dispatch transaction + getRun + getDeploymentById + spawn + startRun, all in one worker tick (src/engine/worker.ts \`finish\` -> \`wake\` -> \`runOnce\` -> \`execute\`). Its tail follows the dispatch transaction, whose cost grows with the backlog (see throughput (a)); the same changes apply.`,
      );
    }
  }

  if (t) {
    const a = t.a;
    const b = t.b;
    const small = a.backlog?.[0];
    reading.push(
      `**Throughput (a), orchestration alone.** flowdeck completed ${fmt(a.flowdeck.median, 0)} runs/s with exactly ${a.maxDep} run per deployment and ${a.maxPool} in the pool, checked both from the worker's transitions and from the state history in commit order. ` +
        (Number.isFinite(a.bestPeer)
          ? `In the same run ${a.bullmq.n ? `BullMQ did ${fmt(a.bullmq.median, 0)} jobs/s` : ''}${a.bullmq.n && a.graphile.n ? ' and ' : ''}${a.graphile.n ? `graphile-worker ${fmt(a.graphile.median, 0)} jobs/s` : ''} with the same no-op job, so flowdeck is at x${fmt(a.flowdeck.median / a.bestPeer, 2)} of the best peer, not the x3 aimed for. `
          : 'No peer ran in this run. ') +
        (small
          ? small.perSecond > 1.5 * a.flowdeck.median
            ? `The rate depends on the backlog: ${a.backlog.map((x) => `${fmt(x.perSecond, 0)} runs/s with ${x.runs} runs queued`).join(', ')}, ${fmt(a.flowdeck.median, 0)} with ${fmt(sizes.throughputRuns, 0)}: the work per dispatch grows with the number of queued runs.`
            : `The rate hardly depends on the backlog (${a.backlog.map((x) => `${fmt(x.perSecond, 0)} runs/s with ${x.runs} queued`).join(', ')}, ${fmt(a.flowdeck.median, 0)} with ${fmt(sizes.throughputRuns, 0)}): a dispatch reads only what can change, so the cost per run is fixed, and that fixed cost is what separates flowdeck from the peers.`
          : ''),
    );
    if (Number.isFinite(a.bestPeer) && a.flowdeck.median < 3 * a.bestPeer) {
      const runs = sizes.throughputRuns;
      const prof = a.profile;
      const wallPerRun = 1000 / a.flowdeck.median;
      const cpuPerRun = a.cpuPerRun?.median;
      const parts = [];
      const changes = [];
      const falls = a.backlog?.length && a.backlog[0].perSecond > 1.5 * a.flowdeck.median;
      if (prof) {
        const top = prof.statements.slice(0, 3).map((st) => `\`${st.sql.slice(0, 60)}…\` (${fmt(st.calls, 0)} calls, ${fmt(st.ms, 0)} ms)`);
        parts.push(`In the SQL-profiled run the worker held SQLite's write lock ${fmt(prof.holdMs, 0)} ms in ${fmt(prof.transactions, 0)} write transactions (${fmt(prof.transactions / runs, 1)} per run), ${fmt((100 * prof.commitMs) / prof.holdMs, 0)} % of it in COMMIT; the heaviest statements were ${top.join('; ')}.`);
        const cand = prof.statements.find((st) => /^SELECT/.test(st.sql) && /state_type = 'SCHEDULED' AND r\.work_pool_name = \?/.test(st.sql));
        const wait = prof.statements.find((st) => st.sql.startsWith('UPDATE flow_run SET waiting_on_json'));
        const prep = prof.statements.find((st) => st.sql === 'prepare()');
        if (cand && (cand.ms > 0.1 * prof.holdMs || falls)) {
          changes.push(`src/store/repositories/dispatch.ts \`dispatchDueRuns\`, the candidate query (${fmt(cand.calls, 0)} calls, ${fmt(cand.ms / cand.calls, 2)} ms each): every dispatch reads and sorts *every* due run of the pool (up to 5,000) and plans all of them, although only each limited deployment's oldest run can start. Read only runs that can be decided: per deployment with a limit its oldest due runs up to the limit (a correlated \`LIMIT\` over flow_run_deployment_state, or \`ROW_NUMBER() OVER (PARTITION BY deployment_id ...)\`), plus runs not yet marked AwaitingConcurrencySlot. The cost per dispatch then follows the number of deployments, not the backlog${falls ? ` (here the rate fell from ${fmt(a.backlog[0].perSecond, 0)} runs/s with ${a.backlog[0].runs} queued to ${fmt(a.flowdeck.median, 0)} with ${runs})` : ''}.`);
        }
        if (wait && wait.calls > 5 * runs) {
          changes.push(`dispatch.ts \`setWaiting\`: the \`UPDATE flow_run SET waiting_on_json\` runs for every waiting run on every dispatch (${fmt(wait.calls, 0)} calls for ${fmt(runs, 0)} runs, ${fmt(wait.ms, 0)} ms), about N²/8 for a backlog of N, even when it changes nothing. Select the current value with the candidates and skip the statement when it is unchanged, or write it only when the run starts waiting.`);
        }
        if (prep && prep.calls > prof.transactions) {
          changes.push(`Statements are compiled again on every call: \`db.prepare()\` ran ${fmt(prep.calls, 0)} times (${fmt(prep.ms, 0)} ms). Cache them per connection (store/db.ts).`);
        }
        changes.push(`Fewer write transactions per run (${fmt(prof.transactions / runs, 1)} now, each with its own COMMIT): engine/worker.ts \`execute\` reads \`getRun\` and \`getDeploymentById\` after the dispatch that claimed the run (the dispatch can return what \`execute\` needs), and \`finish\` could record the end and dispatch the next run in one IMMEDIATE transaction (a \`finishAndDispatch\` store method).`);
      }
      if (Number.isFinite(cpuPerRun) && cpuPerRun < 0.8 * wallPerRun) {
        changes.push(`The worker is idle for ${fmt(100 * (1 - cpuPerRun / wallPerRun), 0)} % of the time (${fmt(cpuPerRun, 2)} ms CPU per run in ${fmt(wallPerRun, 2)} ms): \`Worker.wake\` (engine/worker.ts) schedules the next tick with \`clock.setTimeout(..., 0)\`, which Node runs no sooner than 1 ms later; a zero delay could use \`setImmediate\` (e.g. a \`Clock.defer\`).`);
      }
      bounds.push(
        `**Throughput (a)** (${fmt(a.flowdeck.median, 0)} runs/s; x3 the best peer needs ${fmt(3 * a.bestPeer, 0)}, i.e. at most ${fmt(1000 / (3 * a.bestPeer), 2)} ms of orchestration per run). ${parts.join(' ')}\n` +
          `  What could change, largest effect first:\n` +
          changes.map((c, i) => `  ${i + 1}. ${c}`).join('\n') +
          `\n  Even then, ${fmt(1000 / (3 * a.bestPeer), 2)} ms per run leaves room for about one small WAL transaction per run: reaching x3 would mean recording several runs' transitions per transaction.`,
      );
    }
    reading.push(
      `**Throughput (b), real processes.** With a trivial Python flow flowdeck ran ${fmt(b.flowdeck.median, 1)} runs/s against ${fmt(b.baseline.median, 1)} processes/s for a bare Node script spawning the same process 4 at a time (x${fmt(b.ratio.median, 2)}). ` +
        `${b.graphile.n || b.bullmq.n ? `The peers spawning the same process did ${[b.bullmq.n ? `BullMQ ${fmt(b.bullmq.median, 1)}/s` : '', b.graphile.n ? `graphile-worker ${fmt(b.graphile.median, 1)}/s` : ''].filter(Boolean).join(', ')}. ` : ''}` +
        `${b.ratio.median > 1 ? `A ratio above 1 is measurement noise on a shared machine (the same processes cannot start faster than a bare loop starts them; the repetitions spread ${fmt(b.ratio.min, 2)}–${fmt(b.ratio.max, 2)}). ` : ''}On ${report.machine.cores} cores the interpreter start-up is the limit for everyone${b.floor && !b.floor.error ? ` (\`python -c pass\` alone, 4 at a time: ${fmt(b.floor.perSecond, 1)}/s)` : ''}; orchestration matters only as CPU taken from those processes.`,
    );
    if (b.ratio.median < 0.8) {
      bounds.push(
        `**Throughput (b)** (x${fmt(b.ratio.median, 2)} of the baseline). The flow processes and the worker share ${report.machine.cores} cores: every millisecond of orchestration CPU per run (${fmtSummary(a.cpuPerRun, 2, 'ms')} in (a), growing with the backlog as above) is taken from the Python processes, and the dispatch work of (a) runs while they start. The changes for (a) apply. In runtimes/python/flowdeck_runner.py, importing \`asyncio\` (and the flowdeck package) only when the flow needs it would cut the start-up of every run (section 0 shows the runner against \`python -c pass\`).`,
      );
    }
  }

  if (s) {
    reading.push(
      `**Scheduler.** The first pass over ${fmt(sizes.schedulerDeployments, 0)} deployments with hourly schedules took ${fmt(s.firstMs.median / 1000, 2)} s and created ${fmt(s.created, 0)} runs; the second pass at the same moment took ${fmt(s.secondMs.median, 0)} ms and created ${s.secondCreated} (idempotent).` +
        (minute ? ` With every-minute schedules (61 runs each) it created ${fmt(minute.created, 0)} runs in ${fmt(minute.firstMs.median / 1000, 1)} s, about ${fmt(minute.created / (minute.firstMs.median / 1000), 0)} rows/s, and a single transaction held the write lock for up to ${fmt(minute.longestTx.median, 0)} ms.` : ''),
    );
    if (minute && minute.commitShare > 0.4) {
      bounds.push(
        `**Scheduler inserts** (not a stated goal). With every-minute schedules the first pass wrote ${fmt(minute.created / (minute.firstMs.median / 1000), 0)} runs/s, and COMMIT took ${fmt(100 * minute.commitShare, 0)} % of the time the pass held the write lock (${fmt(minute.transactions, 0)} transactions). A commit writes every page the transaction dirtied, and random keys spread each batch over the whole of every index: flow_run.id is a random UUID (src/store/repositories/flow-runs.ts \`insertRuns\`), and flow_run_state's index starts with it. Time-ordered run ids (UUIDv7 layout) would keep those inserts at the end of the indexes; \`findRunRow\`'s short-id prefix lookup would then have to match the random part of the id.`,
      );
    }
    const worstTx = Math.max(s.longestTx?.median ?? 0, minute?.longestTx?.median ?? 0);
    if (worstTx > 1000) {
      bounds.push(
        `**Scheduler transactions** (not a stated goal, but every other writer waits on them). One transaction of the first pass held the write lock for ${fmt(worstTx, 0)} ms: engine/scheduler.ts \`schedulerPass\` should flush \`insertScheduledRuns\` by rows (a few thousand), not by schedules, so that no transaction approaches a worker's busy timeout (5 s). Each run costs two inserts (flow_run with its secondary indexes and the unique idempotency key, and flow_run_state).`,
      );
    }
  }

  if (c) {
    const r = c.results;
    const bd = (label) => c.breakdown?.find((b) => b.label.startsWith(label));
    const node = r['node -e "" (Node start-up alone)'];
    const ver = r['flowdeck --version (CLI start-up, no database)'];
    reading.push(
      `**Commands.** As whole processes: \`deployment ls\` over ${fmt(sizes.cliDeployments, 0)} deployments ${fmt(r.deploymentLs?.median, 0)} ms, \`flow-run ls --limit 50\` over ${fmt(sizes.cliRuns, 0)} runs ${fmt(r.flowRunLs?.median, 0)} ms, \`gcl inspect\` ${fmt(r.gclInspect?.median, 0)} ms. For scale, Node alone starts in ${fmt(node?.median, 0)} ms and \`flowdeck --version\` (the CLI's modules, no database) takes ${fmt(ver?.median, 0)} ms. ` +
        (c.plans?.some((p) => p.label.startsWith('flow-run ls') && p.fullScan.length)
          ? 'Some list query scans a table (see the plans below).'
          : 'The query plans below show the list queries walking an index (\`flow_run_expected\`, \`flow_run_deployment_state\`), never scanning flow_run.'),
    );
    const dls = bd('deployment ls');
    if (r.deploymentLs && r.deploymentLs.median >= 300) {
      const share = dls ? (100 * dls.categories['table rendering']) / dls.totalMs : NaN;
      bounds.push(
        `**\`deployment ls\`** (${fmt(r.deploymentLs.median, 0)} ms). ${dls ? `${fmt(share, 0)} % of its sampled time is table rendering (src/cli/output/table.ts \`renderTable\`), ${fmt(dls.categories['store queries'], 0)} ms the store query (\`listDeployments\`), ${fmt(dls.categories['module loading'], 0)} ms module loading. ` : ''}${dls && share > 50 ? 'Rendering must be linear in the rows (measure the columns in one pass, pad, join) or paged. ' : ''}${dls && dls.categories['store queries'] > 100 ? 'The store builds a full object per deployment (schedules parsed, times formatted) that the table does not show; a list query selecting only the columns shown would cut it. ' : ''}The rest is process start-up (Node alone ${fmt(node?.median, 0)} ms; \`flowdeck --version\` ${fmt(ver?.median, 0)} ms).`,
      );
    }
    const frl = bd('flow-run ls');
    const listPlan = c.plans?.find((p) => p.label === 'flow-run ls --limit 50' && /FROM flow_run r/.test(p.sql));
    const statePlan = c.plans?.find((p) => p.label === 'flow-run ls --state FAILED' && /FROM flow_run r/.test(p.sql));
    if (r.flowRunLs && r.flowRunLs.median >= 300) {
      bounds.push(
        `**\`flow-run ls --limit 50\`** (${fmt(r.flowRunLs.median, 0)} ms). The query is not the problem${frl ? ` (${fmt(frl.categories['store queries'], 0)} ms in the store, ${fmt(frl.categories['opening the database (+ migrations check)'], 0)} ms opening the database)` : ''}: the process is bound by start-up${frl ? `: ${fmt(frl.categories['module loading'], 0)} ms of sampled time is module loading, ${fmt(frl.categories['table rendering'], 0)} ms rendering 50 rows` : ''}, on top of Node's own ${fmt(node?.median, 0)} ms. The config pipeline and the engine already load lazily (src/cli/commands/deploy.ts, worker.ts); what remains is commander, chalk and better-sqlite3 plus the command modules, and bundling dist into one file would cut most of the module loading.${listPlan?.tempSort ? ' The list query also sorts ties (\`USE TEMP B-TREE FOR LAST TERM OF ORDER BY\`): an index matching its ORDER BY exactly would remove that.' : ''}${statePlan && statePlan.plan.some((d) => /flow_run_expected/.test(d)) ? ' \`--state\` filters walk the time index until 50 rows match (\`state_type = ? OR state_name = ?\` cannot use flow_run_due), which gets slow for a rare state; an index on (state_type, expected_start_time) and a separate branch for state names would fix it.' : ''} Whether 300 ms is reachable depends on the machine's Node start-up, measured above.`,
      );
    }
  }

  if (k?.['4']) {
    const w = k['4'];
    const one = k['1'];
    reading.push(
      `**Contention.** Four real worker processes on one database made ${fmt(w.transitionsPerSecond.median, 1)} state transitions/s (${fmt(w.runsPerSecond.median, 1)} runs/s${one ? `; one worker alone: ${fmt(one.transitionsPerSecond.median, 1)} transitions/s, ${fmt(one.runsPerSecond.median, 1)} runs/s` : ''}), with ${w.busyErrors} SQLITE_BUSY errors and the limits held across processes (max ${w.maxDep} per deployment, ${w.maxPool} in the pool). ` +
        `Waits for the write lock: p99 ${fmt(w.waitP99.median, 1)} ms, worst ${fmt(w.waitMax.max, 0)} ms inside the workers; a separate writer probing every 20 ms waited at worst ${fmt(w.probeMax.max, 0)} ms. The lock is held at most ${fmt(w.holdMax.max, 0)} ms by one transaction${w.worstHold ? `, which used ${fmt(w.worstHold.cpuMs, 1)} ms of CPU meanwhile${w.worstHold.commitMs > w.worstHold.holdMs / 2 ? ` and spent ${fmt(w.worstHold.commitMs, 0)} ms in COMMIT (an automatic WAL checkpoint writing to disk)` : w.worstHold.cpuMs < w.worstHold.holdMs / 3 ? ': its process was mostly off the CPU (descheduled on the oversubscribed cores), so the tail of the waits is set by CPU scheduling rather than by SQLite' : ''}` : ''}. ${w.lockBusy ? `The workers kept the write lock busy ${fmt(w.lockBusy.median, 0)} % of the time${w.lockBusy.median < 50 ? ': the single SQLite writer is far from saturated, and the rate is set by the Python processes' : ''}.` : ''}`,
    );
    if (w.waitMax.max > 100) {
      const offCpu = w.worstHold && w.worstHold.cpuMs < w.worstHold.holdMs / 3;
      bounds.push(
        `**Lock waits under contention** (not a stated goal; worst ${fmt(w.waitMax.max, 0)} ms, p99 ${fmt(w.waitP99.median, 1)} ms${w.lockBusy ? `, with the write lock busy ${fmt(w.lockBusy.median, 0)} % of the time` : ''}). ${offCpu ? `The longest holds used little CPU (${fmt(w.worstHold.cpuMs, 1)} ms in ${fmt(w.worstHold.holdMs, 0)} ms): their process was descheduled while it held the lock, on ${report.machine.cores} cores shared by 4 workers, 4 flow processes and the machine's other load. ` : ''}SQLite's default busy handler sleeps 1, 2, 5, 10 ... up to 100 ms between retries and is unfair, so a waiter can lose several times in a row; that sets the tail. A fair busy handler (retry every 1 ms, via better-sqlite3's \`timeout: 0\` plus a retry loop around \`BEGIN IMMEDIATE\` in store/store.ts \`write\`) would flatten it. With 4 workers each worker also dispatches whenever another one commits (${fmt(w.txPerRun.median, 1)} write transactions per run${one ? ` against ${fmt(one.txPerRun.median, 1)} with one worker` : ''}): ${one ? `sharing one dispatcher per database (or waking only the worker whose pool changed) would cut that lock traffic.` : 'sharing one dispatcher per database would cut that lock traffic.'}`,
      );
    }
  }
  return { reading, bounds };
}

export function renderResults(report, { headline, markdownTable, sizes, reps }) {
  const m = report.machine;
  const out = [];
  out.push('# flowdeck benchmark results', '');
  out.push(`Generated by \`npm run bench${report.quick ? ' -- --quick' : ''}\` (${report.quick ? 'quick' : 'full'} mode) on ${m.date.slice(0, 10)} (${m.date}); the whole run took ${fmt(report.totalSeconds / 60, 1)} min. Benchmarks are never CI gates.`, '');
  out.push('## Machine', '');
  out.push(
    markdownTable({
      columns: ['item', 'value'],
      rows: [
        ['CPU', m.cpu],
        ['cores', String(m.cores)],
        ['memory', m.memory],
        ['OS', m.os],
        ['temporary directories', m.tmpFs],
        ['Node.js', m.node],
        ['Python (runs the flows)', `${m.python}; ${report.python.why}`],
        ['SQLite', m.sqlite],
        ['flowdeck', m.flowdeck],
        ['PostgreSQL (graphile-worker)', report.peers.postgres.version ? `${report.peers.postgres.version}; ${report.peers.postgres.settings}; loopback, temporary data directory` : `not run: ${report.peers.postgres.skip}`],
        ['Redis (BullMQ)', report.peers.redis.version ? `${report.peers.redis.version}; ${report.peers.redis.settings}; loopback, temporary directory` : `not run: ${report.peers.redis.skip}`],
        ['peers', `graphile-worker ${report.peers.versions.graphile} (pollInterval ${report.peers.graphilePollMs} ms, localQueue off), bullmq ${report.peers.versions.bullmq} (the npm registry's latest major when written: 6), from bench/peers/package-lock.json`],
        ['load average at start (1/5/15 min)', m.loadavg],
      ],
    }),
    '',
  );
  const loads = Object.entries(report.scenarioMeta).map(([k, v]) => `${k} ${fmt(v.load.mean, 1)} (max ${fmt(v.load.max, 1)}, ${fmt(v.seconds, 0)} s)`);
  out.push(`1-minute load average during each scenario (mean, max, duration): ${loads.join('; ')}. On ${m.cores} cores a load above ${m.cores} means other processes were competing for the CPU: this machine is shared, and process-bound figures move with it. Repetitions of different systems are interleaved so that they see the same load.`, '');
  out.push(`Sizes: handoff ${sizes.handoffRuns} Python runs ×${reps.handoff}, ${sizes.handoffJsRuns} JavaScript runs ×${reps.handoffJs}; throughput (a) ${sizes.throughputRuns} runs ×${reps.throughputA}; (b) ${sizes.processRuns} runs ×${reps.throughputB}; scheduler ${fmt(sizes.schedulerDeployments, 0)} deployments ×${reps.scheduler}; commands ${fmt(sizes.cliDeployments, 0)} deployments / ${fmt(sizes.cliRuns, 0)} runs, ${reps.cli} timed runs each (${reps.cliSlow} for commands slower than 3 s); contention ${sizes.contentionRuns} runs ×${reps.contention}. Cells read "median (min–max, n=repetitions)".`, '');

  out.push('## Headline', '', markdownTable(headline), '');

  const { reading, bounds } = readingAndBounds(report, sizes);
  out.push('## Reading', '');
  for (const r of reading) out.push(r, '');
  if (bounds.length) {
    out.push('## Goals missed: what bounds them, and what in the engine could change', '');
    out.push('Measured in this run (profiles: bench/lib/sql-profile.mjs for SQLite statements and transactions, `node --cpu-prof` for CLI processes). No engine source was changed by the benchmark.', '');
    for (const b of bounds) out.push(`- ${b}`, '');
  }

  out.push('## All figures', '');
  for (const sec of report.sections) {
    if (sec.error) {
      out.push(`### ${sec.key}`, '', `Failed: ${sec.error}`, '');
      continue;
    }
    for (const t of sec.tables ?? []) {
      out.push(`### ${t.title}`, '', markdownTable(t), '');
      for (const n of t.notes ?? []) out.push(`- ${n}`);
      if (t.notes?.length) out.push('');
    }
    if (sec.plans) {
      out.push('### 5(c). EXPLAIN QUERY PLAN of the hot queries', '');
      out.push(`Captured from the statements each store call actually ran, explained with the same arguments on the ${fmt(sizes.cliRuns, 0)}-run database.`, '');
      out.push('```', plansText(sec.plans), '```', '');
    }
  }
  out.push('## Method', '');
  out.push(
    '- Everything runs in one `npm run bench` process tree on this machine: flowdeck in process (scenarios 1–4) or as CLI processes (5–6), the peers in their own Node processes against a PostgreSQL and a Redis started by the benchmark on 127.0.0.1 in temporary directories and stopped at the end.',
    "- flowdeck's engine is used through its own API (`SqliteStore`, `Worker`, `ProcessRunner`, `schedulerPass`) from `dist/`; the in-process runner of 2(a) implements the `Runner` interface and completes each run on the next event-loop turn. The peers' no-op job also completes on the next turn, and their job (b) spawns the exact command flowdeck spawns.",
    '- The engine runs on a clock with sub-millisecond `now()` in scenarios 1–2 so that recorded start/end times resolve the handoff gap.',
    '- Concurrency is checked from transitions: the worker\'s events (Running → final) and the state history replayed in commit order (flow_run_state ids; PENDING claim → final). For peers, jobs in flight are counted inside the job body.',
    '- Lock waits (6): a module preloaded into each CLI worker with `NODE_OPTIONS=--import` wraps better-sqlite3\'s `transaction()` and times BEGIN IMMEDIATE (the wait for the write lock, busy-handler sleeps included) and the time until COMMIT returns (the hold); plus an outside probe writer.',
    '- Runs for 5 are bulk-inserted into `flow_run` with better-sqlite3 in one transaction (indexes dropped and re-created from their own definitions during the load).',
    '',
  );
  return `${out.join('\n')}\n`;
}
