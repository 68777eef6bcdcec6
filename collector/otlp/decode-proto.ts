// OTLP/HTTP protobuf decoding, straight into the internal records.
//
// Hand-written over protobufjs's `Reader` (the cursor, varints, skipping): no
// reflection, no intermediate OTLP objects. Field numbers and wire types follow
// opentelemetry-proto v1 (collector/{trace,logs}/v1, trace/v1, logs/v1,
// common/v1, resource/v1); `SCHEMAS` below is the single table of them.
//
// Speed notes (bench/decode.ts measures them): fields are dispatched on the
// whole tag value (field << 3 | wire type) in a switch, so the common case
// needs no wire-type check of its own; the usual attribute shape (short key, one
// scalar value) is read straight from the bytes without entering sub-messages;
// attribute keys and short string values come from byte-keyed caches of
// strings; ids stay byte ranges until a record is known to be valid and then
// become hex through a table; times are read as BigInt directly; strings use
// Buffer's native UTF-8 slice and are validated only when it produced U+FFFD.
// The path of the field being read is kept as three small typed arrays (message
// type, field number, index) and becomes text only for an error.
//
// What remains is mostly V8 building the `Attributes` objects: a plain object
// that gets more than 16 properties through keyed stores turns into a
// dictionary, and each store then costs a hash-table insert.

import { isUtf8 } from 'node:buffer';
import { Reader } from 'protobufjs/minimal.js';
import type { Attributes, Decoded, LogRecord, SpanEvent, SpanLink, SpanRecord } from '../../core/record.ts';
import { DECODE_ALL, type SpanProjection } from '../../processors/projection.ts';
import { OtlpDecodeError } from './errors.ts';
import {
  doubleJson,
  emptyEvent,
  emptyLink,
  emptyLog,
  emptyResource,
  emptyScope,
  emptySpan,
  finishLog,
  hex16,
  hex8,
  hexOf,
  int64Decimal,
  isAllZero,
  MAX_ANY_VALUE_DEPTH,
  PROTO_FIELD_NAMES,
  setAttribute,
  spanIdProblem,
  spanTimeProblem,
  type MutableResource,
  type MutableScope,
} from './flatten.ts';

// ---------------------------------------------------------------------------
// Schema: field names (for error paths) and expected wire types per message.

const enum M {
  ExportTraces,
  ResourceSpans,
  ScopeSpans,
  Span,
  Event,
  Link,
  Status,
  KeyValue,
  AnyValue,
  ArrayValue,
  KeyValueList,
  Scope,
  Resource,
  ExportLogs,
  ResourceLogs,
  ScopeLogs,
  LogRecord,
}

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

interface Schema {
  /** Field name by field number. */
  readonly names: readonly (string | undefined)[];
  /** Expected wire type by field number; -1 for unknown fields (skipped). */
  readonly wires: Int8Array;
}

function schema(fields: Record<number, readonly [string, number]>): Schema {
  const max = Math.max(...Object.keys(fields).map(Number));
  const names: (string | undefined)[] = [];
  const wires = new Int8Array(max + 1).fill(-1);
  for (const [no, [name, wire]] of Object.entries(fields)) {
    names[Number(no)] = name;
    wires[Number(no)] = wire;
  }
  return { names, wires };
}

const SCHEMAS: readonly Schema[] = [
  /* ExportTraces  */ schema({ 1: ['resource_spans', LEN] }),
  /* ResourceSpans */ schema({ 1: ['resource', LEN], 2: ['scope_spans', LEN], 3: ['schema_url', LEN] }),
  /* ScopeSpans    */ schema({ 1: ['scope', LEN], 2: ['spans', LEN], 3: ['schema_url', LEN] }),
  /* Span          */ schema({
    1: ['trace_id', LEN],
    2: ['span_id', LEN],
    3: ['trace_state', LEN],
    4: ['parent_span_id', LEN],
    5: ['name', LEN],
    6: ['kind', VARINT],
    7: ['start_time_unix_nano', I64],
    8: ['end_time_unix_nano', I64],
    9: ['attributes', LEN],
    10: ['dropped_attributes_count', VARINT],
    11: ['events', LEN],
    12: ['dropped_events_count', VARINT],
    13: ['links', LEN],
    14: ['dropped_links_count', VARINT],
    15: ['status', LEN],
    16: ['flags', I32],
  }),
  /* Event         */ schema({
    1: ['time_unix_nano', I64],
    2: ['name', LEN],
    3: ['attributes', LEN],
    4: ['dropped_attributes_count', VARINT],
  }),
  /* Link          */ schema({
    1: ['trace_id', LEN],
    2: ['span_id', LEN],
    3: ['trace_state', LEN],
    4: ['attributes', LEN],
    5: ['dropped_attributes_count', VARINT],
    6: ['flags', I32],
  }),
  /* Status        */ schema({ 2: ['message', LEN], 3: ['code', VARINT] }),
  /* KeyValue      */ schema({ 1: ['key', LEN], 2: ['value', LEN] }),
  /* AnyValue      */ schema({
    1: ['string_value', LEN],
    2: ['bool_value', VARINT],
    3: ['int_value', VARINT],
    4: ['double_value', I64],
    5: ['array_value', LEN],
    6: ['kvlist_value', LEN],
    7: ['bytes_value', LEN],
  }),
  /* ArrayValue    */ schema({ 1: ['values', LEN] }),
  /* KeyValueList  */ schema({ 1: ['values', LEN] }),
  /* Scope         */ schema({
    1: ['name', LEN],
    2: ['version', LEN],
    3: ['attributes', LEN],
    4: ['dropped_attributes_count', VARINT],
  }),
  /* Resource      */ schema({ 1: ['attributes', LEN], 2: ['dropped_attributes_count', VARINT] }),
  /* ExportLogs    */ schema({ 1: ['resource_logs', LEN] }),
  /* ResourceLogs  */ schema({ 1: ['resource', LEN], 2: ['scope_logs', LEN], 3: ['schema_url', LEN] }),
  /* ScopeLogs     */ schema({ 1: ['scope', LEN], 2: ['log_records', LEN], 3: ['schema_url', LEN] }),
  /* LogRecord     */ schema({
    1: ['time_unix_nano', I64],
    2: ['severity_number', VARINT],
    3: ['severity_text', LEN],
    5: ['body', LEN],
    6: ['attributes', LEN],
    7: ['dropped_attributes_count', VARINT],
    8: ['flags', I32],
    9: ['trace_id', LEN],
    10: ['span_id', LEN],
    11: ['observed_time_unix_nano', I64],
    12: ['event_name', LEN],
  }),
];

// ---------------------------------------------------------------------------
// Decoder state. Decoding is synchronous, so one set per module is enough.

/** Deepest message nesting tracked; AnyValue's own limit keeps real input far below. */
const MAX_LEVELS = 4 * MAX_ANY_VALUE_DEPTH + 16;
/** Message type at each level of the path. */
const T = new Uint8Array(MAX_LEVELS);
/** Field number being read at each level (0: between fields). */
const F = new Uint32Array(MAX_LEVELS);
/** Index in the repeated field being read at each level, -1 for a singular field. */
const I = new Int32Array(MAX_LEVELS);
/** Current level. */
let lv = 0;

type Utf8Slice = (this: Uint8Array, start: number, end: number) => string;
const bufferProto = Buffer.prototype as unknown as { utf8Slice?: Utf8Slice };
/** Node's internal UTF-8 slice (what `toString('utf8', s, e)` ends in), without the argument handling. */
const utf8Slice: Utf8Slice =
  typeof bufferProto.utf8Slice === 'function'
    ? bufferProto.utf8Slice
    : function (this: Uint8Array, start: number, end: number): string {
        return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('utf8', start, end);
      };

const EMPTY = Buffer.alloc(0);
const EMPTY_VIEW: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
/** The body as a Buffer (no copy), for native string slicing. */
let sbuf: Buffer = EMPTY;
/** The body as a DataView, for fixed64 / double and the string caches. */
let view = EMPTY_VIEW;

function begin(buf: Uint8Array, top: M): Reader {
  sbuf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  lv = 0;
  T[0] = top;
  F[0] = 0;
  I[0] = -1;
  return new Reader(buf);
}

/** Lets go of the body, which may be large. */
function end(): void {
  sbuf = EMPTY;
  view = EMPTY_VIEW;
}

// ---------------------------------------------------------------------------
// Errors.

/** The path of levels 0..upTo, e.g. `resource_spans[0].scope_spans[1].spans[3].name`. */
function pathTo(upTo: number): string {
  let s = '';
  for (let l = 0; l <= upTo; l++) {
    const f = F[l]!;
    if (f === 0) break;
    const name = SCHEMAS[T[l]!]!.names[f] ?? `field_${f}`;
    const i = I[l]!;
    s += (l === 0 ? '' : '.') + (i >= 0 ? `${name}[${i}]` : name);
  }
  return s;
}

function fail(r: Reader, reason: string): OtlpDecodeError {
  return new OtlpDecodeError(pathTo(lv), `${reason} (at byte ${r.pos})`);
}

function pastEnd(r: Reader, length: number): OtlpDecodeError {
  return fail(r, `length ${length} runs past the end of the enclosing message (${r.len - r.pos} bytes left)`);
}

/** Turns what protobufjs's Reader throws (RangeError "index out of range", ...) into OtlpDecodeError. */
function toDecodeError(r: Reader, e: unknown): OtlpDecodeError {
  if (e instanceof OtlpDecodeError) return e;
  const message = e instanceof Error ? e.message : String(e);
  if (message.startsWith('index out of range')) return fail(r, 'truncated');
  return fail(r, message);
}

// ---------------------------------------------------------------------------
// Primitive reads. All bounds are against `r.len`, which `enter` narrows to the
// end of the message being read, so nothing can run into the parent.

/** Reads a tag and records its field number in the path. */
function readTag(r: Reader): number {
  const p = r.pos;
  const c = r.buf[p]!;
  // One-byte tags (fields 1..15) inline; `p < r.len` holds in every caller's loop.
  if (c < 0x80) {
    r.pos = p + 1;
    F[lv] = c >>> 3;
    I[lv] = -1;
    return c;
  }
  F[lv] = 0;
  I[lv] = -1;
  const tag = r.tag();
  F[lv] = tag >>> 3;
  return tag;
}

/** A length prefix: one-byte lengths (< 128) inline, longer ones through the Reader. */
function readLength(r: Reader): number {
  const p = r.pos;
  if (p < r.len) {
    const c = r.buf[p]!;
    if (c < 0x80) {
      r.pos = p + 1;
      return c;
    }
  }
  return r.size();
}

/** Skips a field this decoder does not use, or throws if it is a known field with the wrong wire type. */
function otherField(r: Reader, tag: number, type: M): void {
  const no = tag >>> 3;
  const wire = tag & 7;
  if (no === 0) throw fail(r, 'invalid field number 0');
  const wires = SCHEMAS[type]!.wires;
  const want = no < wires.length ? wires[no]! : -1;
  if (want >= 0 && want !== wire) throw fail(r, `wrong wire type ${wire}, want ${want}`);
  if (wire === 4 || wire > 5) throw fail(r, `invalid wire type ${wire}`);
  r.skipType(wire);
}

/** Enters a length-delimited sub-message; returns the outer end to hand back to `leave`. */
function enter(r: Reader, type: M): number {
  const length = readLength(r);
  const end = r.pos + length;
  const outer = r.len;
  if (end > outer) throw pastEnd(r, length);
  if (lv + 1 >= MAX_LEVELS) throw fail(r, 'messages nested too deep');
  r.len = end;
  lv++;
  T[lv] = type;
  F[lv] = 0;
  I[lv] = -1;
  return outer;
}

function leave(r: Reader, outer: number): void {
  r.len = outer;
  lv--;
}

/**
 * UTF-8 bytes `start..end` of the body as a string, or null if they are not
 * valid UTF-8. The native slice replaces bad sequences with U+FFFD, so only a
 * string containing one is checked further.
 */
function utf8OrNull(start: number, end: number): string | null {
  const s = utf8Slice.call(sbuf, start, end);
  if (s.indexOf('\uFFFD') !== -1 && !isUtf8(sbuf.subarray(start, end))) return null;
  return s;
}

// Strings that repeat across records (attribute keys, and short values such as
// methods, hosts, model names) come from small caches keyed by their bytes: a
// hit costs a hash and a compare, four bytes at a time, instead of a native
// call and a fresh string. Two-way set associative with LRU replacement, so two
// hot strings that hash alike do not evict each other on every record.
class StringCache {
  static readonly SETS = 1024;
  static readonly MAX_BYTES = 40;
  private readonly bytes = new Uint8Array(2 * StringCache.SETS * StringCache.MAX_BYTES);
  private readonly bytesView = new DataView(this.bytes.buffer);
  /** Byte length of the string in each slot; 0 for an empty slot. */
  private readonly lengths = new Uint8Array(2 * StringCache.SETS);
  private readonly strings: string[] = new Array<string>(2 * StringCache.SETS).fill('');
  /** Per set, the way (0 or 1) used last. */
  private readonly recent = new Uint8Array(StringCache.SETS);

  /**
   * @param intern whether to cache the internalized copy (for property keys):
   *   a fresh string used as a key is internalized by V8 as a forwarding "thin"
   *   string, which misses the property store caches every time it is used again.
   */
  constructor(private readonly intern: boolean) {}

  /** The string of body bytes `start..end` (1 to MAX_BYTES long), or null if not valid UTF-8. */
  get(b: Uint8Array, start: number, end: number): string | null {
    const length = end - start;
    const v = view;
    // Hash the length and three (possibly overlapping) words: start, middle, end.
    let h: number;
    if (length >= 4) {
      h = Math.imul(length ^ v.getUint32(start, true), 0x9e3779b1);
      h = Math.imul(h ^ v.getUint32(start + ((length - 4) >> 1), true), 0x85ebca6b);
      h = Math.imul(h ^ v.getUint32(end - 4, true), 0xc2b2ae35);
    } else {
      h = length;
      for (let i = start; i < end; i++) h = Math.imul(h ^ b[i]!, 0x9e3779b1);
    }
    const set = (h ^ (h >>> 15)) & (StringCache.SETS - 1);
    const slot = set << 1;
    if (this.lengths[slot] === length && this.same(slot, b, start, end)) {
      this.recent[set] = 0;
      return this.strings[slot]!;
    }
    if (this.lengths[slot + 1] === length && this.same(slot + 1, b, start, end)) {
      this.recent[set] = 1;
      return this.strings[slot + 1]!;
    }
    let s = utf8OrNull(start, end);
    if (s === null) return null;
    if (this.intern) s = internalized(s);
    const way = this.recent[set]! ^ 1;
    this.recent[set] = way;
    const cb = this.bytes;
    for (let i = start, o = (slot + way) * StringCache.MAX_BYTES; i < end; i++, o++) cb[o] = b[i]!;
    this.lengths[slot + way] = length;
    this.strings[slot + way] = s;
    return s;
  }

  private same(slot: number, b: Uint8Array, start: number, end: number): boolean {
    const cv = this.bytesView;
    const v = view;
    let o = slot * StringCache.MAX_BYTES;
    let i = start;
    for (; i + 4 <= end; i += 4, o += 4) if (cv.getUint32(o, true) !== v.getUint32(i, true)) return false;
    for (; i < end; i++, o++) if (this.bytes[o] !== b[i]) return false;
    return true;
  }
}

/** The internalized copy of `s`: what V8 hands back as an own property key. */
function internalized(s: string): string {
  const o: Record<string, number> = {};
  o[s] = 0;
  for (const k in o) return k;
  return s;
}

const keyCache = new StringCache(true);
const valueCache = new StringCache(false);

/** A string field; through `cache`, if given, when short (attribute keys and string values). */
function readString(r: Reader, cache?: StringCache): string {
  const length = readLength(r);
  const start = r.pos;
  const end = start + length;
  if (end > r.len) throw pastEnd(r, length);
  r.pos = end;
  if (length === 0) return '';
  const s =
    cache === undefined || length > StringCache.MAX_BYTES ? utf8OrNull(start, end) : cache.get(r.buf, start, end);
  if (s === null) {
    r.pos = start;
    throw fail(r, 'invalid UTF-8');
  }
  return s;
}

/** Skips a bytes field, returning its length; it starts at `r.pos - length`. */
function readBytesLength(r: Reader): number {
  const length = readLength(r);
  if (r.pos + length > r.len) throw pastEnd(r, length);
  r.pos += length;
  return length;
}

function readBase64(r: Reader): string {
  const length = readBytesLength(r);
  return sbuf.toString('base64', r.pos - length, r.pos);
}

function readFixed64(r: Reader): bigint {
  const p = r.pos;
  if (p + 8 > r.len) throw fail(r, 'truncated fixed64');
  r.pos = p + 8;
  return view.getBigUint64(p, true);
}

function readDouble(r: Reader): number {
  const p = r.pos;
  if (p + 8 > r.len) throw fail(r, 'truncated double');
  r.pos = p + 8;
  return view.getFloat64(p, true);
}

/** An int64 varint as exact decimal. */
function readInt64Decimal(r: Reader): string {
  const b = r.buf;
  const e = r.len;
  let p = r.pos;
  let lo = 0;
  let hi: number;
  let c: number;
  let shift = 0;
  for (; shift < 28; shift += 7) {
    if (p >= e) throw fail(r, 'truncated varint');
    c = b[p++]!;
    lo |= (c & 0x7f) << shift;
    if (c < 0x80) {
      r.pos = p;
      return int64Decimal(lo >>> 0, 0);
    }
  }
  if (p >= e) throw fail(r, 'truncated varint');
  c = b[p++]!;
  lo |= (c & 0x0f) << 28;
  hi = (c & 0x7f) >>> 4;
  for (shift = 3; c >= 0x80; shift += 7) {
    if (shift > 31) throw fail(r, 'varint longer than 10 bytes');
    if (p >= e) throw fail(r, 'truncated varint');
    c = b[p++]!;
    hi |= (c & 0x7f) << shift;
  }
  r.pos = p;
  return int64Decimal(lo >>> 0, hi >>> 0);
}

function skipVarint(r: Reader): void {
  r.skip();
}

// ---------------------------------------------------------------------------
// Common messages.

/**
 * One element of a `repeated KeyValue` (the tag is read). Most attributes are
 * a short key and a value of one scalar field, in that order; `fastKeyValue`
 * reads those straight from the bytes, and anything else, including every
 * malformed case, goes through the general path, which also names the field in
 * its errors.
 */
function readAttribute(r: Reader, attrs: Attributes, keeps?: (key: string) => boolean): void {
  const p = r.pos;
  if (p + 1 < r.len) {
    // A length of one or two bytes (KeyValues under 16 KiB).
    const b = r.buf;
    let n = b[p]!;
    let start = p + 1;
    if (n >= 0x80) {
      const c = b[start++]!;
      n = c < 0x80 ? (n & 0x7f) | (c << 7) : -1;
    }
    if (n >= 0 && start + n <= r.len && fastKeyValue(r, attrs, start, start + n, keeps)) {
      r.pos = start + n;
      return;
    }
    r.pos = p; // fastKeyValue may have moved it before giving up
  }
  const o = enter(r, M.KeyValue);
  const value = keyValue(r, 1);
  leave(r, o);
  if (keeps === undefined || keeps(kvKey)) setAttribute(attrs, kvKey, value);
}

/**
 * Reads the KeyValue in bytes `p..end` if it is `key` (1..40 bytes) then
 * `value` holding exactly one string, int, double or bool field; returns false,
 * having stored nothing, for any other shape. A key `keeps` refuses is skipped
 * without decoding its value (it returns true, having stored nothing).
 */
function fastKeyValue(r: Reader, attrs: Attributes, p: number, end: number, keeps: ((key: string) => boolean) | undefined): boolean {
  const b = r.buf;
  if (end - p < 4 || b[p] !== 0x0a) return false;
  const keyLength = b[p + 1]!;
  const keyStart = p + 2;
  const keyEnd = keyStart + keyLength;
  if (keyLength === 0 || keyLength > StringCache.MAX_BYTES || keyEnd + 2 > end || b[keyEnd] !== 0x12) return false;
  // The AnyValue: a length of one or two bytes, running exactly to the end.
  let q = keyEnd + 1;
  let c = b[q++]!;
  let valueLength = c;
  if (c >= 0x80) {
    c = b[q++]!;
    if (c >= 0x80) return false;
    valueLength = (valueLength & 0x7f) | (c << 7);
  }
  if (q + valueLength !== end || valueLength < 2) return false;
  const key = keyCache.get(b, keyStart, keyEnd);
  if (key === null) return false;
  if (keeps !== undefined && !keeps(key)) return true;
  let value: string | null;
  switch (b[q]) {
    case 0x0a: {
      q++;
      c = b[q++]!;
      let length = c;
      if (c >= 0x80) {
        c = b[q++]!;
        if (c >= 0x80) return false;
        length = (length & 0x7f) | (c << 7);
      }
      if (q + length !== end) return false;
      value = length === 0 ? '' : length > StringCache.MAX_BYTES ? utf8OrNull(q, end) : valueCache.get(b, q, end);
      if (value === null) return false;
      break;
    }
    case 0x18: {
      // A varint ending exactly at the end, at most 10 bytes.
      let e = q + 1;
      while (e < end && b[e]! >= 0x80) e++;
      if (e !== end - 1 || e - q > 10) return false;
      r.pos = q + 1;
      value = readInt64Decimal(r);
      break;
    }
    case 0x21:
      if (valueLength !== 9) return false;
      value = String(view.getFloat64(q + 1, true));
      break;
    case 0x10:
      if (valueLength !== 2 || b[q + 1]! >= 0x80) return false;
      value = b[q + 1] === 0 ? 'false' : 'true';
      break;
    default:
      return false;
  }
  setAttribute(attrs, key, value);
  return true;
}

/** The key of the KeyValue `keyValue` read last. */
let kvKey = '';

/**
 * A KeyValue (entered) whose value is at `depth`: returns the value flattened
 * as `anyValue` does and leaves the key in `kvKey`. Attribute keys (depth 1)
 * come through the key cache.
 */
function keyValue(r: Reader, depth: number): string {
  let key = '';
  let value = depth === 1 ? '' : 'null';
  while (r.pos < r.len) {
    const tag = readTag(r);
    if (tag === 0x0a) key = depth === 1 ? readString(r, keyCache) : readString(r);
    else if (tag === 0x12) {
      const o = enter(r, M.AnyValue);
      value = anyValue(r, depth);
      leave(r, o);
    } else otherField(r, tag, M.KeyValue);
  }
  kvKey = key;
  return value;
}

/**
 * An AnyValue (entered) at `depth`. Depth 1, an attribute value or a log body,
 * is flattened to its attribute string (see flatten.ts); deeper ones are JSON
 * values inside an array or kvlist.
 */
function anyValue(r: Reader, depth: number): string {
  if (depth > MAX_ANY_VALUE_DEPTH) throw fail(r, `AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH}`);
  const top = depth === 1;
  let s = top ? '' : 'null';
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x0a:
        s = top ? readString(r, valueCache) : JSON.stringify(readString(r));
        break;
      case 0x10:
        s = r.bool() ? 'true' : 'false';
        break;
      case 0x18:
        s = readInt64Decimal(r);
        break;
      case 0x21:
        s = top ? String(readDouble(r)) : doubleJson(readDouble(r));
        break;
      case 0x2a: // array_value
      case 0x32: {
        // kvlist_value
        const kv = tag === 0x32;
        const o = enter(r, kv ? M.KeyValueList : M.ArrayValue);
        s = valuesJson(r, depth, kv);
        leave(r, o);
        break;
      }
      case 0x3a:
        s = top ? readBase64(r) : `"${readBase64(r)}"`;
        break;
      default:
        otherField(r, tag, M.AnyValue);
    }
  }
  return s;
}

/**
 * The values of an AnyValue at `depth` that is an ArrayValue or (`kv`) a
 * KeyValueList, as a JSON array or object.
 */
function valuesJson(r: Reader, depth: number, kv: boolean): string {
  let s = '';
  let i = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    if (tag === 0x0a) {
      I[lv] = i;
      const o = enter(r, kv ? M.KeyValue : M.AnyValue);
      const value = kv ? keyValue(r, depth + 1) : anyValue(r, depth + 1);
      leave(r, o);
      s += (i++ === 0 ? '' : ',') + (kv ? `${JSON.stringify(kvKey)}:${value}` : value);
    } else otherField(r, tag, kv ? M.KeyValueList : M.ArrayValue);
  }
  return kv ? `{${s}}` : `[${s}]`;
}

function decodeResource(r: Reader, resource: MutableResource): void {
  let i = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    if (tag === 0x0a) {
      I[lv] = i++;
      readAttribute(r, resource.attributes);
    } else otherField(r, tag, M.Resource);
  }
}

function decodeScope(r: Reader, scope: MutableScope): void {
  let i = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x0a:
        scope.name = readString(r);
        break;
      case 0x12:
        scope.version = readString(r);
        break;
      case 0x1a: {
        I[lv] = i++;
        readAttribute(r, scope.attributes);
        break;
      }
      default:
        otherField(r, tag, M.Scope);
    }
  }
}

function reject<T>(out: Decoded<T>, reason: string): void {
  // The record is the element at the level above the one being read.
  if (out.rejected++ === 0) out.rejectionMessage = `${pathTo(lv - 1)}: ${reason}`;
}

// ---------------------------------------------------------------------------
// Export*ServiceRequest -> Resource* -> Scope* -> records, for either signal.
//
// The field numbers of that nesting are the same in every OTLP signal: the
// request's resource_* is 1; Resource*'s resource, scope_* and schema_url are
// 1, 2, 3; Scope*'s scope, records and schema_url are 1, 2, 3. What differs is
// the message types (field names in error paths, wire types) and the record.

interface Signal<R> {
  readonly request: M;
  readonly resourceGroup: M;
  readonly scopeGroup: M;
  readonly record: M;
  /** Decodes one record (entered), into `out.records` or rejected. */
  readonly decode: (r: Reader, resource: MutableResource, scope: MutableScope, out: Decoded<R>) => void;
}

function decodeRequest<R>(buf: Uint8Array, signal: Signal<R>): Decoded<R> {
  const out: Decoded<R> = { records: [], rejected: 0, rejectionMessage: '' };
  const r = begin(buf, signal.request);
  try {
    let i = 0;
    while (r.pos < r.len) {
      const tag = readTag(r);
      if (tag === 0x0a) {
        I[0] = i++;
        const o = enter(r, signal.resourceGroup);
        decodeResourceGroup(r, signal, out);
        leave(r, o);
      } else otherField(r, tag, signal.request);
    }
  } catch (e) {
    throw toDecodeError(r, e);
  } finally {
    end();
  }
  return out;
}

/** ResourceSpans / ResourceLogs. */
function decodeResourceGroup<R>(r: Reader, signal: Signal<R>, out: Decoded<R>): void {
  const resource = emptyResource();
  let i = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x0a: {
        const o = enter(r, M.Resource);
        decodeResource(r, resource);
        leave(r, o);
        break;
      }
      case 0x12: {
        I[lv] = i++;
        const o = enter(r, signal.scopeGroup);
        decodeScopeGroup(r, signal, resource, out);
        leave(r, o);
        break;
      }
      case 0x1a:
        resource.schemaUrl = readString(r);
        break;
      default:
        otherField(r, tag, signal.resourceGroup);
    }
  }
}

/** ScopeSpans / ScopeLogs. */
function decodeScopeGroup<R>(r: Reader, signal: Signal<R>, resource: MutableResource, out: Decoded<R>): void {
  const scope = emptyScope();
  const decode = signal.decode;
  let i = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x0a: {
        const o = enter(r, M.Scope);
        decodeScope(r, scope);
        leave(r, o);
        break;
      }
      case 0x12: {
        I[lv] = i++;
        const o = enter(r, signal.record);
        decode(r, resource, scope, out);
        leave(r, o);
        break;
      }
      case 0x1a:
        scope.schemaUrl = readString(r);
        break;
      default:
        otherField(r, tag, signal.scopeGroup);
    }
  }
}

// ---------------------------------------------------------------------------
// Traces.

const TRACES: Signal<SpanRecord> = {
  request: M.ExportTraces,
  resourceGroup: M.ResourceSpans,
  scopeGroup: M.ScopeSpans,
  record: M.Span,
  decode: decodeSpan,
};

/** The parts of a span the caller's tier reads, for the request being decoded. */
let projection: SpanProjection = DECODE_ALL;

/**
 * Decodes an ExportTraceServiceRequest. With a `spans` projection, span
 * attributes, events and links the tier would not read are skipped undecoded
 * (and so not checked for valid UTF-8 either).
 */
export function decodeTracesProto(buf: Uint8Array, spans: SpanProjection = DECODE_ALL): Decoded<SpanRecord> {
  projection = spans;
  return decodeRequest(buf, TRACES);
}

function decodeSpan(r: Reader, resource: MutableResource, scope: MutableScope, out: Decoded<SpanRecord>): void {
  const span = emptySpan(resource, scope);
  // Ids stay byte ranges until the span is known to be valid.
  let traceIdAt = 0;
  let traceIdLength = 0;
  let spanIdAt = 0;
  let spanIdLength = 0;
  let parentAt = 0;
  let parentLength = 0;
  let na = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x0a:
        traceIdLength = readBytesLength(r);
        traceIdAt = r.pos - traceIdLength;
        break;
      case 0x12:
        spanIdLength = readBytesLength(r);
        spanIdAt = r.pos - spanIdLength;
        break;
      case 0x1a:
        span.traceState = readString(r);
        break;
      case 0x22:
        parentLength = readBytesLength(r);
        parentAt = r.pos - parentLength;
        break;
      case 0x2a:
        span.name = readString(r);
        break;
      case 0x30:
        span.kind = r.uint32() | 0;
        break;
      case 0x39:
        span.startTimeUnixNano = readFixed64(r);
        break;
      case 0x41:
        span.endTimeUnixNano = readFixed64(r);
        break;
      case 0x4a: {
        I[lv] = na++;
        readAttribute(r, span.attributes, projection.keepsAttribute);
        break;
      }
      case 0x5a: {
        if (!projection.events) {
          readBytesLength(r);
          break;
        }
        I[lv] = span.events.length;
        const o = enter(r, M.Event);
        span.events.push(decodeEvent(r));
        leave(r, o);
        break;
      }
      case 0x6a: {
        if (!projection.links) {
          readBytesLength(r);
          break;
        }
        I[lv] = span.links.length;
        const o = enter(r, M.Link);
        span.links.push(decodeLink(r));
        leave(r, o);
        break;
      }
      case 0x7a: {
        const o = enter(r, M.Status);
        while (r.pos < r.len) {
          const t = readTag(r);
          if (t === 0x12) span.statusMessage = readString(r);
          else if (t === 0x18) span.statusCode = r.uint32() | 0;
          else otherField(r, t, M.Status);
        }
        leave(r, o);
        break;
      }
      case 0x50: // dropped_attributes_count
      case 0x60: // dropped_events_count
      case 0x70: // dropped_links_count
        skipVarint(r);
        break;
      case 0x85: // flags (field 16, fixed32)
        span.flags = r.fixed32();
        break;
      default: // unknown fields
        otherField(r, tag, M.Span);
    }
  }
  const b = r.buf;
  const problem = spanIdProblem(
    PROTO_FIELD_NAMES,
    traceIdLength,
    traceIdLength === 16 && isAllZero(b, traceIdAt, 16),
    spanIdLength,
    spanIdLength === 8 && isAllZero(b, spanIdAt, 8),
    parentLength,
  ) || spanTimeProblem(PROTO_FIELD_NAMES, span);
  if (problem !== '') {
    reject(out, problem);
    return;
  }
  span.traceId = hex16(b, traceIdAt);
  span.spanId = hex8(b, spanIdAt);
  // All zeros is no parent, as the Collector's pdata reads it.
  if (parentLength !== 0 && !isAllZero(b, parentAt, 8)) span.parentSpanId = hex8(b, parentAt);
  out.records.push(span);
}

function decodeEvent(r: Reader): SpanEvent {
  const event = emptyEvent();
  let na = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x09:
        event.timeUnixNano = readFixed64(r);
        break;
      case 0x12:
        event.name = readString(r);
        break;
      case 0x1a: {
        I[lv] = na++;
        readAttribute(r, event.attributes);
        break;
      }
      default:
        otherField(r, tag, M.Event);
    }
  }
  return event;
}

/**
 * Link ids are not validated: a bad link does not make its span invalid. They
 * are hex of whatever bytes came, and empty when absent or all zeros.
 */
function decodeLink(r: Reader): SpanLink {
  const link = emptyLink();
  let na = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x0a:
        link.traceId = readLinkId(r);
        break;
      case 0x12:
        link.spanId = readLinkId(r);
        break;
      case 0x1a:
        link.traceState = readString(r);
        break;
      case 0x22: {
        I[lv] = na++;
        readAttribute(r, link.attributes);
        break;
      }
      default: // dropped_attributes_count, flags, unknown
        otherField(r, tag, M.Link);
    }
  }
  return link;
}

function readLinkId(r: Reader): string {
  const n = readBytesLength(r);
  const at = r.pos - n;
  return isAllZero(r.buf, at, n) ? '' : hexOf(r.buf, at, n);
}

// ---------------------------------------------------------------------------
// Logs.

const LOGS: Signal<LogRecord> = {
  request: M.ExportLogs,
  resourceGroup: M.ResourceLogs,
  scopeGroup: M.ScopeLogs,
  record: M.LogRecord,
  decode: decodeLogRecord,
};

export function decodeLogsProto(buf: Uint8Array): Decoded<LogRecord> {
  return decodeRequest(buf, LOGS);
}

function decodeLogRecord(r: Reader, resource: MutableResource, scope: MutableScope, out: Decoded<LogRecord>): void {
  const log = emptyLog(resource, scope);
  let traceIdAt = 0;
  let traceIdLength = 0;
  let spanIdAt = 0;
  let spanIdLength = 0;
  let na = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x09:
        log.timeUnixNano = readFixed64(r);
        break;
      case 0x10:
        log.severityNumber = r.uint32() | 0;
        break;
      case 0x1a:
        log.severityText = readString(r);
        break;
      case 0x2a: {
        const o = enter(r, M.AnyValue);
        log.body = anyValue(r, 1);
        leave(r, o);
        break;
      }
      case 0x32: {
        I[lv] = na++;
        readAttribute(r, log.attributes);
        break;
      }
      case 0x38: // dropped_attributes_count
        skipVarint(r);
        break;
      case 0x45:
        log.flags = r.fixed32();
        break;
      case 0x4a:
        traceIdLength = readBytesLength(r);
        traceIdAt = r.pos - traceIdLength;
        break;
      case 0x52:
        spanIdLength = readBytesLength(r);
        spanIdAt = r.pos - spanIdLength;
        break;
      case 0x59:
        log.observedTimeUnixNano = readFixed64(r);
        break;
      case 0x62:
        log.eventName = readString(r, valueCache);
        break;
      default:
        otherField(r, tag, M.LogRecord);
    }
  }
  const problem = finishLog(log, PROTO_FIELD_NAMES, traceIdLength, spanIdLength);
  if (problem !== '') {
    reject(out, problem);
    return;
  }
  // All-zero ids mean "no trace context", as the Collector's pdata reads them.
  const b = r.buf;
  if (traceIdLength !== 0 && !isAllZero(b, traceIdAt, 16)) log.traceId = hex16(b, traceIdAt);
  if (spanIdLength !== 0 && !isAllZero(b, spanIdAt, 8)) log.spanId = hex8(b, spanIdAt);
  out.records.push(log);
}
