// Internal records -> rows, one string per row, in the insert format of each
// table (INSERT_FORMATS). Measured with `npm run bench:insert` (full-size spans,
// embedded, FROM INFILE): chdb parses TabSeparated for 33 CPU-seconds per
// million rows against 49 for JSONEachRow at the same JS cost, so otel_traces,
// the high-volume table, is written as TabSeparated; the others stay
// JSONEachRow, whose strings go through the native JSON.stringify. Each line is
// a template, to avoid building an object per row only to serialise it.
//
// Content that expires before its row (batch.contentExpireAt, a tier's
// contentRetentionDays) is written apart, into the columns whose TTL is
// ContentExpireAt (storage/sql/010_content_retention.sql): content attributes
// of spans, span events and logs into ContentAttributes /
// EventsContentAttributes, the rest where the exporter puts it; a log record
// with content keeps its body in Body, whose TTL is ContentExpireAt too; a
// GenAI event record (content, or its span repeated) expires whole then.
// What is content: processors/conventions/content.ts, as drop-content reads it.
import type { JoinedRows, Table } from '../../storage/tables.ts';
import type { Attributes, BatchContext, GatewayMetadataRecord, LogRecord, RecordBatch, Resource, SpanRecord } from '../../core/record.ts';
import { encodeSummaryRow } from './summary-row.ts';
import { eventNameOf, isContentBody, isLlmEvent, splitContent } from '../../processors/conventions/classify.ts';

/** Rows of one batch, per table, as lines in the table's INSERT_FORMATS format, without trailing newline. */
export type EncodedRows = { [T in Table]: string[] };

/** A processed batch's rows, each table's lines joined: what a writer inserts. */
export function encodeRows(batch: RecordBatch, ctx: BatchContext): JoinedRows {
  return joinRows(encodeBatch(batch, ctx));
}

export function joinRows(rows: EncodedRows): JoinedRows {
  const join = (lines: string[]) => ({ text: lines.join('\n'), rows: lines.length });
  return { otel_traces: join(rows.otel_traces), otel_logs: join(rows.otel_logs), request_summaries: join(rows.request_summaries), gateway_metadata: join(rows.gateway_metadata) };
}

const TRACE_COLUMNS = [
  'TenantId', 'Tier', 'Timestamp', 'TraceId', 'SpanId', 'ParentSpanId', 'TraceState', 'SpanName', 'SpanKind', 'ServiceName',
  'ResourceAttributes', 'ScopeName', 'ScopeVersion', 'SpanAttributes', 'Duration', 'StatusCode', 'StatusMessage', 'SpanFlags',
  'Events.Timestamp', 'Events.Name', 'Events.Attributes', 'Links.TraceId', 'Links.SpanId', 'Links.TraceState', 'Links.Attributes', 'ExpireAt',
  'ContentExpireAt', 'ContentAttributes', 'EventsContentAttributes',
];

/** How each table's lines are written: the FORMAT and, for positional formats, the column list in line order. */
export const INSERT_FORMATS: { [T in Table]: { format: string; columns?: string } } = {
  otel_traces: { format: 'TabSeparated', columns: `(${TRACE_COLUMNS.map((c) => `\`${c}\``).join(', ')})` },
  otel_logs: { format: 'JSONEachRow' },
  request_summaries: { format: 'JSONEachRow' },
  gateway_metadata: { format: 'JSONEachRow' },
};

/** UnexpectedRestarts is a UInt32: a larger count is stored as its maximum (ClickHouse would wrap it, or refuse 1e+21). */
const UINT32_MAX = 4294967295;

/** Far-future ExpireAt for tiers that keep data without expiry (DateTime tops out in 2106). */
export const NEVER_EXPIRES = 4102444800; // 2100-01-01T00:00:00Z

const SPAN_KIND = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS_CODE = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

const str = JSON.stringify as (s: string) => string;

/**
 * A JSONEachRow line with every unpaired UTF-16 surrogate (which JSON.stringify
 * writes as an escape, e.g. `\ud800`, and ClickHouse refuses) as U+FFFD, as
 * the TabSeparated path stores it (written out as UTF-8). Only such escapes
 * are replaced, not an escaped backslash followed by `ud800`.
 */
const LONE_SURROGATE = /(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/g;
function wellFormed(line: string): string {
  return line.includes('\\ud') ? line.replace(LONE_SURROGATE, '$1\\ufffd') : line;
}

/**
 * A time in Unix nanoseconds as `seconds.nanoseconds`, which ClickHouse reads
 * exactly into DateTime64(9) with date_time_input_format 'basic' (insert.ts).
 * A bare nanosecond count is not read right: a count below 10^18 (before
 * 2001-09-09) fails to parse or is taken for seconds.
 */
export function timeText(ns: bigint): string {
  const t = ns.toString();
  return t.length > 9 ? `${t.slice(0, -9)}.${t.slice(-9)}` : `0.${t.padStart(9, '0')}`;
}

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

/** A Map(String, String) field of a TabSeparated line, in its quoted text form. */
export function tsvMap(a: Attributes): string {
  let out = '';
  for (const k in a) out += `${out === '' ? '' : ','}${quoted(k)}:${quoted(a[k]!)}`;
  return `{${out}}`;
}

export function encodeBatch(batch: RecordBatch, ctx: BatchContext): EncodedRows {
  const expireAt = batch.expireAt ?? NEVER_EXPIRES;
  const head = `{"TenantId":${str(ctx.tenantId)},"Tier":${str(ctx.tier)},"ExpireAt":${expireAt},`;
  const cache = new ResourceCache();
  const tsvHead = `${tsv(ctx.tenantId)}\t${tsv(ctx.tier)}\t`;
  // Content as long as the row: where the exporter puts it, ContentExpireAt = ExpireAt.
  const keptTail = `\t${expireAt}\t${expireAt}\t{}\t[]`;
  const contentExpireAt = batch.contentExpireAt;
  if (contentExpireAt !== undefined) {
    const eventHead = `{"TenantId":${str(ctx.tenantId)},"Tier":${str(ctx.tier)},"ExpireAt":${Math.min(expireAt, contentExpireAt)},`;
    return {
      otel_traces: batch.spans.map((s) => encodeSpanApart(tsvHead, s, cache, expireAt, contentExpireAt)),
      otel_logs: batch.logs.map((l) => wellFormed(encodeLogApart(head, eventHead, l, cache, contentExpireAt))),
      request_summaries: batch.summaries.map((r) => wellFormed(encodeSummaryRow(r, ctx.tenantId, ctx.tier, expireAt))),
      gateway_metadata: batch.metadata.map((m) => wellFormed(encodeMetadata(head, m))),
    };
  }
  return {
    otel_traces: batch.spans.map((s) => encodeSpan(tsvHead, s, cache, keptTail)),
    otel_logs: batch.logs.map((l) => wellFormed(encodeLog(head, l, cache, '}'))),
    request_summaries: batch.summaries.map((r) => wellFormed(encodeSummaryRow(r, ctx.tenantId, ctx.tier, expireAt))),
    gateway_metadata: batch.metadata.map((m) => wellFormed(encodeMetadata(head, m))),
  };
}

/** One otel_traces line, TabSeparated, columns in TRACE_COLUMNS order. */
function encodeSpan(head: string, s: SpanRecord, cache: ResourceCache, tail: string): string {
  const duration = s.endTimeUnixNano > s.startTimeUnixNano ? s.endTimeUnixNano - s.startTimeUnixNano : 0n;
  let nested = '[]\t[]\t[]\t[]\t[]\t[]\t[]';
  if (s.events.length > 0 || s.links.length > 0) {
    nested =
      `[${s.events.map((e) => `'${timeText(e.timeUnixNano)}'`).join(',')}]\t[${s.events.map((e) => quoted(e.name)).join(',')}]\t` +
      `[${s.events.map((e) => tsvMap(e.attributes)).join(',')}]\t[${s.links.map((l) => `'${l.traceId}'`).join(',')}]\t` +
      `[${s.links.map((l) => `'${l.spanId}'`).join(',')}]\t[${s.links.map((l) => quoted(l.traceState)).join(',')}]\t` +
      `[${s.links.map((l) => tsvMap(l.attributes)).join(',')}]`;
  }
  return (
    `${head}${timeText(s.startTimeUnixNano)}\t${s.traceId}\t${s.spanId}\t${s.parentSpanId}\t${tsv(s.traceState)}\t${tsv(s.name)}\t` +
    `${SPAN_KIND[s.kind] ?? ''}\t${cache.tsv(s.resource)}\t${tsv(s.scope.name)}\t${tsv(s.scope.version)}\t${tsvMap(s.attributes)}\t` +
    `${duration}\t${STATUS_CODE[s.statusCode] ?? ''}\t${tsv(s.statusMessage)}\t${s.flags >>> 0}\t${nested}${tail}`
  );
}

/**
 * A span whose content expires before it: content attributes (of the span and
 * of each event; every attribute of a GenAI event) into ContentAttributes and
 * EventsContentAttributes, the rest in place. ContentExpireAt is the batch's
 * when there is content, else the row's.
 */
function encodeSpanApart(head: string, s: SpanRecord, cache: ResourceCache, expireAt: number, contentExpireAt: number): string {
  const { kept, content } = splitContent(s.attributes);
  let events = s.events;
  let eventsContent = '[]';
  if (events.length > 0) {
    const parts = events.map((e) => (isLlmEvent(e.name) ? { kept: {}, content: e.attributes } : splitContent(e.attributes)));
    if (parts.some((p) => p.content !== undefined)) {
      events = events.map((e, i) => ({ ...e, attributes: parts[i]!.kept }));
      eventsContent = `[${parts.map((p) => tsvMap(p.content ?? {})).join(',')}]`;
    }
  }
  if (content === undefined && events === s.events) return encodeSpan(head, s, cache, `\t${expireAt}\t${expireAt}\t{}\t[]`);
  return encodeSpan(head, { ...s, attributes: kept, events }, cache, `\t${expireAt}\t${contentExpireAt}\t${tsvMap(content ?? {})}\t${eventsContent}`);
}

/** `tail`: the JSON after EventName, closing the object. */
function encodeLog(head: string, l: LogRecord, cache: ResourceCache, tail: string, logAttributes: Attributes = l.attributes): string {
  const res = cache.get(l.resource);
  return (
    `${head}"Timestamp":"${timeText(l.timeUnixNano)}","TraceId":"${l.traceId}","SpanId":"${l.spanId}","TraceFlags":${l.flags & 0xff},` +
    `"SeverityText":${str(l.severityText)},"SeverityNumber":${l.severityNumber & 0xff},"ServiceName":${res.service},` +
    `"Body":${str(l.body)},"ResourceSchemaUrl":${str(l.resource.schemaUrl)},"ResourceAttributes":${res.json},` +
    `"ScopeSchemaUrl":${str(l.scope.schemaUrl)},"ScopeName":${str(l.scope.name)},"ScopeVersion":${str(l.scope.version)},` +
    `"ScopeAttributes":${attrs(l.scope.attributes)},"LogAttributes":${attrs(logAttributes)},"EventName":${str(l.eventName)}${tail}`
  );
}

/**
 * A log record whose content expires before its row. A GenAI event record
 * expires whole at contentExpireAt (`eventHead`); any other record with
 * content (attributes, or a body drop-content would clear) keeps its content
 * attributes in ContentAttributes and its body in Body, both gone then.
 */
function encodeLogApart(head: string, eventHead: string, l: LogRecord, cache: ResourceCache, contentExpireAt: number): string {
  const name = eventNameOf(l);
  if (isLlmEvent(name)) return encodeLog(eventHead, l, cache, `,"ContentExpireAt":${contentExpireAt}}`);
  const { kept, content } = splitContent(l.attributes);
  if (content === undefined && !isContentBody(l, name)) return encodeLog(head, l, cache, '}');
  return encodeLog(head, l, cache, `,"ContentExpireAt":${contentExpireAt},"ContentAttributes":${attrs(content ?? {})}}`, kept);
}

function encodeMetadata(head: string, m: GatewayMetadataRecord): string {
  return (
    `${head}"Timestamp":"${timeText(m.timeUnixNano)}","ServiceName":${str(m.serviceName)},"ServiceVersion":${str(m.serviceVersion)},` +
    `"InstanceId":${str(m.instanceId)},"UptimeSeconds":${m.uptimeSeconds},"UnexpectedRestarts":${Math.min(Math.trunc(m.unexpectedRestarts), UINT32_MAX)},` +
    `"Environment":${attrs(m.environment)},"PolicyConfig":${str(m.policyConfig)}}`
  );
}
