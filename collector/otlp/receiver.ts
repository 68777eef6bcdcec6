// POST /v1/traces and /v1/logs: authenticate -> read (size-limited, gunzip
// bounded) -> decode -> tier pipeline (ingest.ts, on an ingest worker thread)
// -> transport. The reply is sent only after the transport made the data durable.
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TransportError, type Transport } from '../../storage/transport.ts';
import type { Metrics } from '../../core/metrics.ts';
import type { Logger } from '../../core/logger.ts';
import { bearerToken } from '../../core/keys.ts';
import { IngestUnavailable, type Encoding, type Format, type Ingest, type IngestJob, type IngestResult, type Signal } from './ingest.ts';
import { OtlpDecodeError } from './errors.ts';
import { encodeExportResponse, encodeStatus } from './encode-response.ts';

const gunzipAsync = promisify(gunzip);

/** What the receiver needs from the rest of the collector. */
export interface ReceiverDeps {
  maxBodyBytes: number;
  maxDecompressedBytes: number;
  maxInflightBytes: number;
  /** Event-loop delay when the collector is behind, else undefined: new requests get 429. */
  overloaded?: () => number | undefined;
  /** Tenant id of an ingest key, or undefined. */
  authenticate(ingestKey: string): string | undefined;
  /** The tenant's tier in force, looked up once as a request arrives; it applies to the whole request. */
  tierOf(tenantId: string): { tier: string; version: number };
  /** False when the tier drops every span unread: its traces are answered without being decoded. */
  readsSpans(tier: string): boolean;
  /** Decodes a body and applies the tier, on this thread or a worker's. */
  ingest: Ingest;
  transport: Transport;
  metrics: Metrics;
  logger: Logger;
}

const CONTENT_TYPES: Record<string, Format> = { 'application/x-protobuf': 'proto', 'application/json': 'json' };

/** A reply with an OTLP Status body (google.rpc.Status) in the request's encoding. */
function fail(reply: FastifyReply, format: Format, status: number, message: string, retryAfterSeconds?: number): FastifyReply {
  if (retryAfterSeconds !== undefined) void reply.header('retry-after', String(retryAfterSeconds));
  // gRPC codes in the Status body, as the OTLP/HTTP spec asks.
  const grpc = status === 400 ? 3 : status === 401 ? 16 : status === 413 ? 8 : status === 429 ? 8 : status === 503 ? 14 : 2;
  return reply
    .code(status)
    .type(format === 'proto' ? 'application/x-protobuf' : 'application/json')
    .send(encodeStatus({ format, code: grpc, message }));
}

/** An OTLP error answer: HTTP status, message, and Retry-After for the retryable ones. */
export interface FailureReply {
  status: 400 | 413 | 503;
  message: string;
  retryAfterSeconds?: number;
}

/**
 * How a request that failed after authentication is answered, for every
 * expected failure, in one place: a malformed body and data storage refused
 * are the sender's (400, or 413 for too large: never retried as they are);
 * an unavailable transport or ingest worker is not (503 + Retry-After). A bad
 * record is never answered 503, so it cannot make its sender retry forever.
 * undefined: not an expected failure (a bug), answered 500.
 */
export function failureReply(err: unknown): FailureReply | undefined {
  if (err instanceof OtlpDecodeError) return { status: 400, message: err.message };
  if (err instanceof IngestUnavailable) return { status: 503, message: `${err.message}, retry later`, retryAfterSeconds: 1 };
  if (!(err instanceof TransportError)) return undefined;
  switch (err.refused) {
    case undefined:
      return { status: 503, message: 'storage unavailable, retry later', retryAfterSeconds: err.retryAfterSeconds };
    case 'too-large':
      return { status: 413, message: `${err.message}; not stored` };
    case 'invalid':
      return { status: 400, message: `${err.message}; not stored: fix the records, do not send them again as they are` };
  }
}

function formatOf(req: FastifyRequest): Format {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return CONTENT_TYPES[type] ?? 'json';
}

export async function otlpReceiver(app: FastifyInstance, deps: ReceiverDeps): Promise<void> {
  let inflight = 0;
  let unstored = 0;
  let lastUnstoredLog = 0;
  const tenantOf = new WeakMap<FastifyRequest, string>();

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(Object.keys(CONTENT_TYPES), { parseAs: 'buffer', bodyLimit: deps.maxBodyBytes }, (_req, body, done) => {
    done(null, body);
  });

  // Authenticate and apply backpressure before reading a byte of the body.
  app.addHook('onRequest', async (req, reply) => {
    const format = formatOf(req);
    const key = bearerToken(req.headers.authorization);
    const tenantId = key === undefined ? undefined : deps.authenticate(key);
    if (tenantId === undefined) {
      return fail(reply, format, 401, key === undefined ? 'missing ingest key: send Authorization: Bearer <ingest key>' : 'unknown ingest key');
    }
    const lag = deps.overloaded?.();
    if (lag !== undefined) {
      return fail(reply, format, 429, `collector busy: ${Math.round(lag)} ms behind, retry later`, 1);
    }
    const announced = Number(req.headers['content-length'] ?? 0);
    if (inflight > 0 && inflight + announced > deps.maxInflightBytes) {
      return fail(reply, format, 429, 'collector busy: too much data in flight, retry later', 1);
    }
    tenantOf.set(req, tenantId);
    return undefined;
  });

  app.setErrorHandler((err: { code?: string; statusCode?: number; message: string }, req, reply) => {
    const format = formatOf(req);
    switch (err.code) {
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return fail(reply, 'json', 415, 'unsupported Content-Type: use application/x-protobuf or application/json');
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return fail(reply, format, 413, `body larger than ${deps.maxBodyBytes} bytes: send smaller batches`);
      default:
        if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return fail(reply, format, err.statusCode, err.message);
        deps.logger.error({ err }, 'OTLP request failed');
        return fail(reply, format, 500, 'internal error');
    }
  });

  // Results come encoded the way the transport stores them.
  const { transport } = deps;
  const encode: Encoding = transport.sendRows !== undefined ? 'rows' : 'records';

  /** Hands a result to the transport; rows that need the downgrade or erasure check come back as records first. */
  const store = async (job: IngestJob, result: IngestResult): Promise<void> => {
    if (result.rows !== undefined) {
      if (await transport.sendRows!(result.rows, result.ctx, result.traceIds ?? [])) return;
      result = await deps.ingest({ ...job, encode: 'records' });
    }
    await transport.send(result.batch!, result.ctx);
  };

  const handle = (signal: Signal) => async (req: FastifyRequest, reply: FastifyReply) => {
    const format = formatOf(req);
    const tenantId = tenantOf.get(req)!;
    const receivedAtMs = Date.now();
    let body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding === 'gzip') {
      try {
        // maxOutputLength stops inflation at the limit: a gzip bomb never grows past it.
        body = await gunzipAsync(body, { maxOutputLength: deps.maxDecompressedBytes });
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
          return fail(reply, format, 413, `body larger than ${deps.maxDecompressedBytes} bytes after decompression: send smaller batches`);
        }
        return fail(reply, format, 400, `invalid gzip body: ${(err as Error).message}`);
      }
    } else if (encoding !== 'identity') {
      return fail(reply, format, 415, `unsupported Content-Encoding "${encoding}": use gzip or identity`);
    }
    if (inflight > 0 && inflight + body.length > deps.maxInflightBytes) {
      return fail(reply, format, 429, 'collector busy: too much data in flight, retry later', 1);
    }
    const tier = deps.tierOf(tenantId);
    if (signal === 'traces' && !deps.readsSpans(tier.tier)) {
      // The tier keeps nothing about requests: answer without reading them.
      return reply.code(200).type(format === 'proto' ? 'application/x-protobuf' : 'application/json').send(encodeExportResponse({ signal, format, rejected: 0, message: '' }));
    }
    inflight += body.length;
    deps.metrics.inflightBytes.set(inflight);
    try {
      const job: IngestJob = { signal, format, body, ctx: { tenantId, tier: tier.tier, tierVersion: tier.version, receivedAtMs }, encode };
      let processed: IngestResult;
      try {
        processed = await deps.ingest(job);
        deps.metrics.recordsAccepted.inc({ signal }, processed.accepted);
        if (processed.rejected > 0) deps.metrics.recordsRejected.inc({ signal }, processed.rejected);
        await store(job, processed);
      } catch (err) {
        const answer = failureReply(err);
        if (answer === undefined) throw err;
        if (err instanceof TransportError && err.retryable) {
          unstored++;
          // One line per 10 s with a count, not one per request, during an outage.
          if (receivedAtMs - lastUnstoredLog >= 10_000) {
            deps.logger.warn({ err, requests: unstored }, 'data not stored, answering 503');
            lastUnstoredLog = receivedAtMs;
            unstored = 0;
          }
        }
        return fail(reply, format, answer.status, answer.message, answer.retryAfterSeconds);
      }
      return reply
        .code(200)
        .type(format === 'proto' ? 'application/x-protobuf' : 'application/json')
        .send(encodeExportResponse({ signal, format, rejected: processed.rejected, message: processed.rejectionMessage }));
    } finally {
      inflight -= body.length;
      deps.metrics.inflightBytes.set(inflight);
    }
  };

  app.addHook('onResponse', async (req, reply) => {
    const signal = req.url.startsWith('/v1/traces') ? 'traces' : req.url.startsWith('/v1/logs') ? 'logs' : 'other';
    deps.metrics.requests.inc({ signal, code: String(reply.statusCode) });
  });

  app.post('/v1/traces', handle('traces'));
  app.post('/v1/logs', handle('logs'));
}
