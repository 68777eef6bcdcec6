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
import { markdown, writeReport } from '../../bench/report.ts';
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
    scenarios: ['embedded-full-b100', 'embedded-summary-overload'],
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

  it('writes the Markdown table and the JSON', () => {
    const files = writeReport({ ...report, command: 'test' }, outDir, 'quick');
    for (const f of files) expect(existsSync(f)).toBe(true);
    const md = markdown(report);
    expect(md).toMatch(/^\| embedded-full-b100 \| highest sustainable \|/m);
    expect(md).toMatch(/^\| embedded-summary-overload \| overload: 2 x /m);
    const json = JSON.parse(readFileSync(files[1]!, 'utf8')) as BenchReport;
    expect(json.scenarios).toHaveLength(2);
  });
});

describe('bench helpers', () => {
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
