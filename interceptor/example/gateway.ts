// An example LLM gateway: a small fastify proxy in front of a fake provider
// (upstream.ts), instrumented with the Consentry interceptor. Start it with
//   CONSENTRY_OTLP_URL=http://127.0.0.1:4318 CONSENTRY_INGEST_KEY=csk_ingest_... npm run example:gateway
// and it prints what to curl; every request shows up in Consentry as far as
// the tenant's tier keeps it.
//
// Environment: CONSENTRY_OTLP_URL (default http://127.0.0.1:4318),
// CONSENTRY_INGEST_KEY (required), GATEWAY_PORT (default 8787), UPSTREAM_URL
// (default: the fake upstream, started in this process), CONSENTRY_API_URL
// (default http://127.0.0.1:8080, only for the hints it prints).
import { pathToFileURL } from 'node:url';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { createInterceptor, type Interceptor, type InterceptorOptions } from 'consentry/interceptor';
import { startFakeUpstream, type FakeUpstream } from './upstream.ts';

export interface ExampleGatewayOptions {
  /** Consentry's OTLP/HTTP base URL. */
  consentryUrl: string;
  ingestKey: string;
  /** The provider to proxy to; default: a fake upstream started in this process. */
  upstreamUrl?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** More interceptor options (tests shorten the queue and the timeouts). */
  interceptor?: Omit<InterceptorOptions, 'url' | 'ingestKey'>;
}

export interface ExampleGateway {
  url: string;
  upstreamUrl: string;
  interceptor: Interceptor;
  /** Stops the gateway, flushes the interceptor, stops the fake upstream. */
  close(): Promise<void>;
}

/** Upstream routes by gateway route: the path and the provider name. */
const ROUTES = [
  { path: '/v1/chat/completions', provider: 'openai' },
  { path: '/v1/messages', provider: 'anthropic' },
] as const;

/** Request headers passed on to the provider. */
const FORWARDED = ['content-type', 'authorization', 'x-api-key', 'anthropic-version', 'openai-organization'];

export async function startExampleGateway(opts: ExampleGatewayOptions): Promise<ExampleGateway> {
  let fake: FakeUpstream | undefined;
  const upstreamUrl = opts.upstreamUrl ?? (fake = await startFakeUpstream()).url;

  const interceptor = createInterceptor({
    serviceName: 'example-gateway',
    userId: 'x-user-id',
    // The fake upstream runs on localhost, so its host does not tell the provider: the route does.
    provider: (req: FastifyRequest) => ROUTES.find((r) => r.path === req.routeOptions.url)?.provider,
    ...opts.interceptor,
    url: opts.consentryUrl,
    ingestKey: opts.ingestKey,
  });
  const upstreamFetch = interceptor.wrapFetch(fetch);

  const app = Fastify({ logger: false });
  await app.register(interceptor.fastify);

  const proxy = (path: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const headers: Record<string, string> = {};
    for (const h of FORWARDED) {
      const v = req.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    let res: Response;
    try {
      res = await upstreamFetch(upstreamUrl + path, { method: 'POST', headers, body: JSON.stringify(req.body ?? {}) });
    } catch {
      return reply.code(502).send({ error: { message: 'upstream unreachable', type: 'bad_gateway' } });
    }
    reply.code(res.status);
    for (const h of ['content-type', 'cache-control']) {
      const v = res.headers.get(h);
      if (v !== null) reply.header(h, v);
    }
    return reply.send(res.body ?? '');
  };
  for (const r of ROUTES) app.post(r.path, proxy(r.path));
  app.get('/healthz', async () => ({ ok: true }));

  const url = await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? 0 });
  let closing: Promise<void> | undefined;
  return {
    url,
    upstreamUrl,
    interceptor,
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await interceptor.shutdown();
        await fake?.close();
      })()),
  };
}

function describe(i: Interceptor): string {
  const s = i.stats();
  const p = s.policy;
  if (p === undefined) return `unknown (${s.policyError ?? 'no answer yet'}): nothing is captured until Consentry answers`;
  const kept = (['spans', 'bodies', 'headers', 'apiKeys'] as const).filter((k) => p[k]);
  return `tier "${p.tier}": captures ${kept.length === 0 ? 'nothing about requests' : kept.join(', ')}`;
}

async function main(): Promise<void> {
  const consentryUrl = process.env['CONSENTRY_OTLP_URL'] || 'http://127.0.0.1:4318';
  const apiUrl = process.env['CONSENTRY_API_URL'] || 'http://127.0.0.1:8080';
  const ingestKey = process.env['CONSENTRY_INGEST_KEY'] ?? '';
  if (ingestKey === '') {
    process.stderr.write(
      [
        'CONSENTRY_INGEST_KEY is not set. Start Consentry and create a tenant first:',
        '  npm start',
        `  curl -s -X POST ${apiUrl}/api/tenants -H "authorization: Bearer $(cat data/admin-token)" \\`,
        `       -H 'content-type: application/json' -d '{"id":"demo","tier":"full"}'`,
        'then, with the ingestKey it answers:',
        '  CONSENTRY_OTLP_URL=http://127.0.0.1:4318 CONSENTRY_INGEST_KEY=csk_ingest_... npm run example:gateway',
        '',
      ].join('\n'),
    );
    process.exitCode = 1;
    return;
  }
  const gw = await startExampleGateway({
    consentryUrl,
    ingestKey,
    port: Number(process.env['GATEWAY_PORT'] || 8787),
    ...(process.env['UPSTREAM_URL'] ? { upstreamUrl: process.env['UPSTREAM_URL'] } : {}),
  });
  await Promise.race([gw.interceptor.ready(), new Promise((r) => setTimeout(r, 3000))]);
  const chat = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello there"}]}`;
  const chatStream = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Stream me a hello"}]}`;
  const messages = `{"model":"claude-3-5-sonnet-latest","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Hello Claude"}]}`;
  const curl = (path: string, body: string, stream = false) =>
    `  curl -s${stream ? 'N' : ''} ${gw.url}${path} -H 'content-type: application/json' -H 'x-user-id: alice' -d '${body}'`;
  process.stdout.write(
    [
      `Example gateway on ${gw.url}, proxying to ${gw.upstreamUrl}`,
      `Consentry: ${consentryUrl}, capture policy: ${describe(gw.interceptor)}`,
      '',
      'Send it some traffic:',
      curl('/v1/chat/completions', chat),
      curl('/v1/chat/completions', chatStream, true),
      curl('/v1/messages', messages, true),
      '',
      'Then see it in Consentry (the tenant\'s query key), e.g.:',
      `  curl -s -X POST ${apiUrl}/api/query -H "authorization: Bearer $CONSENTRY_QUERY_KEY" -H 'content-type: application/json' \\`,
      `       -d '{"sql":"SELECT Timestamp, SpanName, SpanAttributes FROM otel_traces ORDER BY Timestamp DESC LIMIT 5"}'`,
      'Ctrl-C stops the gateway (queued spans are sent first).',
      '',
    ].join('\n'),
  );
  let lastPolicy = describe(gw.interceptor);
  const watch = setInterval(() => {
    const now = describe(gw.interceptor);
    if (now !== lastPolicy) process.stdout.write(`capture policy: ${now}\n`);
    lastPolicy = now;
  }, 1000);
  watch.unref();
  const stop = () => {
    clearInterval(watch);
    const s = gw.interceptor.stats();
    void gw.close().then(() => process.stdout.write(`\nstopped: ${s.captured} spans captured, ${gw.interceptor.stats().exported} exported, ${gw.interceptor.stats().dropped} dropped\n`));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
