// OTLP/HTTP: POST /v1/traces and /v1/logs. Admission (key, backpressure) before
// a byte of the body is read, then the body (size-limited, gunzip bounded) goes
// to the export service (service.ts), shared with the gRPC port; its outcome is
// answered as the OTLP/HTTP spec says (outcome.ts), only once data is durable.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Format, Signal } from './ingest.ts';
import { encodeExportResponse, encodeStatus } from './encode-response.ts';
import { GRPC_CODE, GrpcCode, HTTP_STATUS, retryAfterOf, type Failure } from './outcome.ts';
import type { OtlpService } from './service.ts';

export interface ReceiverOptions {
  service: OtlpService;
}

const CONTENT_TYPES: Record<string, Format> = { 'application/x-protobuf': 'proto', 'application/json': 'json' };
const MEDIA_TYPE: Record<Format, string> = { proto: 'application/x-protobuf', json: 'application/json' };

/** An error reply with an OTLP Status body (google.rpc.Status, the gRPC code of the failure) in the request's encoding. */
function fail(reply: FastifyReply, format: Format, failure: Failure): FastifyReply {
  const retryAfter = retryAfterOf(failure);
  if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
  return reply.code(HTTP_STATUS[failure.kind]).type(MEDIA_TYPE[format]).send(encodeStatus({ format, code: GRPC_CODE[failure.kind], message: failure.message }));
}

function formatOf(req: FastifyRequest): Format {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return CONTENT_TYPES[type] ?? 'json';
}

export function otlpReceiver(app: FastifyInstance, { service }: ReceiverOptions, done: (err?: Error) => void): void {
  const { maxBodyBytes } = service.opts;
  const tenantOf = new WeakMap<FastifyRequest, string>();

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(Object.keys(CONTENT_TYPES), { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_req, body, done) => {
    done(null, body);
  });

  app.addHook('onRequest', async (req, reply) => {
    const admitted = service.admit(req.headers.authorization, Number(req.headers['content-length'] ?? 0));
    if (typeof admitted !== 'string') return fail(reply, formatOf(req), admitted);
    tenantOf.set(req, admitted);
    return undefined;
  });

  app.setErrorHandler((err: { code?: string; statusCode?: number; message: string }, req, reply) => {
    const format = formatOf(req);
    switch (err.code) {
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return fail(reply, 'json', { kind: 'unsupported', message: 'unsupported Content-Type: use application/x-protobuf or application/json' });
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return fail(reply, format, service.tooLarge());
      default:
        if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
          // Another client error of fastify's: the gRPC code of the failure with that status, if any.
          const kind = (Object.keys(HTTP_STATUS) as Failure['kind'][]).find((k) => HTTP_STATUS[k] === err.statusCode);
          const code = kind === undefined ? GrpcCode.UNKNOWN : GRPC_CODE[kind];
          return reply.code(err.statusCode).type(MEDIA_TYPE[format]).send(encodeStatus({ format, code, message: err.message }));
        }
        service.opts.logger.error({ err }, 'OTLP request failed');
        return reply.code(500).type(MEDIA_TYPE[format]).send(encodeStatus({ format, code: GrpcCode.INTERNAL, message: 'internal error' }));
    }
  });

  const handle = (signal: Signal) => async (req: FastifyRequest, reply: FastifyReply) => {
    const format = formatOf(req);
    const receivedAtMs = Date.now();
    let body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding === 'gzip') {
      const inflated = await service.gunzip(body);
      if (!Buffer.isBuffer(inflated)) return fail(reply, format, inflated);
      body = inflated;
    } else if (encoding !== 'identity') {
      return fail(reply, format, { kind: 'unsupported', message: `unsupported Content-Encoding "${encoding}": use gzip or identity` });
    }
    const outcome = await service.export({ signal, format, tenantId: tenantOf.get(req)!, body, receivedAtMs });
    if (outcome.kind !== 'accepted') return fail(reply, format, outcome);
    return reply.code(200).type(MEDIA_TYPE[format]).send(encodeExportResponse({ signal, format, rejected: outcome.rejected, message: outcome.message }));
  };

  app.addHook('onResponse', async (req, reply) => {
    const signal = req.url.startsWith('/v1/traces') ? 'traces' : req.url.startsWith('/v1/logs') ? 'logs' : 'other';
    service.opts.metrics.requests.inc({ signal, code: String(reply.statusCode) });
  });

  app.post('/v1/traces', handle('traces'));
  app.post('/v1/logs', handle('logs'));
  done();
}
