// OTLP/JSON decoding into the internal records.
//
// The mapping is protobuf's JSON mapping with the OTLP exceptions
// (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
// - field names in lowerCamelCase; the original snake_case proto names are
//   accepted too, as protojson does;
// - trace and span ids are hex strings (any case), not base64; "" is absent;
// - enums are integers, and the enum value names are accepted too;
// - 64-bit integers are decimal strings or JSON numbers;
// - bytes_value is base64 (standard or URL-safe, padding optional);
// - unknown fields are ignored (the spec requires it of receivers); `null`
//   means the field is absent.
// Values flatten as the protobuf decoder does (see flatten.ts), so both
// encodings of one request give the same records.
//
// Before JSON.parse, one byte scan bounds the nesting depth: V8's parser is
// iterative and would happily build a 10 MB tower of arrays (seconds of CPU and
// hundreds of MB), and the decoding below recurses per AnyValue level.

import { isUtf8 } from 'node:buffer';
import type { Attributes, Decoded, LogRecord, SpanEvent, SpanLink, SpanRecord } from '../../core/record.ts';
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
  JSON_FIELD_NAMES,
  MAX_ANY_VALUE_DEPTH,
  setAttribute,
  SEVERITY_NUMBER_NAMES,
  SPAN_KIND_NAMES,
  spanIdProblem,
  spanTimeProblem,
  STATUS_CODE_NAMES,
  type MutableResource,
  type MutableScope,
} from './flatten.ts';

/**
 * Deepest `[` / `{` nesting accepted. The structure down to an event
 * attribute's value is 12 levels, and each further AnyValue level adds at most
 * 4 (`kvlistValue` { `values` [ { `value` {), so this admits AnyValue nesting
 * up to MAX_ANY_VALUE_DEPTH, as in protobuf, and nothing much deeper.
 */
export const MAX_JSON_DEPTH = 16 + 4 * MAX_ANY_VALUE_DEPTH;

type JsonObject = { [key: string]: unknown };

// ---------------------------------------------------------------------------
// Path of the field being read, turned into text only for an error.

const MAX_LEVELS = MAX_JSON_DEPTH + 8;
const PK: string[] = new Array<string>(MAX_LEVELS).fill('');
const PI = new Int32Array(MAX_LEVELS);
let lv = 0;

function pathTo(upTo: number): string {
  let s = '';
  for (let l = 0; l <= upTo; l++) {
    const k = PK[l]!;
    if (k === '') break;
    const i = PI[l]!;
    s += (l === 0 ? '' : '.') + (i >= 0 ? `${k}[${i}]` : k);
  }
  return s;
}

function fail(reason: string): OtlpDecodeError {
  return new OtlpDecodeError(pathTo(lv), reason);
}

/** Records the key being read at this level. */
function at(key: string): void {
  PK[lv] = key;
  PI[lv] = -1;
}

function down(): void {
  lv++;
  PK[lv] = '';
  PI[lv] = -1;
}

function up(): void {
  lv--;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------
// Body -> JSON value.

function checkDepth(b: Buffer): void {
  let depth = 0;
  const n = b.length;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === 0x22) {
      // Skip the string, to the next quote not escaped by a backslash: byte by
      // byte for a short one, then by the native search.
      const stop = Math.min(n, i + 33);
      for (i++; i < stop; i++) {
        const s = b[i]!;
        if (s === 0x22) break;
        if (s === 0x5c) i++;
      }
      if (i >= stop && stop < n) i = skipLongString(b, i);
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) {
        throw new OtlpDecodeError('', `JSON nested deeper than ${MAX_JSON_DEPTH} levels (at byte ${i})`);
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
}

/** From `i` inside a string, the index of its closing quote (or the end of `b`). */
function skipLongString(b: Buffer, i: number): number {
  for (;;) {
    const q = b.indexOf(0x22, i);
    if (q === -1) return b.length;
    // The quote is escaped if an odd number of backslashes precede it.
    let k = q - 1;
    while (k >= i && b[k] === 0x5c) k--;
    // Backslashes before `i` belong to the scanned part, which ended outside an escape.
    if (((q - 1 - k) & 1) === 0) return q;
    i = q + 1;
  }
}

function parseBody(buf: Uint8Array): JsonObject {
  if (buf.length === 0) throw new OtlpDecodeError('', 'empty body: an OTLP/JSON request is a JSON object');
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  checkDepth(b);
  let text = b.toString('utf8');
  if (text.indexOf('\uFFFD') !== -1 && !isUtf8(b)) throw new OtlpDecodeError('', 'invalid UTF-8 in JSON body');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw new OtlpDecodeError('', `invalid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(root)) throw new OtlpDecodeError('', `expected a JSON object, got ${typeName(root)}`);
  lv = 0;
  PK[0] = '';
  PI[0] = -1;
  return root;
}

// ---------------------------------------------------------------------------
// Scalars.

function asArray(v: unknown): readonly unknown[] {
  if (Array.isArray(v)) return v;
  if (v === null || v === undefined) return [];
  throw fail(`expected an array, got ${typeName(v)}`);
}

function asObject(v: unknown): JsonObject {
  if (isObject(v)) return v;
  throw fail(`expected an object, got ${typeName(v)}`);
}

function asString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  throw fail(`expected a string, got ${typeName(v)}`);
}

const UINT64_MAX = 0xffffffffffffffffn;
const DIGITS = /^[0-9]+$/;
const INT = /^-?[0-9]+$/;

/** fixed64 times: decimal string or JSON number. */
function asU64(v: unknown): bigint {
  if (typeof v === 'string') {
    if (DIGITS.test(v)) {
      const n = BigInt(v);
      if (n <= UINT64_MAX) return n;
    }
    throw fail(`expected an unsigned 64-bit integer, got "${v.slice(0, 40)}"`);
  }
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 64) return BigInt(v);
    throw fail(`expected an unsigned 64-bit integer, got ${v}`);
  }
  if (v === null || v === undefined) return 0n;
  throw fail(`expected an unsigned 64-bit integer, got ${typeName(v)}`);
}

/**
 * int64 attribute values: exact decimal, also beyond 2^53. A JSON number that
 * is integral but beyond int64 is read as the double it is (OTel JS's JSON
 * serializer sends integral doubles such as 1e300 as intValue, where its
 * protobuf serializer sends a double_value), so both encodings agree.
 */
function int64Decimal(v: unknown): string {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return String(v);
    if (Number.isInteger(v)) return v >= -(2 ** 63) && v < 2 ** 63 ? BigInt(v).toString() : String(v);
    throw fail(`expected a 64-bit integer, got ${v}`);
  }
  if (typeof v === 'string' && INT.test(v)) {
    const n = BigInt(v);
    if (n >= -(2n ** 63n) && n < 2n ** 63n) return n.toString();
  }
  throw fail(`expected a 64-bit integer, got ${typeof v === 'string' ? `"${v.slice(0, 40)}"` : typeName(v)}`);
}

function asDouble(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = v.trim() === '' ? NaN : Number(v);
    if (!Number.isNaN(n)) return n;
  }
  throw fail(`expected a double, got ${typeof v === 'string' ? `"${v.slice(0, 40)}"` : typeName(v)}`);
}

/** int32 fields (flags): JSON number or decimal string. */
function asUint32(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  if (typeof v === 'string' && DIGITS.test(v) && Number(v) <= 0xffffffff) return Number(v);
  if (v === null || v === undefined) return 0;
  throw fail(`expected an unsigned 32-bit integer, got ${typeName(v)}`);
}

function asEnum(v: unknown, names: Readonly<Record<string, number>>): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return v;
  if (typeof v === 'string') {
    const n = Object.hasOwn(names, v) ? names[v] : undefined;
    if (n !== undefined) return n;
    throw fail(`unknown enum value "${v.slice(0, 40)}"`);
  }
  if (v === null || v === undefined) return 0;
  throw fail(`expected an enum number or name, got ${typeName(v)}`);
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function asBase64(v: unknown): string {
  if (typeof v !== 'string' || !BASE64.test(v)) throw fail(`expected base64, got ${typeName(v)}`);
  return Buffer.from(v, 'base64').toString('base64');
}

const HEX_ID = /^[0-9a-fA-F]*$/;

/**
 * A trace or span id: returns lower-case hex. Not hex, or an odd number of
 * digits, is malformed input; a wrong length or all zeros is left to the caller
 * (an invalid record, not an invalid request).
 */
function asHexId(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'string') throw fail(`expected a hex string, got ${typeName(v)}`);
  if (!HEX_ID.test(v) || (v.length & 1) !== 0) throw fail(`expected an even number of hex digits, got "${v.slice(0, 40)}"`);
  return v.toLowerCase();
}

const ZERO_ID = /^0*$/;

/** An id as stored: all zeros (the sender's "none") is empty. */
function nonZeroId(hex: string): string {
  return ZERO_ID.test(hex) ? '' : hex;
}

// ---------------------------------------------------------------------------
// AnyValue and attributes.

/**
 * An AnyValue at `depth`. Depth 1, an attribute value or a log body, is
 * flattened to its attribute string (see flatten.ts); deeper ones are JSON
 * values inside an array or kvlist.
 */
function anyValue(v: unknown, depth: number): string {
  const top = depth === 1;
  if (v === null || v === undefined) return top ? '' : 'null';
  if (depth > MAX_ANY_VALUE_DEPTH) throw fail(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH}`);
  const o = asObject(v);
  let s = top ? '' : 'null';
  for (const k in o) {
    const x = o[k];
    if (x === null || x === undefined) continue;
    at(k);
    switch (k) {
      case 'stringValue':
      case 'string_value':
        s = top ? asString(x) : JSON.stringify(asString(x));
        break;
      case 'boolValue':
      case 'bool_value':
        if (typeof x !== 'boolean') throw fail(`expected a boolean, got ${typeName(x)}`);
        s = x ? 'true' : 'false';
        break;
      case 'intValue':
      case 'int_value':
        s = int64Decimal(x);
        break;
      case 'doubleValue':
      case 'double_value':
        s = top ? String(asDouble(x)) : doubleJson(asDouble(x));
        break;
      case 'arrayValue':
      case 'array_value':
        s = valuesJson(x, depth, false);
        break;
      case 'kvlistValue':
      case 'kvlist_value':
        s = valuesJson(x, depth, true);
        break;
      case 'bytesValue':
      case 'bytes_value':
        s = top ? asBase64(x) : `"${asBase64(x)}"`;
        break;
    }
  }
  return s;
}

/**
 * The values of an AnyValue at `depth` that is an ArrayValue or (`kv`) a
 * KeyValueList, as a JSON array or object; the path is at the field.
 */
function valuesJson(x: unknown, depth: number, kv: boolean): string {
  down();
  const values = valuesOf(x);
  let s = '';
  for (let i = 0; i < values.length; i++) {
    PI[lv] = i;
    down();
    const value = kv ? keyValue(values[i], depth + 1) : anyValue(values[i], depth + 1);
    up();
    s += (i === 0 ? '' : ',') + (kv ? `${JSON.stringify(kvKey)}:${value}` : value);
  }
  up();
  return kv ? `{${s}}` : `[${s}]`;
}

/** `values` of an ArrayValue / KeyValueList, with the path at `values`. */
function valuesOf(x: unknown): readonly unknown[] {
  const o = asObject(x);
  at('values');
  return asArray(o['values']);
}

/** A repeated message field, each element read by `read` into `into`; the path is at the field. */
function messagesInto<T>(v: unknown, into: T[], read: (o: JsonObject) => T): void {
  const list = asArray(v);
  for (let i = 0; i < list.length; i++) {
    PI[lv] = i;
    down();
    into.push(read(asObject(list[i])));
    up();
  }
}

/** A `repeated KeyValue` into `attrs`; the path is at the attributes field. */
function attributesInto(v: unknown, attrs: Attributes): void {
  const list = asArray(v);
  for (let i = 0; i < list.length; i++) {
    PI[lv] = i;
    down();
    const value = keyValue(list[i], 1);
    setAttribute(attrs, kvKey, value);
    up();
  }
}

/** The key of the KeyValue `keyValue` read last. */
let kvKey = '';

/**
 * A KeyValue whose value is at `depth`, with the path at it: returns the value
 * flattened as `anyValue` does and leaves the key in `kvKey`.
 */
function keyValue(x: unknown, depth: number): string {
  const kv = asObject(x);
  let key = '';
  let value = depth === 1 ? '' : 'null';
  for (const k in kv) {
    at(k);
    if (k === 'key') key = asString(kv[k]);
    else if (k === 'value') {
      down();
      value = anyValue(kv[k], depth);
      up();
    }
  }
  kvKey = key;
  return value;
}

function resourceInto(v: unknown, resource: MutableResource): void {
  if (v === null || v === undefined) return;
  const o = asObject(v);
  for (const k in o) {
    at(k);
    if (k === 'attributes') attributesInto(o[k], resource.attributes);
  }
}

function scopeInto(v: unknown, scope: MutableScope): void {
  if (v === null || v === undefined) return;
  const o = asObject(v);
  for (const k in o) {
    at(k);
    switch (k) {
      case 'name':
        scope.name = asString(o[k]);
        break;
      case 'version':
        scope.version = asString(o[k]);
        break;
      case 'attributes':
        attributesInto(o[k], scope.attributes);
        break;
    }
  }
}

function reject<T>(out: Decoded<T>, reason: string): void {
  if (out.rejected++ === 0) out.rejectionMessage = `${pathTo(lv - 1)}: ${reason}`;
}

// ---------------------------------------------------------------------------
// `resourceXxx[] -> scopeXxx[] -> records[]`, the same shape for both signals.

interface Signal<R> {
  /** Accepted names of the request's `resourceXxx` field. */
  readonly resource: readonly string[];
  /** Accepted names of a ResourceXxx's `scopeXxx` field. */
  readonly scope: readonly string[];
  /** Accepted names of a ScopeXxx's records field. */
  readonly records: readonly string[];
  /** Decodes one record, with the path at it, into `out.records` or rejected. */
  readonly decode: (o: JsonObject, resource: MutableResource, scope: MutableScope, out: Decoded<R>) => void;
}

function decodeRequest<R>(buf: Uint8Array, signal: Signal<R>): Decoded<R> {
  const root = parseBody(buf);
  const out: Decoded<R> = { records: [], rejected: 0, rejectionMessage: '' };
  const decode = signal.decode;
  for (const k0 in root) {
    if (!signal.resource.includes(k0)) continue;
    at(k0);
    const resources = asArray(root[k0]);
    for (let r = 0; r < resources.length; r++) {
      PI[lv] = r;
      down();
      const ro = asObject(resources[r]);
      const resource = emptyResource();
      for (const k1 in ro) {
        at(k1);
        const v1 = ro[k1];
        if (k1 === 'resource') {
          down();
          resourceInto(v1, resource);
          up();
        } else if (k1 === 'schemaUrl' || k1 === 'schema_url') {
          resource.schemaUrl = asString(v1);
        } else if (signal.scope.includes(k1)) {
          const scopes = asArray(v1);
          for (let s = 0; s < scopes.length; s++) {
            PI[lv] = s;
            down();
            const so = asObject(scopes[s]);
            const scope = emptyScope();
            for (const k2 in so) {
              at(k2);
              const v2 = so[k2];
              if (k2 === 'scope') {
                down();
                scopeInto(v2, scope);
                up();
              } else if (k2 === 'schemaUrl' || k2 === 'schema_url') {
                scope.schemaUrl = asString(v2);
              } else if (signal.records.includes(k2)) {
                const records = asArray(v2);
                for (let i = 0; i < records.length; i++) {
                  PI[lv] = i;
                  down();
                  decode(asObject(records[i]), resource, scope, out);
                  up();
                }
              }
            }
            up();
          }
        }
      }
      up();
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Traces.

const TRACES: Signal<SpanRecord> = {
  resource: ['resourceSpans', 'resource_spans'],
  scope: ['scopeSpans', 'scope_spans'],
  records: ['spans'],
  decode: span,
};

export function decodeTracesJson(buf: Uint8Array): Decoded<SpanRecord> {
  return decodeRequest(buf, TRACES);
}

function span(o: JsonObject, resource: MutableResource, scope: MutableScope, out: Decoded<SpanRecord>): void {
  const span = emptySpan(resource, scope);
  for (const k in o) {
    at(k);
    const v = o[k];
    switch (k) {
      case 'traceId':
      case 'trace_id':
        span.traceId = asHexId(v);
        break;
      case 'spanId':
      case 'span_id':
        span.spanId = asHexId(v);
        break;
      case 'parentSpanId':
      case 'parent_span_id':
        span.parentSpanId = asHexId(v);
        break;
      case 'traceState':
      case 'trace_state':
        span.traceState = asString(v);
        break;
      case 'name':
        span.name = asString(v);
        break;
      case 'kind':
        span.kind = asEnum(v, SPAN_KIND_NAMES);
        break;
      case 'startTimeUnixNano':
      case 'start_time_unix_nano':
        span.startTimeUnixNano = asU64(v);
        break;
      case 'endTimeUnixNano':
      case 'end_time_unix_nano':
        span.endTimeUnixNano = asU64(v);
        break;
      case 'attributes':
        attributesInto(v, span.attributes);
        break;
      case 'events':
        messagesInto(v, span.events, event);
        break;
      case 'links':
        messagesInto(v, span.links, link);
        break;
      case 'flags':
        span.flags = asUint32(v);
        break;
      case 'status': {
        if (v === null || v === undefined) break;
        down();
        const so = asObject(v);
        for (const sk in so) {
          at(sk);
          if (sk === 'code') span.statusCode = asEnum(so[sk], STATUS_CODE_NAMES);
          else if (sk === 'message') span.statusMessage = asString(so[sk]);
        }
        up();
        break;
      }
    }
  }
  const { traceId, spanId, parentSpanId } = span;
  const problem = spanIdProblem(
    JSON_FIELD_NAMES,
    traceId.length / 2,
    ZERO_ID.test(traceId),
    spanId.length / 2,
    ZERO_ID.test(spanId),
    parentSpanId.length / 2,
  ) || spanTimeProblem(JSON_FIELD_NAMES, span);
  if (problem !== '') {
    reject(out, problem);
    return;
  }
  span.parentSpanId = nonZeroId(parentSpanId);
  out.records.push(span);
}

function event(o: JsonObject): SpanEvent {
  const event = emptyEvent();
  for (const k in o) {
    at(k);
    const v = o[k];
    switch (k) {
      case 'timeUnixNano':
      case 'time_unix_nano':
        event.timeUnixNano = asU64(v);
        break;
      case 'name':
        event.name = asString(v);
        break;
      case 'attributes':
        attributesInto(v, event.attributes);
        break;
    }
  }
  return event;
}

/** As in protobuf: link ids are not validated; all zeros is empty. */
function link(o: JsonObject): SpanLink {
  const link = emptyLink();
  for (const k in o) {
    at(k);
    const v = o[k];
    switch (k) {
      case 'traceId':
      case 'trace_id':
        link.traceId = nonZeroId(asHexId(v));
        break;
      case 'spanId':
      case 'span_id':
        link.spanId = nonZeroId(asHexId(v));
        break;
      case 'traceState':
      case 'trace_state':
        link.traceState = asString(v);
        break;
      case 'attributes':
        attributesInto(v, link.attributes);
        break;
    }
  }
  return link;
}

// ---------------------------------------------------------------------------
// Logs.

const LOGS: Signal<LogRecord> = {
  resource: ['resourceLogs', 'resource_logs'],
  scope: ['scopeLogs', 'scope_logs'],
  records: ['logRecords', 'log_records'],
  decode: logRecord,
};

export function decodeLogsJson(buf: Uint8Array): Decoded<LogRecord> {
  return decodeRequest(buf, LOGS);
}

function logRecord(o: JsonObject, resource: MutableResource, scope: MutableScope, out: Decoded<LogRecord>): void {
  const log = emptyLog(resource, scope);
  for (const k in o) {
    at(k);
    const v = o[k];
    switch (k) {
      case 'timeUnixNano':
      case 'time_unix_nano':
        log.timeUnixNano = asU64(v);
        break;
      case 'observedTimeUnixNano':
      case 'observed_time_unix_nano':
        log.observedTimeUnixNano = asU64(v);
        break;
      case 'severityNumber':
      case 'severity_number':
        log.severityNumber = asEnum(v, SEVERITY_NUMBER_NAMES);
        break;
      case 'severityText':
      case 'severity_text':
        log.severityText = asString(v);
        break;
      case 'body':
        down();
        log.body = anyValue(v, 1);
        up();
        break;
      case 'attributes':
        attributesInto(v, log.attributes);
        break;
      case 'flags':
        log.flags = asUint32(v);
        break;
      case 'traceId':
      case 'trace_id':
        log.traceId = asHexId(v);
        break;
      case 'spanId':
      case 'span_id':
        log.spanId = asHexId(v);
        break;
      case 'eventName':
      case 'event_name':
        log.eventName = asString(v);
        break;
    }
  }
  const problem = finishLog(log, JSON_FIELD_NAMES, log.traceId.length / 2, log.spanId.length / 2);
  if (problem !== '') {
    reject(out, problem);
    return;
  }
  log.traceId = nonZeroId(log.traceId);
  log.spanId = nonZeroId(log.spanId);
  out.records.push(log);
}
