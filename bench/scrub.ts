// Per-span cost of the secret scrubber on one core: realistic gateway spans of
// about 20 attributes, without and with request/response bodies, 1 % of spans
// carrying a secret. Optionally compares secretlint's recommended preset.
//
//   npx tsx bench/scrub.ts [--spans 20000] [--rounds 7]
//   SECRETLINT_DIR=/path/with/node_modules npx tsx bench/scrub.ts   (comparison, optional)
//
// The comparison needs @secretlint/core and @secretlint/secretlint-rule-preset-recommend,
// resolvable from this project or from $SECRETLINT_DIR (they are not dependencies).

import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BatchContext, RecordBatch, SpanRecord } from '../core/record.ts';
import { allStrings, gatewaySpans, secretCorpus } from '../processors/scrub-secrets/corpus.ts';
import { createSecretScrubber, scrubSecretsProcessor } from '../processors/scrub-secrets/processor.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}

const SPANS = arg('spans', 20_000);
const ROUNDS = arg('rounds', 7);
const BATCH = 100;
const ctx: BatchContext = { tenantId: 'bench', tier: 'full', tierVersion: 1, receivedAtMs: 0 };
const log = (line: string): void => void process.stdout.write(`${line}\n`);

log(`node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
log(`${SPANS} spans per round, ${ROUNDS} rounds, batches of ${BATCH}; figures are one core, best and median round`);

interface Scenario {
  name: string;
  bodies: boolean;
  authorizationOnEvery: boolean;
}

function spanBytes(s: SpanRecord): number {
  let n = s.name.length;
  for (const k in s.attributes) n += k.length + s.attributes[k]!.length;
  return n;
}

function run(scenario: Scenario): { best: number; median: number } {
  const { spans, secrets } = gatewaySpans({ count: SPANS, bodies: scenario.bodies, secretRate: 0.01, spansPerResource: 50 });
  if (scenario.authorizationOnEvery) for (const s of spans) s.attributes['http.request.header.authorization'] = 'Bearer sk-proj-Xy9Xy9Xy9Xy9Xy9Xy9Xy9Xy9Xy9';
  const bytes = spans.reduce((a, s) => a + spanBytes(s), 0) / spans.length;
  const attrs = spans.reduce((a, s) => a + Object.keys(s.attributes).length, 0) / spans.length;
  log(`\n${scenario.name}: ${attrs.toFixed(1)} attributes, ${bytes.toFixed(0)} B of keys and values per span, ${secrets} spans with a planted secret`);
  // The processor never modifies its input (copy on write), so every round sees the same spans.
  const batches: RecordBatch[] = [];
  for (let i = 0; i < spans.length; i += BATCH) batches.push({ spans: spans.slice(i, i + BATCH), logs: [], summaries: [], metadata: [] });
  let redacted = 0;
  const process_ = scrubSecretsProcessor({ onRedact: (_k, n) => (redacted += n) });
  const perSpan: number[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    redacted = 0;
    const t0 = process.hrtime.bigint();
    for (const b of batches) process_(b, ctx);
    const ns = Number(process.hrtime.bigint() - t0) / spans.length;
    // Round 0 warms the JIT and is not counted.
    if (round > 0) perSpan.push(ns);
    log(`  ${round === 0 ? 'warm-up' : `round ${round}/${ROUNDS}`}: ${ns.toFixed(0)} ns/span, ${(1e9 / ns / 1000).toFixed(0)}k spans/s, ${redacted} values redacted`);
  }
  const sorted = [...perSpan].sort((a, b) => a - b);
  const best = sorted[0]!;
  const median = sorted[Math.floor(sorted.length / 2)]!;
  log(`  => best ${best.toFixed(0)} ns/span (${(1e9 / best / 1000).toFixed(0)}k spans/s), median ${median.toFixed(0)} ns/span (${(1e9 / median / 1000).toFixed(0)}k spans/s)`);
  return { best, median };
}

const results = new Map<string, { best: number; median: number }>();
for (const scenario of [
  { name: 'spans without bodies', bodies: false, authorizationOnEvery: false },
  { name: 'spans with request and response bodies', bodies: true, authorizationOnEvery: false },
  { name: 'spans with bodies and an Authorization header on every span', bodies: true, authorizationOnEvery: true },
]) {
  results.set(scenario.name, run(scenario));
}

// ---------------------------------------------------------------------------
// Optional: secretlint's recommended preset, one lintSource call per string value.

type LintSource = (args: { source: { content: string; filePath: string; contentType: 'text' }; options: { config: { rules: { id: string; rule: unknown }[] }; noPhysicFilePath?: boolean } }) => Promise<{ messages: unknown[] }>;

async function load(name: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (await import(name)) as Record<string, unknown>;
  } catch {
    const dir = process.env['SECRETLINT_DIR'];
    if (dir === undefined) return undefined;
    try {
      const root = join(dir, 'node_modules', name);
      const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { main?: string };
      return (await import(pathToFileURL(join(root, pkg.main ?? 'index.js')).href)) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }
}

const core = await load('@secretlint/core');
const preset = await load('@secretlint/secretlint-rule-preset-recommend');
if (core === undefined || preset === undefined) {
  log('\nsecretlint comparison skipped: @secretlint/core and @secretlint/secretlint-rule-preset-recommend not found (set SECRETLINT_DIR to a folder whose node_modules has them)');
} else {
  const lintSource = core['lintSource'] as LintSource;
  const config = { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend', rule: preset['creator'] }] };
  const lint = (content: string): Promise<{ messages: unknown[] }> => lintSource({ source: { content, filePath: '/value.txt', contentType: 'text' }, options: { config, noPhysicFilePath: true } });
  const sample = gatewaySpans({ count: 200, bodies: true, secretRate: 0.01, spansPerResource: 50, seed: 11 }).spans;
  log('\nsecretlint recommended preset, lintSource on every attribute value of 200 spans with bodies:');
  for (const s of sample.slice(0, 20)) for (const k in s.attributes) await lint(s.attributes[k]!); // warm-up
  let values = 0;
  const t0 = process.hrtime.bigint();
  for (const [i, s] of sample.entries()) {
    for (const k in s.attributes) {
      await lint(s.attributes[k]!);
      values++;
    }
    if ((i + 1) % 50 === 0) log(`  ${i + 1}/${sample.length} spans`);
  }
  const ns = Number(process.hrtime.bigint() - t0) / sample.length;
  log(`  => ${(ns / 1000).toFixed(0)} us/span (${(1e9 / ns).toFixed(0)} spans/s), ${(ns / (values / sample.length) / 1000).toFixed(0)} us per value`);
  const mine = results.get('spans with request and response bodies')!;
  log(`  the scrubber: ${(mine.median / 1000).toFixed(1)} us/span on the same kind of spans, ${(ns / mine.median).toFixed(0)}x less`);

  // Detection on the planted-secret corpus: texts holding a secret that each engine flags.
  const corpus = secretCorpus(1, 8);
  const scrubber = createSecretScrubber();
  let bySecretlint = 0;
  let byScrubber = 0;
  const missed = new Map<string, number>();
  for (const p of corpus.planted) {
    const texts = allStrings(corpus.batches[p.request]!).filter((t) => t.includes(p.secret) || t.includes(JSON.stringify(p.secret).slice(1, -1)));
    let flagged = false;
    for (const t of texts) if ((await lint(t)).messages.length > 0) flagged = true;
    if (flagged) bySecretlint++;
    else missed.set(p.kind, (missed.get(p.kind) ?? 0) + 1);
    if (texts.every((t) => scrubber.scrubString(t) !== t) || texts.length === 0) byScrubber++;
  }
  log(`  planted-secret corpus (${corpus.planted.length} secrets, text alone, no attribute names): secretlint flags ${bySecretlint}, the scrubber's text scan changes ${byScrubber}`);
  log(`  secretlint misses by kind: ${[...missed].map(([k, n]) => `${k} ${n}`).join(', ')}`);
}
