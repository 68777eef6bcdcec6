// The OTLP/HTTP receiver's answers, over real HTTP to a running Consentry:
// status codes and bodies as the OTLP/HTTP spec asks, malformed input never
// takes the process down, size limits hold before and after decompression.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writer } from 'protobufjs/minimal.js';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { RawConnection } from '../faults/raw-http.ts';

let c: TestConsentry;
let key: string;

const MAX_BODY = 256 * 1024;
const MAX_DECOMPRESSED = 1024 * 1024;
// 200 MB of zeros compresses to about 200 KB: under the body limit, far over the
// decompressed one. Made before Consentry starts: compressing blocks the event loop.
const bomb = gzipSync(Buffer.alloc(200 * 1024 * 1024), { level: 9 });

beforeAll(async () => {
  c = await startTestConsentry({ maxBodyBytes: MAX_BODY, maxDecompressedBytes: MAX_DECOMPRESSED, maxInflightBytes: 4096, maxEventLoopDelayMs: 500 });
  key = (await c.createTenant('recv', 'full')).ingestKey;
});
afterAll(async () => c?.close());

const span = (name: string, traceId = '0af7651916cd43dd8448eb211c80319c', spanId = 'b7ad6b7169203331') => ({
  traceId,
  spanId,
  name,
  kind: 2,
  startTimeUnixNano: '1700000000000000000',
  endTimeUnixNano: '1700000000100000000',
});
const traces = (...spans: object[]) => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] });

async function post(path: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${c.otlpUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body,
  });
}

/** A valid ExportTraceServiceRequest with one span, hand-encoded. */
function protoTraces(name: string): Uint8Array {
  const w = Writer.create();
  w.uint32((1 << 3) | 2).fork(); // resource_spans
  w.uint32((2 << 3) | 2).fork(); // scope_spans
  w.uint32((2 << 3) | 2).fork(); // spans
  w.uint32((1 << 3) | 2).bytes(Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex'));
  w.uint32((2 << 3) | 2).bytes(Buffer.from('b7ad6b7169203331', 'hex'));
  w.uint32((5 << 3) | 2).string(name);
  w.uint32(6 << 3).int32(2);
  w.uint32((7 << 3) | 1).fixed64(1);
  w.uint32((8 << 3) | 1).fixed64(2);
  w.ldelim().ldelim().ldelim();
  return w.finish();
}

describe('answers', () => {
  it('200 with an empty response for a good JSON request, in JSON', async () => {
    const res = await post('/v1/traces', traces(span('ok-json')));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual({});
  });

  it('200 for protobuf, answered in protobuf', async () => {
    const res = await post('/v1/traces', protoTraces('ok-proto'), { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('200 with partial success when some spans are invalid, and the valid ones stored', async () => {
    const res = await post('/v1/traces', traces(span('partial-good'), span('partial-bad', '00000000000000000000000000000000')));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { partialSuccess: { rejectedSpans: string | number; errorMessage: string } };
    expect(Number(body.partialSuccess.rejectedSpans)).toBe(1);
    expect(body.partialSuccess.errorMessage).toMatch(/trace_?id/i);
    const rows = await c.rows(`SELECT SpanName FROM consentry.otel_traces WHERE SpanName LIKE 'partial-%'`);
    expect(rows).toEqual([{ SpanName: 'partial-good' }]);
  });

  it('415 for an unknown content type', async () => {
    const res = await post('/v1/traces', 'hello', { 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { message: string }).message).toMatch(/Content-Type/);
  });

  it('415 for an unknown content encoding', async () => {
    const res = await post('/v1/traces', traces(span('br')), { 'content-encoding': 'br' });
    expect(res.status).toBe(415);
  });

  it('accepts gzip', async () => {
    const res = await post('/v1/traces', gzipSync(traces(span('gzipped'))), { 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(await c.rows(`SELECT SpanName FROM consentry.otel_traces WHERE SpanName = 'gzipped'`)).toHaveLength(1);
  });
});

describe('the Authorization header', () => {
  // OTEL_EXPORTER_OTLP_HEADERS holds URL-encoded values (`Authorization=Bearer%20<key>`);
  // SDKs decode them, LiteLLM sends the value as it is.
  it.each([
    { name: 'Bearer <key>', header: () => `Bearer ${key}`, status: 200 },
    { name: 'bearer, two spaces', header: () => `bearer  ${key}`, status: 200 },
    { name: 'Bearer%20<key> (LiteLLM)', header: () => `Bearer%20${key}`, status: 200 },
    { name: 'BEARER%20<key>', header: () => `BEARER%20${key}`, status: 200 },
    { name: 'Bearer%20 and a space', header: () => `Bearer%20 ${key}`, status: 401 },
    { name: 'Basic <key>', header: () => `Basic ${key}`, status: 401 },
    { name: 'the key alone', header: () => key, status: 401 },
    { name: 'Bearer%20 an unknown key', header: () => 'Bearer%20csk_ingest_nope', status: 401 },
  ])('$name: $status', async ({ header, status }) => {
    const res = await post('/v1/traces', traces(span('auth-form')), { authorization: header() });
    expect(res.status).toBe(status);
  });

  it('an OTel SDK configured by OTEL_EXPORTER_OTLP_HEADERS with %20 is accepted', async () => {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const { BasicTracerProvider, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const before = process.env['OTEL_EXPORTER_OTLP_HEADERS'];
    process.env['OTEL_EXPORTER_OTLP_HEADERS'] = `Authorization=Bearer%20${key}`;
    try {
      const exporter = new OTLPTraceExporter({ url: `${c.otlpUrl}/v1/traces` });
      const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
      provider.getTracer('env').startSpan('from-env-headers').end();
      await provider.forceFlush();
      await provider.shutdown();
    } finally {
      if (before === undefined) delete process.env['OTEL_EXPORTER_OTLP_HEADERS'];
      else process.env['OTEL_EXPORTER_OTLP_HEADERS'] = before;
    }
    expect(await c.rows(`SELECT SpanName FROM consentry.otel_traces WHERE SpanName = 'from-env-headers'`)).toHaveLength(1);
  });
});

describe('malformed input', () => {
  const valid = protoTraces('x');
  const deepJson = '['.repeat(100_000) + ']'.repeat(100_000);
  const badUtf8 = Buffer.from(protoTraces('AB'));
  badUtf8[badUtf8.indexOf(Buffer.from('AB'))] = 0xff;
  const cases: Array<[string, string | Uint8Array, string]> = [
    ['truncated protobuf', valid.subarray(0, valid.length - 3), 'application/x-protobuf'],
    ['wrong wire type', Uint8Array.from([(1 << 3) | 0, 1]), 'application/x-protobuf'],
    ['huge length', Uint8Array.from([(1 << 3) | 2, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'application/x-protobuf'],
    ['invalid UTF-8 in a name', badUtf8, 'application/x-protobuf'],
    ['not JSON', '{"resourceSpans": [', 'application/json'],
    ['deep JSON', deepJson, 'application/json'],
    ['wrong type in JSON', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ ...span('x'), name: 42 }] }] }] }), 'application/json'],
    ['resourceSpans not an array', JSON.stringify({ resourceSpans: 'nope' }), 'application/json'],
    ['empty JSON body', '', 'application/json'],
    ['invalid gzip', 'not gzip at all', 'application/json+gzip'],
  ];
  it.each(cases)('%s -> 400 with a message, process stays up', async (_name, body, type) => {
    const headers: Record<string, string> = type.endsWith('+gzip') ? { 'content-type': 'application/json', 'content-encoding': 'gzip' } : { 'content-type': type };
    const res = await post('/v1/traces', body, headers);
    expect(res.status).toBe(400);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
  });

  it('an empty protobuf body is a valid empty request', async () => {
    const res = await post('/v1/traces', new Uint8Array(0), { 'content-type': 'application/x-protobuf' });
    expect(res.status).toBe(200);
  });

  it('valid data sent after the corpus is stored', async () => {
    expect((await post('/v1/traces', traces(span('after-corpus')))).status).toBe(200);
    expect(await c.rows(`SELECT SpanName FROM consentry.otel_traces WHERE SpanName = 'after-corpus'`)).toHaveLength(1);
  });
});

describe('limits', () => {
  it('413 for a body over the limit as received', async () => {
    const big = traces({ ...span('big'), attributes: [{ key: 'pad', value: { stringValue: 'x'.repeat(MAX_BODY) } }] });
    const res = await post('/v1/traces', big);
    expect(res.status).toBe(413);
  });

  it('413 for a gzip bomb, without inflating it into memory', async () => {
    expect(bomb.length).toBeLessThan(MAX_BODY);
    const before = process.memoryUsage().rss;
    const res = await post('/v1/traces', bomb, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('429 with Retry-After while the event loop is behind, 200 again once it caught up', async () => {
    // Consentry runs in this process: a busy loop here is a collector that fell behind.
    const end = Date.now() + 800;
    while (Date.now() < end);
    await new Promise((r) => setTimeout(r, 120));
    const refused = await post('/v1/traces', traces(span('while-behind')));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await post('/v1/traces', traces(span('caught-up')))).status).toBe(200);
  });

  it('429 to a sender still writing its body: it reads the answer, and the connection carries its next request', async () => {
    const conn = await RawConnection.open(c.otlpUrl);
    const head = (body: Buffer) => `POST /v1/traces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    try {
      const body = Buffer.from(traces({ ...span('late-body'), attributes: [{ key: 'pad', value: { stringValue: 'z'.repeat(MAX_BODY - 4096) } }] }));
      const end = Date.now() + 800;
      while (Date.now() < end);
      await new Promise((r) => setTimeout(r, 120));
      conn.write(head(body));
      conn.write(body.subarray(0, 16 * 1024));
      const answer = await conn.answer();
      expect(answer).toMatch(/^HTTP\/1\.1 429 /);
      expect(answer).toMatch(/\r\nretry-after: \d+\r\n/i);
      // Closed with the rest of the body unsent, the socket would be reset under a sender still writing.
      expect(answer).not.toMatch(/\r\nconnection: close\r\n/i);
      conn.write(body.subarray(16 * 1024));
      await new Promise((r) => setTimeout(r, 1200));
      conn.received = '';
      const next = Buffer.from(traces(span('next-on-the-same-connection')));
      conn.write(head(next));
      conn.write(next);
      expect(await conn.answer()).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      conn.destroy();
    }
  });

  it('429 with Retry-After when the in-flight budget is spent, and every 200 stored', async () => {
    const bodies = Array.from({ length: 30 }, (_, i) =>
      traces({ ...span(`inflight-${i}`, undefined, (0x1000000000000000n + BigInt(i)).toString(16)), attributes: [{ key: 'pad', value: { stringValue: 'y'.repeat(1500) } }] }),
    );
    const answers = await Promise.all(bodies.map((b) => post('/v1/traces', b)));
    const codes = answers.map((r) => r.status);
    expect(codes.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(codes.every((s) => s === 200 || s === 429)).toBe(true);
    for (const r of answers) if (r.status === 429) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    const accepted = answers.flatMap((r, i) => (r.status === 200 ? [`inflight-${i}`] : []));
    const stored = await c.rows<{ SpanName: string }>(`SELECT SpanName FROM consentry.otel_traces WHERE SpanName LIKE 'inflight-%' ORDER BY SpanName`);
    expect(stored.map((r) => r.SpanName).sort()).toEqual(accepted.sort());
  });
});
