// The fastify plugin: one SERVER span per request, with callback hooks only
// (no await, no promise on the request path). Bodies are observed as they
// stream by; everything heavier (JSON parsing for usage, building the span)
// happens when the response has gone out ('close' of the response), so the
// gateway's latency does not include it. Any failure of the capture is
// swallowed and counted; the request goes on untouched.
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { BodyObserver, observeNodeStream, observeWebStream, parseModeOf } from './body.ts';
import { type Capture, parentFromTraceparent, requestFactsOf, requestHeaderAttributes, responseHeaderAttributes, setIfDefined } from './capture.ts';
import type { Core } from './core.ts';
import { NO_CAPTURE } from './core.ts';
import { requestFacts } from './usage.ts';

function valueOf(spec: string | ((r: FastifyRequest) => string | undefined) | undefined, req: FastifyRequest, isHeader: boolean): string | undefined {
  if (spec === undefined) return undefined;
  if (typeof spec === 'function') return spec(req) || undefined;
  if (!isHeader) return spec;
  const v = req.headers[spec.toLowerCase()];
  return (Array.isArray(v) ? v[0] : v) || undefined;
}

function describeRequest(core: Core, c: Capture, req: FastifyRequest): void {
  const a = c.attrs;
  const q = req.url.indexOf('?');
  a['http.request.method'] = req.method;
  a['url.full'] = `${req.protocol}://${req.host}${req.url}`;
  a['url.path'] = q === -1 ? req.url : req.url.slice(0, q);
  a['url.scheme'] = req.protocol;
  setIfDefined(a, 'server.address', req.hostname);
  if (typeof req.port === 'number') a['server.port'] = req.port;
  setIfDefined(a, 'client.address', req.ip);
  setIfDefined(a, 'network.protocol.version', req.raw.httpVersion);
  const ua = req.headers['user-agent'];
  if (typeof ua === 'string') a['user_agent.original'] = ua;
  setIfDefined(a, 'user.id', valueOf(core.opts.userId, req, true));
  c.provider = valueOf(core.opts.provider, req, false);
  requestHeaderAttributes(Object.entries(req.headers), c.policy, a);
  c.parent = parentFromTraceparent(req.headers['traceparent']);
  const length = Number(req.headers['content-length']);
  if (Number.isSafeInteger(length)) c.requestSize = length;
}

function finishRequest(core: Core, c: Capture, req: FastifyRequest, reply: FastifyReply): void {
  const res = reply.raw;
  const route = req.routeOptions.url;
  if (route !== undefined && route !== '') c.attrs['http.route'] = route;
  c.name = route === undefined || route === '' ? req.method : `${req.method} ${route}`;
  const body: unknown = req.body;
  const facts = typeof body === 'string' || body instanceof Uint8Array ? requestFactsOf(body, core.opts.maxParseBytes) : requestFacts(body);
  c.requestModel ??= facts.model;
  if (facts.stream === true) c.streaming = true;
  responseHeaderAttributes(Object.entries(res.getHeaders()) as [string, string | string[] | number | undefined][], c.policy, c.attrs);
  if (c.responseBody === undefined) {
    const length = Number(res.getHeader('content-length'));
    if (Number.isSafeInteger(length)) c.responseSize = length;
  }
  // The client went away, or the body stream broke, before the response was complete.
  if (!res.writableFinished) c.errorType ??= c.upstreamErrorType ?? 'aborted';
  core.finish(c, res.headersSent ? res.statusCode : undefined);
}

export function fastifyCapture(core: Core): FastifyPluginCallback {
  const captures = new WeakMap<FastifyRequest, Capture>();

  const plugin: FastifyPluginCallback = (app, _opts, done) => {
    app.addHook('onRequest', (req, reply, next) => {
      let c = core.begin('server');
      if (c !== undefined) {
        try {
          describeRequest(core, c, req);
          captures.set(req, c);
          const capture = c;
          reply.raw.once('close', () => {
            try {
              finishRequest(core, capture, req, reply);
            } catch {
              core.counters.captureErrors++;
            }
          });
        } catch {
          core.counters.captureErrors++;
          captures.delete(req);
          c = undefined;
        }
      }
      // Upstream calls made while handling this request (wrapped fetch) find it here.
      core.als.run(c ?? NO_CAPTURE, next);
    });

    app.addHook('preParsing', (req, _reply, payload, next) => {
      const c = captures.get(req);
      if (c === undefined || !c.policy.bodies || core.opts.maxBodyBytes === 0) {
        next(null, payload);
        return;
      }
      let out: Readable = payload;
      try {
        const observer = new BodyObserver({ keepBytes: core.opts.maxBodyBytes, parse: 'none', maxParseBytes: 0 });
        const tap = observeNodeStream(payload, observer, () => undefined);
        // A decompressing hook before us reports the bytes received on the wire; keep reporting them.
        Object.defineProperty(tap, 'receivedEncodedLength', { get: () => (payload as { receivedEncodedLength?: number }).receivedEncodedLength });
        c.requestBody = observer;
        c.requestSize = undefined;
        out = tap;
      } catch {
        core.counters.captureErrors++;
      }
      next(null, out);
    });

    app.addHook('onError', (req, _reply, err, next) => {
      const c = captures.get(req);
      if (c !== undefined) c.errorType ??= (err as { code?: string }).code ?? err.name;
      next();
    });

    app.addHook('onSend', (req, reply, payload, next) => {
      const c = captures.get(req);
      if (c === undefined || payload === null || payload === undefined) {
        next(null, payload);
        return;
      }
      let out: unknown = payload;
      try {
        const p = payload as { pipe?: unknown; getReader?: unknown; headers?: { get(name: string): string | null }; body?: ReadableStream<Uint8Array> | null };
        const isResponse = Object.prototype.toString.call(payload) === '[object Response]';
        const contentType = isResponse ? (p.headers?.get('content-type') ?? undefined) : (reply.getHeader('content-type') as string | undefined);
        const parse = parseModeOf(contentType);
        if (parse === 'sse') c.streaming = true;
        const keepBytes = c.policy.bodies ? core.opts.maxBodyBytes : 0;
        const observer = () => new BodyObserver({ keepBytes, parse, maxParseBytes: core.opts.maxParseBytes });
        const onEnd = (err?: Error) => {
          if (err !== undefined) c.upstreamErrorType ??= err.name === 'Error' ? 'stream_error' : err.name;
        };
        if (typeof payload === 'string' || payload instanceof Uint8Array) {
          // Read after the response went out, from the payload itself: no copy.
          c.responseBody = { value: payload, parse };
        } else if (typeof p.pipe === 'function') {
          const o = observer();
          out = observeNodeStream(payload as Readable, o, onEnd);
          c.responseBody = o;
        } else if (typeof p.getReader === 'function') {
          const o = observer();
          out = observeWebStream(payload as ReadableStream<Uint8Array>, o, onEnd);
          c.responseBody = o;
        } else if (isResponse && p.body !== undefined && p.body !== null) {
          const r = payload as Response;
          const o = observer();
          out = new Response(observeWebStream(r.body!, o, onEnd), { status: r.status, statusText: r.statusText, headers: r.headers });
          c.responseBody = o;
        }
      } catch {
        core.counters.captureErrors++;
        out = payload;
      }
      next(null, out);
    });

    done();
  };
  // Like fastify-plugin: the hooks apply to the whole application, not only to routes registered inside.
  const meta = plugin as unknown as Record<symbol, unknown>;
  meta[Symbol.for('skip-override')] = true;
  meta[Symbol.for('fastify.display-name')] = 'consentry-interceptor';
  return plugin;
}
