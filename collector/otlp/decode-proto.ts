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
import type {
  Attributes,
  Decoded,
  LogRecord,
  SpanEvent,
  SpanLink,
  SpanRecord,
} from '../../processors/record.ts';
import { OtlpDecodeError } from './errors.ts';
import { doubleJson, hex16, hex8, hexOf, int64Decimal, isAllZero, MAX_ANY_VALUE_DEPTH, setAttribute } from './flatten.ts';

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

function readString(r: Reader): string {
  const length = readLength(r);
  const start = r.pos;
  const end = start + length;
  if (end > r.len) throw pastEnd(r, length);
  r.pos = end;
  if (length === 0) return '';
  return utf8(r, start, end);
}

/** UTF-8 bytes `start..end` of the body as a string; throws on invalid UTF-8. */
function utf8(r: Reader, start: number, end: number): string {
  const s = utf8OrNull(start, end);
  if (s === null) {
    r.pos = start;
    throw fail(r, 'invalid UTF-8');
  }
  return s;
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

/** A string field through `cache` when short: attribute keys and string values. */
function readCached(r: Reader, cache: StringCache): string {
  const length = readLength(r);
  const start = r.pos;
  const end = start + length;
  if (end > r.len) throw pastEnd(r, length);
  r.pos = end;
  if (length === 0) return '';
  const s = length > StringCache.MAX_BYTES ? utf8OrNull(start, end) : cache.get(r.buf, start, end);
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
  let hi = 0;
  let c = 0;
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
function readAttribute(r: Reader, attrs: Attributes): void {
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
    if (n >= 0 && start + n <= r.len && fastKeyValue(r, attrs, start, start + n)) {
      r.pos = start + n;
      return;
    }
    r.pos = p; // fastKeyValue may have moved it before giving up
  }
  const o = enter(r, M.KeyValue);
  decodeKeyValue(r, attrs);
  leave(r, o);
}

/**
 * Reads the KeyValue in bytes `p..end` if it is `key` (1..40 bytes) then
 * `value` holding exactly one string, int, double or bool field; returns false,
 * having stored nothing, for any other shape.
 */
function fastKeyValue(r: Reader, attrs: Attributes, p: number, end: number): boolean {
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
  const key = keyCache.get(b, keyStart, keyEnd);
  if (key === null) return false;
  setAttribute(attrs, key, value);
  return true;
}

function decodeKeyValue(r: Reader, attrs: Attributes): void {
  let key = '';
  let value = '';
  while (r.pos < r.len) {
    const tag = readTag(r);
    if (tag === 0x0a) key = readCached(r, keyCache);
    else if (tag === 0x12) {
      const o = enter(r, M.AnyValue);
      value = anyValueString(r, 1);
      leave(r, o);
    } else otherField(r, tag, M.KeyValue);
  }
  setAttribute(attrs, key, value);
}

/** An AnyValue flattened to its attribute string (see flatten.ts). */
function anyValueString(r: Reader, depth: number): string {
  if (depth > MAX_ANY_VALUE_DEPTH) throw fail(r, `AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH}`);
  let s = '';
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x0a:
        s = readCached(r, valueCache);
        break;
      case 0x10:
        s = r.bool() ? 'true' : 'false';
        break;
      case 0x18:
        s = readInt64Decimal(r);
        break;
      case 0x21:
        s = String(readDouble(r));
        break;
      case 0x2a: {
        const o = enter(r, M.ArrayValue);
        s = arrayJson(r, depth);
        leave(r, o);
        break;
      }
      case 0x32: {
        const o = enter(r, M.KeyValueList);
        s = kvlistJson(r, depth);
        leave(r, o);
        break;
      }
      case 0x3a:
        s = readBase64(r);
        break;
      default:
        otherField(r, tag, M.AnyValue);
    }
  }
  return s;
}

/** An AnyValue as a JSON value, inside an array or kvlist. */
function anyValueJson(r: Reader, depth: number): string {
  if (depth > MAX_ANY_VALUE_DEPTH) throw fail(r, `AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH}`);
  let s = 'null';
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x0a:
        s = JSON.stringify(readString(r));
        break;
      case 0x10:
        s = r.bool() ? 'true' : 'false';
        break;
      case 0x18:
        s = readInt64Decimal(r);
        break;
      case 0x21:
        s = doubleJson(readDouble(r));
        break;
      case 0x2a: {
        const o = enter(r, M.ArrayValue);
        s = arrayJson(r, depth);
        leave(r, o);
        break;
      }
      case 0x32: {
        const o = enter(r, M.KeyValueList);
        s = kvlistJson(r, depth);
        leave(r, o);
        break;
      }
      case 0x3a:
        s = `"${readBase64(r)}"`;
        break;
      default:
        otherField(r, tag, M.AnyValue);
    }
  }
  return s;
}

/** ArrayValue of an AnyValue at `depth`, as JSON. */
function arrayJson(r: Reader, depth: number): string {
  let s = '[';
  let i = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    if (tag === 0x0a) {
      I[lv] = i;
      const o = enter(r, M.AnyValue);
      s += (i++ === 0 ? '' : ',') + anyValueJson(r, depth + 1);
      leave(r, o);
    } else otherField(r, tag, M.ArrayValue);
  }
  return s + ']';
}

/** KeyValueList of an AnyValue at `depth`, as a JSON object. */
function kvlistJson(r: Reader, depth: number): string {
  let s = '{';
  let i = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    if (tag === 0x0a) {
      I[lv] = i;
      const o = enter(r, M.KeyValue);
      let key = '';
      let value = 'null';
      while (r.pos < r.len) {
        const t = readTag(r);
        if (t === 0x0a) key = readString(r);
        else if (t === 0x12) {
          const o2 = enter(r, M.AnyValue);
          value = anyValueJson(r, depth + 1);
          leave(r, o2);
        } else otherField(r, t, M.KeyValue);
      }
      leave(r, o);
      s += `${i++ === 0 ? '' : ','}${JSON.stringify(key)}:${value}`;
    } else otherField(r, tag, M.KeyValueList);
  }
  return s + '}';
}

interface MutableResource {
  attributes: Attributes;
  schemaUrl: string;
}

interface MutableScope {
  name: string;
  version: string;
  attributes: Attributes;
  schemaUrl: string;
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

function idProblem(field: string, length: number, want: number, zero: boolean): string {
  if (length === 0) return `${field} is missing`;
  if (length !== want) return `${field} is ${length} bytes, want ${want}`;
  return zero ? `${field} is all zeros` : '';
}

// ---------------------------------------------------------------------------
// Traces.

export function decodeTracesProto(buf: Uint8Array): Decoded<SpanRecord> {
  const out: Decoded<SpanRecord> = { records: [], rejected: 0, rejectionMessage: '' };
  const r = begin(buf, M.ExportTraces);
  try {
    let i = 0;
    while (r.pos < r.len) {
      const tag = readTag(r);
      if (tag === 0x0a) {
        I[0] = i++;
        const o = enter(r, M.ResourceSpans);
        decodeResourceSpans(r, out);
        leave(r, o);
      } else otherField(r, tag, M.ExportTraces);
    }
  } catch (e) {
    throw toDecodeError(r, e);
  } finally {
    end();
  }
  return out;
}

function decodeResourceSpans(r: Reader, out: Decoded<SpanRecord>): void {
  // Created before the fields are read: schema_url (3) follows the spans on
  // the wire, and every span of this ResourceSpans shares this one object.
  const resource: MutableResource = { attributes: {}, schemaUrl: '' };
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
        const o = enter(r, M.ScopeSpans);
        decodeScopeSpans(r, resource, out);
        leave(r, o);
        break;
      }
      case 0x1a:
        resource.schemaUrl = readString(r);
        break;
      default:
        otherField(r, tag, M.ResourceSpans);
    }
  }
}

function decodeScopeSpans(r: Reader, resource: MutableResource, out: Decoded<SpanRecord>): void {
  const scope: MutableScope = { name: '', version: '', attributes: {}, schemaUrl: '' };
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
        const o = enter(r, M.Span);
        decodeSpan(r, resource, scope, out);
        leave(r, o);
        break;
      }
      case 0x1a:
        scope.schemaUrl = readString(r);
        break;
      default:
        otherField(r, tag, M.ScopeSpans);
    }
  }
}

function decodeSpan(r: Reader, resource: MutableResource, scope: MutableScope, out: Decoded<SpanRecord>): void {
  let traceIdAt = 0;
  let traceIdLength = 0;
  let spanIdAt = 0;
  let spanIdLength = 0;
  let parentAt = 0;
  let parentLength = 0;
  let traceState = '';
  let name = '';
  let kind = 0;
  let start = 0n;
  let end = 0n;
  let statusCode = 0;
  let statusMessage = '';
  const attributes: Attributes = {};
  const events: SpanEvent[] = [];
  const links: SpanLink[] = [];
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
        traceState = readString(r);
        break;
      case 0x22:
        parentLength = readBytesLength(r);
        parentAt = r.pos - parentLength;
        break;
      case 0x2a:
        name = readString(r);
        break;
      case 0x30:
        kind = r.uint32() | 0;
        break;
      case 0x39:
        start = readFixed64(r);
        break;
      case 0x41:
        end = readFixed64(r);
        break;
      case 0x4a: {
        I[lv] = na++;
        readAttribute(r, attributes);
        break;
      }
      case 0x5a: {
        I[lv] = events.length;
        const o = enter(r, M.Event);
        events.push(decodeEvent(r));
        leave(r, o);
        break;
      }
      case 0x6a: {
        I[lv] = links.length;
        const o = enter(r, M.Link);
        links.push(decodeLink(r));
        leave(r, o);
        break;
      }
      case 0x7a: {
        const o = enter(r, M.Status);
        while (r.pos < r.len) {
          const t = readTag(r);
          if (t === 0x12) statusMessage = readString(r);
          else if (t === 0x18) statusCode = r.uint32() | 0;
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
      default: // flags (16, fixed32) and unknown fields
        otherField(r, tag, M.Span);
    }
  }
  const b = r.buf;
  const problem =
    idProblem('trace_id', traceIdLength, 16, traceIdLength === 16 && isAllZero(b, traceIdAt, 16)) ||
    idProblem('span_id', spanIdLength, 8, spanIdLength === 8 && isAllZero(b, spanIdAt, 8)) ||
    (parentLength !== 0 && parentLength !== 8 ? `parent_span_id is ${parentLength} bytes, want 0 or 8` : '');
  if (problem !== '') {
    reject(out, problem);
    return;
  }
  out.records.push({
    resource,
    scope,
    traceId: hex16(b, traceIdAt),
    spanId: hex8(b, spanIdAt),
    // All zeros is no parent, as the Collector's pdata reads it.
    parentSpanId: parentLength === 0 || isAllZero(b, parentAt, 8) ? '' : hex8(b, parentAt),
    traceState,
    name,
    kind,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    attributes,
    events,
    links,
    statusCode,
    statusMessage,
  });
}

function decodeEvent(r: Reader): SpanEvent {
  let time = 0n;
  let name = '';
  const attributes: Attributes = {};
  let na = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x09:
        time = readFixed64(r);
        break;
      case 0x12:
        name = readString(r);
        break;
      case 0x1a: {
        I[lv] = na++;
        readAttribute(r, attributes);
        break;
      }
      default:
        otherField(r, tag, M.Event);
    }
  }
  return { timeUnixNano: time, name, attributes };
}

/**
 * Link ids are not validated: a bad link does not make its span invalid. They
 * are hex of whatever bytes came, and empty when absent or all zeros.
 */
function decodeLink(r: Reader): SpanLink {
  let traceId = '';
  let spanId = '';
  let traceState = '';
  const attributes: Attributes = {};
  let na = 0;
  const b = r.buf;
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x0a: {
        const n = readBytesLength(r);
        traceId = isAllZero(b, r.pos - n, n) ? '' : hexOf(b, r.pos - n, n);
        break;
      }
      case 0x12: {
        const n = readBytesLength(r);
        spanId = isAllZero(b, r.pos - n, n) ? '' : hexOf(b, r.pos - n, n);
        break;
      }
      case 0x1a:
        traceState = readString(r);
        break;
      case 0x22: {
        I[lv] = na++;
        readAttribute(r, attributes);
        break;
      }
      default: // dropped_attributes_count, flags, unknown
        otherField(r, tag, M.Link);
    }
  }
  return { traceId, spanId, traceState, attributes };
}

// ---------------------------------------------------------------------------
// Logs.

export function decodeLogsProto(buf: Uint8Array): Decoded<LogRecord> {
  const out: Decoded<LogRecord> = { records: [], rejected: 0, rejectionMessage: '' };
  const r = begin(buf, M.ExportLogs);
  try {
    let i = 0;
    while (r.pos < r.len) {
      const tag = readTag(r);
      if (tag === 0x0a) {
        I[0] = i++;
        const o = enter(r, M.ResourceLogs);
        decodeResourceLogs(r, out);
        leave(r, o);
      } else otherField(r, tag, M.ExportLogs);
    }
  } catch (e) {
    throw toDecodeError(r, e);
  } finally {
    end();
  }
  return out;
}

function decodeResourceLogs(r: Reader, out: Decoded<LogRecord>): void {
  const resource: MutableResource = { attributes: {}, schemaUrl: '' };
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
        const o = enter(r, M.ScopeLogs);
        decodeScopeLogs(r, resource, out);
        leave(r, o);
        break;
      }
      case 0x1a:
        resource.schemaUrl = readString(r);
        break;
      default:
        otherField(r, tag, M.ResourceLogs);
    }
  }
}

function decodeScopeLogs(r: Reader, resource: MutableResource, out: Decoded<LogRecord>): void {
  const scope: MutableScope = { name: '', version: '', attributes: {}, schemaUrl: '' };
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
        const o = enter(r, M.LogRecord);
        decodeLogRecord(r, resource, scope, out);
        leave(r, o);
        break;
      }
      case 0x1a:
        scope.schemaUrl = readString(r);
        break;
      default:
        otherField(r, tag, M.ScopeLogs);
    }
  }
}

function decodeLogRecord(r: Reader, resource: MutableResource, scope: MutableScope, out: Decoded<LogRecord>): void {
  let time = 0n;
  let observed = 0n;
  let severityNumber = 0;
  let severityText = '';
  let body = '';
  const attributes: Attributes = {};
  let flags = 0;
  let traceIdAt = 0;
  let traceIdLength = 0;
  let spanIdAt = 0;
  let spanIdLength = 0;
  let na = 0;
  while (r.pos < r.len) {
    const tag = readTag(r);
    switch (tag) {
      case 0x09:
        time = readFixed64(r);
        break;
      case 0x10:
        severityNumber = r.uint32() | 0;
        break;
      case 0x1a:
        severityText = readString(r);
        break;
      case 0x2a: {
        const o = enter(r, M.AnyValue);
        body = anyValueString(r, 1);
        leave(r, o);
        break;
      }
      case 0x32: {
        I[lv] = na++;
        readAttribute(r, attributes);
        break;
      }
      case 0x38: // dropped_attributes_count
        skipVarint(r);
        break;
      case 0x45:
        flags = r.fixed32();
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
        observed = readFixed64(r);
        break;
      case 0x62:
        // event_name: LogRecord has no field for it; read to validate UTF-8.
        readString(r);
        break;
      default:
        otherField(r, tag, M.LogRecord);
    }
  }
  const b = r.buf;
  if (traceIdLength !== 0 && traceIdLength !== 16) {
    reject(out, `trace_id is ${traceIdLength} bytes, want 16 or none`);
    return;
  }
  if (spanIdLength !== 0 && spanIdLength !== 8) {
    reject(out, `span_id is ${spanIdLength} bytes, want 8 or none`);
    return;
  }
  out.records.push({
    resource,
    scope,
    timeUnixNano: time === 0n ? observed : time,
    observedTimeUnixNano: observed,
    severityNumber,
    severityText,
    body,
    attributes,
    // All-zero ids mean "no trace context", as the Collector's pdata reads them.
    traceId: traceIdLength === 0 || isAllZero(b, traceIdAt, 16) ? '' : hex16(b, traceIdAt),
    spanId: spanIdLength === 0 || isAllZero(b, spanIdAt, 8) ? '' : hex8(b, spanIdAt),
    flags,
  });
}
