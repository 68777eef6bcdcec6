// A short bench run (`--quick`: seconds, small rates, embedded) through the
// real harness: a collector process, tenants made through the API, the
// generator process. Checks that every figure is produced and consistent; no
// performance threshold (DESIGN.md: benchmarks are reported, not asserted).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBench, type BenchReport, type ScenarioReport, type StepReport } from '../../bench/harness.ts';
import { markdown, soakSection, writeReport } from '../../bench/report.ts';
import { catalogue, selectScenarios } from '../../bench/scenarios.ts';
import { judgeSoak, summarizeSoak, type SoakSample } from '../../bench/soak.ts';
import { summarizeProfile, type CpuProfile } from '../../bench/profile-summary.ts';
import { GatewayTraffic, spanAttributes } from '../../bench/traffic.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const outDir = mkdtempSync(join(tmpdir(), 'consentry-bench-test-'));
let report: BenchReport;
const progress: string[] = [];

beforeAll(async () => {
  report = await runBench({
    repoDir: REPO,
    quick: true,
    scenarios: ['embedded-full-b100', 'embedded-summary-overload', 'embedded-full-soak'],
    durationS: 1.5,
    profile: false,
    outDir,
    seed: 7,
    maxP99Ms: 1000,
    maxSteps: 1,
    log: (line) => progress.push(line),
  });
}, 150_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const finite = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);

function checkStep(s: ScenarioReport, step: StepReport): void {
  const where = `${s.name} at ${step.targetRate}/s`;
  for (const [k, v] of Object.entries({
    offeredSpansPerS: step.offeredSpansPerS,
    acceptedSpansPerS: step.acceptedSpansPerS,
    rowsStoredPerS: step.rowsStoredPerS,
    ackP50: step.ackLatencyMs.p50,
    ackP99: step.ackLatencyMs.p99,
    generatorCpuS: step.generator.cpuS,
    generatorCpuPerMillion: step.generator.cpuSecondsPerMillionSpans,
    generatorCores: step.generator.cores,
    foreignCores: step.foreignCores,
  })) {
    expect(finite(v), `${where}: ${k} = ${v}`).toBe(true);
  }
  // Counts add up: every sent request has exactly one outcome; nothing accepted that was not offered.
  const r = step.requests;
  expect(r['2xx'] + r['429'] + r['503'] + r.other, where).toBe(step.sentRequests);
  expect(step.sentRequests + step.skippedRequests, where).toBe(step.offeredSpans / s.batchSize);
  expect(step.acceptedSpans, where).toBeLessThanOrEqual(step.offeredSpans);
  expect(step.acceptedSpans, where).toBe(r['2xx'] * s.batchSize);
  expect(step.offeredSpans, where).toBeGreaterThan(0);
  expect(step.ackLatencyMs.p50, where).toBeLessThanOrEqual(step.ackLatencyMs.p99);
  // The collector is measured: CPU per million spans and peak RSS.
  const collector = step.processes.find((p) => p.name === 'collector');
  expect(collector, where).toBeDefined();
  expect(finite(collector!.cpuS) && collector!.cpuS > 0, where).toBe(true);
  expect(finite(collector!.cpuSecondsPerMillionSpans), where).toBe(true);
  expect(collector!.peakRssMb, where).toBeGreaterThan(10);
  // Both tiers store something per marker: lag is measured for every accepted marker.
  expect(step.lagMs, where).not.toBeNull();
  expect(step.lagMs!.n, where).toBeGreaterThan(0);
  expect(finite(step.lagMs!.p50) && finite(step.lagMs!.p99), where).toBe(true);
  expect(step.settled, where).toBe(true);
}

describe('npm run bench -- --quick', () => {
  it('runs every selected scenario and reports progress', () => {
    expect(report.scenarios.map((s) => [s.name, s.status, s.reason])).toEqual([
      ['embedded-full-b100', 'ok', undefined],
      ['embedded-summary-overload', 'ok', undefined],
      ['embedded-full-soak', 'ok', undefined],
    ]);
    expect(progress.some((l) => /^\[\s*[\d.]+s\] embedded-full-b100 search 1\/1/.test(l))).toBe(true);
  });

  it('produces every figure, finite and consistent, for every step', () => {
    for (const s of report.scenarios) {
      expect(s.steps.length).toBeGreaterThan(0);
      expect(s.result).toBeDefined();
      expect(s.pool!.bytesPerSpan).toBeGreaterThan(0);
      for (const step of s.steps) checkStep(s, step);
    }
  });

  it('stores every accepted span of the full tier, and only aggregates for summary', () => {
    const full = report.scenarios[0]!;
    for (const step of full.steps) {
      expect(step.rowsAfterSettle['otel_traces']).toBe(step.acceptedSpans);
      // Through SQL (the tenant query API): this build has it, so the count must be there.
      expect(step.queryable?.spans, 'spans counted through POST /api/query').toBe(step.acceptedSpans);
    }
    const summary = report.scenarios[1]!;
    for (const step of summary.steps) {
      expect(step.rowsAfterSettle['otel_traces']).toBe(0);
      expect(step.rowsAfterSettle['request_summaries']).toBeGreaterThan(0);
      // Every accepted span is counted once in the aggregates.
      expect(step.queryable?.summarized, 'requests summarized, through POST /api/query').toBe(step.acceptedSpans);
    }
  });

  it('runs the overload step at twice the sustainable rate with an RSS series', () => {
    const o = report.scenarios[1]!;
    expect(o.kind).toBe('overload');
    expect(o.sustainableRate).toBeGreaterThan(0);
    expect(o.result!.targetRate).toBe(2 * o.sustainableRate!);
    expect(o.result!.rssSeries!.length).toBeGreaterThan(2);
  });

  it('runs the soak step at the fixed rate with an RSS sample per progress message', () => {
    const soak = report.scenarios[2]!;
    expect(soak.kind).toBe('soak');
    // No embedded-full-b1000 before it: the quick fixed rate, and said so.
    expect(soak.result!.targetRate).toBe(2_000);
    const f = soak.result!.soak!;
    expect(f.rateSource).toMatch(/no sustainable rate of embedded-full-b1000/);
    // The sample at 0 s, then the generator's progress once every request was answered (its last was due at 1 s).
    expect(f.samples).toHaveLength(2);
    const end = f.samples[1]!;
    expect(end.tS).toBeGreaterThanOrEqual(1);
    expect(end.rssMb['collector']).toBeGreaterThan(10);
    // The embedded collector holds chdb: its library's resident pages are counted apart.
    expect(end.chdbLibMb['collector']).toBeGreaterThan(1);
    expect(end.requests['2xx']).toBe(soak.result!.requests['2xx']);
    expect(f.processes.map((p) => p.name)).toEqual(['collector']);
    expect(progress.some((l) => /embedded-full-soak +\d+ s: accepted [\d,]+ spans\/s \| 2xx \d+ 429 0 503 0 other 0 \| RSS MB collector [\d,]+ \(anon [\d,]+, libchdb\.so [\d,]+\)/.test(l))).toBe(true);
  });

  it('writes the Markdown table and the JSON', () => {
    const files = writeReport({ ...report, command: 'test' }, outDir, 'quick');
    for (const f of files) expect(existsSync(f)).toBe(true);
    const md = markdown(report);
    expect(md).toMatch(/^\| embedded-full-b100 \| highest sustainable \|/m);
    expect(md).toMatch(/^\| embedded-summary-overload \| overload: 2 x /m);
    const json = JSON.parse(readFileSync(files[1]!, 'utf8')) as BenchReport;
    expect(md).toMatch(/^\| embedded-full-soak \| soak 2 s: /m);
    expect(json.scenarios).toHaveLength(3);
  });
});

describe('bench helpers', () => {
  const counts = (c: Partial<SoakSample['requests']> = {}): SoakSample['requests'] => ({ '2xx': 0, '429': 0, '503': 0, other: 0, ...c });
  /** Samples every 10 s for `minutes`, collector RSS from `rss(t)` and a flat sink. */
  const soakSamples = (minutes: number, rss: (tS: number) => number): SoakSample[] =>
    Array.from({ length: minutes * 6 + 1 }, (_, i) => ({ tS: i * 10, acceptedPerS: 1000, requests: counts({ '2xx': 10 }), rssMb: { collector: rss(i * 10), sink: 200 }, anonMb: {}, chdbLibMb: {} }));
  const answered = { requests: counts({ '2xx': 600, '429': 20 }), skippedRequests: 0, refusedWithoutRetryAfter: 0, settled: true };

  it('a soak passes when RSS is flat after minute 2 and fails naming the process that grew', () => {
    // Warm-up growth (minutes 0-2) does not count; 400 -> 500 MB afterwards is 25%.
    const flat = summarizeSoak(soakSamples(10, (t) => (t < 120 ? 100 + 2.5 * t : 400)), 600, { collector: 410 }, 'test');
    expect(flat.warmupS).toBe(120);
    expect(flat.processes[0]).toMatchObject({ name: 'collector', warmupMb: 400, endMb: 400, growthMb: 0, peakMb: 410 });
    expect(judgeSoak(answered, flat)).toEqual([]);

    const growing = summarizeSoak(soakSamples(10, (t) => (t < 120 ? 400 : 400 + (t - 120) / 4.8)), 600, {}, 'test');
    expect(growing.processes[0]!.growthMb).toBeCloseTo(100);
    expect(growing.processes[0]!.slopeMbPerMin).toBeCloseTo(12.5);
    expect(growing.processes[0]!.peakMb).toBe(500);
    expect(judgeSoak(answered, growing)).toEqual(['collector grew 25% (12.5 MB/min fitted from 120 s to the end, 100 MB; samples 400 -> 500 MB)']);
  });

  it('a soak judges the fitted trend, not where the sawtooth is at warm-up and at the end', () => {
    // Garbage collection: 1,300 MB after a collection, 1,900 before the next; the last sample is a top.
    const sawtooth = summarizeSoak(soakSamples(10, (t) => 1300 + ((t / 10 + 2) % 7) * 100), 600, {}, 'test');
    expect(sawtooth.processes[0]).toMatchObject({ warmupMb: 1300, endMb: 1900 });
    expect(Math.abs(sawtooth.processes[0]!.growthPct)).toBeLessThan(10);
    expect(judgeSoak(answered, sawtooth)).toEqual([]);
    // The same sawtooth on a rising floor fails.
    const leaking = summarizeSoak(soakSamples(10, (t) => 1300 + ((t / 10 + 2) % 7) * 100 + t / 2), 600, {}, 'test');
    expect(judgeSoak(answered, leaking)[0]).toMatch(/^collector grew \d+% \(\d+\.\d MB\/min fitted from 120 s to the end/);
  });

  it('a soak fails when a request is not answered 2xx or 429/503 with Retry-After', () => {
    const flat = summarizeSoak(soakSamples(3, () => 300), 180, {}, 'test');
    expect(flat.warmupS).toBe(50);
    expect(judgeSoak({ ...answered, requests: counts({ '2xx': 5, other: 2 }), refusedWithoutRetryAfter: 3, skippedRequests: 4 }, flat)).toEqual([
      '2 requests not answered 2xx/429/503 (errors, timeouts)',
      '3 429/503 answers without Retry-After',
      "4 requests not sent: the generator's limit of unanswered requests was reached (answers held back)",
    ]);
  });

  it('the soak report has a row per minute and the growth per process', () => {
    const f = summarizeSoak(soakSamples(10, (t) => 400 + t / 60), 600, {}, '16,000 spans/s: twice 8,000');
    const step = { durationS: 600, acceptedSpansPerS: 9000, ackLatencyMs: { p50: 100, p90: 200, p99: 300, max: 400, n: 10 }, lagMs: null, requests: answered.requests, refusedWithoutRetryAfter: 0, skippedRequests: 0, pass: true, failReasons: [] } as unknown as StepReport;
    const text = soakSection(f, step).join('\n');
    expect(text).toMatch(/^Soak at 16,000 spans\/s: twice 8,000, for 600 s; accepted 9,000 spans\/s/);
    expect(text).toMatch(/^\| minute \| collector RSS MB \| sink RSS MB \| accepted spans\/s \(last 10 s\) \|$/m);
    expect(text.match(/^\| \d+ \| /gm)).toHaveLength(10);
    expect(text).toMatch(/^\| 10 \| 410 \| 200 \| 1,000 \|$/m);
    expect(text).toMatch(/^\| collector \| 410 \| 402 \| 410 \| 8 \| 2\.0 \| 1\.00 \|$/m);
    expect(text).toMatch(/^Verdict: pass /m);
  });

  it('a scenario prefix takes soak scenarios only when it says soak', () => {
    const all = catalogue(false);
    const names = (wanted: string[]): string[] => (selectScenarios(all, wanted, false) as typeof all).map((s) => s.name);
    expect(names(['embedded-full'])).not.toContain('embedded-full-soak');
    expect(names(['embedded-full-soak'])).toEqual(['embedded-full-soak']);
    expect(names(['embedded']).filter((n) => n.endsWith('-soak'))).toEqual([]);
    // The default run (no --scenario) has both, last.
    expect(all.slice(-2).map((s) => [s.name, s.kind, s.baseline])).toEqual([
      ['embedded-full-soak', 'soak', 'embedded-full-b1000'],
      ['kafka-full-soak', 'soak', 'kafka-full-b1000'],
    ]);
  });

  it('the traffic model is deterministic from its seed and plants secrets', () => {
    const a = new GatewayTraffic({ seed: 3, bodies: true });
    const b = new GatewayTraffic({ seed: 3, bodies: true });
    const xs = Array.from({ length: 2000 }, () => a.next());
    expect(xs.map((r) => spanAttributes(r))).toEqual(Array.from({ length: 2000 }, () => spanAttributes(b.next())));
    const secrets = xs.filter((r) => r.secret !== undefined).length;
    expect(secrets).toBeGreaterThan(5);
    expect(secrets).toBeLessThan(60);
    expect(new Set(xs.map((r) => r.provider))).toEqual(new Set(['openai', 'anthropic', 'google', 'mistral']));
  });

  it('summarises a cpuprofile by self time', () => {
    const frame = (functionName: string, url = ''): CpuProfile['nodes'][number]['callFrame'] => ({ functionName, url, lineNumber: 0, columnNumber: 0 });
    const profile: CpuProfile = {
      nodes: [
        { id: 1, callFrame: frame('(root)'), children: [2, 4] },
        { id: 2, callFrame: frame('outer', `file://${REPO}/collector/a.ts`), children: [3] },
        { id: 3, callFrame: frame('inner', `file://${REPO}/processors/b.ts`) },
        { id: 4, callFrame: frame('(idle)') },
      ],
      startTime: 0,
      endTime: 4000,
      samples: [3, 3, 2, 4],
      timeDeltas: [0, 1000, 1000, 1000],
    };
    const s = summarizeProfile(profile, { repoDir: REPO });
    expect(s.top.map((f) => [f.name, f.where, Math.round(f.selfMs)])).toEqual([
      ['inner', 'processors/b.ts', 2],
      ['outer', 'collector/a.ts', 1],
    ]);
    expect(s.top[1]!.totalMs).toBeCloseTo(3);
    expect(s.idleMs).toBeCloseTo(1);
  });
});
