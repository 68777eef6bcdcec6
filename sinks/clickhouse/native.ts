// otel_traces rows as one block of ClickHouse's Native format per request.
// Native is columnar, so the engine's parse is close to a copy: measured with
// `npm run bench:insert` (full-size spans, embedded, FROM INFILE), chdb spends
// 10.7-11.0 CPU-seconds per million rows on it against 19.8-23.2 for
// TabSeparated, the format before, at the same JS cost (README, Benchmarks).
//
// A block is NumColumns and NumRows (VarUInt), then per column its name, its
// type (String: VarUInt length + bytes) and its data: numbers little-endian,
// DateTime64(9) an Int64 of nanoseconds, Strings one after the other, Array(T)
// the cumulative end offset of each row (UInt64) then every element as a
// column of T, Map(K, V) the same with the keys then the values as columns.
// LowCardinality(String) has a state prefix, UInt64 1 (shared dictionaries
// with additional keys), at the start of the column (inside an Array or Map
// too, before the offsets), and as data a UInt64 of flags (index width;
// additional keys; update dictionary), the dictionary (UInt64 size and
// Strings), the row count (UInt64) and each row's index into the dictionary;
// no data at all for zero values (an Array column whose rows are all empty).
// Checked against chdb's own Native output; the column names and types against
// the table's after the migrations (native.test.ts).
//
// Blocks of several requests are sent back to back in one insert body, so a
// request's rows stay one unit: the batcher can still split an insert down to
// one request's rows. Strings are written as UTF-8, an unpaired surrogate as
// U+FFFD, as the text formats store it.
import type { Attributes, BatchContext, RecordBatch, SpanEvent, SpanLink, SpanRecord } from '../../core/record.ts';
import { isLlmEvent, splitContent } from '../../processors/conventions/classify.ts';

/** Far-future ExpireAt for tiers that keep data without expiry (DateTime tops out in 2106). */
export const NEVER_EXPIRES = 4102444800; // 2100-01-01T00:00:00Z

export const SPAN_KIND = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
export const STATUS_CODE = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

/** Growable little-endian writer. */
export class BinaryWriter {
  buf = Buffer.allocUnsafe(1 << 20);
  pos = 0;
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  varint(n: number): void {
    this.room(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buf[this.pos++] = n;
  }
  string(s: string): void {
    // Strings are mostly short ASCII: skip the byteLength pass for those.
    // eslint-disable-next-line no-control-regex -- ASCII is 0x00-0x7f, control characters included
    const n = s.length < 64 && /^[\x00-\x7f]*$/.test(s) ? s.length : Buffer.byteLength(s);
    this.varint(n);
    this.room(n);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
  }
  u64(v: bigint): void {
    this.room(8);
    this.pos = this.buf.writeBigUInt64LE(v, this.pos);
  }
  i64(v: bigint): void {
    this.room(8);
    this.pos = this.buf.writeBigInt64LE(v, this.pos);
  }
  u32(v: number): void {
    this.room(4);
    this.pos = this.buf.writeUInt32LE(v, this.pos);
  }
  /** A UInt64 from a count (offsets, sizes), without a BigInt. */
  u64n(v: number): void {
    this.u32(v % 2 ** 32);
    this.u32(Math.floor(v / 2 ** 32));
  }
}

/**
 * The values of a column, or of an Array's elements: calls `f` with each in
 * order. Columns are written from the records in place, without an array of
 * values per column (the garbage of those arrays cost as much CPU in V8's
 * collector as Native saved in ClickHouse).
 */
type Values<T> = (f: (v: T) => void) => void;

/** How one type's values are written, for a block's rows or an Array's elements. */
interface NativeType<T> {
  name: string;
  prefix(w: BinaryWriter): void;
  /** `count`: how many values `each` gives. */
  write(w: BinaryWriter, each: Values<T>, count: number): void;
}

const noPrefix = (): void => {};
const plain = <T>(name: string, put: (w: BinaryWriter, v: T) => void): NativeType<T> => ({
  name,
  prefix: noPrefix,
  write: (w, each) => each((v) => put(w, v)),
});
const nString = plain<string>('String', (w, v) => w.string(v));
const nUInt32 = plain<number>('UInt32', (w, v) => w.u32(v));
const nDateTime = plain<number>('DateTime', (w, v) => w.u32(v));
const nUInt64 = plain<bigint>('UInt64', (w, v) => w.u64(v));
const nDateTime64 = plain<bigint>('DateTime64(9)', (w, v) => w.i64(v));

/** LowCardinality flags: UInt8 indexes (0; 1, 2, 3 for UInt16/32/64), HasAdditionalKeysBit, NeedUpdateDictionary. */
const LC_ADDITIONAL_KEYS = (1 << 9) | (1 << 10);
const nLowCardinality: NativeType<string> = {
  name: 'LowCardinality(String)',
  prefix: (w) => w.u64n(1),
  write(w, each, count) {
    if (count === 0) return;
    // Index 0 is the default value, as ClickHouse writes its dictionaries.
    const dict = new Map<string, number>([['', 0]]);
    each((v) => {
      if (!dict.has(v)) dict.set(v, dict.size);
    });
    const width = dict.size <= 2 ** 8 ? 0 : dict.size <= 2 ** 16 ? 1 : 2;
    w.u64n(LC_ADDITIONAL_KEYS | width);
    w.u64n(dict.size);
    for (const k of dict.keys()) w.string(k);
    w.u64n(count);
    w.room(count << width);
    each((v) => {
      const i = dict.get(v)!;
      if (width === 0) w.buf[w.pos] = i;
      else if (width === 1) w.buf.writeUInt16LE(i, w.pos);
      else w.buf.writeUInt32LE(i, w.pos);
      w.pos += 1 << width;
    });
  },
};

/** Array(T) of the values of `pick` on each element of a row's list. */
function nArray<X, T>(of: NativeType<T>, pick: (x: X) => T): NativeType<readonly X[]> {
  return {
    name: `Array(${of.name})`,
    prefix: (w) => of.prefix(w),
    write(w, each) {
      let n = 0;
      each((v) => {
        n += v.length;
        w.u64n(n);
      });
      of.write(
        w,
        (f) =>
          each((v) => {
            for (const x of v) f(pick(x));
          }),
        n,
      );
    },
  };
}
const self = <T>(v: T): T => v;

/** Map(LowCardinality(String), String), the attribute maps of otel_traces. */
const nAttributes: NativeType<Attributes> = {
  name: `Map(${nLowCardinality.name}, String)`,
  prefix: (w) => nLowCardinality.prefix(w),
  write(w, each) {
    let n = 0;
    each((a) => {
      for (const _ in a) n++;
      w.u64n(n);
    });
    nLowCardinality.write(
      w,
      (f) =>
        each((a) => {
          for (const k in a) f(k);
        }),
      n,
    );
    nString.write(
      w,
      (f) =>
        each((a) => {
          for (const k in a) f(a[k]!);
        }),
      n,
    );
  },
};

/**
 * A span as its row: content that expires before the row (the batch's
 * contentExpireAt) apart, in ContentAttributes and EventsContentAttributes
 * (content attributes of the span and of each event; every attribute of a
 * GenAI event), the rest in place. ContentExpireAt is the batch's when there
 * is content, else the row's.
 */
interface TraceRow {
  span: SpanRecord;
  attributes: Attributes;
  events: readonly SpanEvent[];
  content: Attributes;
  eventsContent: readonly Attributes[];
  contentExpireAt: number;
}

const NONE: readonly Attributes[] = [];

function traceRow(s: SpanRecord, expireAt: number, contentExpireAt: number | undefined): TraceRow {
  const whole: TraceRow = { span: s, attributes: s.attributes, events: s.events, content: {}, eventsContent: NONE, contentExpireAt: expireAt };
  if (contentExpireAt === undefined) return whole;
  const { kept, content } = splitContent(s.attributes);
  const parts = s.events.map((e) => (isLlmEvent(e.name) ? { kept: {}, content: e.attributes } : splitContent(e.attributes)));
  const eventsApart = parts.some((p) => p.content !== undefined);
  if (content === undefined && !eventsApart) return whole;
  return {
    span: s,
    attributes: kept,
    events: eventsApart ? s.events.map((e, i) => ({ ...e, attributes: parts[i]!.kept })) : s.events,
    content: content ?? {},
    eventsContent: eventsApart ? parts.map((p) => p.content ?? {}) : NONE,
    contentExpireAt,
  };
}

interface Block {
  ctx: BatchContext;
  expireAt: number;
  rows: TraceRow[];
}

interface NativeColumn {
  name: string;
  type: string;
  write(w: BinaryWriter, b: Block): void;
}

function column<T>(name: string, type: NativeType<T>, get: (r: TraceRow, b: Block) => T): NativeColumn {
  return {
    name,
    type: type.name,
    write(w, b) {
      type.prefix(w);
      type.write(
        w,
        (f) => {
          for (const r of b.rows) f(get(r, b));
        },
        b.rows.length,
      );
    },
  };
}

const duration = (s: SpanRecord): bigint => (s.endTimeUnixNano > s.startTimeUnixNano ? s.endTimeUnixNano - s.startTimeUnixNano : 0n);

/** otel_traces' columns in the table's order (storage/sql), with the types they have there. */
const COLUMNS: readonly NativeColumn[] = [
  column('TenantId', nLowCardinality, (_, b) => b.ctx.tenantId),
  column('Tier', nLowCardinality, (_, b) => b.ctx.tier),
  column('Timestamp', nDateTime64, (r) => r.span.startTimeUnixNano),
  column('TraceId', nString, (r) => r.span.traceId),
  column('SpanId', nString, (r) => r.span.spanId),
  column('ParentSpanId', nString, (r) => r.span.parentSpanId),
  column('TraceState', nString, (r) => r.span.traceState),
  column('SpanName', nLowCardinality, (r) => r.span.name),
  column('SpanKind', nLowCardinality, (r) => SPAN_KIND[r.span.kind] ?? ''),
  column('ServiceName', nLowCardinality, (r) => r.span.resource.attributes['service.name'] ?? ''),
  column('ResourceAttributes', nAttributes, (r) => r.span.resource.attributes),
  column('ScopeName', nString, (r) => r.span.scope.name),
  column('ScopeVersion', nString, (r) => r.span.scope.version),
  column('SpanAttributes', nAttributes, (r) => r.attributes),
  column('Duration', nUInt64, (r) => duration(r.span)),
  column('StatusCode', nLowCardinality, (r) => STATUS_CODE[r.span.statusCode] ?? ''),
  column('StatusMessage', nString, (r) => r.span.statusMessage),
  column('SpanFlags', nUInt32, (r) => r.span.flags >>> 0),
  column('Events.Timestamp', nArray(nDateTime64, (e: SpanEvent) => e.timeUnixNano), (r) => r.events),
  column('Events.Name', nArray(nLowCardinality, (e: SpanEvent) => e.name), (r) => r.events),
  column('Events.Attributes', nArray(nAttributes, (e: SpanEvent) => e.attributes), (r) => r.events),
  column('Links.TraceId', nArray(nString, (l: SpanLink) => l.traceId), (r) => r.span.links),
  column('Links.SpanId', nArray(nString, (l: SpanLink) => l.spanId), (r) => r.span.links),
  column('Links.TraceState', nArray(nString, (l: SpanLink) => l.traceState), (r) => r.span.links),
  column('Links.Attributes', nArray(nAttributes, (l: SpanLink) => l.attributes), (r) => r.span.links),
  column('ExpireAt', nDateTime, (_, b) => b.expireAt),
  column('ContentExpireAt', nDateTime, (r) => r.contentExpireAt),
  column('ContentAttributes', nAttributes, (r) => r.content),
  column('EventsContentAttributes', nArray(nAttributes, self<Attributes>), (r) => r.eventsContent),
];

/** The columns of a trace block, with their Native types. */
export const TRACE_COLUMNS: ReadonlyArray<{ name: string; type: string }> = COLUMNS.map(({ name, type }) => ({ name, type }));

/**
 * Blocks leave the writer as latin1 strings, one character per byte, in
 * pieces below the size from which Node makes an external string (about 1 MB)
 * so that the block lives in the JS heap. As ArrayBuffers, blocks (18 MB/s at
 * 12k full spans/s) counted as external memory, and V8 answered with a full
 * collection about every 1.5 s on the main thread: more CPU in V8's helper
 * threads than Native saved in ClickHouse (embedded-full-b1000, --trace-gc).
 */
const PIECE_BYTES = 512 << 10;

/** Blocks larger than this do not keep the thread's writer at their size. */
const KEEP_WRITER_BYTES = 8 << 20;
let writer = new BinaryWriter();

/** Writes a batch's spans as one Native block into `w` (bench:insert times this alone). */
export function writeTraceBlock(w: BinaryWriter, batch: RecordBatch, ctx: BatchContext): void {
  const expireAt = batch.expireAt ?? NEVER_EXPIRES;
  const block: Block = { ctx, expireAt, rows: batch.spans.map((s) => traceRow(s, expireAt, batch.contentExpireAt)) };
  w.varint(COLUMNS.length);
  w.varint(block.rows.length);
  for (const c of COLUMNS) {
    w.string(c.name);
    w.string(c.type);
    c.write(w, block);
  }
}

/** A batch's spans as one Native block, as a latin1 string (one character per byte); empty without spans. */
export function traceBlock(batch: RecordBatch, ctx: BatchContext): string {
  if (batch.spans.length === 0) return '';
  const w = writer;
  w.pos = 0;
  writeTraceBlock(w, batch, ctx);
  let out = '';
  for (let at = 0; at < w.pos; at += PIECE_BYTES) out += w.buf.toString('latin1', at, Math.min(w.pos, at + PIECE_BYTES));
  if (w.buf.length > KEEP_WRITER_BYTES) writer = new BinaryWriter();
  return out;
}
