// Pieces shared by the protobuf and JSON decoders: how OTLP values become the
// flat strings of `Attributes` (core/record.ts), id hex, limits, enum names,
// the empty records the decoders fill in and the checks that finish them.
//
// Flattening, exactly (it follows the Collector's pcommon `Value.AsString`, which
// the ClickHouse exporter stores):
//   string          as is
//   bool            `true` / `false`
//   int (int64)     decimal, exact over the whole int64 range (no float rounding)
//   double          JavaScript shortest round-trip form (`String(v)`: `1.5`, `3`,
//                   `1e+21`, `NaN`, `Infinity`)
//   bytes           standard base64 with padding
//   empty AnyValue  `` (empty string)
//   array, kvlist   compact JSON of the nested values, typed: strings as JSON
//                   strings, ints as bare exact decimal numbers (also beyond
//                   2^53), doubles as JSON numbers (NaN / ±Infinity, which JSON
//                   cannot hold, as the strings "NaN" / "Infinity" /
//                   "-Infinity"), bools as true/false, bytes as base64 strings,
//                   empty values as null, kvlists as objects with keys in wire
//                   order (a repeated key is written twice, as received).
// Log bodies flatten the same way: a string body as is, anything else as above.
// A repeated attribute key keeps the last value.

import type { Attributes, LogRecord, Resource, Scope, SpanEvent, SpanLink, SpanRecord } from '../../core/record.ts';

/** Deepest AnyValue nesting accepted (an attribute value is depth 1). */
export const MAX_ANY_VALUE_DEPTH = 32;

/** Byte -> two lower-case hex digits. */
export const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

const HEX_HI = new Uint16Array(256);
const HEX_LO = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  HEX_HI[i] = HEX[i]!.charCodeAt(0);
  HEX_LO[i] = HEX[i]!.charCodeAt(1);
}

/** Lower-case hex of the 16 bytes of `b` from `p` (a trace id), built as one flat string. */
export function hex16(b: Uint8Array, p: number): string {
  const H = HEX_HI;
  const L = HEX_LO;
  return String.fromCharCode(
    H[b[p]!]!, L[b[p]!]!, H[b[p + 1]!]!, L[b[p + 1]!]!, H[b[p + 2]!]!, L[b[p + 2]!]!, H[b[p + 3]!]!, L[b[p + 3]!]!,
    H[b[p + 4]!]!, L[b[p + 4]!]!, H[b[p + 5]!]!, L[b[p + 5]!]!, H[b[p + 6]!]!, L[b[p + 6]!]!, H[b[p + 7]!]!, L[b[p + 7]!]!,
    H[b[p + 8]!]!, L[b[p + 8]!]!, H[b[p + 9]!]!, L[b[p + 9]!]!, H[b[p + 10]!]!, L[b[p + 10]!]!, H[b[p + 11]!]!, L[b[p + 11]!]!,
    H[b[p + 12]!]!, L[b[p + 12]!]!, H[b[p + 13]!]!, L[b[p + 13]!]!, H[b[p + 14]!]!, L[b[p + 14]!]!, H[b[p + 15]!]!, L[b[p + 15]!]!,
  );
}

/** Lower-case hex of the 8 bytes of `b` from `p` (a span id). */
export function hex8(b: Uint8Array, p: number): string {
  const H = HEX_HI;
  const L = HEX_LO;
  return String.fromCharCode(
    H[b[p]!]!, L[b[p]!]!, H[b[p + 1]!]!, L[b[p + 1]!]!, H[b[p + 2]!]!, L[b[p + 2]!]!, H[b[p + 3]!]!, L[b[p + 3]!]!,
    H[b[p + 4]!]!, L[b[p + 4]!]!, H[b[p + 5]!]!, L[b[p + 5]!]!, H[b[p + 6]!]!, L[b[p + 6]!]!, H[b[p + 7]!]!, L[b[p + 7]!]!,
  );
}

/** Lower-case hex of `n` bytes of `b` from `p`. */
export function hexOf(b: Uint8Array, p: number, n: number): string {
  let s = '';
  for (let i = p, e = p + n; i < e; i++) s += HEX[b[i]!]!;
  return s;
}

/** Whether `n` bytes of `b` from `p` are all zero. */
export function isAllZero(b: Uint8Array, p: number, n: number): boolean {
  let acc = 0;
  for (let i = p, e = p + n; i < e; i++) acc |= b[i]!;
  return acc === 0;
}

/**
 * Stores one attribute. `__proto__` is defined as an own property: a plain
 * assignment would hit Object.prototype's setter and silently drop the value.
 */
export function setAttribute(attrs: Attributes, key: string, value: string): void {
  if (key === '__proto__') {
    Object.defineProperty(attrs, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    attrs[key] = value;
  }
}

/** A double inside JSON: a number when JSON can hold it, else its name as a string. */
export function doubleJson(v: number): string {
  return Number.isFinite(v) ? String(v) : `"${String(v)}"`;
}

const TWO_32 = 4294967296;

/** Decimal form of the int64 whose two's complement halves are `lo`, `hi` (unsigned 32 bits each). */
export function int64Decimal(lo: number, hi: number): string {
  if (hi < 0x200000) return String(hi * TWO_32 + lo); // 0 <= v < 2^53
  if (hi >= 0xffe00000) {
    // -2^53 <= v < 0: negate the 64-bit value in halves.
    const nlo = (~lo + 1) >>> 0;
    const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
    return nhi === 0 && nlo === 0 ? '0' : `-${nhi * TWO_32 + nlo}`;
  }
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
}

/** OTLP/JSON enum names accepted besides the integers (protojson accepts both). */
export const SPAN_KIND_NAMES: Readonly<Record<string, number>> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};

export const STATUS_CODE_NAMES: Readonly<Record<string, number>> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
};

export const SEVERITY_NUMBER_NAMES: Readonly<Record<string, number>> = (() => {
  const names: Record<string, number> = { SEVERITY_NUMBER_UNSPECIFIED: 0 };
  const levels = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
  for (let l = 0; l < levels.length; l++) {
    for (let i = 1; i <= 4; i++) names[`SEVERITY_NUMBER_${levels[l]}${i === 1 ? '' : i}`] = l * 4 + i;
  }
  return names;
})();

// ---------------------------------------------------------------------------
// Records. Both decoders start every record, resource and scope from these, so
// each has one shape (one V8 hidden class) whichever encoding it came in.

/** A resource being read: shared by the records of one ResourceSpans / ResourceLogs. */
export interface MutableResource {
  attributes: Attributes;
  schemaUrl: string;
}

/** A scope being read: shared by the records of one ScopeSpans / ScopeLogs. */
export interface MutableScope {
  name: string;
  version: string;
  attributes: Attributes;
  schemaUrl: string;
}

/**
 * Made before the fields of its message are read: `schema_url` follows the
 * records on the wire, and every record refers to this one object.
 */
export function emptyResource(): MutableResource {
  return { attributes: {}, schemaUrl: '' };
}

export function emptyScope(): MutableScope {
  return { name: '', version: '', attributes: {}, schemaUrl: '' };
}

/** A span with every field at its OTLP default, for a decoder to fill in. */
export function emptySpan(resource: Resource, scope: Scope): SpanRecord {
  return {
    resource,
    scope,
    traceId: '',
    spanId: '',
    parentSpanId: '',
    traceState: '',
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: {},
    events: [],
    links: [],
    statusCode: 0,
    statusMessage: '',
    flags: 0,
  };
}

export function emptyEvent(): SpanEvent {
  return { timeUnixNano: 0n, name: '', attributes: {} };
}

/** Link ids are not validated: a bad link does not make its span invalid. */
export function emptyLink(): SpanLink {
  return { traceId: '', spanId: '', traceState: '', attributes: {} };
}

/** A log record with every field at its OTLP default, for a decoder to fill in. */
export function emptyLog(resource: Resource, scope: Scope): LogRecord {
  return {
    resource,
    scope,
    timeUnixNano: 0n,
    observedTimeUnixNano: 0n,
    severityNumber: 0,
    severityText: '',
    body: '',
    attributes: {},
    traceId: '',
    spanId: '',
    flags: 0,
    eventName: '',
  };
}

/** The id and time fields' names in one encoding, for the reasons a record is rejected. */
export interface FieldNames {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly startTime: string;
  readonly endTime: string;
  /** Of a span event and of a log record. */
  readonly time: string;
  readonly observedTime: string;
}

export const PROTO_FIELD_NAMES: FieldNames = {
  traceId: 'trace_id',
  spanId: 'span_id',
  parentSpanId: 'parent_span_id',
  startTime: 'start_time_unix_nano',
  endTime: 'end_time_unix_nano',
  time: 'time_unix_nano',
  observedTime: 'observed_time_unix_nano',
};
export const JSON_FIELD_NAMES: FieldNames = {
  traceId: 'traceId',
  spanId: 'spanId',
  parentSpanId: 'parentSpanId',
  startTime: 'startTimeUnixNano',
  endTime: 'endTimeUnixNano',
  time: 'timeUnixNano',
  observedTime: 'observedTimeUnixNano',
};

/**
 * The latest time stored, 2106-02-07T06:28:15.999999999Z, in Unix nanoseconds:
 * the end of ClickHouse's DateTime, the type of the columns derived from a
 * record's time (the day partition and sort key, `otel_logs.TimestampTime`,
 * `request_summaries.Minute`). Later times would wrap around to 1970 there.
 */
export const MAX_TIME_UNIX_NANO = 4_294_967_295_999_999_999n;

function timeProblem(field: string, ns: bigint): string {
  return ns > MAX_TIME_UNIX_NANO ? `${field} ${ns} is after 2106-02-07T06:28:15Z, the latest time Consentry stores` : '';
}

/**
 * Why a span's times cannot be stored, or '' if they can: a start, end or
 * event time after MAX_TIME_UNIX_NANO. Times of 0 (not set) are filled in
 * later (stampUnsetTimes in ingest.ts).
 */
export function spanTimeProblem(names: FieldNames, span: SpanRecord): string {
  let problem = timeProblem(names.startTime, span.startTimeUnixNano) || timeProblem(names.endTime, span.endTimeUnixNano);
  for (let i = 0; problem === '' && i < span.events.length; i++) problem = timeProblem(`events[${i}].${names.time}`, span.events[i]!.timeUnixNano);
  return problem;
}

/**
 * Why a span with these ids is invalid, or '' if it is valid. Lengths are in
 * bytes (0: absent); `...Zero` says whether the id is all zero bytes. A span
 * needs a 16-byte trace id and an 8-byte span id, neither all zeros; a parent
 * span id is absent or 8 bytes (all zeros then means no parent).
 */
export function spanIdProblem(
  names: FieldNames,
  traceIdLength: number,
  traceIdZero: boolean,
  spanIdLength: number,
  spanIdZero: boolean,
  parentSpanIdLength: number,
): string {
  return (
    requiredIdProblem(names.traceId, traceIdLength, 16, traceIdZero) ||
    requiredIdProblem(names.spanId, spanIdLength, 8, spanIdZero) ||
    (parentSpanIdLength !== 0 && parentSpanIdLength !== 8
      ? `${names.parentSpanId} is ${parentSpanIdLength} bytes, want 0 or 8`
      : '')
  );
}

function requiredIdProblem(field: string, length: number, want: number, zero: boolean): string {
  if (length === 0) return `${field} is missing`;
  if (length !== want) return `${field} is ${length} bytes, want ${want}`;
  return zero ? `${field} is all zeros` : '';
}

/**
 * Finishes a log record whose fields are read: returns why it is invalid, or ''
 * if it is valid. Its ids (lengths in bytes, 0: absent) are optional, but a
 * trace id is 16 bytes and a span id 8; a zero event time falls back to the
 * observed time (both 0: the receipt time, set later by ingest.ts), and the
 * time must be storable (MAX_TIME_UNIX_NANO). The caller sets the ids
 * themselves, empty when all zeros.
 */
export function finishLog(
  record: LogRecord,
  names: FieldNames,
  traceIdLength: number,
  spanIdLength: number,
): string {
  if (traceIdLength !== 0 && traceIdLength !== 16) return `${names.traceId} is ${traceIdLength} bytes, want 16 or none`;
  if (spanIdLength !== 0 && spanIdLength !== 8) return `${names.spanId} is ${spanIdLength} bytes, want 8 or none`;
  if (record.timeUnixNano !== 0n) return timeProblem(names.time, record.timeUnixNano);
  record.timeUnixNano = record.observedTimeUnixNano;
  return timeProblem(names.observedTime, record.timeUnixNano);
}
