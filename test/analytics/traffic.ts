// Generated gateway traffic for the analytics suites: requests as a gateway
// reports them (a SERVER span per request, a CLIENT child for the upstream
// call, an INTERNAL request-like span whose parent is remote, a root CLIENT
// call outside any request), sent as real OTLP/HTTP JSON with the span flags
// the OTel SDKs set (parent local or remote), and the figures a dashboard must
// show for it, computed here directly from the requests. Each request names
// its provider and model on its entry span, so each is also one LLM call
// (processors/conventions/counting.ts); the CLIENT child only repeats the
// provider and counts as neither.
import { bucketOf, quantileFromBuckets } from '../../processors/summarize/sketch.ts';
import { prng } from '../../processors/testing/records.ts';
import { loadPriceTable } from '../../processors/cost/prices.ts';

/** The shipped price table, which a test Consentry prices calls by. */
const PRICES = loadPriceTable('');


export interface GenRequest {
  traceId: string;
  spanId: string;
  startNs: bigint;
  durationNs: bigint;
  kind: 1 | 2 | 3; // INTERNAL (remote parent), SERVER, CLIENT (root)
  parentSpanId: string;
  provider: string;
  /** What the dashboard must show as the endpoint. */
  endpoint: string;
  /** Attributes naming the route, as the gateway sent them. */
  routeAttrs: Record<string, string>;
  model: string;
  responseModel: boolean;
  status: number | undefined;
  spanError: boolean;
  inputTokens: number | undefined;
  outputTokens: number | undefined;
  userId: string;
}

const PROVIDERS = ['openai', 'anthropic', 'mistral'];
const MODELS: Record<string, string[]> = { openai: ['gpt-4o', 'gpt-4o-mini'], anthropic: ['claude-3-5-sonnet-20241022'], mistral: ['mistral-large'] };
const ROUTES: Array<{ attrs: (r: () => number) => Record<string, string>; endpoint: string }> = [
  { attrs: () => ({ 'http.route': '/v1/chat/completions' }), endpoint: '/v1/chat/completions' },
  { attrs: () => ({ 'http.route': '/v1/messages' }), endpoint: '/v1/messages' },
  { attrs: (r) => ({ 'url.path': `/v1/files/file-BK7bzQj3FfZFXr7D${Math.floor(r() * 9)}/content` }), endpoint: '/v1/files/:id/content' },
  { attrs: (r) => ({ 'url.full': `https://api.example.com/users/${1000 + Math.floor(r() * 50)}/threads?limit=5` }), endpoint: '/users/:id/threads' },
];
const STATUSES: Array<{ status: number | undefined; error: boolean; weight: number }> = [
  { status: 200, error: false, weight: 70 },
  { status: 429, error: false, weight: 8 },
  { status: 400, error: true, weight: 4 }, // a 4xx with ERROR status: still not an error
  { status: 500, error: true, weight: 6 },
  { status: 502, error: false, weight: 4 },
  { status: undefined, error: true, weight: 4 }, // failed without a status: class `error`
  { status: 200, error: true, weight: 4 }, // a stream broken after the headers
];

const hex = (r: () => number, n: number) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('');

/** `n` requests starting in [startSec, startSec + minutes * 60), deterministic for a seed. */
export function generateTraffic(opts: { seed: number; n: number; startSec: number; minutes: number; users?: string[] }): GenRequest[] {
  const r = prng(opts.seed);
  const users = opts.users ?? ['u1', 'u2', 'u3'];
  const out: GenRequest[] = [];
  const totalWeight = STATUSES.reduce((s, x) => s + x.weight, 0);
  for (let i = 0; i < opts.n; i++) {
    const provider = PROVIDERS[Math.floor(r() * PROVIDERS.length)]!;
    const models = MODELS[provider]!;
    const route = ROUTES[Math.floor(r() * ROUTES.length)]!;
    let w = r() * totalWeight;
    const st = STATUSES.find((s) => (w -= s.weight) < 0) ?? STATUSES[0]!;
    // Lognormal-ish latency, sub-millisecond precision; now and then 0 (end == start).
    const ms = r() < 0.02 ? 0 : Math.exp(Math.log(300) + 1.2 * (r() + r() + r() - 1.5));
    const kindRoll = r();
    const kind: 1 | 2 | 3 = kindRoll < 0.8 ? 2 : kindRoll < 0.9 ? 1 : 3;
    out.push({
      traceId: hex(r, 32),
      spanId: hex(r, 16),
      startNs: BigInt(opts.startSec) * 1_000_000_000n + BigInt(Math.floor(r() * opts.minutes * 60 * 1e9)),
      durationNs: BigInt(Math.round(ms * 1e6)),
      kind,
      parentSpanId: kind === 1 ? hex(r, 16) : '',
      provider,
      endpoint: route.endpoint,
      routeAttrs: route.attrs(r),
      model: models[Math.floor(r() * models.length)]!,
      responseModel: r() < 0.5,
      status: st.status,
      spanError: st.error,
      inputTokens: r() < 0.9 ? Math.floor(r() * 2000) : undefined,
      outputTokens: r() < 0.9 ? Math.floor(r() * 800) : undefined,
      userId: users[Math.floor(r() * users.length)]!,
    });
  }
  return out;
}

const kv = (a: Record<string, string | number | undefined>) =>
  Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([key, v]) => ({ key, value: (typeof v === 'number' ? { intValue: String(v) } : { stringValue: v! }) }));

/** The OTLP/JSON traces request for `reqs`: each request's span, plus a CLIENT child (never a request) for SERVER spans. */
export function tracesBody(reqs: GenRequest[], resource: Record<string, string> = {}): string {
  const spans: object[] = [];
  for (const q of reqs) {
    const attrs: Record<string, string | number | undefined> = {
      'http.request.method': 'POST',
      ...q.routeAttrs,
      'gen_ai.provider.name': q.provider,
      [q.responseModel ? 'gen_ai.response.model' : 'gen_ai.request.model']: q.model,
      'http.response.status_code': q.status,
      'gen_ai.usage.input_tokens': q.inputTokens,
      'gen_ai.usage.output_tokens': q.outputTokens,
      'user.id': q.userId,
    };
    spans.push({
      traceId: q.traceId,
      spanId: q.spanId,
      parentSpanId: q.parentSpanId,
      // HAS_IS_REMOTE, and IS_REMOTE for the INTERNAL span whose parent is the caller's.
      flags: q.parentSpanId === '' ? 0x101 : 0x301,
      name: 'proxy',
      kind: q.kind,
      startTimeUnixNano: String(q.startNs),
      endTimeUnixNano: String(q.startNs + q.durationNs),
      attributes: kv(attrs),
      status: { code: q.spanError ? 2 : 0 },
    });
    if (q.kind === 2) {
      // The upstream call: no user.id, counted by nobody, erased with its trace.
      spans.push({
        traceId: q.traceId,
        spanId: q.spanId.split('').reverse().join(''),
        parentSpanId: q.spanId,
        flags: 0x101,
        name: 'upstream',
        kind: 3,
        startTimeUnixNano: String(q.startNs + 1000n),
        endTimeUnixNano: String(q.startNs + q.durationNs),
        attributes: kv({ 'http.request.method': 'POST', 'gen_ai.provider.name': q.provider, 'gateway.request.body': `prompt of ${q.userId}` }),
      });
    }
  }
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: kv({ 'service.name': 'gateway', ...resource }) }, scopeSpans: [{ scope: { name: 'gw' }, spans }] }] });
}

/** One log per request, with the request's trace context; every third carries the user.id itself. */
export function logsBody(reqs: GenRequest[], resource: Record<string, string> = {}): string {
  const logRecords = reqs.map((q, i) => ({
    timeUnixNano: String(q.startNs + q.durationNs),
    severityNumber: q.status !== undefined && q.status >= 500 ? 17 : 9,
    severityText: q.status !== undefined && q.status >= 500 ? 'ERROR' : 'INFO',
    body: { stringValue: q.status !== undefined && q.status >= 500 ? `upstream ${q.provider} failed with ${q.status}` : `request to ${q.endpoint} done` },
    attributes: kv(i % 3 === 0 ? { 'user.id': q.userId, 'http.route': q.endpoint } : { 'http.route': q.endpoint }),
    traceId: q.traceId,
    spanId: q.spanId,
  }));
  return JSON.stringify({ resourceLogs: [{ resource: { attributes: kv({ 'service.name': 'gateway', ...resource }) }, scopeLogs: [{ scope: { name: 'gw' }, logRecords }] }] });
}

/** POSTs OTLP/JSON; throws unless 200. */
export async function sendOtlp(otlpUrl: string, ingestKey: string, signal: 'traces' | 'logs', body: string): Promise<void> {
  const res = await fetch(`${otlpUrl}/v1/${signal}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ingestKey}` }, body });
  if (res.status !== 200) throw new Error(`OTLP ${signal}: ${res.status} ${await res.text()}`);
}

/** Sends requests in batches of `batch` (one OTLP request each). */
export async function sendTraffic(otlpUrl: string, ingestKey: string, reqs: GenRequest[], opts: { batch?: number; logs?: boolean; resource?: Record<string, string> } = {}): Promise<void> {
  const size = opts.batch ?? 50;
  for (let i = 0; i < reqs.length; i += size) {
    const part = reqs.slice(i, i + size);
    await sendOtlp(otlpUrl, ingestKey, 'traces', tracesBody(part, opts.resource));
    if (opts.logs === true) await sendOtlp(otlpUrl, ingestKey, 'logs', logsBody(part, opts.resource));
  }
}

export interface Expected {
  requests: number;
  errors: number;
  /** Every request here is one LLM call (its entry span names provider and model). */
  calls: number;
  callErrors: number;
  inputTokens: number;
  outputTokens: number;
  /** US dollars of the priced calls (tokens times the shipped table's prices); null when every call is unpriced. */
  costUsd: number | null;
  /** Calls whose model has no price (mistral-large here). */
  unpricedCalls: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** Exact nearest-rank quantiles of the raw durations (ms), for the 1 % bound. */
  exactMs: { p50: number; p95: number; p99: number };
}

const isError = (q: GenRequest) => {
  const cls = q.status === undefined ? '' : `${Math.floor(q.status / 100)}xx`;
  return cls === '5xx' || (q.spanError && cls !== '4xx');
};

/** Figures of a set of requests, computed directly (no SQL, no processor). */
export function expectedOf(reqs: GenRequest[]): Expected {
  const buckets = new Map<number, number>();
  const ms = reqs.map((q) => Number(q.durationNs) / 1e6).sort((a, b) => a - b);
  for (const m of ms) buckets.set(bucketOf(m), (buckets.get(bucketOf(m)) ?? 0) + 1);
  const exact = (q: number) => ms[Math.max(1, Math.ceil(q * ms.length)) - 1] ?? NaN;
  return {
    requests: reqs.length,
    errors: reqs.filter(isError).length,
    calls: reqs.length,
    callErrors: reqs.filter(isError).length,
    inputTokens: reqs.reduce((s, q) => s + (q.inputTokens ?? 0), 0),
    outputTokens: reqs.reduce((s, q) => s + (q.outputTokens ?? 0), 0),
    ...costOf(reqs),
    latencyMs: { p50: quantileFromBuckets(buckets, 0.5), p95: quantileFromBuckets(buckets, 0.95), p99: quantileFromBuckets(buckets, 0.99) },
    exactMs: { p50: exact(0.5), p95: exact(0.95), p99: exact(0.99) },
  };
}

/** Cost of the requests' calls by the price table, in exact picodollars, and the calls it has no price for. */
function costOf(reqs: GenRequest[]): { costUsd: number | null; unpricedCalls: number } {
  let pico = 0n;
  let unpriced = 0;
  for (const q of reqs) {
    const price = PRICES.lookup(q.provider, q.model);
    if (price === undefined) unpriced++;
    else pico += BigInt(q.inputTokens ?? 0) * price.inputPico + BigInt(q.outputTokens ?? 0) * price.outputPico;
  }
  return { costUsd: reqs.length > 0 && unpriced === reqs.length ? null : Number(pico) / 1e12, unpricedCalls: unpriced };
}

/** Groups requests by a key. */
export function groupBy<K>(reqs: GenRequest[], key: (q: GenRequest) => K): Map<K, GenRequest[]> {
  const m = new Map<K, GenRequest[]>();
  for (const q of reqs) m.set(key(q), [...(m.get(key(q)) ?? []), q]);
  return m;
}

/** A gateway metadata log record (event.name = gateway.metadata), as a gateway reports its version and uptime. */
export function metadataBody(service: string, version: string, timeNs: bigint): string {
  return JSON.stringify({
    resourceLogs: [
      {
        resource: { attributes: kv({ 'service.name': service, 'service.version': version, 'service.instance.id': `${service}-1` }) },
        scopeLogs: [
          {
            scope: { name: 'gw' },
            logRecords: [
              {
                timeUnixNano: String(timeNs),
                severityNumber: 9,
                body: { stringValue: 'gateway metadata' },
                attributes: kv({ 'event.name': 'gateway.metadata', 'gateway.uptime_seconds': 3600, 'gateway.unexpected_restarts': 0, 'gateway.env.GATEWAY_REGION': `${service}-region` }),
              },
            ],
          },
        ],
      },
    ],
  });
}
