// Micro-benchmark of the OTLP decoders (collector/otlp/), one core, no I/O.
//
//   npx tsx bench/decode.ts [seconds per case, default 3]
//
// Payloads are made by the real OTel JS SDK and serializers: batches of 512
// spans, either "small" (20 attributes, no bodies, about 0.75 KB per span
// in protobuf) or "full" (the same plus request and response bodies, about
// 1.5 KB). For comparison it decodes the same bytes with protobufjs reflection
// (a schema parsed from the .proto text below: fine in a bench, never in product
// code), which is what DESIGN.md's 83k / 64k spans/s baseline measured.
import protobuf from 'protobufjs';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { decodeTracesProto } from '../collector/otlp/decode-proto.ts';
import { decodeTracesJson } from '../collector/otlp/decode-json.ts';

const SECONDS = Number(process.argv[2] ?? 3);
const BATCH = 512;

function words(n: number, seed: number): string {
  const w = ['the', 'model', 'answered', 'with', 'a', 'list', 'of', 'tokens', 'and', 'some', 'JSON', '{"role":"user"}'];
  let s = '';
  for (let i = 0; i < n; i++) s += (i === 0 ? '' : ' ') + w[(i * 7 + seed) % w.length];
  return s;
}

function makeSpans(withBodies: boolean): ReturnType<InMemorySpanExporter['getFinishedSpans']> {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'llm-gateway',
      'service.version': '2.4.1',
      'service.instance.id': '0b6f1c9e-6f43-4c1b-9f1a-7d2f7e0c8a51',
      'deployment.environment': 'production',
    }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('consentry-interceptor', '0.9.0');
  for (let i = 0; i < BATCH; i++) {
    const parent = {
      traceId: (i + 1).toString(16).padStart(32, 'a'),
      spanId: (i + 1).toString(16).padStart(16, 'b'),
      traceFlags: 1,
      isRemote: true,
    };
    const span = tracer.startSpan(
      'POST /v1/chat/completions',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.method': 'POST',
          'http.route': '/v1/chat/completions',
          'net.peer.name': 'api.openai.com',
          'net.peer.port': 443,
          'http.status_code': 200,
          'http.request_content_length': 1834 + i,
          'http.response_content_length': 5120 + i,
          'gen_ai.system': 'openai',
          'gen_ai.operation.name': 'chat',
          'gen_ai.request.model': 'gpt-4o-mini',
          'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
          'gen_ai.request.temperature': 0.7,
          'gen_ai.request.max_tokens': 1024,
          'gen_ai.usage.input_tokens': 412 + (i % 50),
          'gen_ai.usage.output_tokens': 96 + (i % 70),
          'gen_ai.response.finish_reasons': ['stop'],
          'gen_ai.response.id': `chatcmpl-${(i * 2654435761).toString(36)}`,
          'tenant.plan': 'pro',
          'user_agent': 'openai-python/1.51.0',
          'request.id': i,
          ...(withBodies
            ? {
                'http.request.body': words(70, i),
                'http.response.body': words(60, i + 3),
              }
            : {}),
        },
        startTime: [1_732_000_000 + i, 123_456_789],
      },
      trace.setSpanContext(context.active(), parent),
    );
    span.setStatus({ code: SpanStatusCode.OK });
    span.end([1_732_000_000 + i, 923_456_789]);
  }
  return exporter.getFinishedSpans();
}

// Enough of opentelemetry-proto for reflection decoding (field numbers as in v1).
const PROTO = `
syntax = "proto3";
package bench;
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
  double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; } }
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4; fixed32 flags = 16;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
  message Event { fixed64 time_unix_nano = 1; string name = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
  repeated Event events = 11; uint32 dropped_events_count = 12;
  message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4;
    uint32 dropped_attributes_count = 5; fixed32 flags = 6; }
  repeated Link links = 13; uint32 dropped_links_count = 14; Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
`;
const reflected = protobuf.parse(PROTO).root.lookupType('bench.ExportTraceServiceRequest');

interface Case {
  name: string;
  bytes: Uint8Array;
  run: (b: Uint8Array) => number;
}

/**
 * Runs a case for SECONDS in half-second slices (one progress dot each) and
 * reports the median and best slice. Rates are per second of this process's CPU
 * time (user + system, GC threads included), which a busy shared machine
 * disturbs much less than wall time.
 */
function measure(c: Case): void {
  for (let i = 0; i < 30; i++) c.run(c.bytes); // warm up
  process.stdout.write(`${c.name.padEnd(36)}`);
  const rates: number[] = [];
  const slices = Math.max(1, Math.round(SECONDS * 2));
  for (let s = 0; s < slices; s++) {
    const cpu0 = process.cpuUsage();
    const wallEnd = Date.now() + 500;
    let spans = 0;
    while (Date.now() < wallEnd) spans += c.run(c.bytes);
    const cpu = process.cpuUsage(cpu0);
    rates.push(spans / ((cpu.user + cpu.system) / 1e6));
    process.stdout.write('.');
  }
  rates.sort((x, y) => x - y);
  const median = rates[Math.floor(rates.length / 2)]!;
  const best = rates[rates.length - 1]!;
  const perSpan = c.bytes.length / BATCH;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(9);
  process.stdout.write(
    ` ${fmt(median)} spans/s (best ${fmt(best).trim()})  ${(median * perSpan / 1e6).toFixed(0).padStart(4)} MB/s` +
      `  ${(1e6 / median).toFixed(2)} us/span  [${(perSpan / 1000).toFixed(2)} KB/span]\n`,
  );
}

function main(): void {
  console.log(`node ${process.version}, ${SECONDS}s per case, batches of ${BATCH} spans, rates per CPU second: median of 0.5 s slices (best)`);
  process.stdout.write('building payloads with the OTel SDK ... ');
  const payloads = [
    { label: 'small', spans: makeSpans(false) },
    { label: 'full', spans: makeSpans(true) },
  ].map(({ label, spans }) => ({
    label,
    proto: ProtobufTraceSerializer.serializeRequest(spans)!,
    json: JsonTraceSerializer.serializeRequest(spans)!,
  }));
  console.log('done');
  const cases: Case[] = [];
  for (const p of payloads) {
    const proto = Buffer.from(p.proto);
    const json = Buffer.from(p.json);
    cases.push(
      { name: `proto ${p.label} (decodeTracesProto)`, bytes: proto, run: (b) => decodeTracesProto(b).records.length },
      { name: `proto ${p.label} (protobufjs reflection)`, bytes: proto, run: (b) => {
        const m = reflected.decode(b) as unknown as { resource_spans?: { scope_spans?: { spans?: unknown[] }[] }[]; resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] };
        return m.resourceSpans?.[0]?.scopeSpans?.[0]?.spans?.length ?? 0;
      } },
      { name: `json  ${p.label} (decodeTracesJson)`, bytes: json, run: (b) => decodeTracesJson(b).records.length },
      { name: `json  ${p.label} (JSON.parse only)`, bytes: json, run: (b) => {
        const m = JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] };
        return m.resourceSpans[0]!.scopeSpans[0]!.spans.length;
      } },
    );
  }
  for (const c of cases) measure(c);
}

main();
