// The soak scenario (issue 15, target 4): one long step at a fixed rate, twice
// the sustainable rate when it is known, with the RSS of every process of the
// deployment sampled every 10 s. Memory must stay flat after warm-up while the
// excess is answered 429/503 with Retry-After.
//
// The generator sends its answer counts every 10 s of sending and once more
// when every request is answered (a `progress` message); each one is the
// sampling tick, so a window's accepted rate and the RSS read with it cover the
// same time, and the windows add up to the step.
//
// chdb's share: chdb runs inside the embedded collector (and is the
// ClickHouse server process in Kafka mode). The embedded collector's /metrics
// has the memory the engine tracks (consentry_engine_memory_bytes: caches,
// parts being written or merged, queries), sampled with the RSS; and the
// resident pages of libchdb.so (/proc/<pid>/smaps), its code, are reported
// apart, beside each process's anonymous share.
import type { StatusCounts, StepProgress } from './generator-protocol.ts';
import { mappedRssMb, memory, type Child } from './procs.ts';
import type { PromSamples } from './deployments.ts';

/** Progress and RSS samples, ms of sending apart. */
export const SOAK_SAMPLE_MS = 10_000;
/** Fitted RSS growth from warm-up to the end above which a process fails the soak, percent. */
export const SOAK_MAX_GROWTH_PCT = 10;
/** The file whose resident pages are chdb's code. */
const CHDB_LIBRARY = 'libchdb.so';

export interface SoakSample {
  /** Seconds since the step started sending. */
  tS: number;
  /** Spans accepted (2xx) per second since the previous sample. */
  acceptedPerS: number;
  /** Answers since the previous sample. */
  requests: StatusCounts;
  /** Per process, MB: RSS, its anonymous pages, and the resident pages of libchdb.so for a process that maps it. */
  rssMb: Record<string, number>;
  anonMb: Record<string, number>;
  chdbLibMb: Record<string, number>;
  /** Memory the collector's embedded engine tracks, MB (its /metrics), when it has one. */
  engineMb?: number;
}

export interface SoakProcess {
  name: string;
  /** RSS at the warm-up sample and at the last one, MB. */
  warmupMb: number;
  endMb: number;
  /**
   * Growth from warm-up to the end along the least-squares line through every
   * sample of that span, MB and percent of the line's value at warm-up: two
   * samples alone would judge where the sawtooth of garbage collection and
   * merges happens to be at those two moments.
   */
  growthMb: number;
  growthPct: number;
  /** That line's slope, MB per minute. */
  slopeMbPerMin: number;
  /** Largest RSS of the step (VmHWM, or the largest sample if larger), MB. */
  peakMb: number;
}

export interface SoakFigures {
  /** Where the rate came from, for the report. */
  rateSource: string;
  samples: SoakSample[];
  /** Seconds of sending after which RSS counts as warmed up: 120, or a quarter of a shorter run. */
  warmupS: number;
  processes: SoakProcess[];
}

const zero = (): StatusCounts => ({ '2xx': 0, '429': 0, '503': 0, other: 0 });

function sample(procs: readonly Child[], chdbHosts: Set<string>): Pick<SoakSample, 'rssMb' | 'anonMb' | 'chdbLibMb'> {
  const out: Pick<SoakSample, 'rssMb' | 'anonMb' | 'chdbLibMb'> = { rssMb: {}, anonMb: {}, chdbLibMb: {} };
  for (const p of procs) {
    const m = memory(p.pid);
    out.rssMb[p.name] = m?.rssMb ?? NaN;
    out.anonMb[p.name] = m?.anonMb ?? NaN;
    if (!chdbHosts.has(p.name)) continue;
    const lib = mappedRssMb(p.pid, CHDB_LIBRARY);
    if (lib !== undefined) out.chdbLibMb[p.name] = lib;
  }
  return out;
}

function progressLine(x: SoakSample): string {
  const n = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '?');
  const rss = Object.keys(x.rssMb)
    .map((name) => {
      const lib = x.chdbLibMb[name];
      return `${name} ${n(x.rssMb[name]!)} (anon ${n(x.anonMb[name]!)}${lib === undefined ? '' : `, ${CHDB_LIBRARY} ${n(lib)}`})`;
    })
    .join(', ');
  const engine = x.engineMb === undefined ? '' : ` | engine tracks ${n(x.engineMb)} MB`;
  return `${String(Math.round(x.tS)).padStart(4)} s: accepted ${n(x.acceptedPerS)} spans/s | 2xx ${x.requests['2xx']} 429 ${x.requests['429']} 503 ${x.requests['503']} other ${x.requests.other} | RSS MB ${rss}${engine}`;
}

/** The engine memory of a collector's /metrics, MB; undefined without an embedded engine. */
export function engineTrackedMb(m: PromSamples): number | undefined {
  const bytes = m.get('consentry_engine_memory_bytes');
  return bytes === undefined ? undefined : bytes / 2 ** 20;
}

/** How often the engine's memory is read from the collector's /metrics, ms (a sample takes the latest). */
const ENGINE_READ_MS = 2_000;

/**
 * Samples RSS at each generator progress message and prints a line; the first
 * sample is taken now (0 s). `engineMb` reads the collector's embedded engine
 * memory (undefined: none).
 */
export function startSoakSampler(opts: { procs: readonly Child[]; rateSource: string; log: (line: string) => void; engineMb?: () => Promise<number | undefined> }): {
  onProgress: (p: StepProgress) => void;
  figures: (durationS: number, peakMb: Record<string, number>) => SoakFigures;
} {
  let engineMb: number | undefined;
  const readEngine = (): void => void opts.engineMb?.().then((mb) => (engineMb = mb), () => undefined);
  readEngine();
  const engineTimer = opts.engineMb === undefined ? undefined : setInterval(readEngine, ENGINE_READ_MS).unref();
  // Only processes that map libchdb.so at the start have their smaps read later (a JVM's is long).
  const chdbHosts = new Set(opts.procs.filter((p) => mappedRssMb(p.pid, CHDB_LIBRARY) !== undefined).map((p) => p.name));
  const samples: SoakSample[] = [{ tS: 0, acceptedPerS: 0, requests: zero(), ...sample(opts.procs, chdbHosts) }];
  let last: StepProgress = { elapsedMs: 0, requests: zero(), spans: zero(), refusedWithoutRetryAfter: 0 };
  return {
    onProgress: (p) => {
      const windowS = (p.elapsedMs - last.elapsedMs) / 1000;
      const requests = zero();
      for (const k of Object.keys(requests) as (keyof StatusCounts)[]) requests[k] = p.requests[k] - last.requests[k];
      const x: SoakSample = { tS: p.elapsedMs / 1000, acceptedPerS: windowS > 0 ? (p.spans['2xx'] - last.spans['2xx']) / windowS : 0, requests, ...sample(opts.procs, chdbHosts), ...(engineMb === undefined ? {} : { engineMb }) };
      last = p;
      samples.push(x);
      opts.log(progressLine(x));
    },
    figures: (durationS, peakMb) => {
      clearInterval(engineTimer);
      return summarizeSoak(samples, durationS, peakMb, opts.rateSource);
    },
  };
}

/** Least-squares line of y over x (NaN without two distinct x). */
function fitLine(points: { x: number; y: number }[]): { slope: number; at: (x: number) => number } {
  const ok = points.filter((p) => Number.isFinite(p.y));
  const mx = ok.reduce((s, p) => s + p.x, 0) / ok.length;
  const my = ok.reduce((s, p) => s + p.y, 0) / ok.length;
  const sxx = ok.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const slope = ok.length < 2 || sxx === 0 ? NaN : ok.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
  return { slope, at: (x) => my + slope * (x - mx) };
}

/** Growth per process from the warm-up sample to the last one, fitted. */
export function summarizeSoak(samples: SoakSample[], durationS: number, peakMb: Record<string, number>, rateSource: string): SoakFigures {
  const warmTarget = Math.min(120, durationS / 4);
  const warm = samples.find((x) => x.tS >= warmTarget) ?? samples[samples.length - 1]!;
  const end = samples[samples.length - 1]!;
  const after = samples.filter((x) => x.tS >= warm.tS);
  const processes = Object.keys(samples[0]?.rssMb ?? {}).map((name): SoakProcess => {
    const warmupMb = warm.rssMb[name] ?? NaN;
    const endMb = end.rssMb[name] ?? NaN;
    const peak = Math.max(...[peakMb[name] ?? NaN, ...samples.map((x) => x.rssMb[name] ?? NaN)].filter(Number.isFinite));
    const line = fitLine(after.map((x) => ({ x: x.tS / 60, y: x.rssMb[name] ?? NaN })));
    const growthMb = line.slope * ((end.tS - warm.tS) / 60);
    return {
      name,
      warmupMb,
      endMb,
      growthMb,
      growthPct: (growthMb / line.at(warm.tS / 60)) * 100,
      slopeMbPerMin: line.slope,
      peakMb: Number.isFinite(peak) ? peak : NaN,
    };
  });
  return { rateSource, samples, warmupS: warm.tS, processes };
}

/** Why a soak step fails (empty: it passes): a process grew, or a request was not answered 2xx or 429/503 with Retry-After. */
export function judgeSoak(
  s: { requests: StatusCounts; skippedRequests: number; refusedWithoutRetryAfter: number; settled: boolean },
  f: SoakFigures,
): string[] {
  const why: string[] = [];
  for (const p of f.processes) {
    if (!(p.growthPct <= SOAK_MAX_GROWTH_PCT)) {
      why.push(`${p.name} grew ${Math.round(p.growthPct)}% (${p.slopeMbPerMin.toFixed(1)} MB/min fitted from ${Math.round(f.warmupS)} s to the end, ${Math.round(p.growthMb)} MB; samples ${Math.round(p.warmupMb)} -> ${Math.round(p.endMb)} MB)`);
    }
  }
  if (s.requests.other > 0) why.push(`${s.requests.other} requests not answered 2xx/429/503 (errors, timeouts)`);
  if (s.refusedWithoutRetryAfter > 0) why.push(`${s.refusedWithoutRetryAfter} 429/503 answers without Retry-After`);
  if (s.skippedRequests > 0) why.push(`${s.skippedRequests} requests not sent: the generator's limit of unanswered requests was reached (answers held back)`);
  if (!s.settled) why.push('pipeline did not settle after the step');
  return why;
}
