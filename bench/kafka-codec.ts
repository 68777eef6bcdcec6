// Measures the Kafka record encoding (sinks/kafka/codec.ts) against the
// alternatives, one core, no I/O: bytes per span (raw, gzip) and encode/decode
// speed, for spans without bodies (~0.7 KB OTLP) and with bodies (~1.5 KB);
// then producer compressions on those message bytes (sinks/kafka/config.ts
// uses gzip level 1 and zstd level 3): compressed bytes and the compress and
// decompress CPU per span. (lz4, through the lz4-napi package, measured here
// on 2026-12-06: fewer bytes saved and more CPU than zstd, so not offered.)
//
//   npx tsx bench/kafka-codec.ts [seconds per case, default 2]
import { constants, gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { buildPool } from './otlp-batches.ts';
import { decodeTracesProto } from '../collector/otlp/decode-proto.ts';
import type { BatchContext, RecordBatch, SpanRecord } from '../core/record.ts';
import { decodeBatchMessage, encodeBatchMessage } from '../sinks/kafka/codec.ts';
import { encodeRows } from '../sinks/clickhouse/encode.ts';

const SECONDS = Number(process.argv[2] ?? 2);
const ctx: BatchContext = { tenantId: 'acme', tier: 'full', tierVersion: 1_732_000_000_000, receivedAtMs: 1_732_000_000_000 };

function rate(fn: () => void): number {
  let n = 0;
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    fn();
    n++;
  }
  return n / SECONDS;
}

/** CPU microseconds (user + system) per call of `fn`, over SECONDS. */
function cpuMicros(fn: () => void): number {
  let n = 0;
  const start = process.cpuUsage();
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    fn();
    n++;
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const zstd = (level: number) => (b: Buffer) => zstdCompressSync(b, { params: { [constants.ZSTD_c_compressionLevel]: level } });
const COMPRESSIONS: { name: string; compress: (b: Buffer) => Buffer; decompress: (b: Buffer) => Buffer }[] = [
  { name: 'none', compress: (b) => b, decompress: (b) => b },
  { name: 'gzip level 1', compress: (b) => gzipSync(b, { level: 1 }), decompress: (b) => gunzipSync(b) },
  { name: 'gzip level 6', compress: (b) => gzipSync(b, { level: 6 }), decompress: (b) => gunzipSync(b) },
  { name: 'zstd level 1', compress: zstd(1), decompress: (b) => zstdDecompressSync(b) },
  { name: 'zstd level 3', compress: zstd(3), decompress: (b) => zstdDecompressSync(b) },
];

/** JSON of the records as they are (bigints as strings): what "JSON per span" would cost. */
function jsonPerSpan(spans: SpanRecord[]): string[] {
  return spans.map((s) => JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

for (const bodies of [false, true]) {
  const pool = buildPool({ tenantId: 'acme', seed: 7, bodies, spansPerBatch: 500, batches: 4, markerTemplates: 1, baseTimeMs: Date.now(), requestsPerSecond: 1000, secretRate: 0 });
  const otlp = pool.batches[0]!;
  const spans = decodeTracesProto(otlp).records;
  const batch: RecordBatch = { spans, logs: [], summaries: [], metadata: [] };
  const msg = encodeBatchMessage(batch, ctx);
  const json = jsonPerSpan(spans).join('\n');
  const rows = Buffer.from(encodeRows(batch, ctx).otel_traces.body, 'latin1');
  const n = spans.length;
  const per = (b: number) => (b / n).toFixed(0).padStart(6);
  console.log(`\n${bodies ? 'with bodies' : 'no bodies'}: ${n} spans per message`);
  console.log(`                         bytes/span   gzip bytes/span`);
  console.log(`  OTLP protobuf (input)  ${per(otlp.length)}       ${per(gzipSync(otlp).length)}`);
  console.log(`  Consentry codec v1     ${per(msg.length)}       ${per(gzipSync(msg).length)}`);
  console.log(`  JSON per span          ${per(json.length)}       ${per(gzipSync(json).length)}`);
  console.log(`  ClickHouse Native rows ${per(rows.length)}       ${per(gzipSync(rows).length)}`);
  const enc = rate(() => encodeBatchMessage(batch, ctx)) * n;
  const dec = rate(() => decodeBatchMessage(msg)) * n;
  const jenc = rate(() => jsonPerSpan(spans)) * n;
  const gz = rate(() => gzipSync(msg)) * n;
  console.log(`  codec encode ${(enc / 1000).toFixed(0)}k spans/s, decode ${(dec / 1000).toFixed(0)}k spans/s; JSON.stringify per span ${(jenc / 1000).toFixed(0)}k spans/s; gzip of the message ${(gz / 1000).toFixed(0)}k spans/s`);
  console.log(`  producer compression of the message   bytes/span   ratio   compress CPU us/span   decompress CPU us/span`);
  for (const c of COMPRESSIONS) {
    const packed = c.compress(msg);
    if (!c.decompress(packed).equals(msg)) throw new Error(`${c.name}: the message does not round-trip`);
    const cpu = (fn: () => void) => (cpuMicros(fn) / n).toFixed(2).padStart(8);
    console.log(`    ${c.name.padEnd(34)} ${per(packed.length)}   ${(msg.length / packed.length).toFixed(2).padStart(5)}   ${cpu(() => c.compress(msg))}               ${cpu(() => c.decompress(packed))}`);
  }
}
