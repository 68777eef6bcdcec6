// Internal records -> an OTLP/JSON export request, so record-level fixtures
// (the secret corpus) can be sent over the wire like any gateway's data.
// Gateway metadata becomes the metadata log record of the gateway convention.
import type { Attributes, RecordBatch, Resource } from '../../core/record.ts';
import { METADATA_EVENT } from '../../processors/gateway-metadata/processor.ts';

const kv = (a: Attributes) => Object.entries(a).map(([key, v]) => ({ key, value: { stringValue: v } }));

export function tracesJson(batches: RecordBatch[]): string {
  const byResource = new Map<Resource, object[]>();
  for (const b of batches) {
    for (const s of b.spans) {
      const list = byResource.get(s.resource) ?? [];
      byResource.set(s.resource, list);
      list.push({
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId,
        traceState: s.traceState,
        name: s.name,
        kind: s.kind,
        startTimeUnixNano: String(s.startTimeUnixNano),
        endTimeUnixNano: String(s.endTimeUnixNano),
        attributes: kv(s.attributes),
        events: s.events.map((e) => ({ timeUnixNano: String(e.timeUnixNano), name: e.name, attributes: kv(e.attributes) })),
        links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, traceState: l.traceState, attributes: kv(l.attributes) })),
        status: { code: s.statusCode, message: s.statusMessage },
      });
    }
  }
  return JSON.stringify({
    resourceSpans: [...byResource].map(([r, spans]) => ({ resource: { attributes: kv(r.attributes) }, scopeSpans: [{ scope: { name: 'corpus' }, spans }] })),
  });
}

export function logsJson(batches: RecordBatch[]): string {
  const byResource = new Map<Resource, object[]>();
  const add = (r: Resource, rec: object) => {
    const list = byResource.get(r) ?? [];
    byResource.set(r, list);
    list.push(rec);
  };
  for (const b of batches) {
    for (const l of b.logs) {
      add(l.resource, {
        timeUnixNano: String(l.timeUnixNano),
        severityNumber: l.severityNumber,
        severityText: l.severityText,
        body: { stringValue: l.body },
        attributes: kv(l.attributes),
        traceId: l.traceId,
        spanId: l.spanId,
      });
    }
    const resource = b.logs[0]?.resource ?? b.spans[0]?.resource;
    for (const m of b.metadata) {
      if (resource === undefined) continue;
      const env = Object.fromEntries(Object.entries(m.environment).map(([k, v]) => [`gateway.env.${k}`, v]));
      add(resource, {
        timeUnixNano: String(m.timeUnixNano),
        severityNumber: 9,
        body: { stringValue: 'gateway metadata' },
        attributes: kv({ 'event.name': METADATA_EVENT, 'gateway.policy_config': m.policyConfig, ...env }),
      });
    }
  }
  return JSON.stringify({
    resourceLogs: [...byResource].map(([r, logRecords]) => ({ resource: { attributes: kv(r.attributes) }, scopeLogs: [{ scope: { name: 'corpus' }, logRecords }] })),
  });
}
