// What every Consentry HTTP port shares (OTLP, management API, sink health):
// header, request and keep-alive idle timeouts from the settings, and no
// reading of bodies nobody will use. An unknown endpoint is answered 404
// before its body is read; a request answered before its body was read (401,
// 429, 413, 415, 404, ...) is answered with `Connection: close`, and Node then
// closes the socket instead of reading (and discarding) the rest of the body
// for as long as the client cares to send it.
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
    if (bodyUnread(req.raw)) void reply.header('connection', 'close');
  });
  return app;
}

/** True when the request has a body that was not read to its end. */
function bodyUnread(req: IncomingMessage): boolean {
  if (req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
