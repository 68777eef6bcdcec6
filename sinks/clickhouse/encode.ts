// Internal records -> rows, one string per row, in the insert format of each
// table (INSERT_FORMATS). Measured with `npm run bench:insert` (full-size spans,
// embedded, FROM INFILE): chdb parses TabSeparated for 33 CPU-seconds per
// million rows against 49 for JSONEachRow at the same JS cost, so otel_traces,
// the high-volume table, is written as TabSeparated; the others stay
// JSONEachRow, whose strings go through the native JSON.stringify. Each line is
// a template, to avoid building an object per row only to serialise it.
import type { Attributes, BatchContext, GatewayMetadataRecord, LogRecord, RecordBatch, Resource, SpanRecord } from '../../processors/record.ts';
import { encodeSummaryRow } from '../../processors/summarize/encode.ts';

export const TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata'] as const;
export type Table = (typeof TABLES)[number];

/** Rows of one batch, per table, as lines in the table's INSERT_FORMATS format, without trailing newline. */
export type EncodedRows = { [T in Table]: string[] };

/**
 * The same rows with each table's lines joined by '\n' (`text`, '' when
 * `rows` is 0): what an ingest worker hands back. One string per table crosses
 * threads and joins into an insert body far more cheaply than thousands.
 */
export type JoinedRows = { [T in Table]: { text: string; rows: number } };

export function joinRows(rows: EncodedRows): JoinedRows {
  const join = (lines: string[]) => ({ text: lines.join('\n'), rows: lines.length });
  return { otel_traces: join(rows.otel_traces), otel_logs: join(rows.otel_logs), request_summaries: join(rows.request_summaries), gateway_metadata: join(rows.gateway_metadata) };
}

const TRACE_COLUMNS = [
  'TenantId', 'Tier', 'Timestamp', 'TraceId', 'SpanId', 'ParentSpanId', 'TraceState', 'SpanName', 'SpanKind', 'ServiceName',
  'ResourceAttributes', 'ScopeName', 'ScopeVersion', 'SpanAttributes', 'Duration', 'StatusCode', 'StatusMessage', 'SpanFlags',
  'Events.Timestamp', 'Events.Name', 'Events.Attributes', 'Links.TraceId', 'Links.SpanId', 'Links.TraceState', 'Links.Attributes', 'ExpireAt',
];

/** How each table's lines are written: the FORMAT and, for positional formats, the column list in line order. */
export const INSERT_FORMATS: { [T in Table]: { format: string; columns?: string } } = {
  otel_traces: { format: 'TabSeparated', columns: `(${TRACE_COLUMNS.map((c) => `\`${c}\``).join(', ')})` },
  otel_logs: { format: 'JSONEachRow' },
  request_summaries: { format: 'JSONEachRow' },
  gateway_metadata: { format: 'JSONEachRow' },
};

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
  private lastTsv: string | undefined;
  get(resource: Resource): { json: string; service: string } {
    this.use(resource);
    return { json: this.lastJson, service: this.lastService };
  }
  /** `ServiceName<TAB>ResourceAttributes` as TabSeparated. */
  tsv(resource: Resource): string {
    this.use(resource);
    return (this.lastTsv ??= `${tsv(resource.attributes['service.name'] ?? '')}\t${tsvMap(resource.attributes)}`);
  }
  private use(resource: Resource): void {
    if (resource === this.last) return;
    this.last = resource;
    this.lastJson = attrs(resource.attributes);
    this.lastService = str(resource.attributes['service.name'] ?? '');
    this.lastTsv = undefined;
  }
}

function attrs(a: Attributes): string {
  for (const _ in a) return JSON.stringify(a);
  return '{}';
}

// TabSeparated. A top-level String field escapes backslash, tab and line
// breaks. Maps and arrays are read from the field in their quoted text form
// ({'k':'v'}, ['a']) without a first round of TSV unescaping, so their strings
// are quoted (backslash, quote and the same control characters escaped) and
// not escaped again (a doubly escaped map fails to parse).
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const QUOTED_ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'", '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };
const tsv = (s: string): string => (/[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => TSV_ESCAPES[c]!) : s);
const quoted = (s: string): string => `'${/[\\'\t\n\r\0]/.test(s) ? s.replace(/[\\'\t\n\r\0]/g, (c) => QUOTED_ESCAPES[c]!) : s}'`;

function tsvMap(a: Attributes): string {
  let out = '';
  for (const k in a) out += `${out === '' ? '' : ','}${quoted(k)}:${quoted(a[k]!)}`;
  return `{${out}}`;
}

export function encodeBatch(batch: RecordBatch, ctx: BatchContext): EncodedRows {
  const expireAt = batch.expireAt ?? NEVER_EXPIRES;
  const head = `{"TenantId":${str(ctx.tenantId)},"Tier":${str(ctx.tier)},"ExpireAt":${expireAt},`;
  const cache = new ResourceCache();
  const tsvHead = `${tsv(ctx.tenantId)}\t${tsv(ctx.tier)}\t`;
  const tsvTail = `\t${expireAt}`;
  return {
    otel_traces: batch.spans.map((s) => encodeSpan(tsvHead, s, cache, tsvTail)),
    otel_logs: batch.logs.map((l) => encodeLog(head, l, cache)),
    request_summaries: batch.summaries.map((r) => encodeSummaryRow(r, ctx.tenantId, ctx.tier, expireAt)),
    gateway_metadata: batch.metadata.map((m) => encodeMetadata(head, m)),
  };
}

/** One otel_traces line, TabSeparated, columns in TRACE_COLUMNS order. */
function encodeSpan(head: string, s: SpanRecord, cache: ResourceCache, tail: string): string {
  const duration = s.endTimeUnixNano > s.startTimeUnixNano ? s.endTimeUnixNano - s.startTimeUnixNano : 0n;
  let nested = '[]\t[]\t[]\t[]\t[]\t[]\t[]';
  if (s.events.length > 0 || s.links.length > 0) {
    nested =
      `[${s.events.map((e) => `'${e.timeUnixNano}'`).join(',')}]\t[${s.events.map((e) => quoted(e.name)).join(',')}]\t` +
      `[${s.events.map((e) => tsvMap(e.attributes)).join(',')}]\t[${s.links.map((l) => `'${l.traceId}'`).join(',')}]\t` +
      `[${s.links.map((l) => `'${l.spanId}'`).join(',')}]\t[${s.links.map((l) => quoted(l.traceState)).join(',')}]\t` +
      `[${s.links.map((l) => tsvMap(l.attributes)).join(',')}]`;
  }
  return (
    `${head}${s.startTimeUnixNano}\t${s.traceId}\t${s.spanId}\t${s.parentSpanId}\t${tsv(s.traceState)}\t${tsv(s.name)}\t` +
    `${SPAN_KIND[s.kind] ?? ''}\t${cache.tsv(s.resource)}\t${tsv(s.scope.name)}\t${tsv(s.scope.version)}\t${tsvMap(s.attributes)}\t` +
    `${duration}\t${STATUS_CODE[s.statusCode] ?? ''}\t${tsv(s.statusMessage)}\t${s.flags >>> 0}\t${nested}${tail}`
  );
}

function encodeLog(head: string, l: LogRecord, cache: ResourceCache): string {
  const res = cache.get(l.resource);
  return (
    `${head}"Timestamp":"${l.timeUnixNano}","TraceId":"${l.traceId}","SpanId":"${l.spanId}","TraceFlags":${l.flags & 0xff},` +
    `"SeverityText":${str(l.severityText)},"SeverityNumber":${l.severityNumber & 0xff},"ServiceName":${res.service},` +
    `"Body":${str(l.body)},"ResourceSchemaUrl":${str(l.resource.schemaUrl)},"ResourceAttributes":${res.json},` +
    `"ScopeSchemaUrl":${str(l.scope.schemaUrl)},"ScopeName":${str(l.scope.name)},"ScopeVersion":${str(l.scope.version)},` +
    `"ScopeAttributes":${attrs(l.scope.attributes)},"LogAttributes":${attrs(l.attributes)},"EventName":${str(l.eventName)}}`
  );
}

function encodeMetadata(head: string, m: GatewayMetadataRecord): string {
  return (
    `${head}"Timestamp":"${m.timeUnixNano}","ServiceName":${str(m.serviceName)},"ServiceVersion":${str(m.serviceVersion)},` +
    `"InstanceId":${str(m.instanceId)},"UptimeSeconds":${m.uptimeSeconds},"UnexpectedRestarts":${Math.trunc(m.unexpectedRestarts)},` +
    `"Environment":${attrs(m.environment)},"PolicyConfig":${str(m.policyConfig)}}`
  );
}
