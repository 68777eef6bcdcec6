// Internal records -> JSONEachRow lines, one string per row. The insert format
// was chosen by measurement (DESIGN.md: chdb ingests JSONEachRow with parallel
// parsing fastest). Strings go through JSON.stringify (native, escapes
// correctly); the rest of each line is a template, to avoid building an object
// per row only to serialise it.
import type { Attributes, BatchContext, GatewayMetadataRecord, LogRecord, RecordBatch, Resource, SpanRecord } from '../../processors/record.ts';
import { encodeSummaryRow } from '../../processors/summarize/encode.ts';

export const TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata'] as const;
export type Table = (typeof TABLES)[number];

/** Rows of one batch, per table, as JSONEachRow lines without trailing newline. */
export type EncodedRows = { [T in Table]: string[] };

/** Far-future ExpireAt for tiers that keep data without expiry (DateTime tops out in 2106). */
export const NEVER_EXPIRES = 4102444800; // 2100-01-01T00:00:00Z

const SPAN_KIND = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS_CODE = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

const str = JSON.stringify as (s: string) => string;

/** Resource attributes are shared by many records: serialise each object once. */
class ResourceCache {
  private last: Resource | undefined;
  private lastJson = '{}';
  private lastService = '""';
  get(resource: Resource): { json: string; service: string } {
    if (resource !== this.last) {
      this.last = resource;
      this.lastJson = attrs(resource.attributes);
      this.lastService = str(resource.attributes['service.name'] ?? '');
    }
    return { json: this.lastJson, service: this.lastService };
  }
}

function attrs(a: Attributes): string {
  for (const _ in a) return JSON.stringify(a);
  return '{}';
}

export function encodeBatch(batch: RecordBatch, ctx: BatchContext): EncodedRows {
  const expireAt = batch.expireAt ?? NEVER_EXPIRES;
  const head = `{"TenantId":${str(ctx.tenantId)},"Tier":${str(ctx.tier)},"ExpireAt":${expireAt},`;
  const cache = new ResourceCache();
  return {
    otel_traces: batch.spans.map((s) => encodeSpan(head, s, cache)),
    otel_logs: batch.logs.map((l) => encodeLog(head, l, cache)),
    request_summaries: batch.summaries.map((r) => encodeSummaryRow(r, ctx.tenantId, ctx.tier, expireAt)),
    gateway_metadata: batch.metadata.map((m) => encodeMetadata(head, m)),
  };
}

function encodeSpan(head: string, s: SpanRecord, cache: ResourceCache): string {
  const res = cache.get(s.resource);
  const duration = s.endTimeUnixNano > s.startTimeUnixNano ? s.endTimeUnixNano - s.startTimeUnixNano : 0n;
  let events = '"Events.Timestamp":[],"Events.Name":[],"Events.Attributes":[]';
  if (s.events.length > 0) {
    events =
      `"Events.Timestamp":[${s.events.map((e) => `"${e.timeUnixNano}"`).join(',')}],` +
      `"Events.Name":[${s.events.map((e) => str(e.name)).join(',')}],` +
      `"Events.Attributes":[${s.events.map((e) => attrs(e.attributes)).join(',')}]`;
  }
  let links = '"Links.TraceId":[],"Links.SpanId":[],"Links.TraceState":[],"Links.Attributes":[]';
  if (s.links.length > 0) {
    links =
      `"Links.TraceId":[${s.links.map((l) => `"${l.traceId}"`).join(',')}],` +
      `"Links.SpanId":[${s.links.map((l) => `"${l.spanId}"`).join(',')}],` +
      `"Links.TraceState":[${s.links.map((l) => str(l.traceState)).join(',')}],` +
      `"Links.Attributes":[${s.links.map((l) => attrs(l.attributes)).join(',')}]`;
  }
  return (
    `${head}"Timestamp":"${s.startTimeUnixNano}","TraceId":"${s.traceId}","SpanId":"${s.spanId}",` +
    `"ParentSpanId":"${s.parentSpanId}","TraceState":${str(s.traceState)},"SpanName":${str(s.name)},` +
    `"SpanKind":"${SPAN_KIND[s.kind] ?? ''}","ServiceName":${res.service},"ResourceAttributes":${res.json},` +
    `"ScopeName":${str(s.scope.name)},"ScopeVersion":${str(s.scope.version)},"SpanAttributes":${attrs(s.attributes)},` +
    `"Duration":${duration},"StatusCode":"${STATUS_CODE[s.statusCode] ?? ''}","StatusMessage":${str(s.statusMessage)},` +
    `${events},${links}}`
  );
}

function encodeLog(head: string, l: LogRecord, cache: ResourceCache): string {
  const res = cache.get(l.resource);
  return (
    `${head}"Timestamp":"${l.timeUnixNano}","TraceId":"${l.traceId}","SpanId":"${l.spanId}","TraceFlags":${l.flags & 0xff},` +
    `"SeverityText":${str(l.severityText)},"SeverityNumber":${l.severityNumber & 0xff},"ServiceName":${res.service},` +
    `"Body":${str(l.body)},"ResourceSchemaUrl":${str(l.resource.schemaUrl)},"ResourceAttributes":${res.json},` +
    `"ScopeSchemaUrl":${str(l.scope.schemaUrl)},"ScopeName":${str(l.scope.name)},"ScopeVersion":${str(l.scope.version)},` +
    `"ScopeAttributes":${attrs(l.scope.attributes)},"LogAttributes":${attrs(l.attributes)}}`
  );
}

function encodeMetadata(head: string, m: GatewayMetadataRecord): string {
  return (
    `${head}"Timestamp":"${m.timeUnixNano}","ServiceName":${str(m.serviceName)},"ServiceVersion":${str(m.serviceVersion)},` +
    `"InstanceId":${str(m.instanceId)},"UptimeSeconds":${m.uptimeSeconds},"UnexpectedRestarts":${Math.trunc(m.unexpectedRestarts)},` +
    `"Environment":${attrs(m.environment)},"PolicyConfig":${str(m.policyConfig)}}`
  );
}
