// The bench harness: for each scenario, start a deployment (bench/deployments.ts),
// create tenants, start the generator process (bench/generator.ts), run load
// steps and measure each from outside:
//
// - offered / accepted spans per second and request outcomes: the generator;
// - rows stored per second: the deployment's row counters over the sending window;
// - ack latency: the generator (due time -> answer);
// - ingest-to-queryable lag: marker spans (bench/otlp-batches.ts), looked up by
//   SQL every 100 ms, or their ack in embedded mode without a query API;
// - CPU seconds per million accepted spans and cores used: /proc/<pid>/stat of
//   each process, from the step's start until the pipeline settled;
// - peak RSS: /proc/<pid>/status VmHWM, reset at the step's start;
// - CPU used by processes outside the bench during the step (other engineers'
//   tests on a shared machine): /proc/stat busy time minus ours.
//
// A saturation search doubles the rate while a step passes, then bisects
// (geometric mean) between the best pass and the first failure.
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus, totalmem, loadavg } from 'node:os';
import { join } from 'node:path';
import { GeneratorClient } from './generator-client.ts';
import type { GeneratorConfig, MarkerEvent, Percentiles, PoolStats, StatusCounts, StepResult } from './generator-protocol.ts';
import { kafkaAvailability, MARKER_COLUMN, POLL_MS, promSum, startEmbedded, startKafkaDeployment, type Deployment, type LagMethod, type PromSamples, type TenantKeys } from './deployments.ts';
import { MARKER_PREFIX } from './otlp-batches.ts';
import { cpuSeconds, mainThreadCpuSeconds, memory, Processes, resetPeakRss, threadCpuSeconds, ticksPerSecond } from './procs.ts';
import { catalogue, selectScenarios, type Scenario } from './scenarios.ts';
import { percentiles } from './stats.ts';
import { formatSummary, summarizeProfile, type CpuProfile, type ProfileSummary } from './profile-summary.ts';
import { seedSpans, startNeighborLoad, type NeighborFigures } from './neighbor.ts';
import { engineTrackedMb, judgeSoak, SOAK_SAMPLE_MS, startSoakSampler, type SoakFigures } from './soak.ts';

export interface BenchOptions {
  repoDir: string;
  /** Seconds per step, small rates, few steps. */
  quick: boolean;
  /** Scenario names or prefixes; default: all (quick: QUICK_DEFAULT). */
  scenarios?: string[];
  /** Seconds of load per step; default 10 (quick: 2); a soak's one step: default 600 (quick: 30). */
  durationS?: number;
  /** A fixed rate instead of a search, spans/s (overload: twice it; soak: it, not twice). */
  rate?: number;
  /** Start the collector with --cpu-prof and summarise the profile. */
  profile: boolean;
  /** Where profiles and scratch logs go. */
  outDir: string;
  seed: number;
  /** p99 ack latency a sustainable step may not exceed, ms. */
  maxP99Ms: number;
  /** Steps of a saturation search, at most; default 8 (quick: 2). */
  maxSteps?: number;
  /** Keep the scenario's scratch folder (data, logs). */
  keep?: boolean;
  /** CONSENTRY_* settings for the collector and sink (`--set`), over the deployment's own. */
  settings?: Record<string, string>;
  /** Node.js flags for the collector and sink (`--node-flag`), after `npm start`'s. */
  nodeFlags?: string[];
  log: (line: string) => void;
  /** Aborted: stop after the current step and report what was measured. */
  signal?: AbortSignal;
}

export interface ProcessFigures {
  name: string;
  pid: number;
  /** CPU seconds from the step's start until the pipeline settled. */
  cpuS: number;
  cpuSecondsPerMillionSpans: number;
  /** Mean cores used over that window. */
  cores: number;
  /** Of cpuS, the main thread's (JavaScript, for Node); the rest is other threads (chdb, libuv pool, GC helpers, JVM). */
  mainThreadCpuS: number;
  /** CPU seconds by thread name (digits folded to #), largest first, top 8: which pool spends the CPU. */
  threads: { name: string; cpuS: number }[];
  /** Peak RSS in the step (VmHWM reset at its start), MB; lifetime peak when the reset was refused. */
  peakRssMb: number;
  peakRssScope: 'step' | 'lifetime';
  rssStartMb: number;
  rssEndMb: number;
}

export interface LagFigures {
  method: LagMethod;
  p50: number;
  p99: number;
  max: number;
  /** Markers measured. */
  n: number;
  /** Markers accepted (2xx) but never seen within the wait. */
  missing: number;
  /** The same markers' ack latency (due -> 200), ms: in embedded mode the time to durable. */
  ackP50: number;
  ackP99: number;
}

export interface CollectorFigures {
  /** Largest consentry_inflight_bytes seen, MB (the receiver answers 429 above CONSENTRY_MAX_INFLIGHT_BYTES). */
  maxInflightMb: number;
  /** Largest event-loop delay seen (prom-client's monitorEventLoopDelay max per scrape), ms. */
  maxEventLoopLagMs: number;
  /** Largest V8 heap used seen, MB. */
  maxHeapUsedMb: number;
  /** ClickHouse inserts during the step, per table: count, rows, seconds spent, failures. */
  inserts: Record<string, { count: number; rows: number; seconds: number; errors: number }>;
}

export interface StepReport {
  targetRate: number;
  durationS: number;
  offeredSpansPerS: number;
  acceptedSpansPerS: number;
  offeredSpans: number;
  acceptedSpans: number;
  sentRequests: number;
  skippedRequests: number;
  skippedSpans: number;
  requests: StatusCounts;
  /** 429/503 answers without a Retry-After header (OTLP/HTTP only). */
  refusedWithoutRetryAfter: number;
  /** Rows written per table during the sending window (and after the pipeline settled). */
  rowsStoredPerS: number;
  rowsInWindow: Record<string, number>;
  rowsAfterSettle: Record<string, number>;
  /**
   * What the step added as seen through SQL after it settled (query API or
   * server): `spans` rows in otel_traces and requests `summarized` into
   * request_summaries (sum(Requests)). With every accepted span stored exactly
   * once, spans (full tenants) + summarized (summary tenants) = accepted spans
   * of those tenants. Absent without SQL access.
   */
  queryable?: { spans: number; summarized: number };
  ackLatencyMs: Percentiles;
  /** null: no tenant of this step is on a tier that stores something per request. */
  lagMs: LagFigures | null;
  processes: ProcessFigures[];
  generator: { cpuS: number; cpuSecondsPerMillionSpans: number; cores: number; sendLatenessP99Ms: number; maxRssMb: number };
  /** Cores used by processes outside the bench during the step (shared machine). */
  foreignCores: number;
  loadAverage1m: number;
  /** Seconds from the end of sending to the pipeline settled. */
  settleS: number;
  settled: boolean;
  /** The collector's own view, from GET /metrics sampled every 500 ms and its deltas over the step. */
  collector: CollectorFigures;
  /** RSS samples every 250 ms, MB per process (overload steps only). */
  rssSeries?: { tS: number; mb: Record<string, number> }[];
  /** Neighbor scenarios: what tenant B saw, and tenant A's heavy queries. */
  neighbor?: NeighborFigures;
  /** Soak scenarios: RSS every 10 s and its growth after warm-up. */
  soak?: SoakFigures;
  pass: boolean;
  failReasons: string[];
}

export interface ScenarioReport {
  name: string;
  description: string;
  deployment: Scenario['deployment'];
  kind: Scenario['kind'];
  generator: Scenario['generator'];
  tiers: string[];
  batchSize: number;
  status: 'ok' | 'not-available' | 'error';
  reason?: string;
  pool?: PoolStats;
  lagMethod?: string;
  rowsMethod?: string;
  /** Saturation: the highest passing rate; overload and soak: the rate that was doubled (soak: when known). */
  sustainableRate?: number;
  /** The step the summary table shows: best passing (saturation), the overload, soak or fixed step. */
  result?: StepReport;
  steps: StepReport[];
  profile?: { file: string; summary: ProfileSummary; text: string };
  elapsedS: number;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; loadAverageAtStart: number[] };
  options: { quick: boolean; durationS: number; maxP99Ms: number; seed: number; profile: boolean; rate?: number };
  scenarios: ScenarioReport[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Busy and total jiffies of the whole machine (/proc/stat). */
function machineTicks(): { busy: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle };
  } catch {
    return { busy: NaN };
  }
}

/** Rates rounded to two significant digits, so steps read well. */
function niceRate(r: number): number {
  const mag = Math.pow(10, Math.max(0, Math.floor(Math.log10(r)) - 1));
  return Math.max(100, Math.round(r / mag) * mag);
}

/** Follows marker spans until they are visible (SQL) or acknowledged (ack method). */
class LagTracker {
  private readonly pending = new Map<string, MarkerEvent>();
  private readonly lags: number[] = [];
  private readonly acks: number[] = [];
  private missing = 0;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private lastError = '';

  constructor(
    private readonly d: Deployment,
    private readonly tenants: Map<string, TenantKeys>,
  ) {}

  /** Whether any tenant's tier makes markers visible. */
  get applicable(): boolean {
    for (const t of this.tenants.values()) if (MARKER_COLUMN[t.tier] !== undefined) return true;
    return false;
  }

  onMarker = (m: MarkerEvent): void => {
    if (MARKER_COLUMN[m.tier] === undefined) return;
    const sql = this.d.lag.visible !== undefined;
    if (m.ackAtMs === 0) {
      if (sql) this.pending.set(m.id, m);
      return;
    }
    const ok = m.status >= 200 && m.status < 300;
    if (ok) this.acks.push(m.ackAtMs - m.sentAtMs);
    if (!sql) {
      if (ok) this.lags.push(m.ackAtMs - m.sentAtMs);
      return;
    }
    // Not accepted: it will never be visible; do not wait for it.
    if (!ok) this.pending.delete(m.id);
  };

  start(): void {
    if (this.d.lag.visible === undefined) return;
    const visible = this.d.lag.visible.bind(this.d.lag);
    this.polling = (async () => {
      while (!this.stopped) {
        const byTenant = new Map<string, string[]>();
        for (const m of this.pending.values()) byTenant.set(m.tenantId, [...(byTenant.get(m.tenantId) ?? []), m.id]);
        for (const [tenantId, ids] of byTenant) {
          const t = this.tenants.get(tenantId);
          if (t === undefined) continue;
          try {
            const seen = await visible(t, ids);
            const now = Date.now();
            for (const id of seen) {
              const m = this.pending.get(id);
              if (m === undefined) continue;
              this.pending.delete(id);
              this.lags.push(now - m.sentAtMs);
            }
          } catch (err) {
            this.lastError = (err as Error).message;
          }
        }
        await sleep(POLL_MS);
      }
    })();
  }

  /** Waits up to `timeoutMs` for pending markers, then stops. */
  async finish(timeoutMs: number): Promise<LagFigures | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.polling !== undefined && this.pending.size > 0 && Date.now() < deadline) await sleep(50);
    this.stopped = true;
    await this.polling;
    this.missing = this.pending.size;
    if (!this.applicable) return null;
    const p = percentiles(this.lags);
    const a = percentiles(this.acks);
    return { method: this.d.lag.method, p50: p.p50, p99: p.p99, max: p.max, n: p.n, missing: this.missing, ackP50: a.p50, ackP99: a.p99 };
  }

  get error(): string {
    return this.lastError;
  }
}

interface ScenarioRun {
  scenario: Scenario;
  deployment: Deployment;
  tenants: TenantKeys[];
  gen: GeneratorClient;
  opts: BenchOptions;
  durationS: number;
  t0: number;
}

interface StepExtras {
  /** RSS every 250 ms into `rssSeries` (overload). */
  series?: boolean;
  /** Load beside the generator's, for the step (neighbor). */
  beside?: () => { stop(): Promise<NeighborFigures> };
  /** RSS and answers every 10 s of sending, judged by growth instead of by `judge` (soak). */
  soak?: ReturnType<typeof startSoakSampler>;
}

async function runStep(run: ScenarioRun, rate: number, durationS: number, opts: StepExtras = {}): Promise<StepReport> {
  const { deployment: d, gen } = run;
  const procs = d.measured;
  const tenantMap = new Map(run.tenants.map((t) => [t.id, t]));
  const lag = new LagTracker(d, tenantMap);
  const rows0 = await d.rowsStored(run.tenants);
  const q0 = await countQueryable(d, run.tenants);
  const peakScope = procs.map((p) => (resetPeakRss(p.pid) ? 'step' : 'lifetime'));
  const cpu0 = procs.map((p) => cpuSeconds(p.pid) ?? NaN);
  const main0 = procs.map((p) => mainThreadCpuSeconds(p.pid) ?? NaN);
  const threads0 = procs.map((p) => threadCpuSeconds(p.pid));
  const rss0 = procs.map((p) => memory(p.pid)?.rssMb ?? NaN);
  const machine0 = machineTicks();
  const self0 = process.cpuUsage();
  const genCpu0 = cpuSeconds(gen.child.pid) ?? NaN;
  const load = loadavg()[0] ?? 0;
  const started = performance.now();
  const series: { tS: number; mb: Record<string, number> }[] = [];
  const sampler = opts.series
    ? setInterval(() => {
        const mb: Record<string, number> = {};
        for (const p of procs) mb[p.name] = Math.round(memory(p.pid)?.rssMb ?? NaN);
        series.push({ tS: Math.round(performance.now() - started) / 1000, mb });
      }, 250)
    : undefined;
  const m0 = await d.metrics().catch(() => undefined);
  const cf: CollectorFigures = { maxInflightMb: 0, maxEventLoopLagMs: 0, maxHeapUsedMb: 0, inserts: {} };
  const observe = (m: PromSamples): void => {
    cf.maxInflightMb = Math.max(cf.maxInflightMb, promSum(m, 'consentry_inflight_bytes') / 2 ** 20);
    cf.maxEventLoopLagMs = Math.max(cf.maxEventLoopLagMs, promSum(m, 'consentry_process_nodejs_eventloop_lag_max_seconds') * 1000);
    cf.maxHeapUsedMb = Math.max(cf.maxHeapUsedMb, promSum(m, 'consentry_process_nodejs_heap_size_used_bytes') / 2 ** 20);
  };
  let scraping = false;
  const scraper = setInterval(() => {
    if (scraping) return;
    scraping = true;
    void d
      .metrics()
      .then(observe, () => undefined)
      .finally(() => (scraping = false));
  }, 500);
  let rowsAtSent: Promise<Record<string, number>> | undefined;
  let sentAt = 0;
  lag.start();
  const beside = opts.beside?.();
  let neighbor: NeighborFigures | undefined;
  let result: StepResult;
  try {
    result = await gen.step(
      { rate, durationS, ...(opts.soak === undefined ? {} : { progressEveryMs: SOAK_SAMPLE_MS }) },
      {
        onMarker: lag.onMarker,
        onProgress: opts.soak?.onProgress,
        onSent: () => {
          sentAt = performance.now();
          rowsAtSent = d.rowsStored(run.tenants);
        },
      },
    );
  } finally {
    if (sampler !== undefined) clearInterval(sampler);
    clearInterval(scraper);
    neighbor = await beside?.stop();
  }
  const rows1 = (await rowsAtSent) ?? (await d.rowsStored(run.tenants));
  const settled = await d.settle(run.opts.quick ? 20_000 : 60_000);
  const settleS = (performance.now() - (sentAt || performance.now())) / 1000;
  const lagFigures = await lag.finish(run.opts.quick ? 5_000 : 10_000);
  const elapsedS = (performance.now() - started) / 1000;
  const rows2 = await d.rowsStored(run.tenants);
  const q1 = await countQueryable(d, run.tenants);
  const m1 = await d.metrics().catch(() => undefined);
  if (m1 !== undefined) observe(m1);
  if (m0 !== undefined && m1 !== undefined) {
    for (const table of ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata']) {
      const dm = (name: string, labels: Record<string, string>): number => promSum(m1, name, labels) - promSum(m0, name, labels);
      const count = dm('consentry_insert_rows_count', { table });
      if (count === 0) continue;
      cf.inserts[table] = {
        count,
        rows: dm('consentry_insert_rows_sum', { table }),
        seconds: dm('consentry_insert_duration_seconds_sum', { table }),
        errors: dm('consentry_insert_duration_seconds_count', { table, outcome: 'error' }),
      };
    }
  }
  const machine1 = machineTicks();
  const self1 = process.cpuUsage(self0);
  const genCpu = (cpuSeconds(gen.child.pid) ?? NaN) - genCpu0;

  // Rates over the scheduled sending time (offered spans / duration is then exactly the target rate).
  const windowS = durationS;
  const accepted = result.spans['2xx'];
  const perMillion = (s: number): number => (accepted > 0 ? (s / accepted) * 1e6 : NaN);
  const processes: ProcessFigures[] = procs.map((p, i) => {
    const cpuS = (cpuSeconds(p.pid) ?? NaN) - cpu0[i]!;
    const mem = memory(p.pid);
    return {
      name: p.name,
      pid: p.pid,
      cpuS,
      cpuSecondsPerMillionSpans: perMillion(cpuS),
      cores: cpuS / elapsedS,
      mainThreadCpuS: (mainThreadCpuSeconds(p.pid) ?? NaN) - main0[i]!,
      threads: [...threadCpuSeconds(p.pid).entries()]
        .map(([name, s1]) => ({ name, cpuS: Math.max(0, s1 - (threads0[i]!.get(name) ?? 0)) }))
        .sort((a, b) => b.cpuS - a.cpuS)
        .slice(0, 8),
      peakRssMb: mem?.peakMb ?? NaN,
      peakRssScope: peakScope[i]!,
      rssStartMb: rss0[i]!,
      rssEndMb: mem?.rssMb ?? NaN,
    };
  });
  const delta = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const k of Object.keys(b)) out[k] = (b[k] ?? 0) - (a[k] ?? 0);
    return out;
  };
  const rowsInWindow = delta(rows0, rows1);
  const stored = Object.entries(rowsInWindow)
    .filter(([k]) => k !== 'failed_inserts')
    .reduce((s, [, v]) => s + v, 0);
  const oursS = processes.reduce((s, p) => s + (Number.isFinite(p.cpuS) ? p.cpuS : 0), 0) + (Number.isFinite(genCpu) ? genCpu : 0) + (self1.user + self1.system) / 1e6;
  const machineS = (machine1.busy - machine0.busy) / ticksPerSecond();
  const generatorCpuS = result.cpuUserS + result.cpuSystemS;

  const step: StepReport = {
    targetRate: rate,
    durationS,
    offeredSpansPerS: result.offeredSpans / windowS,
    acceptedSpansPerS: accepted / windowS,
    offeredSpans: result.offeredSpans,
    acceptedSpans: accepted,
    sentRequests: result.sentRequests,
    skippedRequests: result.skippedRequests,
    skippedSpans: result.skippedSpans,
    requests: result.requests,
    refusedWithoutRetryAfter: result.refusedWithoutRetryAfter,
    rowsStoredPerS: stored / windowS,
    rowsInWindow,
    rowsAfterSettle: delta(rows0, rows2),
    ...(q0 !== undefined && q1 !== undefined ? { queryable: { spans: q1.spans - q0.spans, summarized: q1.summarized - q0.summarized } } : {}),
    ackLatencyMs: result.ackLatencyMs,
    lagMs: lagFigures,
    processes,
    generator: {
      cpuS: Number.isFinite(genCpu) ? genCpu : generatorCpuS,
      cpuSecondsPerMillionSpans: result.offeredSpans > 0 ? (generatorCpuS / result.offeredSpans) * 1e6 : NaN,
      cores: generatorCpuS / Math.max(0.001, (result.doneAtMs - result.startedAtMs) / 1000),
      sendLatenessP99Ms: result.sendLatenessMs.p99,
      maxRssMb: result.maxRssMb,
    },
    foreignCores: Number.isFinite(machineS) ? Math.max(0, machineS - oursS) / elapsedS : NaN,
    loadAverage1m: load,
    settleS,
    settled,
    collector: cf,
    ...(opts.series ? { rssSeries: series } : {}),
    ...(neighbor === undefined ? {} : { neighbor }),
    pass: false,
    failReasons: [],
  };
  if (opts.soak !== undefined) step.soak = opts.soak.figures(durationS, Object.fromEntries(processes.map((p) => [p.name, p.peakRssMb])));
  step.failReasons = step.soak === undefined ? judge(step, run.opts.maxP99Ms) : judgeSoak(step, step.soak);
  if (lag.error !== '') step.failReasons.push(`lag query failed: ${lag.error}`);
  step.pass = step.failReasons.length === 0;
  return step;
}

/** Spans stored and requests summarized for the tenants, through SQL; undefined without SQL access (or when a query failed). */
async function countQueryable(d: Deployment, tenants: readonly TenantKeys[]): Promise<{ spans: number; summarized: number } | undefined> {
  const sql = d.sql;
  if (sql === undefined) return undefined;
  try {
    const out = { spans: 0, summarized: 0 };
    for (const t of tenants) {
      if (t.tier === 'full') out.spans += await sql.count(t, 'spans');
      if (t.tier === 'summary') out.summarized += await sql.count(t, 'summarized');
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Why a step is not sustainable (empty: it is). */
export function judge(s: StepReport, maxP99Ms: number): string[] {
  const why: string[] = [];
  if (s.requests['429'] > 0) why.push(`${s.requests['429']} answered 429`);
  if (s.requests['503'] > 0) why.push(`${s.requests['503']} answered 503`);
  if (s.requests.other > 0) why.push(`${s.requests.other} other outcomes (errors, timeouts)`);
  if (s.refusedWithoutRetryAfter > 0) why.push(`${s.refusedWithoutRetryAfter} 429/503 answers without Retry-After`);
  if (s.skippedSpans > 0) why.push(`${s.skippedSpans} spans not sent (generator backlog or SDK queue full)`);
  if (s.acceptedSpans < 0.99 * s.offeredSpans) why.push('accepted < 99% of offered');
  if (s.ackLatencyMs.p99 > maxP99Ms) why.push(`ack p99 ${Math.round(s.ackLatencyMs.p99)} ms > ${maxP99Ms} ms`);
  if (s.lagMs !== null && s.lagMs.n > 0 && s.lagMs.p99 > 2000) why.push(`lag p99 ${Math.round(s.lagMs.p99)} ms > 2000 ms`);
  if (s.lagMs !== null && s.lagMs.missing > 0) why.push(`${s.lagMs.missing} marker(s) never seen`);
  if (s.generator.sendLatenessP99Ms > 100) why.push(`generator behind schedule (p99 ${Math.round(s.generator.sendLatenessP99Ms)} ms late)`);
  if (!s.settled) why.push('pipeline did not settle after the step');
  return why;
}

function stepLine(s: StepReport): string {
  const n = (x: number): string => Math.round(x).toLocaleString('en-US');
  const coll = s.processes[0];
  const lag = s.lagMs === null ? 'n/a' : s.lagMs.n === 0 ? 'none seen' : `${n(s.lagMs.p50)}/${n(s.lagMs.p99)} ms`;
  return (
    `offered ${n(s.offeredSpansPerS)}/s accepted ${n(s.acceptedSpansPerS)}/s rows ${n(s.rowsStoredPerS)}/s | ` +
    `2xx ${s.requests['2xx']} 429 ${s.requests['429']} 503 ${s.requests['503']} other ${s.requests.other}${s.skippedRequests > 0 ? ` skipped ${s.skippedRequests}` : ''} | ` +
    `ack p50/p99 ${n(s.ackLatencyMs.p50)}/${n(s.ackLatencyMs.p99)} ms lag ${lag} | ` +
    `${coll === undefined ? '' : `${coll.name} ${coll.cores.toFixed(2)} cores [${coll.threads
        .slice(0, 4)
        .map((t) => `${t.name} ${((t.cpuS / Math.max(1e-9, coll.cpuS)) * 100).toFixed(0)}%`)
        .join(', ')}] ${n(coll.peakRssMb)} MB, `}gen ${s.generator.cores.toFixed(2)} cores, others ${Number.isFinite(s.foreignCores) ? s.foreignCores.toFixed(2) : '?'} cores | ` +
    `inflight max ${n(s.collector.maxInflightMb)} MB, loop lag max ${n(s.collector.maxEventLoopLagMs)} ms, inserts ${Object.entries(s.collector.inserts)
      .map(([t, i]) => `${t} ${i.count}x${n(i.rows / Math.max(1, i.count))} rows ${n((i.seconds / Math.max(1, i.count)) * 1000)} ms`)
      .join(', ') || 'none'}`
  );
}

async function startDeployment(s: Scenario, o: BenchOptions, procs: Processes, workDir: string, profileDir: string | undefined): Promise<Deployment> {
  const dopts = { procs, repoDir: o.repoDir, workDir, cpuProfileDir: profileDir, settings: { ...s.settings, ...o.settings }, nodeFlags: o.nodeFlags ?? [], log: o.log };
  if (s.deployment === 'embedded') return startEmbedded(dopts, MARKER_PREFIX);
  const k = kafkaAvailability(o.repoDir);
  if (!k.ok) throw new Error(k.reason);
  return startKafkaDeployment(dopts, MARKER_PREFIX, k.sinkScript);
}

async function runScenario(s: Scenario, o: BenchOptions, procs: Processes, found: Map<string, number>, elapsed: () => string): Promise<ScenarioReport> {
  const t0 = performance.now();
  const base: ScenarioReport = {
    name: s.name,
    description: s.description,
    deployment: s.deployment,
    kind: s.kind,
    generator: s.generator,
    tiers: s.tiers,
    batchSize: s.batchSize,
    status: 'ok',
    steps: [],
    elapsedS: 0,
  };
  if (s.deployment === 'kafka') {
    const k = kafkaAvailability(o.repoDir);
    if (!k.ok) {
      o.log(`[${elapsed()}] ${s.name}: ${k.reason}`);
      return { ...base, status: 'not-available', reason: k.reason };
    }
  }
  const durationS = o.durationS ?? (o.quick ? 2 : 10);
  const workDir = mkdtempSync(join(tmpdir(), `consentry-bench-${s.name}-`));
  const profileDir = o.profile ? join(o.outDir, 'profiles', s.name) : undefined;
  if (profileDir !== undefined) {
    rmSync(profileDir, { recursive: true, force: true });
    mkdirSync(profileDir, { recursive: true });
  }
  let d: Deployment | undefined;
  let gen: GeneratorClient | undefined;
  let loadFromUs: number | undefined;
  let loadToUs: number | undefined;
  try {
    o.log(`[${elapsed()}] ${s.name}: starting ${s.deployment} deployment${profileDir === undefined ? '' : ' (collector under --cpu-prof)'}`);
    d = await startDeployment(s, o, procs, workDir, profileDir);
    let tenants: TenantKeys[] = [];
    for (const [i, tier] of s.tiers.entries()) tenants.push(await d.createTenant(`bench-${tier}-${i + 1}`, tier));
    // A neighbor scenario's first tenant (A) only queries, over spans of its own; the generator sends for the others (B).
    const querier = s.kind === 'neighbor' ? tenants[0] : undefined;
    if (querier !== undefined) {
      await seedSpans(d.otlpUrl, querier, 300);
      tenants = tenants.slice(1);
    }
    base.lagMethod = `${d.lag.method}: ${d.lag.description}`;
    base.rowsMethod = d.rowsMethod;
    gen = GeneratorClient.start(procs, { cwd: o.repoDir, logFile: join(workDir, 'generator.log') });
    const config: GeneratorConfig = {
      otlpUrl: s.protocol === 'grpc' ? d.otlpGrpcUrl : d.otlpUrl,
      protocol: s.protocol,
      tenants: tenants.map((t) => ({ id: t.id, tier: t.tier, ingestKey: t.ingestKey, bodies: t.tier === 'full' })),
      batchSize: s.batchSize,
      mode: s.generator,
      seed: o.seed,
      poolSpans: o.quick ? 3_000 : 24_000,
      markerIntervalMs: o.quick ? 100 : 200,
      // One marker tenant per tier that stores something per request: few lookups, so polling costs little.
      markerTenants: [...new Map(tenants.filter((t) => MARKER_COLUMN[t.tier] !== undefined).map((t) => [t.tier, t.id])).values()],
      connections: 512,
      maxOutstanding: 512,
      requestTimeoutMs: 60_000,
    };
    const pool = await gen.prepare(config);
    base.pool = pool;
    o.log(
      `[${elapsed()}] ${s.name}: ${tenants.length} tenants (${s.tiers.join(', ')}), ` +
        (s.generator === 'sdk' ? 'OTel SDK generator' : `pool of ${pool.poolSpans.toLocaleString('en-US')} spans, ${(pool.bytesPerSpan / 1000).toFixed(2)} KB/span, built in ${pool.buildSeconds.toFixed(1)} s`) +
        `; lag: ${d.lag.method}`,
    );
    const run: ScenarioRun = { scenario: s, deployment: d, tenants, gen, opts: o, durationS, t0 };
    const pause = (): Promise<void> => sleep(o.quick ? 200 : 1000);
    const step = async (rate: number, label: string, dur = durationS, extras: StepExtras = {}): Promise<StepReport> => {
      loadFromUs ??= Number(process.hrtime.bigint() / 1000n);
      const r = await runStep(run, rate, dur, extras);
      loadToUs = Number(process.hrtime.bigint() / 1000n);
      base.steps.push(r);
      o.log(`[${elapsed()}] ${s.name} ${label} ${r.targetRate.toLocaleString('en-US')} spans/s x ${dur}s: ${stepLine(r)} -> ${r.pass ? 'pass' : `FAIL (${r.failReasons.join('; ')})`}`);
      return r;
    };
    const search = async (): Promise<StepReport | undefined> => {
      const maxSteps = o.maxSteps ?? (o.quick ? 2 : 8);
      let best: StepReport | undefined;
      let failedAt: number | undefined;
      let rate = niceRate(s.startRate);
      for (let i = 1; i <= maxSteps && o.signal?.aborted !== true; i++) {
        const r = await step(rate, `search ${i}/${maxSteps}`);
        if (r.pass && (best === undefined || rate > best.targetRate)) best = r;
        if (!r.pass) failedAt = Math.min(failedAt ?? Infinity, rate);
        const next =
          best === undefined ? rate / 2 : failedAt === undefined ? rate * 2 : Math.sqrt(best.targetRate * failedAt);
        if (best !== undefined && failedAt !== undefined && failedAt / best.targetRate <= 1.15) break;
        if (next < 200 || next > 1_000_000) break;
        rate = niceRate(next);
        if (rate === best?.targetRate || rate === failedAt) break;
        await pause();
      }
      return best;
    };

    if (s.kind === 'neighbor' && querier !== undefined) {
      const b = tenants[tenants.length - 1]!;
      const rate = o.rate ?? s.startRate;
      const dur = Math.max(durationS, o.quick ? 5 : 20);
      await step(rate, 'tenant A quiet', dur, { beside: () => startNeighborLoad({ apiUrl: d!.apiUrl, a: querier, b, phase: 'quiet' }) });
      await pause();
      base.result = await step(rate, 'tenant A querying', dur, { beside: () => startNeighborLoad({ apiUrl: d!.apiUrl, a: querier, b, phase: 'querying' }) });
    } else if (s.kind === 'fixed' || (s.kind === 'saturation' && o.rate !== undefined)) {
      base.result = await step(o.rate ?? s.startRate, 'fixed');
      if (s.kind === 'saturation' && base.result.pass) base.sustainableRate = base.result.targetRate;
    } else if (s.kind === 'soak') {
      // Twice the sustainable rate measured earlier in this run, else the scenario's fixed rate; --rate as given.
      const known = s.baseline === undefined ? undefined : found.get(s.baseline);
      const rate = o.rate ?? (known === undefined ? s.startRate : 2 * known);
      const n = (x: number): string => x.toLocaleString('en-US');
      const rateSource =
        o.rate !== undefined
          ? `${n(rate)} spans/s as given by --rate`
          : known !== undefined
            ? `${n(rate)} spans/s: twice ${n(known)}, the sustainable rate of ${s.baseline} earlier in this run`
            : `${n(rate)} spans/s: the scenario's fixed rate (no sustainable rate of ${s.baseline} measured earlier in this run)`;
      base.sustainableRate = known;
      const dur = o.durationS ?? (o.quick ? 30 : 600);
      o.log(`[${elapsed()}] ${s.name}: soak for ${dur} s at ${rateSource}; RSS every ${SOAK_SAMPLE_MS / 1000} s`);
      const dep = d;
      const soak = startSoakSampler({ procs: dep.measured, rateSource, log: (line) => o.log(`[${elapsed()}] ${s.name} ${line}`), engineMb: () => dep.metrics().then(engineTrackedMb) });
      base.result = await step(rate, 'soak', dur, { soak });
    } else if (s.kind === 'saturation') {
      const best = await search();
      base.result = best ?? base.steps[base.steps.length - 1];
      base.sustainableRate = best?.targetRate;
      if (best !== undefined) found.set(s.name, best.targetRate);
    } else {
      let sustainable = o.rate ?? (s.baseline === undefined ? undefined : found.get(s.baseline));
      if (sustainable === undefined) {
        o.log(`[${elapsed()}] ${s.name}: no sustainable rate known for ${s.baseline ?? 'this tier'}: searching first`);
        sustainable = (await search())?.targetRate ?? niceRate(s.startRate / 4);
        await pause();
      }
      base.sustainableRate = sustainable;
      if (o.signal?.aborted !== true) {
        base.result = await step(2 * sustainable, 'overload (2x sustainable)', o.quick ? durationS : Math.max(durationS, 30), { series: true });
      }
    }
  } catch (err) {
    base.status = 'error';
    base.reason = (err as Error).message;
    o.log(`[${elapsed()}] ${s.name}: ERROR ${base.reason}`);
  } finally {
    await gen?.close().catch(() => undefined);
    await d?.stop().catch((err: unknown) => o.log(`[${elapsed()}] ${s.name}: stopping: ${(err as Error).message}`));
    if (o.keep !== true && base.status === 'ok') rmSync(workDir, { recursive: true, force: true });
    else o.log(`[${elapsed()}] ${s.name}: scratch folder kept: ${workDir}`);
  }
  if (profileDir !== undefined) {
    // One profile per thread, named CPU.<date>.<time>.<pid>.<thread id>.<n>: thread 0 is the event
    // loop; the ingest workers are the threads that ran ingest-worker.ts (tsx's loader has a thread too).
    const texts: string[] = [];
    for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
      const path = join(profileDir, file);
      const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
      const main = /\.\d+\.0\.\d+\.cpuprofile$/.test(file);
      if (!main && !profile.nodes.some((n) => n.callFrame.url.includes('ingest-worker'))) continue;
      const summary = summarizeProfile(profile, { top: 10, fromUs: loadFromUs, toUs: loadToUs, repoDir: o.repoDir });
      const text = formatSummary(summary, `collector profile, ${s.name}, under load, ${main ? 'event loop' : `ingest worker (${file})`}`);
      if (main) {
        texts.unshift(text);
        base.profile = { file: path, summary, text: '' };
      } else texts.push(text);
    }
    if (base.profile === undefined) o.log(`[${elapsed()}] ${s.name}: no .cpuprofile of the main thread in ${profileDir}`);
    else {
      base.profile.text = texts.join('\n');
      o.log(base.profile.text);
    }
  }
  base.elapsedS = (performance.now() - t0) / 1000;
  return base;
}

/** Runs the selected scenarios; progress goes to `log`, one line per step. */
export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const all = catalogue(o.quick);
  const selected = selectScenarios(all, o.scenarios, o.quick);
  if (selected instanceof Error) throw selected;
  const procs = new Processes();
  const started = new Date();
  const loadAtStart = loadavg();
  const t0 = performance.now();
  const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
  const found = new Map<string, number>();
  const reports: ScenarioReport[] = [];
  const onAbort = (): void => void procs.stopAll(5_000);
  o.signal?.addEventListener('abort', onAbort);
  // Last resort if the runner exits without stopping them (process.exit in a signal handler, a crash).
  const onExit = (): void => procs.killAllNow();
  process.once('exit', onExit);
  try {
    o.log(`[${elapsed()}] ${selected.length} scenario(s): ${selected.map((s) => s.name).join(', ')}`);
    for (const s of selected) {
      if (o.signal?.aborted === true) break;
      reports.push(await runScenario(s, o, procs, found, elapsed));
    }
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await procs.stopAll(10_000);
    process.removeListener('exit', onExit);
  }
  return {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    command: '',
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverageAtStart: loadAtStart },
    options: { quick: o.quick, durationS: o.durationS ?? (o.quick ? 2 : 10), maxP99Ms: o.maxP99Ms, seed: o.seed, profile: o.profile, ...(o.rate === undefined ? {} : { rate: o.rate }) },
    scenarios: reports,
  };
}
