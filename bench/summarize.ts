// Micro-benchmark of `summarize`: spans/s through the processor on gateway
// batches of 512 SERVER spans with ~20 attributes (fixtures.ts), and rows/s of
// encodeSummaryRow. Reported, not asserted.
//   npx tsx bench/summarize.ts
import type { SpanRecord } from '../core/record.ts';
import { encodeSummaryRow } from '../sinks/clickhouse/summary-row.ts';
import { batchOf, ctxFor, gatewayBatch } from '../processors/summarize/fixtures.ts';
import { summarize } from '../processors/summarize/processor.ts';

const BATCH = 512;
const BATCHES = 200;
const ROUNDS = 15;

const summarizeBatch = summarize.create({}, { hmacKey: Buffer.alloc(32), count: () => undefined });
const ctx = ctxFor();

/** Best and median of ROUNDS timed passes over `batches` (the machine is shared: the best is the least disturbed). */
function measure(name: string, batches: SpanRecord[][]): void {
  for (const b of batches.slice(0, 50)) summarizeBatch(batchOf(b), ctx); // warm-up
  const rates: number[] = [];
  let summaries = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const start = performance.now();
    for (const b of batches) summaries += summarizeBatch(batchOf(b), ctx).summaries.length;
    rates.push((batches.length * BATCH) / ((performance.now() - start) / 1000));
  }
  rates.sort((x, y) => y - x);
  const best = rates[0]!;
  const median = rates[Math.floor(ROUNDS / 2)]!;
  console.log(
    `${name.padEnd(48)} best ${(best / 1e6).toFixed(2)} M spans/s (${((BATCH / best) * 1e6).toFixed(0)} us/batch), ` +
      `median ${(median / 1e6).toFixed(2)} M/s, ${(summaries / (ROUNDS * batches.length)).toFixed(0)} summaries/batch`,
  );
}

function withoutRoute(batches: SpanRecord[][]): SpanRecord[][] {
  return batches.map((b) =>
    b.map((s) => {
      const { ['http.route']: _route, ...attributes } = s.attributes;
      return { ...s, attributes };
    }),
  );
}

const oneMinute = Array.from({ length: BATCHES }, (_, i) => gatewayBatch(BATCH, i, 1));
const threeMinutes = Array.from({ length: BATCHES }, (_, i) => gatewayBatch(BATCH, i, 3));
const attrs = oneMinute[0]!.reduce((n, s) => n + Object.keys(s.attributes).length, 0) / BATCH;
console.log(`node ${process.version}, ${BATCH} spans/batch, ${attrs.toFixed(1)} attributes/span, ${ROUNDS} passes over ${BATCHES} batches per case`);
measure('summarize, 1 minute per batch', oneMinute);
measure('summarize, 3 minutes per batch', threeMinutes);
measure('summarize, no http.route (every path templated)', withoutRoute(oneMinute));

const rows = oneMinute.flatMap((b) => summarizeBatch(batchOf(b), ctx).summaries);
const encodeRates: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const start = performance.now();
  let bytes = 0;
  for (const r of rows) bytes += encodeSummaryRow(r, 'tenant-a', 'summary', 4102444800).length;
  if (bytes === 0) throw new Error('nothing encoded');
  encodeRates.push(rows.length / ((performance.now() - start) / 1000));
}
encodeRates.sort((x, y) => y - x);
console.log(`${'encodeSummaryRow'.padEnd(48)} best ${(encodeRates[0]! / 1e6).toFixed(2)} M rows/s, median ${(encodeRates[Math.floor(ROUNDS / 2)]! / 1e6).toFixed(2)} M/s`);
