// Fault suite for the OTLP/gRPC port (issue 16): what an attacker or a broken
// sender can do to a running Consentry over HTTP/2, from a raw client. Each
// attack is answered with its status (gRPC, or HTTP where the request is not
// gRPC); a call refused before its message is read is reset, its bytes not
// read; slow clients and idle connections are cut by the timeouts of every
// port; and the process keeps serving: the last test stores a span through the
// real OTel exporter.
import { gzipSync } from 'node:zlib';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Metadata } from '@grpc/grpc-js';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { cat, fixed64, hex, len, vint } from '../helpers/protobuf.ts';
import { grpcFrame, RawH2 } from './raw-http2.ts';

const MAX_BODY = 256 * 1024;
const MAX_DECOMPRESSED = 1024 * 1024;
const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 1000;
const IDLE_TIMEOUT_MS = 1500;
/** Generous: each timeout above on a loaded machine. */
const WITHIN_MS = 6000;
const TRACES = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const LOGS = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';
const INVALID_ARGUMENT = 3;
const DEADLINE_EXCEEDED = 4;
const RESOURCE_EXHAUSTED = 8;
const UNIMPLEMENTED = 12;
const UNAUTHENTICATED = 16;
// 200 MB of zeros gzip to about 200 KB: under the message limit, far over the
// decompressed one. Made before Consentry starts: compressing blocks the event loop.
const bomb = gzipSync(Buffer.alloc(200 * 1024 * 1024), { level: 9 });

let c: TestConsentry;
let key: string;
const open: RawH2[] = [];

beforeAll(async () => {
  // Inserts wait for a batch window longer than the request timeout: a slow answer must not count.
  c = await startTestConsentry({
    maxBodyBytes: MAX_BODY,
    maxDecompressedBytes: MAX_DECOMPRESSED,
    httpHeadersTimeoutMs: HEADERS_TIMEOUT_MS,
    httpRequestTimeoutMs: REQUEST_TIMEOUT_MS,
    httpIdleTimeoutMs: IDLE_TIMEOUT_MS,
    batchMaxDelayMs: 1500,
  });
  key = (await c.createTenant('grpc-faults', 'full')).ingestKey;
});
afterEach(() => {
  for (const conn of open.splice(0)) conn.destroy();
});
afterAll(async () => c?.close());

async function connection(): Promise<RawH2> {
  const conn = await RawH2.open(c.otlpGrpcUrl!);
  open.push(conn);
  return conn;
}

/** ExportTraceServiceRequest with one span `name`. */
function traces(name: string): Buffer {
  const span = cat(len(1, hex('0af7651916cd43dd8448eb211c80319c')), len(2, hex('b7ad6b7169203331')), len(5, name), vint(6, 2), fixed64(7, 1_700_000_000_000_000_000n), fixed64(8, 1_700_000_000_100_000_000n));
  return len(1, len(2, len(2, span)));
}

const auth = () => ({ authorization: `Bearer ${key}` });

describe('malformed calls: INVALID_ARGUMENT with what is wrong, nothing stored', () => {
  const valid = traces('x');
  it.each<[string, () => Record<string, string>, () => Buffer, RegExp]>([
    ['compressed flag other than 0 or 1', auth, () => grpcFrame(valid, { flag: 7 }), /compressed flag 7/],
    ['length prefix announcing more than is sent', auth, () => grpcFrame(valid, { length: valid.length + 100 }), /truncated gRPC message/],
    ['length prefix announcing less than is sent', auth, () => grpcFrame(valid, { length: valid.length - 4 }), /more than one message/],
    ['two messages in a unary call', auth, () => Buffer.concat([grpcFrame(valid), grpcFrame(valid)]), /more than one message/],
    ['a prefix cut short', auth, () => grpcFrame(valid).subarray(0, 3), /truncated gRPC message prefix/],
    ['no message at all', auth, () => Buffer.alloc(0), /no request message/],
    ['a truncated protobuf message', auth, () => grpcFrame(valid.subarray(0, valid.length - 3)), /./],
    ['a message that is not protobuf', auth, () => grpcFrame(Buffer.from('{"resourceSpans":[]}')), /./],
    ['a compressed message without grpc-encoding', auth, () => grpcFrame(gzipSync(valid), { compressed: true }), /without grpc-encoding/],
    ['grpc-encoding gzip, a message that is not gzip', () => ({ ...auth(), 'grpc-encoding': 'gzip' }), () => grpcFrame(Buffer.from('not gzip at all'), { compressed: true }), /invalid gzip/],
  ])('%s', async (_name, headers, body, message) => {
    const conn = await connection();
    for (const path of [TRACES, LOGS]) {
      const a = await conn.call({ ':path': path, ...headers() }, body());
      expect(a.status).toBe(200);
      expect(a.grpcStatus).toBe(INVALID_ARGUMENT);
      expect(a.grpcMessage).toMatch(message);
    }
  });
});

describe('requests that are not OTLP/gRPC', () => {
  it.each([
    ['application/json', 'application/json'],
    ['application/x-protobuf (OTLP/HTTP sent to the gRPC port)', 'application/x-protobuf'],
    ['application/grpc+json', 'application/grpc+json'],
    ['no content-type', ''],
  ])('content-type %s: HTTP 415, so no HTTP client mistakes it for success', async (_name, type) => {
    const conn = await connection();
    const a = await conn.call({ ':path': TRACES, 'content-type': type, ...auth() }, grpcFrame(traces('x')));
    expect(a.status).toBe(415);
    expect(a.grpcStatus).toBeUndefined();
  });

  it('GET: HTTP 405', async () => {
    const conn = await connection();
    expect((await conn.call({ ':path': TRACES, ':method': 'GET', ...auth() }, Buffer.alloc(0))).status).toBe(405);
  });

  it.each([
    ['the metrics service', '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export'],
    ['an unknown method of the trace service', '/opentelemetry.proto.collector.trace.v1.TraceService/Query'],
    ['gRPC health checking', '/grpc.health.v1.Health/Check'],
    ['no service at all', '/'],
  ])('%s: UNIMPLEMENTED naming what is served', async (_name, path) => {
    const conn = await connection();
    const a = await conn.call({ ':path': path, ...auth() }, grpcFrame(traces('x')));
    expect(a.grpcStatus).toBe(UNIMPLEMENTED);
    expect(a.grpcMessage).toContain('TraceService/Export');
  });

  it('grpc-encoding br: UNIMPLEMENTED, with the encodings Consentry reads', async () => {
    const conn = await connection();
    const a = await conn.call({ ':path': TRACES, 'grpc-encoding': 'br', ...auth() }, grpcFrame(traces('x'), { compressed: true }));
    expect(a.grpcStatus).toBe(UNIMPLEMENTED);
    expect(a.headers['grpc-accept-encoding']).toBe('identity,gzip');
  });
});

describe('a call refused before its message is read is reset while the client still sends', () => {
  // 100 MB announced, 64 KiB at once, then a trickle for as long as the call stays open.
  const huge = grpcFrame(Buffer.alloc(64 * 1024, 0x78), { length: 100 * 1024 * 1024 });
  it.each<[string, Record<string, string>, number, RegExp]>([
    ['no ingest key', {}, UNAUTHENTICATED, /missing ingest key/],
    ['an unknown ingest key', { authorization: 'Bearer csk_ingest_nope' }, UNAUTHENTICATED, /unknown ingest key/],
    ['a message announced over the size limit', {}, RESOURCE_EXHAUSTED, /larger than 262144 bytes/],
  ])('%s: its status at once, the call reset', async (_name, headers, code, message) => {
    const conn = await connection();
    const a = await conn.call({ ':path': TRACES, ...(code === UNAUTHENTICATED ? {} : auth()), ...headers }, huge, { bytes: 1024, everyMs: 50 });
    expect(a.grpcStatus).toBe(code);
    expect(a.grpcMessage).toMatch(message);
    expect(a.sent).toBeLessThan(10 * 1024 * 1024);
  });

  it('a size-limit answer carries no RetryInfo: the sender must not retry it as it is', async () => {
    const conn = await connection();
    const a = await conn.call({ ':path': TRACES, ...auth() }, huge, { bytes: 1024, everyMs: 50 });
    expect(a.grpcStatus).toBe(RESOURCE_EXHAUSTED);
    expect(a.headers['google.rpc.retryinfo-bin']).toBeUndefined();
  });
});

describe('compressed bomb', () => {
  it('RESOURCE_EXHAUSTED after decompression, without inflating it into memory', async () => {
    expect(bomb.length).toBeLessThan(MAX_BODY);
    const conn = await connection();
    const before = process.memoryUsage().rss;
    const a = await conn.call({ ':path': TRACES, 'grpc-encoding': 'gzip', ...auth() }, grpcFrame(bomb, { compressed: true }));
    expect(a.grpcStatus).toBe(RESOURCE_EXHAUSTED);
    expect(a.grpcMessage).toMatch(/larger than 1048576 bytes after decompression/);
    expect(a.headers['google.rpc.retryinfo-bin']).toBeUndefined();
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('slow clients and idle connections', () => {
  it('a message sent slowly: DEADLINE_EXCEEDED after the request timeout, the call reset', async () => {
    const conn = await connection();
    const started = Date.now();
    const a = await conn.call({ ':path': TRACES, ...auth() }, grpcFrame(Buffer.alloc(10), { length: 100_000 }), { bytes: 10, everyMs: 100 });
    expect(a.grpcStatus).toBe(DEADLINE_EXCEEDED);
    expect(a.grpcMessage).toMatch(/not received within 1000 ms/);
    expect(Date.now() - started).toBeLessThan(WITHIN_MS);
  });

  it('a connection that opens no call is closed after the headers timeout', async () => {
    const conn = await connection();
    expect(await conn.closesWithin(WITHIN_MS)).toBe(true);
  });

  it('a connection idle after its call is closed after the idle timeout', async () => {
    const conn = await connection();
    expect((await conn.call({ ':path': TRACES, ...auth() }, grpcFrame(traces('before-idle')))).grpcStatus).toBe(0);
    expect(await conn.closesWithin(WITHIN_MS)).toBe(true);
  });

  it('a slow answer is not cut: waiting for the insert does not count as receiving the request', async () => {
    // The batch window (1.5 s) is longer than the request timeout.
    const conn = await connection();
    expect((await conn.call({ ':path': TRACES, ...auth() }, grpcFrame(traces('slow-answer')))).grpcStatus).toBe(0);
  });
});

describe('broken connections', () => {
  it.each([
    ['an HTTP/1.1 request', 'POST /opentelemetry.proto.collector.trace.v1.TraceService/Export HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\nContent-Length: 5\r\n\r\nhello'],
    ['bytes that are not HTTP at all', '\x00\x01\x02 garbage '.repeat(100)],
  ])('%s: the connection is closed', async (_name, bytes) => {
    const { hostname, port } = new URL(c.otlpGrpcUrl!);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => undefined);
    // Reading is what sees the server's close.
    socket.resume();
    const closed = new Promise<boolean>((resolve) => {
      socket.once('close', () => resolve(true));
      setTimeout(() => resolve(false), WITHIN_MS);
    });
    socket.write(bytes);
    expect(await closed).toBe(true);
    socket.destroy();
  });

  it('calls reset by the client mid-message, by the hundred, leave the server serving', async () => {
    const conn = await connection();
    for (let i = 0; i < 100; i++) {
      const stream = conn.session.request({ ':method': 'POST', ':path': TRACES, 'content-type': 'application/grpc', ...auth() });
      stream.on('error', () => undefined);
      stream.write(grpcFrame(Buffer.alloc(1000), { length: 100_000 }));
      stream.close(0x8); // CANCEL
    }
    expect((await conn.call({ ':path': TRACES, ...auth() }, grpcFrame(traces('after-resets')))).grpcStatus).toBe(0);
  });
});

describe('after every attack', () => {
  it('the process still takes data from a real exporter, and nothing of the attacks was stored', async () => {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${key}`);
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: c.otlpGrpcUrl, metadata }))] });
    provider.getTracer('faults').startSpan('after-grpc-attacks').end();
    await provider.forceFlush();
    await provider.shutdown();
    const names = (await c.rows<{ SpanName: string }>(`SELECT SpanName FROM consentry.otel_traces ORDER BY SpanName`)).map((r) => r.SpanName);
    expect(names).toEqual(['after-grpc-attacks', 'after-resets', 'before-idle', 'slow-answer']);
  });
});
