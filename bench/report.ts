// Bench results as Markdown (committable, bench/results/latest.md) and JSON
// (every step, bench/results/<date>.json, git-ignored).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchReport, ProcessFigures, ScenarioReport, StepReport } from './harness.ts';
import { SOAK_MAX_GROWTH_PCT, type SoakFigures } from './soak.ts';

const n = (x: number | undefined, digits = 0): string =>
  x === undefined || !Number.isFinite(x) ? '-' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function resultLabel(s: ScenarioReport): string {
  if (s.status === 'not-available') return s.reason ?? 'not available yet';
  if (s.status === 'error') return `error: ${(s.reason ?? '').split('\n')[0]}`;
  if (s.kind === 'saturation') return s.sustainableRate === undefined ? 'nothing sustainable in the search' : 'highest sustainable';
  if (s.kind === 'overload') return `overload: 2 x ${n(s.sustainableRate)}`;
  if (s.kind === 'soak' && s.result !== undefined) return `soak ${n(s.result.durationS)} s: ${s.result.pass ? 'pass' : s.result.failReasons.join('; ')}`;
  return 'fixed rate';
}

function procCpu(p: ProcessFigures | undefined): string {
  if (p === undefined) return '-';
  const main = p.cpuS > 0 && Number.isFinite(p.mainThreadCpuS) ? `, ${n((p.mainThreadCpuS / p.cpuS) * 100)}% main thread` : '';
  return `${n(p.cpuSecondsPerMillionSpans, 1)} (${n(p.cores, 2)}${main})`;
}

function lag(s: StepReport): string {
  if (s.lagMs === null) return 'n/a';
  if (s.lagMs.n === 0) return 'none seen';
  return `${n(s.lagMs.p50)} / ${n(s.lagMs.p99)}${s.lagMs.missing > 0 ? ` (${s.lagMs.missing} missing)` : ''}`;
}

/** RSS growth over an overload step: max of the last third minus max of the first third, per process. */
export function rssGrowth(step: StepReport): Record<string, { firstThirdMb: number; lastThirdMb: number }> {
  const out: Record<string, { firstThirdMb: number; lastThirdMb: number }> = {};
  const series = step.rssSeries ?? [];
  if (series.length < 3) return out;
  const third = Math.floor(series.length / 3);
  for (const name of Object.keys(series[0]!.mb)) {
    const max = (a: typeof series): number => Math.max(...a.map((x) => x.mb[name] ?? NaN).filter(Number.isFinite));
    out[name] = { firstThirdMb: max(series.slice(0, third)), lastThirdMb: max(series.slice(-third)) };
  }
  return out;
}

/** A soak step's RSS over time (each minute; every sample in runs under 2 minutes), its growth after warm-up, and its verdict. */
export function soakSection(f: SoakFigures, step: StepReport): string[] {
  const samples = f.samples.slice(1);
  const last = samples[samples.length - 1];
  if (last === undefined) return [`Soak at ${f.rateSource}: no RSS sample was taken.`];
  const byMinute = last.tS >= 120;
  const rows = byMinute
    ? Array.from({ length: Math.floor(last.tS / 60 + 0.1) }, (_, i) => samples.reduce((a, b) => (Math.abs(b.tS - 60 * (i + 1)) < Math.abs(a.tS - 60 * (i + 1)) ? b : a)))
    : samples;
  if (rows[rows.length - 1] !== last) rows.push(last);
  const names = Object.keys(last.rssMb);
  const chdb = Object.keys(last.chdbLibMb);
  const engine = samples.some((x) => x.engineMb !== undefined);
  const out = [
    `Soak at ${f.rateSource}, for ${n(step.durationS)} s; accepted ${n(step.acceptedSpansPerS)} spans/s, ack p50 / p99 ${n(step.ackLatencyMs.p50)} / ${n(step.ackLatencyMs.p99)} ms, lag p99 ${step.lagMs === null ? 'n/a' : `${n(step.lagMs.p99)} ms`}; ` +
      `answers 2xx ${step.requests['2xx']}, 429 ${step.requests['429']}, 503 ${step.requests['503']}, other ${step.requests.other}, 429/503 without Retry-After ${step.refusedWithoutRetryAfter}, not sent ${step.skippedRequests}.`,
    '',
    `| ${byMinute ? 'minute' : 's'} | ${names.map((x) => `${x} RSS MB`).join(' | ')}${chdb.map((x) => ` | ${x}: libchdb.so resident MB`).join('')}${engine ? ' | collector: engine tracks MB' : ''} | accepted spans/s (last 10 s) |`,
    `|---:|${names.map(() => '---:|').join('')}${chdb.map(() => '---:|').join('')}${engine ? '---:|' : ''}---:|`,
  ];
  for (const x of rows) {
    const t = x === last && byMinute && Math.abs(x.tS / 60 - Math.round(x.tS / 60)) > 0.1 ? `end (${n(x.tS)} s)` : byMinute ? n(x.tS / 60) : n(x.tS);
    out.push(`| ${t} | ${names.map((name) => n(x.rssMb[name])).join(' | ')}${chdb.map((name) => ` | ${n(x.chdbLibMb[name])}`).join('')}${engine ? ` | ${n(x.engineMb)}` : ''} | ${n(x.acceptedPerS)} |`);
  }
  out.push('', `| process | peak RSS MB | RSS at ${n(f.warmupS)} s (warm-up) MB | RSS at end MB | growth MB, fitted | growth %, fitted | fit ${n(f.warmupS)} s..end, MB/min |`, '|---|---:|---:|---:|---:|---:|---:|');
  for (const p of f.processes) out.push(`| ${p.name} | ${n(p.peakMb)} | ${n(p.warmupMb)} | ${n(p.endMb)} | ${n(p.growthMb)} | ${n(p.growthPct, 1)} | ${n(p.slopeMbPerMin, 2)} |`);
  out.push(
    '',
    `Verdict: ${step.pass ? 'pass' : `FAIL: ${step.failReasons.join('; ')}`} (pass: no process grows more than ${SOAK_MAX_GROWTH_PCT}% from warm-up to the end along the least-squares line through its samples, every request answered 2xx or 429/503 with Retry-After). ` +
      'RSS is VmRSS every 10 s of sending, peak the step\'s VmHWM; the embedded engine\'s share is what it tracks (`consentry_engine_memory_bytes` of the collector\'s /metrics) and the resident pages of its library.',
  );
  return out;
}

export function markdown(r: BenchReport): string {
  const lines: string[] = [];
  lines.push(`# Consentry bench results`, '');
  lines.push(`Measured ${r.startedAt} to ${r.finishedAt} with \`${r.command}\`.`, '');
  lines.push(
    `Machine: ${r.machine.cpus} x ${r.machine.cpuModel}, ${r.machine.memoryGb} GB, Node ${r.machine.node}; load average at start ${r.machine.loadAverageAtStart.map((x) => x.toFixed(2)).join(' ')}. ` +
      `Generator, Consentry and its engines all share these cores; "other cores" is CPU used by processes outside the bench during the step (other engineers' test runs on this shared machine).`,
    '',
  );
  lines.push(
    '| scenario | result | offered spans/s | accepted spans/s | rows stored/s | requests 2xx / 429 / 503 / other | ack p50 / p99 ms | lag p50 / p99 ms | collector CPU s per M spans (cores, main-thread share) | sink / ClickHouse / Kafka CPU s per M | peak RSS MB | generator CPU s per M (cores) | other cores |',
  );
  lines.push('|---|---|---:|---:|---:|---|---|---|---|---|---|---|---:|');
  for (const s of r.scenarios) {
    const x = s.result;
    if (x === undefined) {
      lines.push(`| ${s.name} | ${resultLabel(s)} | | | | | | | | | | | |`);
      continue;
    }
    const [collector, ...rest] = x.processes;
    const others = rest.length === 0 ? '-' : rest.map((p) => `${p.name} ${n(p.cpuSecondsPerMillionSpans, 1)}`).join(', ');
    const rss = x.processes.map((p) => `${p.name} ${n(p.peakRssMb)}`).join(', ');
    lines.push(
      `| ${s.name} | ${resultLabel(s)} | ${n(x.offeredSpansPerS)} | ${n(x.acceptedSpansPerS)} | ${n(x.rowsStoredPerS)} | ` +
        `${x.requests['2xx']} / ${x.requests['429']} / ${x.requests['503']} / ${x.requests.other}${x.skippedRequests > 0 ? ` (+${x.skippedRequests} not sent)` : ''} | ` +
        `${n(x.ackLatencyMs.p50)} / ${n(x.ackLatencyMs.p99)} | ${lag(x)} | ${procCpu(collector)} | ${others} | ${rss} | ` +
        `${n(x.generator.cpuSecondsPerMillionSpans, 1)} (${n(x.generator.cores, 2)}) | ${n(x.foreignCores, 2)} |`,
    );
  }
  lines.push('');
  lines.push('Columns: rates are over the sending window; accepted = spans in 2xx answers; rows stored = rows written to ClickHouse (all tables) in the window, so `summary` stores aggregates (few rows) and `minimal` nothing per request; ack latency runs from the time a request was due (open loop, no coordinated omission); CPU is from /proc/<pid>/stat from the step start until the pipeline settled, per million accepted spans, with mean cores in brackets; the main-thread share is the event loop\'s, and most of the rest of a collector is its ingest worker threads (named `node` in the per-thread split of the progress lines, with V8\'s helper threads); peak RSS is VmHWM reset at the step start.');
  lines.push('');

  const details = r.scenarios.filter((s) => s.status === 'ok');
  if (details.length > 0) {
    lines.push('## Steps', '');
    for (const s of details) {
      lines.push(`### ${s.name}`, '', `${s.description}.`);
      if (s.pool !== undefined && s.generator === 'preencoded') lines.push(`Pool: ${n(s.pool.poolSpans)} spans, ${n(s.pool.bytesPerSpan / 1000, 2)} KB/span (OTLP protobuf), ${n(s.pool.plantedSecrets)} with a planted secret.`);
      if (s.lagMethod !== undefined) lines.push(`Lag: ${s.lagMethod}. Rows: ${s.rowsMethod ?? ''}.`);
      lines.push('');
      lines.push('| target spans/s | accepted/s | 2xx / 429 / 503 / other | ack p50 / p99 ms | lag p99 ms | collector cores | peak RSS MB | verdict |');
      lines.push('|---:|---:|---|---|---:|---:|---|---|');
      for (const x of s.steps) {
        lines.push(
          `| ${n(x.targetRate)} | ${n(x.acceptedSpansPerS)} | ${x.requests['2xx']} / ${x.requests['429']} / ${x.requests['503']} / ${x.requests.other} | ${n(x.ackLatencyMs.p50)} / ${n(x.ackLatencyMs.p99)} | ` +
            `${x.lagMs === null ? 'n/a' : n(x.lagMs.p99)} | ${n(x.processes[0]?.cores, 2)} | ${x.processes.map((p) => n(p.peakRssMb)).join(' / ')} | ${x.pass ? 'pass' : x.failReasons.join('; ')} |`,
        );
      }
      if (s.kind === 'overload' && s.result !== undefined) {
        const g = rssGrowth(s.result);
        const parts = Object.entries(g).map(([name, v]) => `${name} ${n(v.firstThirdMb)} MB -> ${n(v.lastThirdMb)} MB`);
        if (parts.length > 0) lines.push('', `RSS during the overload step (max of first third -> max of last third): ${parts.join(', ')}.`);
      }
      if (s.result?.soak !== undefined) lines.push('', ...soakSection(s.result.soak, s.result));
      const neighbors = s.steps.filter((x) => x.neighbor !== undefined);
      if (neighbors.length > 0) {
        lines.push('', "| tenant A | B's ingest ack p50 / p99 ms | B's SELECT 1 p50 / p99 / max ms | B's SELECT 1 answers | A's heavy queries run / refused (429) | their answers |");
        lines.push('|---|---|---|---|---|---|');
        for (const x of neighbors) {
          const nb = x.neighbor!;
          const answers = (a: Record<string, number>) => Object.entries(a).map(([k, v]) => `${k}: ${v}`).join(', ') || '-';
          lines.push(
            `| ${nb.phase} | ${n(x.ackLatencyMs.p50)} / ${n(x.ackLatencyMs.p99)} | ${n(nb.probe.p50)} / ${n(nb.probe.p99)} / ${n(nb.probe.max)} | ${answers(nb.probe.answers)} | ` +
              `${nb.heavy.admitted} / ${nb.heavy.refused} | ${answers(nb.heavy.answers)} |`,
          );
        }
      }
      if (s.profile !== undefined) lines.push('', '```', s.profile.text, '```');
      lines.push('');
    }
  }
  return lines.join('\n') + '\n';
}

/** Writes `<base>.md`, `<base>.json` and a dated JSON into `dir`; returns the paths. */
export function writeReport(r: BenchReport, dir: string, base: string): string[] {
  mkdirSync(dir, { recursive: true });
  const stamp = r.startedAt.replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  const md = join(dir, `${base}.md`);
  const json = join(dir, `${base}.json`);
  const dated = join(dir, `${stamp}${base === 'latest' ? '' : `-${base}`}.json`);
  writeFileSync(md, markdown(r));
  const text = JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
  writeFileSync(json, text);
  writeFileSync(dated, text);
  return [md, json, dated];
}
