// The gateway simulator's traffic model: what an API / LLM gateway in front of
// several providers sees, one proxied request at a time, deterministic from a
// seed (only the time base comes from the clock).
//
// Shape (DESIGN.md, Gateway conventions and Benchmarks):
// - providers openai, anthropic, google, mistral with their hosts, routes and
//   models; some routes carry ids in the raw path (files, threads, batches,
//   Gemini's `models/<model>:generateContent`); 70% of spans carry the route
//   template in `http.route`, the rest only the raw path, so the summary tier
//   has to template it itself;
// - status codes mostly 2xx, about 3.5% 4xx and 1.5% 5xx (ERROR status);
// - token counts and latencies log-normal; a streaming share (SSE responses);
// - bodies from a few bytes to 100 KB, heavily skewed (most a few hundred
//   bytes, a long tail), only when `bodies` is set: spans of about 20
//   attributes are about 0.7 KB in OTLP protobuf without bodies and about
//   1.5 KB on average with them, as DESIGN.md's benchmark table assumes;
// - planted secrets at a set rate (default 1%): an `Authorization: Bearer sk-...`
//   header, an Anthropic `x-api-key`, a key in a request body or in a URL query.
//
// The bench never asserts anything about content; the model only has to look
// like real traffic to the code paths that cost (decode, scrub, template,
// summarize, encode, insert).

/** sfc32: small, fast, good enough for traffic shapes, and the same everywhere. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    let t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    t = (t + this.d) | 0;
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** One of `items` with probability proportional to its weight. */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let x = this.next() * total;
    for (const [v, w] of items) {
      x -= w;
      if (x < 0) return v;
    }
    return items[items.length - 1]![0];
  }

  /** Log-normal with the given median and sigma (of the underlying normal), clamped. */
  logNormal(median: number, sigma: number, min: number, max: number): number {
    // Box-Muller; 1 - next() avoids log(0).
    const z = Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next());
    return Math.min(max, Math.max(min, median * Math.exp(sigma * z)));
  }

  /** Log-uniform in [lo, hi]. */
  logUniform(lo: number, hi: number): number {
    return lo * Math.pow(hi / lo, this.next());
  }

  chars(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.next() * alphabet.length)];
    return s;
  }

  hex(n: number): string {
    return this.chars('0123456789abcdef', n);
  }

  base62(n: number): string {
    return this.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', n);
  }
}

export type Provider = 'openai' | 'anthropic' | 'google' | 'mistral';

interface RouteSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** Template as the gateway's router knows it. */
  template: string;
  /** Raw path; `{id}` and `{model}` are filled per request. */
  raw: string;
  /** What the call does: chat (tokens, bodies, may stream), embed, other (no tokens). */
  op: 'chat' | 'embed' | 'other';
  weight: number;
}

interface ProviderSpec {
  name: Provider;
  host: string;
  weight: number;
  models: readonly (readonly [string, number])[];
  routes: readonly RouteSpec[];
  /** Style of ids in raw paths. */
  id: (rng: Rng) => string;
}

const PROVIDERS: readonly ProviderSpec[] = [
  {
    name: 'openai',
    host: 'api.openai.com',
    weight: 0.5,
    models: [
      ['gpt-4o-mini', 5],
      ['gpt-4o', 3],
      ['gpt-4.1', 1],
      ['o3-mini', 1],
    ],
    routes: [
      { method: 'POST', template: '/v1/chat/completions', raw: '/v1/chat/completions', op: 'chat', weight: 60 },
      { method: 'POST', template: '/v1/responses', raw: '/v1/responses', op: 'chat', weight: 10 },
      { method: 'POST', template: '/v1/embeddings', raw: '/v1/embeddings', op: 'embed', weight: 15 },
      { method: 'GET', template: '/v1/files/:file_id', raw: '/v1/files/{id}', op: 'other', weight: 4 },
      { method: 'POST', template: '/v1/threads/:thread_id/messages', raw: '/v1/threads/{id}/messages', op: 'chat', weight: 6 },
      { method: 'GET', template: '/v1/models', raw: '/v1/models', op: 'other', weight: 5 },
    ],
    id: (rng) => `${rng.pick(['file', 'thread'])}-${rng.base62(24)}`,
  },
  {
    name: 'anthropic',
    host: 'api.anthropic.com',
    weight: 0.25,
    models: [
      ['claude-3-5-sonnet-20241022', 4],
      ['claude-3-5-haiku-20241022', 3],
      ['claude-sonnet-4-20250514', 3],
    ],
    routes: [
      { method: 'POST', template: '/v1/messages', raw: '/v1/messages', op: 'chat', weight: 88 },
      { method: 'POST', template: '/v1/messages/count_tokens', raw: '/v1/messages/count_tokens', op: 'other', weight: 7 },
      { method: 'GET', template: '/v1/messages/batches/:batch_id', raw: '/v1/messages/batches/{id}', op: 'other', weight: 5 },
    ],
    id: (rng) => `msgbatch_${rng.base62(24)}`,
  },
  {
    name: 'google',
    host: 'generativelanguage.googleapis.com',
    weight: 0.15,
    models: [
      ['gemini-2.0-flash', 6],
      ['gemini-1.5-pro', 4],
    ],
    routes: [
      { method: 'POST', template: '/v1beta/models/:model:generateContent', raw: '/v1beta/models/{model}:generateContent', op: 'chat', weight: 70 },
      { method: 'POST', template: '/v1beta/models/:model:streamGenerateContent', raw: '/v1beta/models/{model}:streamGenerateContent', op: 'chat', weight: 20 },
      { method: 'POST', template: '/v1beta/models/:model:embedContent', raw: '/v1beta/models/{model}:embedContent', op: 'embed', weight: 10 },
    ],
    id: (rng) => rng.hex(16),
  },
  {
    name: 'mistral',
    host: 'api.mistral.ai',
    weight: 0.1,
    models: [
      ['mistral-small-latest', 5],
      ['mistral-large-latest', 3],
      ['codestral-latest', 2],
    ],
    routes: [
      { method: 'POST', template: '/v1/chat/completions', raw: '/v1/chat/completions', op: 'chat', weight: 80 },
      { method: 'POST', template: '/v1/embeddings', raw: '/v1/embeddings', op: 'embed', weight: 15 },
      { method: 'DELETE', template: '/v1/files/:file_id', raw: '/v1/files/{id}', op: 'other', weight: 5 },
    ],
    id: (rng) => `${rng.hex(8)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(4)}-${rng.hex(12)}`,
  },
];

const STATUS: readonly (readonly [number, number])[] = [
  [200, 940],
  [201, 10],
  [400, 12],
  [401, 5],
  [404, 6],
  [429, 12],
  [500, 4],
  [502, 5],
  [503, 3],
  [504, 3],
];

const USER_AGENTS = [
  'openai-python/1.51.0',
  'openai-node/4.67.3',
  'anthropic-typescript/0.30.1',
  'anthropic-python/0.39.0',
  'google-genai-sdk/0.3.0',
  'MistralClient/1.2.3 python',
  'curl/8.5.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)',
];

const WORDS =
  'the a of and to in is you that it for on with as are this be at or have from by not but what all were we when your can said there use an each which do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part summarise invoice translate explain code function error customer order refund meeting schedule report'.split(
    ' ',
  );

/** A planted secret: what it looks like, and where the gateway put it. */
export interface PlantedSecret {
  where: 'authorization-header' | 'x-api-key-header' | 'request-body' | 'url-query';
  value: string;
}

/** One proxied request as the gateway saw it. */
export interface GatewayRequest {
  provider: Provider;
  host: string;
  method: string;
  /** Route template, or '' when the gateway does not report one (raw path only). */
  route: string;
  /** Raw path, ids filled in. */
  path: string;
  op: 'chat' | 'embed' | 'other';
  model: string;
  responseModel: string;
  status: number;
  streaming: boolean;
  inputTokens: number;
  outputTokens: number;
  /** Offset of the request's start from the traffic's time base, ms. */
  startOffsetMs: number;
  durationMs: number;
  clientAddress: string;
  forwardedFor: string;
  userAgent: string;
  userId: string;
  requestId: string;
  /** Body sizes in bytes (reported even when bodies are not captured). */
  requestBytes: number;
  responseBytes: number;
  /** Present only when the model generates bodies. */
  requestBody?: string;
  responseBody?: string;
  secret?: PlantedSecret;
  errorType?: string;
}

export interface TrafficOptions {
  /** Same seed, same requests (apart from the time base). */
  seed: number;
  /** Generate request and response bodies (the `full` tier's ~1.5 KB spans). */
  bodies: boolean;
  /** Share of requests carrying a planted secret, 0..1. Default 0.01. */
  secretRate?: number;
  /** Share of chat requests that stream (SSE). Default 0.3. */
  streamingShare?: number;
  /** Requests per second the offsets are spread at (only the span timestamps depend on it). Default 1000. */
  requestsPerSecond?: number;
}

/** A body size in bytes: log-uniform pieces of a skewed mixture, a few bytes to 100 KB. */
function bodySize(rng: Rng, kind: 'request' | 'response'): number {
  const scale = kind === 'request' ? 0.6 : 0.45;
  const piece = rng.weighted<readonly [number, number]>([
    [[8, 60], 0.2],
    [[60, 400], 0.55],
    [[400, 2_000], 0.22],
    [[2_000, 16_000], 0.0275],
    [[16_000, 100_000], 0.0025],
  ]);
  return Math.max(2, Math.round(rng.logUniform(piece[0], piece[1]) * scale));
}

function text(rng: Rng, bytes: number): string {
  let s = '';
  while (s.length < bytes) s += (s === '' ? '' : ' ') + rng.pick(WORDS);
  return s.slice(0, Math.max(1, bytes));
}

function ipv4(rng: Rng): string {
  return `${rng.int(11, 223)}.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
}

/** The provider-shaped JSON request body of about `bytes` bytes. */
function requestBody(rng: Rng, r: GatewayRequest, bytes: number, secret: string | undefined): string {
  const key = secret === undefined ? '' : `,"api_key":"${secret}"`;
  if (r.op === 'embed') return `{"model":"${r.model}","input":${JSON.stringify(text(rng, Math.max(1, bytes - 40)))}${key}}`;
  if (r.op === 'other') return bytes < 40 ? '' : `{"note":${JSON.stringify(text(rng, bytes - 12))}${key}}`;
  const stream = r.streaming ? ',"stream":true' : '';
  return `{"model":"${r.model}"${stream},"messages":[{"role":"user","content":${JSON.stringify(text(rng, Math.max(1, bytes - 70)))}}]${key}}`;
}

function responseBody(rng: Rng, r: GatewayRequest, bytes: number): string {
  if (r.status >= 400) return `{"error":{"type":"${r.errorType ?? 'invalid_request_error'}","message":${JSON.stringify(text(rng, Math.min(bytes, 200)))}}}`;
  if (r.op === 'embed') return `{"object":"list","data":[{"embedding":[${Array.from({ length: Math.max(1, Math.floor(bytes / 12)) }, () => (rng.next() - 0.5).toFixed(7)).join(',')}]}]}`;
  if (r.op === 'other') return `{"id":"${r.requestId}","object":"file","bytes":${bytes}}`;
  const content = text(rng, Math.max(1, bytes - 160));
  const usage = `"usage":{"prompt_tokens":${r.inputTokens},"completion_tokens":${r.outputTokens}}`;
  if (!r.streaming) {
    return `{"id":"chatcmpl-${r.requestId}","model":"${r.responseModel}","choices":[{"index":0,"message":{"role":"assistant","content":${JSON.stringify(content)}},"finish_reason":"stop"}],${usage}}`;
  }
  // SSE: content in chunks of ~40 characters, usage in the last event.
  let sse = '';
  for (let i = 0; i < content.length; i += 40) sse += `data: {"choices":[{"delta":{"content":${JSON.stringify(content.slice(i, i + 40))}}}]}\n\n`;
  return `${sse}data: {"choices":[],${usage}}\n\ndata: [DONE]\n\n`;
}

function plantSecret(rng: Rng, bodies: boolean): PlantedSecret {
  const where = rng.weighted<PlantedSecret['where']>([
    ['authorization-header', 4],
    ['x-api-key-header', 2],
    ['request-body', bodies ? 2 : 0],
    ['url-query', 1],
  ]);
  switch (where) {
    case 'authorization-header':
      return { where, value: `sk-proj-${rng.base62(48)}` };
    case 'x-api-key-header':
      return { where, value: `sk-ant-api03-${rng.base62(80)}-${rng.base62(6)}AA` };
    case 'request-body':
      return { where, value: `sk-${rng.base62(48)}` };
    case 'url-query':
      return { where, value: `AIza${rng.base62(35)}` };
  }
}

/** An endless, seeded stream of gateway requests. */
export class GatewayTraffic {
  private readonly rng: Rng;
  private readonly secretRate: number;
  private readonly streamingShare: number;
  private readonly intervalMs: number;
  private seq = 0;
  private readonly users: string[];

  constructor(private readonly opts: TrafficOptions) {
    this.rng = new Rng(opts.seed);
    this.secretRate = opts.secretRate ?? 0.01;
    this.streamingShare = opts.streamingShare ?? 0.3;
    this.intervalMs = 1000 / (opts.requestsPerSecond ?? 1000);
    this.users = Array.from({ length: 500 }, (_, i) => `user-${(i * 7919 + opts.seed) % 100_000}`);
  }

  next(): GatewayRequest {
    const rng = this.rng;
    const p = rng.weighted(PROVIDERS.map((s) => [s, s.weight] as const));
    const route = rng.weighted(p.routes.map((r) => [r, r.weight] as const));
    const model = rng.weighted(p.models);
    const status = route.op === 'other' ? rng.weighted<number>([[200, 97], [404, 3]]) : rng.weighted(STATUS);
    const streaming = route.op === 'chat' && (route.raw.includes('stream') || rng.next() < this.streamingShare);
    const path = route.raw.replace('{id}', () => p.id(rng)).replace('{model}', model);
    const tokens = route.op === 'chat' || route.op === 'embed';
    const inputTokens = tokens && status < 400 ? Math.round(rng.logNormal(400, 1.2, 1, 200_000)) : 0;
    const outputTokens = route.op === 'chat' && status < 400 ? Math.round(rng.logNormal(150, 1.0, 1, 16_000)) : 0;
    const durationMs =
      route.op === 'chat' ? rng.logNormal(streaming ? 2500 : 900, 0.8, 20, 120_000) : rng.logNormal(route.op === 'embed' ? 120 : 40, 0.6, 2, 30_000);
    const seq = this.seq++;
    const r: GatewayRequest = {
      provider: p.name,
      host: p.host,
      method: route.method,
      route: rng.next() < 0.7 ? route.template : '',
      path,
      op: route.op,
      model,
      responseModel: p.name === 'openai' ? `${model}-2024-08-06` : model,
      status,
      streaming,
      inputTokens,
      outputTokens,
      startOffsetMs: seq * this.intervalMs,
      durationMs,
      clientAddress: ipv4(rng),
      forwardedFor: rng.next() < 0.4 ? `${ipv4(rng)}, 10.0.${rng.int(0, 255)}.${rng.int(1, 254)}` : '',
      userAgent: rng.pick(USER_AGENTS),
      userId: rng.pick(this.users),
      requestId: rng.base62(22),
      requestBytes: route.method === 'GET' ? 0 : bodySize(rng, 'request'),
      responseBytes: bodySize(rng, 'response'),
    };
    if (status >= 400) r.errorType = status >= 500 ? rng.pick(['upstream_unavailable', 'upstream_timeout', 'internal_error']) : rng.pick(['invalid_request_error', 'rate_limit_exceeded', 'authentication_error', 'not_found']);
    if (rng.next() < this.secretRate) r.secret = plantSecret(rng, this.opts.bodies);
    if (this.opts.bodies) {
      r.requestBody = r.requestBytes === 0 ? '' : requestBody(rng, r, r.requestBytes, r.secret?.where === 'request-body' ? r.secret.value : undefined);
      r.responseBody = responseBody(rng, r, r.responseBytes);
      r.requestBytes = Buffer.byteLength(r.requestBody);
      r.responseBytes = Buffer.byteLength(r.responseBody);
    }
    return r;
  }
}

export type AttributeValue = string | number | boolean;

/** Span name by the OTel HTTP server convention: `{method} {route}` (raw paths would explode cardinality). */
export function spanName(r: GatewayRequest): string {
  return r.route === '' ? r.method : `${r.method} ${r.route}`;
}

/**
 * The SERVER span attributes of one request (about 20; 2 more with bodies),
 * by the conventions of DESIGN.md.
 */
export function spanAttributes(r: GatewayRequest): Record<string, AttributeValue> {
  // A SERVER span carries url.path (+ url.query), not url.full (OTel HTTP semconv).
  const a: Record<string, AttributeValue> = {
    'http.request.method': r.method,
    'url.path': `/${r.provider}${r.path}`,
    'http.response.status_code': r.status,
    'server.address': r.host,
    'client.address': r.clientAddress,
    'user_agent.original': r.userAgent,
    'gen_ai.provider.name': r.provider,
    'gen_ai.operation.name': r.op === 'embed' ? 'embeddings' : r.op === 'chat' ? 'chat' : 'other',
    'gen_ai.request.model': r.model,
    'gen_ai.response.model': r.responseModel,
    'gen_ai.usage.input_tokens': r.inputTokens,
    'gen_ai.usage.output_tokens': r.outputTokens,
    'user.id': r.userId,
    'gateway.streaming': r.streaming,
    'http.request.body.size': r.requestBytes,
    'http.response.body.size': r.responseBytes,
  };
  if (r.secret?.where === 'url-query') a['url.query'] = `key=${r.secret.value}`;
  if (r.route !== '') a['http.route'] = `/${r.provider}${r.route}`;
  if (r.forwardedFor !== '') a['http.request.header.x-forwarded-for'] = r.forwardedFor;
  if (r.errorType !== undefined) a['error.type'] = r.errorType;
  if (r.secret?.where === 'authorization-header') a['http.request.header.authorization'] = `Bearer ${r.secret.value}`;
  if (r.secret?.where === 'x-api-key-header') a['http.request.header.x-api-key'] = r.secret.value;
  if (r.requestBody !== undefined) a['gateway.request.body'] = r.requestBody;
  if (r.responseBody !== undefined) a['gateway.response.body'] = r.responseBody;
  return a;
}

/** Resource attributes of one gateway instance of a tenant. */
export function gatewayResource(tenantId: string, instance: number): Record<string, string> {
  return {
    'service.name': 'llm-gateway',
    'service.version': '2.4.1',
    'service.instance.id': `${tenantId}-gw-${instance}`,
    'deployment.environment.name': 'production',
    'host.name': `gw-${instance}.${tenantId}.internal`,
  };
}
