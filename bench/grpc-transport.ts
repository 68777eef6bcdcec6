// Micro-benchmark of the OTLP transports alone: which gRPC server to use
// (issue 16), and what either costs beside the HTTP receiver.
//
//   npx tsx bench/grpc-transport.ts [seconds per case, default 10] [batch spans, default 1000]
//
// Three servers, each in a process of its own, in front of the same export
// service (collector/otlp/service.ts) with a transport that stores nothing and
// an ingest that decodes nothing, so that only the transport is measured:
//
// - `http`: the OTLP/HTTP receiver (fastify, collector/otlp/receiver.ts);
// - `grpc`: Consentry's unary gRPC server over node:http2 (collector/otlp/grpc-receiver.ts);
// - `grpc-js`: @grpc/grpc-js's Server with the two Export methods registered
//   with pass-through (identity) serializers, so the message reaches the same
//   service as a Buffer and the response is the same bytes.
//
// The client (this process) sends the same pre-encoded 1000-span batch, closed
// loop, 8 calls at once over one connection (gRPC) or 8 keep-alive connections
// (HTTP), for the given time. Reported per server: calls/s, spans/s, server
// CPU seconds per million spans and per 1000 calls, and peak RSS. Run with
// `--ingest` to decode and apply the `full` tier inline as well (what a
// collector with CONSENTRY_INGEST_WORKERS=0 does), for the share of the whole.
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import http2, { type Http2Server } from 'node:http2';
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { buildPool } from './otlp-batches.ts';
import { createHttpServer } from '../core/http-server.ts';
import { Metrics } from '../core/metrics.ts';
import { createLogger } from '../core/logger.ts';
import { otlpReceiver } from '../collector/otlp/receiver.ts';
import { GrpcReceiver } from '../collector/otlp/grpc-receiver.ts';
import { OtlpService } from '../collector/otlp/service.ts';
import { encodeExportResponse } from '../collector/otlp/encode-response.ts';
import { ingestInline, type Ingest } from '../collector/otlp/ingest.ts';
import { encodeRows } from '../sinks/clickhouse/encode.ts';
import { buildTierEngine } from '../app/pipeline.ts';
import { loadSettings } from '../core/settings.ts';
import type { Transport } from '../storage/transport.ts';

type Server = 'http' | 'grpc' | 'grpc-js';
const SERVERS: Server[] = ['http', 'grpc', 'grpc-js'];
const TRACE_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const KEY = 'csk_ingest_bench';
const CONCURRENCY = 8;
const LIMITS = { httpHeadersTimeoutMs: 10_000, httpRequestTimeoutMs: 30_000, httpIdleTimeoutMs: 65_000 };

interface ServerReport {
  cpuS: number;
  maxRssMb: number;
}

// ------------------------------------------------------------------ server

const discard: Transport = {
  name: 'discard',
  start: () => Promise.resolve(),
  send: () => Promise.resolve(),
  ready: () => true,
  shutdown: () => Promise.resolve(),
};

function service(decode: boolean): OtlpService {
  const nothing: Ingest = (job) => Promise.resolve({ batch: { spans: [], logs: [], summaries: [], metadata: [] }, ctx: job.ctx, accepted: 0, rejected: 0, rejectionMessage: '' });
  return new OtlpService({
    maxBodyBytes: 8 << 20,
    maxDecompressedBytes: 32 << 20,
    maxInflightBytes: 128 << 20,
    authenticate: (key) => (key === KEY ? 't' : undefined),
    tierOf: () => ({ tier: 'full', version: 1 }),
    readsSpans: () => true,
    ingest: decode ? ingestInline({ engine: buildTierEngine(loadSettings({}, { hmacKey: Buffer.alloc(32, 7).toString('base64') }), { count: () => undefined, onRedact: () => undefined, onDrop: () => undefined }), encodeRows }) : nothing,
    transport: discard,
    metrics: new Metrics(),
    logger: createLogger({ level: 'silent', scrub: (s) => s }),
  });
}

async function grpcJsServer(svc: OtlpService): Promise<number> {
  const grpc = await import('@grpc/grpc-js');
  const server = new grpc.Server({ 'grpc.max_receive_message_length': svc.opts.maxDecompressedBytes });
  const identity = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
  const method = (signal: 'traces' | 'logs', path: string) => ({ path, requestStream: false, responseStream: false, ...identity, signal });
  const methods = { Export: method('traces', TRACE_PATH) };
  server.addService(methods, {
    Export: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
      const tenantId = svc.admit(String(call.metadata.get('authorization')[0] ?? ''), 0);
      if (typeof tenantId !== 'string') return callback({ code: grpc.status.UNAUTHENTICATED, details: 'unknown key' });
      void svc.export({ signal: 'traces', format: 'proto', tenantId, body: call.request, receivedAtMs: Date.now() }).then((outcome) => {
        if (outcome.kind !== 'accepted') return callback({ code: grpc.status.INVALID_ARGUMENT, details: outcome.message });
        callback(null, encodeExportResponse({ signal: 'traces', format: 'proto', rejected: outcome.rejected, message: outcome.message }));
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  // grpc-js has no option for the HTTP/2 windows: give its sessions the ones Consentry's server uses, so that only the code differs.
  for (const h2 of (server as unknown as { http2Servers: Map<Http2Server, unknown> }).http2Servers.keys()) {
    h2.on('session', (session) => {
      session.settings({ initialWindowSize: 1 << 20 });
      session.setLocalWindowSize(16 << 20);
    });
  }
  return port;
}

async function serve(kind: Server, decode: boolean): Promise<void> {
  const svc = service(decode);
  let port: number;
  if (kind === 'http') {
    const app = createHttpServer(LIMITS, { bodyLimit: svc.opts.maxBodyBytes });
    await app.register(otlpReceiver, { service: svc });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  } else if (kind === 'grpc') {
    const receiver = new GrpcReceiver({ service: svc, limits: LIMITS, maxConcurrentStreams: 100 });
    port = Number(new URL(await receiver.listen('127.0.0.1', 0)).port);
  } else {
    port = await grpcJsServer(svc);
  }
  let cpu0 = process.cpuUsage();
  process.on('message', (msg: string) => {
    if (msg === 'start') cpu0 = process.cpuUsage();
    if (msg === 'report') {
      const cpu = process.cpuUsage(cpu0);
      process.send!({ cpuS: (cpu.user + cpu.system) / 1e6, maxRssMb: process.resourceUsage().maxRSS / 1024 } satisfies ServerReport);
    }
  });
  process.send!({ port });
}

// ------------------------------------------------------------------ client

function grpcFrame(message: Buffer, compressed: boolean): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame[0] = compressed ? 1 : 0;
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** CONCURRENCY callers, each sending again as soon as its call is answered, until `end`. */
async function closedLoop(one: () => Promise<void>, end: number): Promise<void> {
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) await one();
    }),
  );
}

/** Closed loop for `seconds`: CONCURRENCY calls at once; resolves with calls answered OK. */
async function drive(kind: Server, port: number, body: Buffer, gzip: boolean, seconds: number): Promise<{ ok: number; failed: number }> {
  const end = performance.now() + seconds * 1000;
  let ok = 0;
  let failed = 0;
  if (kind === 'http') {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const payload = gzip ? gzipSync(body) : body;
    const one = () =>
      new Promise<void>((resolve) => {
        const req = http.request({ agent, host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${KEY}`, 'content-length': payload.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) } });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ok++;
            else failed++;
            resolve();
          });
        });
        req.on('error', () => {
          failed++;
          resolve();
        });
        req.end(payload);
      });
    await closedLoop(one, end);
    agent.destroy();
    return { ok, failed };
  }
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const frame = grpcFrame(gzip ? gzipSync(body) : body, gzip);
  const one = () =>
    new Promise<void>((resolve) => {
      const stream = session.request({ ':method': 'POST', ':path': TRACE_PATH, 'content-type': 'application/grpc', te: 'trailers', authorization: `Bearer ${KEY}`, ...(gzip ? { 'grpc-encoding': 'gzip' } : {}) });
      let status = '';
      stream.on('response', (h) => (status = String(h['grpc-status'] ?? status)));
      stream.on('trailers', (t) => (status = String(t['grpc-status'] ?? status)));
      stream.on('data', () => undefined);
      stream.on('close', () => {
        if (status === '0') ok++;
        else failed++;
        resolve();
      });
      stream.end(frame);
    });
  await closedLoop(one, end);
  session.close();
  return { ok, failed };
}

function startServer(kind: Server, decode: boolean): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--server', kind, decode ? '--ingest' : ''], { execArgv: ['--import', 'tsx'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve({ child, port: m.port }));
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

function ask(child: ChildProcess): Promise<ServerReport> {
  return new Promise((resolve) => {
    child.once('message', (m: ServerReport) => resolve(m));
    child.send('report');
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const decode = args.includes('--ingest');
  if (args[0] === '--server') return serve(args[1] as Server, decode);
  const [seconds = 10, spans = 1000] = args.filter((a) => !a.startsWith('--')).map(Number);
  const body = buildPool({ tenantId: 't', seed: 1, bodies: false, spansPerBatch: spans, batches: 1, markerTemplates: 1, baseTimeMs: Date.now(), requestsPerSecond: 20_000 }).batches[0]!;
  process.stdout.write(`batch: ${spans} spans, ${(body.length / 1024).toFixed(0)} KiB; ${seconds} s per case, ${CONCURRENCY} calls at once; ingest ${decode ? 'decode + full tier, inline' : 'none'}\n`);
  process.stdout.write('| server | gzip | calls/s | spans/s | server CPU s per M spans | server CPU ms per 1000 calls | server peak RSS MB | failed |\n|---|---|---:|---:|---:|---:|---:|---:|\n');
  for (const gzip of [false, true]) {
    for (const kind of SERVERS) {
      const { child, port } = await startServer(kind, decode);
      await drive(kind, port, body, gzip, 1); // warm-up
      child.send('start');
      const { ok, failed } = await drive(kind, port, body, gzip, seconds);
      const r = await ask(child);
      child.kill();
      const total = ok * spans;
      process.stdout.write(
        `| ${kind} | ${gzip ? 'yes' : 'no'} | ${Math.round(ok / seconds)} | ${Math.round(total / seconds).toLocaleString('en-US')} | ${((r.cpuS / total) * 1e6).toFixed(2)} | ${((r.cpuS / ok) * 1e6).toFixed(0)} | ${r.maxRssMb.toFixed(0)} | ${failed} |\n`,
      );
    }
  }
}

await main();
