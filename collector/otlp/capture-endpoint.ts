// GET /v1/consentry/capture on the OTLP port: tells a gateway (the Consentry
// interceptor) what its tenant's tier in force keeps, so it does not even
// capture what would be dropped: minimisation at the source. The collector
// still enforces the tier on everything it receives; this only saves the
// gateway bandwidth and exposure.
//
// Authenticated by the ingest key (Authorization: Bearer), like /v1/traces.
// 200 {"tier","spans","bodies","headers","apiKeys","ttlSeconds"}:
//   spans    anything derived from request spans survives (spans, or summaries)
//   bodies   gateway.request.body / gateway.response.body survive
//   headers  a harmless header attribute (http.request.header.accept,
//            http.response.header.content-type) survives
//   apiKeys  the tier keeps an HMAC of a request's API-key header
//            (gateway.api_key.hash), so the gateway must send that header
//   ttlSeconds  how long the answer may be cached: DEFAULT_TTL_SECONDS, or less
//            when a temporary tier switch (`until`) ends sooner
// The booleans come from the tier engine itself: the tier's pipeline is run
// on a probe span and what survives is reported. Fail closed: an unknown tier,
// a tenant without a tier or a failing pipeline answers all false.
import type { FastifyInstance } from 'fastify';
import type { BatchContext, SpanRecord } from '../../core/record.ts';
import { batchOf, SpanKind, StatusCode } from '../../core/record.ts';
import type { TierEngine } from '../../processors/tiers/engine.ts';
import { bearerToken } from '../../core/keys.ts';
import { encodeStatus } from './encode-response.ts';

export const CAPTURE_PATH = '/v1/consentry/capture';
export const DEFAULT_TTL_SECONDS = 10;

/** What a tier keeps of a gateway's request spans. */
export interface CaptureFlags {
  spans: boolean;
  bodies: boolean;
  headers: boolean;
  apiKeys: boolean;
}

/** The endpoint's answer. */
export interface CapturePolicyAnswer extends CaptureFlags {
  tier: string;
  ttlSeconds: number;
}

export interface CaptureEndpointDeps {
  /** Tenant id of an ingest key, or undefined. */
  authenticate(ingestKey: string): string | undefined;
  /** The tenant's tier in force now and, for a temporary switch, when it ends (Unix ms); undefined: no tier. */
  tierOf(tenantId: string): { tier: string; until?: number | undefined } | undefined;
  engine: Pick<TierEngine, 'process'>;
  /** Longest cache lifetime given to gateways, seconds. Default 10; at least 1. */
  ttlSeconds?: number;
  now?: () => number;
}

const NONE: CaptureFlags = { spans: false, bodies: false, headers: false, apiKeys: false };
const PROBE_BODY = 'consentry capture probe';
const PROBE_HEADERS = ['http.request.header.accept', 'http.response.header.content-type'];
const BODY_KEYS = ['gateway.request.body', 'gateway.response.body'];
const API_KEY_HASH = 'gateway.api_key.hash';

function probeSpan(): SpanRecord {
  const start = BigInt(Date.now()) * 1_000_000n;
  return {
    resource: { attributes: { 'service.name': 'consentry-capture-probe' }, schemaUrl: '' },
    scope: { name: 'consentry-capture-probe', version: '', attributes: {}, schemaUrl: '' },
    traceId: '00000000000000000000000000c0ffee',
    spanId: '00000000c0ffee01',
    parentSpanId: '',
    traceState: '',
    name: 'POST /consentry/probe',
    kind: SpanKind.SERVER,
    startTimeUnixNano: start,
    endTimeUnixNano: start + 1_000_000n,
    attributes: {
      'http.request.method': 'POST',
      'http.route': '/consentry/probe',
      'url.path': '/consentry/probe',
      'http.response.status_code': '200',
      'gateway.request.body': PROBE_BODY,
      'gateway.response.body': PROBE_BODY,
      'http.request.header.accept': '["application/json"]',
      'http.response.header.content-type': '["application/json"]',
      // Not a key: only shows whether the tier keeps an HMAC of the header.
      'http.request.header.x-api-key': '["consentry-capture-probe"]',
    },
    events: [],
    links: [],
    statusCode: StatusCode.UNSET,
    statusMessage: '',
    flags: 0,
  };
}

/**
 * What `tier` keeps, found by running its pipeline (engine.process) on a probe
 * span. Fail closed: an unknown tier or a throwing pipeline keeps nothing.
 */
export function captureFlagsOf(engine: Pick<TierEngine, 'process'>, tier: string): CaptureFlags {
  if (tier === '') return NONE;
  const ctx: BatchContext = { tenantId: '', tier, tierVersion: 0, receivedAtMs: Date.now() };
  try {
    const out = engine.process(batchOf({ spans: [probeSpan()] }), ctx);
    const has = (keys: string[]) => out.spans.some((s) => keys.some((k) => (s.attributes[k] ?? '') !== ''));
    return {
      spans: out.spans.length > 0 || out.summaries.length > 0,
      bodies: has(BODY_KEYS),
      headers: has(PROBE_HEADERS),
      apiKeys: has([API_KEY_HASH]),
    };
  } catch {
    return NONE;
  }
}

export async function captureEndpoint(app: FastifyInstance, deps: CaptureEndpointDeps): Promise<void> {
  const maxTtl = Math.max(1, Math.floor(deps.ttlSeconds ?? DEFAULT_TTL_SECONDS));
  const now = deps.now ?? Date.now;
  // Tiers are compiled once per engine: one probe per tier, so the drop
  // counters see at most one probe span per tier and process.
  const flags = new Map<string, CaptureFlags>();
  const flagsOf = (tier: string): CaptureFlags => {
    let f = flags.get(tier);
    if (f === undefined) {
      f = captureFlagsOf(deps.engine, tier);
      flags.set(tier, f);
    }
    return f;
  };

  app.get(CAPTURE_PATH, async (req, reply) => {
    const key = bearerToken(req.headers.authorization);
    const tenantId = key === undefined ? undefined : deps.authenticate(key);
    if (tenantId === undefined) {
      const message = key === undefined ? 'missing ingest key: send Authorization: Bearer <ingest key>' : 'unknown ingest key';
      return reply.code(401).type('application/json').send(encodeStatus({ format: 'json', code: 16, message }));
    }
    const assignment = deps.tierOf(tenantId);
    const tier = assignment?.tier ?? '';
    let ttlSeconds = maxTtl;
    if (assignment?.until !== undefined) ttlSeconds = Math.max(1, Math.min(maxTtl, Math.ceil((assignment.until - now()) / 1000)));
    const answer: CapturePolicyAnswer = { tier, ...flagsOf(tier), ttlSeconds };
    return reply.header('cache-control', `private, max-age=${ttlSeconds}`).type('application/json').send(JSON.stringify(answer));
  });
}
