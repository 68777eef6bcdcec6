// otel_traces rows as TabSeparated lines: how the product wrote spans before
// Native (sinks/clickhouse/native.ts), kept for the benchmarks that compare
// against it (bench:insert's reference variants, bench/content-retention.ts).
// Same values and column order as the Native blocks (TRACE_COLUMNS).
import type { Attributes, BatchContext, RecordBatch, Resource, SpanRecord } from '../core/record.ts';
import { timeText } from '../sinks/clickhouse/encode.ts';
import { NEVER_EXPIRES, SPAN_KIND, STATUS_CODE, TRACE_COLUMNS } from '../sinks/clickhouse/native.ts';
import { isLlmEvent, splitContent } from '../processors/conventions/classify.ts';

/** The column list of a TabSeparated insert of these lines. */
export const TSV_COLUMN_LIST = `(${TRACE_COLUMNS.map((c) => `\`${c.name}\``).join(', ')})`;

// A top-level String field escapes backslash, tab and line breaks. Maps and
// arrays are read from the field in their quoted text form ({'k':'v'}, ['a'])
// without a first round of TSV unescaping, so their strings are quoted
// (backslash, quote and the same control characters escaped) and not escaped
// again (a doubly escaped map fails to parse).
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

/** `ServiceName<TAB>ResourceAttributes` of each Resource, serialised once per batch. */
function resourceFields(): (r: Resource) => string {
  let last: Resource | undefined;
  let fields = '';
  return (r) => {
    if (r !== last) {
      last = r;
      fields = `${tsv(r.attributes['service.name'] ?? '')}\t${tsvMap(r.attributes)}`;
    }
    return fields;
  };
}

/** A batch's spans as TabSeparated lines, without trailing newline, content apart as encode.ts did it. */
export function traceLines(batch: RecordBatch, ctx: BatchContext): string[] {
  const expireAt = batch.expireAt ?? NEVER_EXPIRES;
  const head = `${tsv(ctx.tenantId)}\t${tsv(ctx.tier)}\t`;
  const resource = resourceFields();
  const contentExpireAt = batch.contentExpireAt;
  const keptTail = `\t${expireAt}\t${expireAt}\t{}\t[]`;
  if (contentExpireAt === undefined) return batch.spans.map((s) => spanLine(head, s, resource, keptTail));
  return batch.spans.map((s) => spanLineApart(head, s, resource, expireAt, contentExpireAt));
}

function spanLine(head: string, s: SpanRecord, resource: (r: Resource) => string, tail: string): string {
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
    `${SPAN_KIND[s.kind] ?? ''}\t${resource(s.resource)}\t${tsv(s.scope.name)}\t${tsv(s.scope.version)}\t${tsvMap(s.attributes)}\t` +
    `${duration}\t${STATUS_CODE[s.statusCode] ?? ''}\t${tsv(s.statusMessage)}\t${s.flags >>> 0}\t${nested}${tail}`
  );
}

function spanLineApart(head: string, s: SpanRecord, resource: (r: Resource) => string, expireAt: number, contentExpireAt: number): string {
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
  if (content === undefined && events === s.events) return spanLine(head, s, resource, `\t${expireAt}\t${expireAt}\t{}\t[]`);
  return spanLine(head, { ...s, attributes: kept, events }, resource, `\t${expireAt}\t${contentExpireAt}\t${tsvMap(content ?? {})}\t${eventsContent}`);
}
