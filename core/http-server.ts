// What every Consentry HTTP port shares (OTLP, management API, sink health):
// header, request and keep-alive idle timeouts from the settings, and no
// reading of bodies nobody will use. An unknown endpoint is answered 404
// before its body is read; a request answered before its body was read (401,
// 413, 415, 404, ...) is answered with `Connection: close`, and Node then
// closes the socket instead of reading (and discarding) the rest of the body
// for as long as the client cares to send it.
//
// Backpressure (429, 503) is the exception when the body announced fits the
// body limit: the rest of it is read and discarded (Node does once the answer
// is sent) and the connection stays. Closing a socket with unread bytes makes
// the kernel reset it, and a sender still writing its body then gets
// ECONNRESET instead of the answer and its Retry-After (seen as errors at
// twice the sustainable load in `npm run bench`, embedded-full-soak).
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Settings } from './settings.ts';

export type HttpLimits = Pick<Settings, 'httpHeadersTimeoutMs' | 'httpRequestTimeoutMs' | 'httpIdleTimeoutMs'>;

/** A fastify instance with the limits of every port; `options` are the server's own (body limit, validation). */
export function createHttpServer(limits: HttpLimits, options: Omit<FastifyServerOptions, 'requestTimeout' | 'keepAliveTimeout' | 'connectionTimeout'> = {}): FastifyInstance {
  const app = Fastify({
    logger: false,
    ...options,
    // Until the whole request is received; a slow answer (waiting for an insert) does not count.
    requestTimeout: limits.httpRequestTimeoutMs,
    keepAliveTimeout: limits.httpIdleTimeoutMs,
    http: {
      headersTimeout: limits.httpHeadersTimeoutMs,
      // Node enforces both timeouts on this period (30 s by default, which would add up to 30 s to each).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.httpHeadersTimeoutMs / 4))),
    },
  });
  // Before the body: fastify's own not-found route would read it first.
  app.addHook('onRequest', async (req, reply) => {
    if (req.is404) return reply.code(404).send({ error: 'NOT_FOUND', message: 'no such endpoint' });
    return undefined;
  });
  app.addHook('onSend', async (req, reply) => {
    if (!bodyUnread(req.raw)) return;
    if (BACKPRESSURE.has(reply.statusCode) && announcedWithin(req.raw, app.initialConfig.bodyLimit ?? 0)) return;
    void reply.header('connection', 'close');
  });
  return app;
}

/** Answers that ask a legitimate sender to come back later: it must be able to read them. */
const BACKPRESSURE = new Set([429, 503]);

/** True when the request announced a body length (not chunked) of at most `limit` bytes. */
function announcedWithin(req: IncomingMessage, limit: number): boolean {
  const length = Number(req.headers['content-length']);
  return req.headers['transfer-encoding'] === undefined && Number.isSafeInteger(length) && length <= limit;
}

/** True when the request has a body that was not read to its end. */
function bodyUnread(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
