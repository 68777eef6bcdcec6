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
// hundreds of MB), and the walk below recurses per AnyValue level.

import { isUtf8 } from 'node:buffer';
import type { Attributes, Decoded, LogRecord, SpanEvent, SpanLink, SpanRecord } from '../../processors/record.ts';
import { OtlpDecodeError } from './errors.ts';
import {
  doubleJson,
  MAX_ANY_VALUE_DEPTH,
  setAttribute,
  SEVERITY_NUMBER_NAMES,
  SPAN_KIND_NAMES,
  STATUS_CODE_NAMES,
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

function idProblem(field: string, hex: string, wantBytes: number): string {
  if (hex === '') return `${field} is missing`;
  if (hex.length !== wantBytes * 2) return `${field} is ${hex.length / 2} bytes, want ${wantBytes}`;
  return ZERO_ID.test(hex) ? `${field} is all zeros` : '';
}

// ---------------------------------------------------------------------------
// AnyValue and attributes.

/** An AnyValue flattened to its attribute string (see flatten.ts). */
function anyValueString(v: unknown, depth: number): string {
  if (v === null || v === undefined) return '';
  if (depth > MAX_ANY_VALUE_DEPTH) throw fail(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH}`);
  const o = asObject(v);
  let s = '';
  for (const k in o) {
    const x = o[k];
    if (x === null || x === undefined) continue;
    at(k);
    switch (k) {
      case 'stringValue':
      case 'string_value':
        s = asString(x);
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
        s = String(asDouble(x));
        break;
      case 'arrayValue':
      case 'array_value':
        s = arrayJson(x, depth);
        break;
      case 'kvlistValue':
      case 'kvlist_value':
        s = kvlistJson(x, depth);
        break;
      case 'bytesValue':
      case 'bytes_value':
        s = asBase64(x);
        break;
    }
  }
  return s;
}

/** An AnyValue as a JSON value, inside an array or kvlist. */
function anyValueJson(v: unknown, depth: number): string {
  if (v === null || v === undefined) return 'null';
  if (depth > MAX_ANY_VALUE_DEPTH) throw fail(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH}`);
  const o = asObject(v);
  let s = 'null';
  for (const k in o) {
    const x = o[k];
    if (x === null || x === undefined) continue;
    at(k);
    switch (k) {
      case 'stringValue':
      case 'string_value':
        s = JSON.stringify(asString(x));
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
        s = doubleJson(asDouble(x));
        break;
      case 'arrayValue':
      case 'array_value':
        s = arrayJson(x, depth);
        break;
      case 'kvlistValue':
      case 'kvlist_value':
        s = kvlistJson(x, depth);
        break;
      case 'bytesValue':
      case 'bytes_value':
        s = `"${asBase64(x)}"`;
        break;
    }
  }
  return s;
}

/** ArrayValue of an AnyValue at `depth`, as JSON; the path is at the field. */
function arrayJson(x: unknown, depth: number): string {
  down();
  const values = valuesOf(x);
  let s = '[';
  for (let i = 0; i < values.length; i++) {
    PI[lv] = i;
    down();
    s += (i === 0 ? '' : ',') + anyValueJson(values[i], depth + 1);
    up();
  }
  up();
  return s + ']';
}

/** KeyValueList of an AnyValue at `depth`, as a JSON object; the path is at the field. */
function kvlistJson(x: unknown, depth: number): string {
  down();
  const values = valuesOf(x);
  let s = '{';
  for (let i = 0; i < values.length; i++) {
    PI[lv] = i;
    down();
    const kv = asObject(values[i]);
    let key = '';
    let value = 'null';
    for (const k in kv) {
      at(k);
      if (k === 'key') key = asString(kv[k]);
      else if (k === 'value') {
        down();
        value = anyValueJson(kv[k], depth + 1);
        up();
      }
    }
    up();
    s += `${i === 0 ? '' : ','}${JSON.stringify(key)}:${value}`;
  }
  up();
  return s + '}';
}

/** `values` of an ArrayValue / KeyValueList, with the path at `values`. */
function valuesOf(x: unknown): readonly unknown[] {
  const o = asObject(x);
  at('values');
  return asArray(o['values']);
}

/** A `repeated KeyValue` into `attrs`; the path is at the attributes field. */
function attributesInto(v: unknown, attrs: Attributes): void {
  const list = asArray(v);
  for (let i = 0; i < list.length; i++) {
    PI[lv] = i;
    down();
    const kv = asObject(list[i]);
    let key = '';
    let value = '';
    for (const k in kv) {
      at(k);
      if (k === 'key') key = asString(kv[k]);
      else if (k === 'value') {
        down();
        value = anyValueString(kv[k], 1);
        up();
      }
    }
    setAttribute(attrs, key, value);
    up();
  }
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

/**
 * Walks `resourceXxx[] -> scopeXxx[] -> records[]`, the same shape for both
 * signals; `record` decodes one record with the path at its level.
 */
function walk<T>(
  root: JsonObject,
  names: { readonly resource: readonly string[]; readonly scope: readonly string[]; readonly records: readonly string[] },
  out: Decoded<T>,
  record: (o: JsonObject, resource: MutableResource, scope: MutableScope, out: Decoded<T>) => void,
): void {
  for (const k0 in root) {
    if (!names.resource.includes(k0)) continue;
    at(k0);
    const resources = asArray(root[k0]);
    for (let r = 0; r < resources.length; r++) {
      PI[lv] = r;
      down();
      const ro = asObject(resources[r]);
      const resource: MutableResource = { attributes: {}, schemaUrl: '' };
      for (const k1 in ro) {
        at(k1);
        const v1 = ro[k1];
        if (k1 === 'resource') {
          down();
          resourceInto(v1, resource);
          up();
        } else if (k1 === 'schemaUrl' || k1 === 'schema_url') {
          resource.schemaUrl = asString(v1);
        } else if (names.scope.includes(k1)) {
          const scopes = asArray(v1);
          for (let s = 0; s < scopes.length; s++) {
            PI[lv] = s;
            down();
            const so = asObject(scopes[s]);
            const scope: MutableScope = { name: '', version: '', attributes: {}, schemaUrl: '' };
            for (const k2 in so) {
              at(k2);
              const v2 = so[k2];
              if (k2 === 'scope') {
                down();
                scopeInto(v2, scope);
                up();
              } else if (k2 === 'schemaUrl' || k2 === 'schema_url') {
                scope.schemaUrl = asString(v2);
              } else if (names.records.includes(k2)) {
                const records = asArray(v2);
                for (let i = 0; i < records.length; i++) {
                  PI[lv] = i;
                  down();
                  record(asObject(records[i]), resource, scope, out);
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
}

// ---------------------------------------------------------------------------
// Traces.

const TRACE_NAMES = {
  resource: ['resourceSpans', 'resource_spans'],
  scope: ['scopeSpans', 'scope_spans'],
  records: ['spans'],
} as const;

export function decodeTracesJson(buf: Uint8Array): Decoded<SpanRecord> {
  const root = parseBody(buf);
  const out: Decoded<SpanRecord> = { records: [], rejected: 0, rejectionMessage: '' };
  walk(root, TRACE_NAMES, out, span);
  return out;
}

function span(o: JsonObject, resource: MutableResource, scope: MutableScope, out: Decoded<SpanRecord>): void {
  let traceId = '';
  let spanId = '';
  let parentSpanId = '';
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
  for (const k in o) {
    at(k);
    const v = o[k];
    switch (k) {
      case 'traceId':
      case 'trace_id':
        traceId = asHexId(v);
        break;
      case 'spanId':
      case 'span_id':
        spanId = asHexId(v);
        break;
      case 'parentSpanId':
      case 'parent_span_id':
        parentSpanId = asHexId(v);
        break;
      case 'traceState':
      case 'trace_state':
        traceState = asString(v);
        break;
      case 'name':
        name = asString(v);
        break;
      case 'kind':
        kind = asEnum(v, SPAN_KIND_NAMES);
        break;
      case 'startTimeUnixNano':
      case 'start_time_unix_nano':
        start = asU64(v);
        break;
      case 'endTimeUnixNano':
      case 'end_time_unix_nano':
        end = asU64(v);
        break;
      case 'attributes':
        attributesInto(v, attributes);
        break;
      case 'events': {
        const list = asArray(v);
        for (let i = 0; i < list.length; i++) {
          PI[lv] = i;
          down();
          events.push(event(asObject(list[i])));
          up();
        }
        break;
      }
      case 'links': {
        const list = asArray(v);
        for (let i = 0; i < list.length; i++) {
          PI[lv] = i;
          down();
          links.push(link(asObject(list[i])));
          up();
        }
        break;
      }
      case 'status': {
        if (v === null || v === undefined) break;
        down();
        const so = asObject(v);
        for (const sk in so) {
          at(sk);
          if (sk === 'code') statusCode = asEnum(so[sk], STATUS_CODE_NAMES);
          else if (sk === 'message') statusMessage = asString(so[sk]);
        }
        up();
        break;
      }
    }
  }
  const problem =
    idProblem('traceId', traceId, 16) ||
    idProblem('spanId', spanId, 8) ||
    (parentSpanId !== '' && parentSpanId.length !== 16 ? `parentSpanId is ${parentSpanId.length / 2} bytes, want 0 or 8` : '');
  if (problem !== '') {
    reject(out, problem);
    return;
  }
  out.records.push({
    resource,
    scope,
    traceId,
    spanId,
    parentSpanId: ZERO_ID.test(parentSpanId) ? '' : parentSpanId,
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

function event(o: JsonObject): SpanEvent {
  let time = 0n;
  let name = '';
  const attributes: Attributes = {};
  for (const k in o) {
    at(k);
    const v = o[k];
    switch (k) {
      case 'timeUnixNano':
      case 'time_unix_nano':
        time = asU64(v);
        break;
      case 'name':
        name = asString(v);
        break;
      case 'attributes':
        attributesInto(v, attributes);
        break;
    }
  }
  return { timeUnixNano: time, name, attributes };
}

/** As in protobuf: link ids are not validated; all zeros is empty. */
function link(o: JsonObject): SpanLink {
  let traceId = '';
  let spanId = '';
  let traceState = '';
  const attributes: Attributes = {};
  for (const k in o) {
    at(k);
    const v = o[k];
    switch (k) {
      case 'traceId':
      case 'trace_id':
        traceId = asHexId(v);
        break;
      case 'spanId':
      case 'span_id':
        spanId = asHexId(v);
        break;
      case 'traceState':
      case 'trace_state':
        traceState = asString(v);
        break;
      case 'attributes':
        attributesInto(v, attributes);
        break;
    }
  }
  return {
    traceId: ZERO_ID.test(traceId) ? '' : traceId,
    spanId: ZERO_ID.test(spanId) ? '' : spanId,
    traceState,
    attributes,
  };
}

// ---------------------------------------------------------------------------
// Logs.

const LOG_NAMES = {
  resource: ['resourceLogs', 'resource_logs'],
  scope: ['scopeLogs', 'scope_logs'],
  records: ['logRecords', 'log_records'],
} as const;

export function decodeLogsJson(buf: Uint8Array): Decoded<LogRecord> {
  const root = parseBody(buf);
  const out: Decoded<LogRecord> = { records: [], rejected: 0, rejectionMessage: '' };
  walk(root, LOG_NAMES, out, logRecord);
  return out;
}

function logRecord(o: JsonObject, resource: MutableResource, scope: MutableScope, out: Decoded<LogRecord>): void {
  let time = 0n;
  let observed = 0n;
  let severityNumber = 0;
  let severityText = '';
  let body = '';
  const attributes: Attributes = {};
  let flags = 0;
  let traceId = '';
  let spanId = '';
  for (const k in o) {
    at(k);
    const v = o[k];
    switch (k) {
      case 'timeUnixNano':
      case 'time_unix_nano':
        time = asU64(v);
        break;
      case 'observedTimeUnixNano':
      case 'observed_time_unix_nano':
        observed = asU64(v);
        break;
      case 'severityNumber':
      case 'severity_number':
        severityNumber = asEnum(v, SEVERITY_NUMBER_NAMES);
        break;
      case 'severityText':
      case 'severity_text':
        severityText = asString(v);
        break;
      case 'body':
        down();
        body = anyValueString(v, 1);
        up();
        break;
      case 'attributes':
        attributesInto(v, attributes);
        break;
      case 'flags':
        flags = asUint32(v);
        break;
      case 'traceId':
      case 'trace_id':
        traceId = asHexId(v);
        break;
      case 'spanId':
      case 'span_id':
        spanId = asHexId(v);
        break;
      case 'eventName':
      case 'event_name':
        asString(v); // LogRecord has no field for it; type-checked only.
        break;
    }
  }
  if (traceId !== '' && traceId.length !== 32) {
    reject(out, `traceId is ${traceId.length / 2} bytes, want 16 or none`);
    return;
  }
  if (spanId !== '' && spanId.length !== 16) {
    reject(out, `spanId is ${spanId.length / 2} bytes, want 8 or none`);
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
    traceId: ZERO_ID.test(traceId) ? '' : traceId,
    spanId: ZERO_ID.test(spanId) ? '' : spanId,
    flags,
  });
}
