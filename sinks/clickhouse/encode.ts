// Internal records -> rows in the insert format of each table
// (INSERT_FORMATS), one body per table and request. otel_traces, the
// high-volume table, is one block of ClickHouse's Native format (native.ts);
// the others are JSONEachRow lines, whose strings go through the native
// JSON.stringify. Each line is a template, to avoid building an object per row
// only to serialise it.
//
// Content that expires before its row (batch.contentExpireAt, a tier's
// contentRetentionDays) is written apart, into the columns whose TTL is
// ContentExpireAt (storage/sql/010_content_retention.sql): content attributes
// of spans (native.ts), span events and logs into ContentAttributes /
// EventsContentAttributes, the rest where the exporter puts it; a log record
// with content keeps its body in Body, whose TTL is ContentExpireAt too; a
// GenAI event record (content, or its span repeated) expires whole then.
// What is content: processors/conventions/content.ts, as drop-content reads it.
import type { JoinedRows, Table } from '../../storage/tables.ts';
import type { Attributes, BatchContext, GatewayMetadataRecord, LogRecord, RecordBatch, Resource } from '../../core/record.ts';
import { encodeSummaryRow } from './summary-row.ts';
import { eventNameOf, isContentBody, isLlmEvent, splitContent } from '../../processors/conventions/classify.ts';
import { NEVER_EXPIRES, TRACE_COLUMNS, traceBlock } from './native.ts';

export { NEVER_EXPIRES };

/** A processed batch's rows: per table one body, in the table's INSERT_FORMATS format (what a writer inserts). */
export function encodeRows(batch: RecordBatch, ctx: BatchContext): JoinedRows {
  const lines = encodeLines(batch, ctx);
  const join = (l: string[]) => ({ body: l.join('\n'), rows: l.length });
  return { otel_traces: { body: traceBlock(batch, ctx), rows: batch.spans.length }, otel_logs: join(lines.otel_logs), request_summaries: join(lines.request_summaries), gateway_metadata: join(lines.gateway_metadata) };
}

/**
 * How each table's rows are written: the FORMAT; for positional formats the
 * column list; `binary` for bodies of bytes (Native blocks back to back, as
 * latin1 strings), else lines joined by '\n'.
 */
export const INSERT_FORMATS: { [T in Table]: { format: string; columns?: string; binary?: true } } = {
  otel_traces: { format: 'Native', columns: `(${TRACE_COLUMNS.map((c) => `\`${c.name}\``).join(', ')})`, binary: true },
  otel_logs: { format: 'JSONEachRow' },
  request_summaries: { format: 'JSONEachRow' },
  gateway_metadata: { format: 'JSONEachRow' },
};

/** UnexpectedRestarts is a UInt32: a larger count is stored as its maximum (ClickHouse would wrap it, or refuse 1e+21). */
const UINT32_MAX = 4294967295;

const str = JSON.stringify as (s: string) => string;

/**
 * A JSONEachRow line with every unpaired UTF-16 surrogate (which JSON.stringify
 * writes as an escape, e.g. `\ud800`, and ClickHouse refuses) as U+FFFD, as
 * the Native trace blocks store it (written out as UTF-8). Only such escapes
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

/** Lines of the tables written as text, per table. */
function encodeLines(batch: RecordBatch, ctx: BatchContext): { [T in Exclude<Table, 'otel_traces'>]: string[] } {
  const expireAt = batch.expireAt ?? NEVER_EXPIRES;
  const head = `{"TenantId":${str(ctx.tenantId)},"Tier":${str(ctx.tier)},"ExpireAt":${expireAt},`;
  const cache = new ResourceCache();
  const contentExpireAt = batch.contentExpireAt;
  let logs: string[];
  if (contentExpireAt !== undefined) {
    const eventHead = `{"TenantId":${str(ctx.tenantId)},"Tier":${str(ctx.tier)},"ExpireAt":${Math.min(expireAt, contentExpireAt)},`;
    logs = batch.logs.map((l) => wellFormed(encodeLogApart(head, eventHead, l, cache, contentExpireAt)));
  } else {
    logs = batch.logs.map((l) => wellFormed(encodeLog(head, l, cache, '}')));
  }
  return {
    otel_logs: logs,
    request_summaries: batch.summaries.map((r) => wellFormed(encodeSummaryRow(r, ctx.tenantId, ctx.tier, expireAt))),
    gateway_metadata: batch.metadata.map((m) => wellFormed(encodeMetadata(head, m))),
  };
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
