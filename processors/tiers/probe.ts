// What a tier keeps, found by asking the tier itself: one made-up request span
// through the tier's pipelines, and a look at what is left. Tiers are YAML
// pipelines an operator may write, so their own output is the only reliable
// answer; a config-reading guess would miss a step added later.
import { SpanKind, StatusCode, type SpanRecord } from '../../core/record.ts';
import type { TierEngine } from './engine.ts';

/**
 * Whether tier `tier` stores span attribute `key` on a request span. Give an
 * engine whose hooks count nothing (the probe is not traffic).
 */
export function keepsSpanAttribute(engine: TierEngine, tier: string, key: string): boolean {
  const now = BigInt(Date.now()) * 1_000_000n;
  const span: SpanRecord = {
    resource: { attributes: { 'service.name': 'consentry-probe' }, schemaUrl: '' },
    scope: { name: 'consentry-probe', version: '', attributes: {}, schemaUrl: '' },
    traceId: '0123456789abcdef0123456789abcdef',
    spanId: '0123456789abcdef',
    parentSpanId: '',
    traceState: '',
    name: 'GET /probe',
    kind: SpanKind.SERVER,
    startTimeUnixNano: now,
    endTimeUnixNano: now + 1_000_000n,
    attributes: { 'http.request.method': 'GET', 'http.route': '/probe', 'http.response.status_code': '200', [key]: 'probe-value' },
    events: [],
    links: [],
    statusCode: StatusCode.UNSET,
    statusMessage: '',
    flags: 0,
  };
  const out = engine.process({ spans: [span], logs: [], summaries: [], metadata: [] }, { tenantId: 'consentry-probe', tier, tierVersion: 0, receivedAtMs: Date.now() });
  return out.spans.some((s) => s.attributes[key] !== undefined && s.attributes[key] !== '');
}
