// OTLP decoding (collector/otlp/decode-{proto,json}.ts): round trips through the
// real OTel JS SDK and serializers, hand-crafted protobuf for what the SDK never
// sends, and partial rejection of invalid records.
import { describe, expect, it } from 'vitest';
import { createTraceState, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type AttributeValue, type HrTime, type SpanContext } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import {
  JsonLogsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { decodeLogsProto, decodeTracesProto } from '../../collector/otlp/decode-proto.ts';
import { decodeLogsJson, decodeTracesJson } from '../../collector/otlp/decode-json.ts';
import type { Attributes, LogRecord, SpanRecord } from '../../core/record.ts';
import { cat, double, fixed32, fixed64, hex, len, tag, varint, vint } from '../helpers/protobuf.ts';


const av = {
  str: (s: string | Uint8Array) => len(1, s),
  bool: (v: boolean) => vint(2, v ? 1 : 0),
  int: (v: bigint | number) => vint(3, v),
  double: (v: number) => double(4, v),
  array: (...values: Buffer[]) => len(5, cat(...values.map((v) => len(1, v)))),
  kvlist: (...kvs: Buffer[]) => len(6, cat(...kvs.map((x) => len(1, x)))),
  bytes: (b: Uint8Array) => len(7, b),
  empty: () => Buffer.alloc(0),
};
const kv = (key: string, value?: Buffer): Buffer => cat(len(1, key), ...(value === undefined ? [] : [len(2, value)]));

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';
const PARENT = '00f067aa0ba902b7';

/** A span with valid ids and the given extra fields. */
function pbSpan(...fields: Buffer[]): Buffer {
  return cat(len(1, hex(TRACE)), len(2, hex(SPAN)), ...fields);
}
function pbTraces(spans: Buffer[], opts: { resource?: Buffer; scope?: Buffer } = {}): Buffer {
  const scopeSpans = cat(...(opts.scope ? [len(1, opts.scope)] : []), ...spans.map((s) => len(2, s)));
  return len(1, cat(...(opts.resource ? [len(1, opts.resource)] : []), len(2, scopeSpans)));
}
function pbLogs(logs: Buffer[]): Buffer {
  return len(1, len(2, cat(...logs.map((l) => len(2, l)))));
}

// ---------------------------------------------------------------------------
// What the SDK's values must flatten to (see collector/otlp/flatten.ts).

const ns = (t: HrTime): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

function jsonOf(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  // As OTel's serializers do: integers within int64 are int_value, the rest double_value.
  if (typeof v === 'number') return Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63 ? BigInt(v).toString() : String(v);
  if (v instanceof Uint8Array) return JSON.stringify(Buffer.from(v).toString('base64'));
  if (Array.isArray(v)) return `[${v.map(jsonOf).join(',')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${jsonOf(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
function flat(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (typeof v === 'object' && v !== null) return jsonOf(v);
  return jsonOf(v);
}
function flatAll(attrs: Record<string, unknown> | undefined): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attrs ?? {})) if (v !== undefined) out[k] = flat(v);
  return out;
}

function expectedSpan(s: ReadableSpan): Omit<SpanRecord, 'resource' | 'scope'> {
  const ctx = s.spanContext();
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: s.parentSpanContext?.spanId ?? '',
    traceState: ctx.traceState?.serialize() ?? '',
    name: s.name,
    kind: s.kind + 1,
    startTimeUnixNano: ns(s.startTime),
    endTimeUnixNano: ns(s.endTime),
    attributes: flatAll(s.attributes),
    events: s.events.map((e) => ({ timeUnixNano: ns(e.time), name: e.name, attributes: flatAll(e.attributes) })),
    links: s.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      traceState: l.context.traceState?.serialize() ?? '',
      attributes: flatAll(l.attributes),
    })),
    statusCode: s.status.code,
    statusMessage: s.status.message ?? '',
    // What the JS SDK's otlp-transformer sends: trace flags, HAS_IS_REMOTE, and IS_REMOTE for a remote parent.
    flags: (ctx.traceFlags & 0xff) | 0x100 | (s.parentSpanContext?.isRemote === true ? 0x200 : 0),
  };
}

function withoutShared<T extends { resource: unknown; scope: unknown }>(r: T): Omit<T, 'resource' | 'scope'> {
  const { resource: _r, scope: _s, ...rest } = r;
  return rest;
}

// ---------------------------------------------------------------------------
// Spans and logs made by the real SDK.

const RESOURCE_ATTRS = {
  'service.name': 'gateway',
  'service.version': '1.4.2',
  'process.pid': 4242,
  'host.cpu.ratio': 0.25,
  'feature.enabled': true,
  'host.tags': ['a', 'b'],
};
const SCHEMA = 'https://opentelemetry.io/schemas/1.26.0';

const ATTRS: Record<string, AttributeValue> = {
  str: 'hello, wörld ✓',
  empty: '',
  int: 42,
  negative: -7,
  zero: 0,
  big: 2 ** 60,
  min: -(2 ** 63),
  double: 3.14159,
  tiny: 5e-324,
  huge: 1.7976931348623157e308,
  bool: true,
  falsy: false,
  strings: ['a', 'b"c', ''],
  ints: [1, -2, 3],
  doubles: [0.5, 1.25],
  bools: [true, false],
  holes: ['x', null, 'y'],
  'key with spaces and ünïcode': 'v',
};

function makeSpans(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(RESOURCE_ATTRS, { schemaUrl: SCHEMA }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('consentry-test', '0.1.0', { schemaUrl: 'https://example.com/scope-schema' });
  const other = provider.getTracer('other-lib');
  const remoteParent: SpanContext = {
    traceId: TRACE,
    spanId: PARENT,
    traceFlags: 1,
    isRemote: true,
    traceState: createTraceState('vendor=abc,other=1'),
  };
  const linked: SpanContext = {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '53995c3f42cd8ad8',
    traceFlags: 0,
    traceState: createTraceState('link=1'),
  };
  const start: HrTime = [1_732_000_000, 123_456_789];
  const server = tracer.startSpan(
    'POST /v1/chat/completions',
    { kind: SpanKind.SERVER, attributes: ATTRS, startTime: start, links: [{ context: linked, attributes: { 'link.attr': 7 } }] },
    trace.setSpanContext(ROOT_CONTEXT, remoteParent),
  );
  server.addEvent('request.received', { 'event.size': 1024, 'event.kind': 'in' }, [1_732_000_000, 223_456_789]);
  server.addEvent('no-attributes', undefined, [1_732_000_000, 323_456_789]);
  const client = tracer.startSpan('upstream', { kind: SpanKind.CLIENT, startTime: start }, trace.setSpan(ROOT_CONTEXT, server));
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream timed out' });
  client.end([1_732_000_001, 5]);
  server.setStatus({ code: SpanStatusCode.OK });
  server.end([1_732_000_001, 999_999_999]);
  for (const kind of [SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER]) {
    other.startSpan(`kind-${kind}`, { kind, startTime: start }).end(start);
  }
  return exporter.getFinishedSpans();
}

function makeLogs(): ReadableLogRecord[] {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes(RESOURCE_ATTRS, { schemaUrl: SCHEMA }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('consentry-logs', '2.0.0');
  const spanCtx: SpanContext = { traceId: TRACE, spanId: SPAN, traceFlags: 1 };
  const base = { timestamp: [1_732_000_000, 1] as HrTime, observedTimestamp: [1_732_000_002, 2] as HrTime };
  logger.emit({
    ...base,
    severityNumber: SeverityNumber.WARN,
    severityText: 'WARN',
    body: 'plain text body',
    attributes: { 'log.attr': 'x', count: 3 },
    context: trace.setSpanContext(ROOT_CONTEXT, spanCtx),
    eventName: 'gateway.request',
  });
  logger.emit({ ...base, severityNumber: SeverityNumber.ERROR, body: { a: 1, b: [true, 'x'], c: { d: 2.5 } } });
  logger.emit({ ...base, body: 3.5 });
  logger.emit({ ...base, body: Uint8Array.from([0, 1, 2, 250]) });
  logger.emit({ ...base });
  return exporter.getFinishedLogRecords();
}

function expectedLog(l: ReadableLogRecord): Omit<LogRecord, 'resource' | 'scope'> {
  return {
    timeUnixNano: ns(l.hrTime),
    observedTimeUnixNano: ns(l.hrTimeObserved),
    severityNumber: l.severityNumber ?? 0,
    severityText: l.severityText ?? '',
    body: l.body === undefined ? '' : flat(l.body),
    attributes: flatAll(l.attributes),
    traceId: l.spanContext?.traceId ?? '',
    spanId: l.spanContext?.spanId ?? '',
    flags: l.spanContext?.traceFlags ?? 0,
    eventName: l.eventName ?? '',
  };
}

const spans = makeSpans();
const logs = makeLogs();

const traceDecoders = [
  { format: 'protobuf', encode: (r: Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0]) => ProtobufTraceSerializer.serializeRequest(r), decode: decodeTracesProto },
  { format: 'JSON', encode: (r: Parameters<typeof JsonTraceSerializer.serializeRequest>[0]) => JsonTraceSerializer.serializeRequest(r), decode: decodeTracesJson },
] as const;
const logDecoders = [
  { format: 'protobuf', encode: (r: Parameters<typeof ProtobufLogsSerializer.serializeRequest>[0]) => ProtobufLogsSerializer.serializeRequest(r), decode: decodeLogsProto },
  { format: 'JSON', encode: (r: Parameters<typeof JsonLogsSerializer.serializeRequest>[0]) => JsonLogsSerializer.serializeRequest(r), decode: decodeLogsJson },
] as const;

describe.each(traceDecoders)('traces round trip through the OTel SDK ($format)', ({ encode, decode }) => {
  const decoded = decode(encode(spans)!);

  it('decodes every span, none rejected', () => {
    expect(decoded.rejected).toBe(0);
    expect(decoded.rejectionMessage).toBe('');
    expect(decoded.records).toHaveLength(spans.length);
  });

  it.each(spans.map((s) => [s.name, s] as const))('span %s comes back field by field', (_name, s) => {
    const got = decoded.records.find((r) => r.spanId === s.spanContext().spanId);
    expect(got).toBeDefined();
    expect(withoutShared(got!)).toEqual(expectedSpan(s));
  });

  it('keeps parent, trace state and ns timestamps beyond 2^53', () => {
    const server = decoded.records.find((r) => r.name === 'POST /v1/chat/completions')!;
    const client = decoded.records.find((r) => r.name === 'upstream')!;
    expect(server.parentSpanId).toBe(PARENT);
    expect(server.traceId).toBe(TRACE);
    expect(server.traceState).toBe('vendor=abc,other=1');
    expect(server.kind).toBe(2);
    expect(server.startTimeUnixNano).toBe(1_732_000_000_123_456_789n);
    expect(server.endTimeUnixNano).toBe(1_732_000_001_999_999_999n);
    expect(client.parentSpanId).toBe(server.spanId);
    expect(client.statusCode).toBe(2);
    expect(client.statusMessage).toBe('upstream timed out');
    expect(client.kind).toBe(3);
  });

  it('flattens every attribute type', () => {
    const a = decoded.records.find((r) => r.name === 'POST /v1/chat/completions')!.attributes;
    expect(a).toEqual({
      str: 'hello, wörld ✓',
      empty: '',
      int: '42',
      negative: '-7',
      zero: '0',
      big: '1152921504606846976',
      min: '-9223372036854775808',
      double: '3.14159',
      tiny: '5e-324',
      huge: '1.7976931348623157e+308',
      bool: 'true',
      falsy: 'false',
      strings: '["a","b\\"c",""]',
      ints: '[1,-2,3]',
      doubles: '[0.5,1.25]',
      bools: '[true,false]',
      holes: '["x",null,"y"]',
      'key with spaces and ünïcode': 'v',
    });
  });

  it('shares one Resource and one Scope object per ResourceSpans / ScopeSpans', () => {
    const mine = decoded.records.filter((r) => r.scope.name === 'consentry-test');
    const other = decoded.records.filter((r) => r.scope.name === 'other-lib');
    expect(mine).toHaveLength(2);
    expect(other).toHaveLength(3);
    expect(new Set(decoded.records.map((r) => r.resource)).size).toBe(1);
    expect(mine[0]!.scope).toBe(mine[1]!.scope);
    expect(other[0]!.scope).toBe(other[2]!.scope);
    expect(mine[0]!.scope).not.toBe(other[0]!.scope);
    expect(mine[0]!.resource).toEqual({
      attributes: {
        'service.name': 'gateway',
        'service.version': '1.4.2',
        'process.pid': '4242',
        'host.cpu.ratio': '0.25',
        'feature.enabled': 'true',
        'host.tags': '["a","b"]',
      },
      schemaUrl: SCHEMA,
    });
    expect(mine[0]!.scope).toEqual({
      name: 'consentry-test',
      version: '0.1.0',
      attributes: {},
      schemaUrl: 'https://example.com/scope-schema',
    });
    expect(other[0]!.scope).toEqual({ name: 'other-lib', version: '', attributes: {}, schemaUrl: '' });
  });
});

describe.each(logDecoders)('logs round trip through the OTel SDK ($format)', ({ encode, decode }) => {
  const decoded = decode(encode(logs)!);

  it('decodes every log record field by field', () => {
    expect(decoded.rejected).toBe(0);
    expect(decoded.records.map(withoutShared)).toEqual(logs.map(expectedLog));
  });

  it('keeps severity, trace context and bodies of every type', () => {
    const [text, map, num, bytes, bare] = decoded.records;
    expect(text).toMatchObject({
      severityNumber: 13,
      severityText: 'WARN',
      body: 'plain text body',
      traceId: TRACE,
      spanId: SPAN,
      flags: 1,
      attributes: { 'log.attr': 'x', count: '3' },
      timeUnixNano: 1_732_000_000_000_000_001n,
      observedTimeUnixNano: 1_732_000_002_000_000_002n,
    });
    expect(map!.body).toBe('{"a":1,"b":[true,"x"],"c":{"d":2.5}}');
    expect(num!.body).toBe('3.5');
    expect(bytes!.body).toBe('AAEC+g==');
    expect(bare).toMatchObject({ body: '', traceId: '', spanId: '', flags: 0, severityNumber: 0 });
    expect(text!.resource).toBe(bare!.resource);
    expect(text!.scope).toEqual({ name: 'consentry-logs', version: '2.0.0', attributes: {}, schemaUrl: '' });
    expect(text!.resource.schemaUrl).toBe(SCHEMA);
  });
});

it('protobuf and JSON of the same spans and logs decode to the same records', () => {
  expect(decodeTracesJson(JsonTraceSerializer.serializeRequest(spans)!)).toEqual(
    decodeTracesProto(ProtobufTraceSerializer.serializeRequest(spans)!),
  );
  expect(decodeLogsJson(JsonLogsSerializer.serializeRequest(logs)!)).toEqual(
    decodeLogsProto(ProtobufLogsSerializer.serializeRequest(logs)!),
  );
});

// ---------------------------------------------------------------------------
// Hand-crafted protobuf: what the SDK never produces.

describe('hand-crafted protobuf', () => {
  const attrOf = (value: Buffer): string => {
    const d = decodeTracesProto(pbTraces([pbSpan(len(9, kv('k', value)))]));
    return d.records[0]!.attributes['k']!;
  };

  it.each([
    ['int64 2^53 + 1', av.int(9007199254740993n), '9007199254740993'],
    ['int64 max', av.int(9223372036854775807n), '9223372036854775807'],
    ['int64 min', av.int(-9223372036854775808n), '-9223372036854775808'],
    ['int64 -1', av.int(-1n), '-1'],
    ['int64 -(2^53)', av.int(-(2n ** 53n)), '-9007199254740992'],
    ['int64 -(2^53) - 1', av.int(-(2n ** 53n) - 1n), '-9007199254740993'],
    ['int64 2^32', av.int(2n ** 32n), '4294967296'],
    ['int64 2^35 - 1', av.int(2n ** 35n - 1n), '34359738367'],
    ['double integral', av.double(3), '3'],
    ['double NaN', av.double(NaN), 'NaN'],
    ['double -Infinity', av.double(-Infinity), '-Infinity'],
    ['double 1e21', av.double(1e21), '1e+21'],
    ['bool written as a 10-byte varint', cat(tag(2, 0), varint(-1n)), 'true'],
    ['bytes', av.bytes(Uint8Array.from([0xde, 0xad, 0xbe, 0xef])), '3q2+7w=='],
    ['empty AnyValue', av.empty(), ''],
    ['string U+FFFD written as such (valid)', av.str(Buffer.from('a\uFFFDb')), 'a\uFFFDb'],
    ['last oneof field wins', cat(av.str('first'), av.int(2)), '2'],
    [
      'array of every type',
      av.array(
        av.str('s'),
        av.int(9007199254740993n),
        av.double(0.1),
        av.double(NaN),
        av.bool(false),
        av.bytes(Uint8Array.from([1])),
        av.empty(),
      ),
      '["s",9007199254740993,0.1,"NaN",false,"AQ==",null]',
    ],
    [
      'kvlist with nesting',
      av.kvlist(kv('a', av.array(av.int(1), av.kvlist(kv('b"', av.str('x'))))), kv('empty'), kv('s', av.str('y'))),
      '{"a":[1,{"b\\"":"x"}],"empty":null,"s":"y"}',
    ],
    ['empty array', av.array(), '[]'],
    ['empty kvlist', av.kvlist(), '{}'],
  ])('flattens %s', (_name, value, want) => {
    expect(attrOf(value)).toBe(want);
  });

  it('reads common attributes the same on the fast path as on the general one (seeded differential)', () => {
    // An unknown field after the value makes the decoder take its general path.
    let seed = 7;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    const text = (n: number): string =>
      Array.from({ length: n }, () => ['a', 'é', '✓', '😀', '"', '.', '0'][Math.floor(rand() * 7)]).join('');
    const fast: Buffer[] = [];
    const slow: Buffer[] = [];
    for (let i = 0; i < 400; i++) {
      const key = `${i}.${text(Math.floor(rand() * 12))}`;
      const kind = Math.floor(rand() * 4);
      const value =
        kind === 0
          ? av.str(text(Math.floor(rand() * (rand() < 0.2 ? 120 : 12))))
          : kind === 1
            ? av.int(BigInt.asIntN(64, BigInt(Math.floor(rand() * 2 ** 32)) * BigInt(Math.floor(rand() * 2 ** 32)) >> BigInt(Math.floor(rand() * 64))))
            : kind === 2
              ? av.double((rand() - 0.5) * 10 ** Math.floor(rand() * 40 - 20))
              : av.bool(rand() < 0.5);
      fast.push(len(9, kv(key, value)));
      slow.push(len(9, cat(kv(key, value), vint(15, 1))));
    }
    const a = decodeTracesProto(pbTraces([pbSpan(...fast)])).records[0]!.attributes;
    const b = decodeTracesProto(pbTraces([pbSpan(...slow)])).records[0]!.attributes;
    expect(Object.keys(a)).toHaveLength(400);
    expect(a).toEqual(b);
  });

  it('accepts AnyValue nesting of exactly 32', () => {
    let v = av.str('deep');
    for (let i = 1; i < 32; i++) v = av.array(v);
    expect(attrOf(v)).toBe(`${'['.repeat(31)}"deep"${']'.repeat(31)}`);
  });

  it('stores a __proto__ key as an own attribute and keeps the last of a repeated key', () => {
    const d = decodeTracesProto(
      pbTraces([pbSpan(len(9, kv('__proto__', av.str('p'))), len(9, kv('k', av.str('1'))), len(9, kv('k', av.str('2'))))]),
    );
    const a = d.records[0]!.attributes;
    expect(Object.keys(a)).toEqual(['__proto__', 'k']);
    expect(a['__proto__']).toBe('p');
    expect(a['k']).toBe('2');
    expect(Object.getPrototypeOf(a)).toBe(Object.prototype);
  });

  it('reads fields in any order and skips unknown fields of every wire type', () => {
    const unknown = cat(
      vint(99, 5),
      fixed64(98, 1n),
      fixed32(97, 1),
      len(96, 'skip me'),
      cat(tag(95, 3), vint(1, 1), len(2, 'in group'), tag(95, 4)),
    );
    const span = cat(
      unknown,
      len(5, 'late name'),
      fixed64(8, 20n),
      fixed64(7, 10n),
      len(15, cat(vint(3, 2), len(2, 'bad'), unknown)),
      len(2, hex(SPAN)),
      len(1, hex(TRACE)),
      fixed32(16, 0x301),
      vint(10, 3),
      vint(12, 4),
      vint(14, 5),
      len(11, cat(len(2, 'ev'), fixed64(1, 15n), vint(4, 1), unknown)),
      len(13, cat(len(1, hex(TRACE)), len(2, hex(SPAN)), len(3, 'ls=1'), vint(5, 0), fixed32(6, 1), unknown)),
    );
    // ResourceSpans with its fields reversed: schema_url, then spans, then the resource.
    const body = cat(
      unknown,
      len(
        1,
        cat(
          len(3, 'https://resource/schema'),
          len(2, cat(len(3, 'https://scope/schema'), len(2, span), len(1, cat(len(2, '9.9'), len(1, 'lib'), vint(4, 0))))),
          len(1, cat(vint(2, 0), len(1, kv('service.name', av.str('svc'))), unknown)),
          unknown,
        ),
      ),
    );
    const d = decodeTracesProto(body);
    expect(d.rejected).toBe(0);
    expect(d.records).toHaveLength(1);
    const r = d.records[0]!;
    expect(r).toMatchObject({
      traceId: TRACE,
      spanId: SPAN,
      name: 'late name',
      startTimeUnixNano: 10n,
      endTimeUnixNano: 20n,
      statusCode: 2,
      statusMessage: 'bad',
      events: [{ timeUnixNano: 15n, name: 'ev', attributes: {} }],
      links: [{ traceId: TRACE, spanId: SPAN, traceState: 'ls=1', attributes: {} }],
    });
    expect(r.resource).toEqual({ attributes: { 'service.name': 'svc' }, schemaUrl: 'https://resource/schema' });
    expect(r.scope).toEqual({ name: 'lib', version: '9.9', attributes: {}, schemaUrl: 'https://scope/schema' });
  });

  it('decodes an empty body as an empty request', () => {
    expect(decodeTracesProto(new Uint8Array(0))).toEqual({ records: [], rejected: 0, rejectionMessage: '' });
    expect(decodeLogsProto(new Uint8Array(0))).toEqual({ records: [], rejected: 0, rejectionMessage: '' });
  });

  it('decodes from a Uint8Array that is a view into a larger buffer', () => {
    const body = pbTraces([pbSpan(len(5, 'view'), fixed64(7, 1_732_000_000_123_456_789n))]);
    const backing = new Uint8Array(body.length + 20);
    backing.set(body, 7);
    const d = decodeTracesProto(backing.subarray(7, 7 + body.length));
    expect(d.records[0]).toMatchObject({ name: 'view', startTimeUnixNano: 1_732_000_000_123_456_789n });
  });

  it('takes a log time of 0 from observed_time_unix_nano and maps every log field', () => {
    const log = cat(
      fixed64(1, 0n),
      fixed64(11, 77n),
      vint(2, 17),
      len(3, 'ERROR'),
      len(5, av.kvlist(kv('msg', av.str('hi')))),
      len(6, kv('a', av.bool(true))),
      vint(7, 0),
      fixed32(8, 0x101),
      len(9, hex(TRACE)),
      len(10, hex(SPAN)),
      len(12, 'event.name'),
      len(4, 'deprecated name field, skipped'),
    );
    const d = decodeLogsProto(pbLogs([log, cat(fixed64(1, 5n), fixed64(11, 6n))]));
    expect(d.records.map(withoutShared)).toEqual([
      {
        timeUnixNano: 77n,
        observedTimeUnixNano: 77n,
        severityNumber: 17,
        severityText: 'ERROR',
        body: '{"msg":"hi"}',
        attributes: { a: 'true' },
        traceId: TRACE,
        spanId: SPAN,
        flags: 0x101,
        eventName: 'event.name',
      },
      {
        timeUnixNano: 5n,
        observedTimeUnixNano: 6n,
        severityNumber: 0,
        severityText: '',
        body: '',
        attributes: {},
        traceId: '',
        spanId: '',
        flags: 0,
        eventName: '',
      },
    ]);
  });
});

// ---------------------------------------------------------------------------
// Invalid records: partial success, not errors.

describe('invalid ids are rejected records, not errors', () => {
  const ok = pbSpan(len(5, 'ok'));
  const withIds = (trace: Buffer | null, span: Buffer | null, parent?: Buffer): Buffer =>
    cat(...(trace ? [len(1, trace)] : []), ...(span ? [len(2, span)] : []), ...(parent ? [len(4, parent)] : []), len(5, 'x'));

  it.each([
    ['trace_id missing', withIds(null, hex(SPAN)), 'trace_id is missing'],
    ['trace_id of 15 bytes', withIds(hex(TRACE).subarray(1), hex(SPAN)), 'trace_id is 15 bytes, want 16'],
    ['trace_id of 17 bytes', withIds(cat(hex(TRACE), hex('01')), hex(SPAN)), 'trace_id is 17 bytes, want 16'],
    ['trace_id all zeros', withIds(Buffer.alloc(16), hex(SPAN)), 'trace_id is all zeros'],
    ['span_id missing', withIds(hex(TRACE), null), 'span_id is missing'],
    ['span_id of 7 bytes', withIds(hex(TRACE), hex(SPAN).subarray(1)), 'span_id is 7 bytes, want 8'],
    ['span_id all zeros', withIds(hex(TRACE), Buffer.alloc(8)), 'span_id is all zeros'],
    ['parent_span_id of 4 bytes', withIds(hex(TRACE), hex(SPAN), hex('01020304')), 'parent_span_id is 4 bytes, want 0 or 8'],
  ])('%s', (_name, bad, reason) => {
    const d = decodeTracesProto(pbTraces([ok, bad, ok, bad]));
    expect(d.records).toHaveLength(2);
    expect(d.rejected).toBe(2);
    expect(d.rejectionMessage).toBe(`resource_spans[0].scope_spans[0].spans[1]: ${reason}`);
  });

  it('reads an all-zero parent_span_id as a root span', () => {
    const d = decodeTracesProto(pbTraces([withIds(hex(TRACE), hex(SPAN), Buffer.alloc(8))]));
    expect(d.rejected).toBe(0);
    expect(d.records[0]!.parentSpanId).toBe('');
  });

  it('counts across resources and scopes, with the path of the first', () => {
    const bad = withIds(Buffer.alloc(16), hex(SPAN));
    const body = cat(pbTraces([ok, ok]), pbTraces([ok, bad, bad]), pbTraces([bad]));
    const d = decodeTracesProto(body);
    expect(d.records).toHaveLength(3);
    expect(d.rejected).toBe(3);
    expect(d.rejectionMessage).toBe('resource_spans[1].scope_spans[0].spans[1]: trace_id is all zeros');
  });

  it.each([
    ['trace_id of 3 bytes', cat(len(9, hex('010203'))), 'trace_id is 3 bytes, want 16 or none'],
    ['span_id of 9 bytes', cat(len(9, hex(TRACE)), len(10, cat(hex(SPAN), hex('01')))), 'span_id is 9 bytes, want 8 or none'],
  ])('log with %s', (_name, bad, reason) => {
    const d = decodeLogsProto(pbLogs([len(3, 'ok'), bad]));
    expect(d.records).toHaveLength(1);
    expect(d.rejected).toBe(1);
    expect(d.rejectionMessage).toBe(`resource_logs[0].scope_logs[0].log_records[1]: ${reason}`);
  });

  it('reads all-zero log ids as no trace context', () => {
    const d = decodeLogsProto(pbLogs([cat(len(9, Buffer.alloc(16)), len(10, Buffer.alloc(8)))]));
    expect(d.rejected).toBe(0);
    expect(d.records[0]).toMatchObject({ traceId: '', spanId: '' });
  });

  const jsonSpan = (ids: Record<string, unknown>) => ({ name: 'x', ...ids });
  const jsonTraces = (...spans: object[]) => Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }));
  const okJson = jsonSpan({ traceId: TRACE, spanId: SPAN });

  it.each([
    ['traceId missing', { spanId: SPAN }, 'traceId is missing'],
    ['traceId empty', { traceId: '', spanId: SPAN }, 'traceId is missing'],
    ['traceId of 15 bytes', { traceId: TRACE.slice(2), spanId: SPAN }, 'traceId is 15 bytes, want 16'],
    ['traceId all zeros', { traceId: '0'.repeat(32), spanId: SPAN }, 'traceId is all zeros'],
    ['spanId of 7 bytes', { traceId: TRACE, spanId: SPAN.slice(2) }, 'spanId is 7 bytes, want 8'],
    ['spanId all zeros', { traceId: TRACE, spanId: '0'.repeat(16) }, 'spanId is all zeros'],
    ['parentSpanId of 4 bytes', { traceId: TRACE, spanId: SPAN, parentSpanId: '01020304' }, 'parentSpanId is 4 bytes, want 0 or 8'],
  ])('JSON span with %s', (_name, ids, reason) => {
    const d = decodeTracesJson(jsonTraces(okJson, jsonSpan(ids)));
    expect(d.records).toHaveLength(1);
    expect(d.rejected).toBe(1);
    expect(d.rejectionMessage).toBe(`resourceSpans[0].scopeSpans[0].spans[1]: ${reason}`);
  });

  it('JSON log with a wrong-length traceId is rejected', () => {
    const body = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'ok' } }, { traceId: 'abcd' }] }] }] };
    const d = decodeLogsJson(Buffer.from(JSON.stringify(body)));
    expect(d.records).toHaveLength(1);
    expect(d.rejected).toBe(1);
    expect(d.rejectionMessage).toBe('resourceLogs[0].scopeLogs[0].logRecords[1]: traceId is 2 bytes, want 16 or none');
  });
});

// ---------------------------------------------------------------------------
// OTLP/JSON specifics.

describe('OTLP/JSON mapping', () => {
  it('accepts snake_case names, upper-case hex, enum names, 64-bit integers as strings or numbers, nulls and unknown fields', () => {
    const body = {
      resource_spans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { string_value: 'svc' } }], dropped_attributes_count: 0 },
          schema_url: 'rs',
          scope_spans: [
            {
              scope: { name: 'lib', version: null, unknownField: [1, 2] },
              spans: [
                {
                  trace_id: TRACE.toUpperCase(),
                  span_id: SPAN.toUpperCase(),
                  parent_span_id: PARENT,
                  trace_state: 'a=b',
                  name: 'n',
                  kind: 'SPAN_KIND_CONSUMER',
                  start_time_unix_nano: '1732000000123456789',
                  end_time_unix_nano: 1732000000,
                  attributes: [
                    { key: 'i', value: { int_value: '9223372036854775807' } },
                    { key: 'n', value: { intValue: -42 } },
                    { key: 'padded', value: { intValue: '-0007' } },
                    { key: 'd', value: { double_value: 'Infinity' } },
                    { key: 'ds', value: { doubleValue: '2.5' } },
                    { key: 'b', value: { bool_value: false } },
                    { key: 'by', value: { bytes_value: '3q2-7w' } },
                    { key: 'arr', value: { array_value: { values: [{ int_value: '9007199254740993' }, {}, { stringValue: null }] } } },
                    { key: 'kvl', value: { kvlist_value: { values: [{ key: 'x', value: { doubleValue: 1e-7 } }] } } },
                    { key: 'nothing', value: null },
                    { key: 'none' },
                  ],
                  events: [{ time_unix_nano: '5', name: 'e', attributes: null }],
                  links: [{ trace_id: TRACE, span_id: SPAN, trace_state: 't', attributes: [], flags: 1 }],
                  status: { code: 'STATUS_CODE_ERROR', message: 'm' },
                  flags: 257,
                  futureField: { anything: true },
                },
              ],
            },
          ],
        },
      ],
    };
    const d = decodeTracesJson(Buffer.from(JSON.stringify(body)));
    expect(d.rejected).toBe(0);
    expect(d.records[0]).toEqual({
      resource: { attributes: { 'service.name': 'svc' }, schemaUrl: 'rs' },
      scope: { name: 'lib', version: '', attributes: {}, schemaUrl: '' },
      traceId: TRACE,
      spanId: SPAN,
      parentSpanId: PARENT,
      traceState: 'a=b',
      name: 'n',
      kind: 5,
      startTimeUnixNano: 1_732_000_000_123_456_789n,
      endTimeUnixNano: 1_732_000_000n,
      attributes: {
        i: '9223372036854775807',
        n: '-42',
        padded: '-7',
        d: 'Infinity',
        ds: '2.5',
        b: 'false',
        by: '3q2+7w==',
        arr: '[9007199254740993,null,null]',
        kvl: '{"x":1e-7}',
        nothing: '',
        none: '',
      },
      events: [{ timeUnixNano: 5n, name: 'e', attributes: {} }],
      links: [{ traceId: TRACE, spanId: SPAN, traceState: 't', attributes: {} }],
      statusCode: 2,
      statusMessage: 'm',
      flags: 257,
    });
  });

  it('accepts severity names and a leading byte order mark', () => {
    const body = { resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: 'SEVERITY_NUMBER_FATAL3', body: { intValue: 1 } }] }] }] };
    const d = decodeLogsJson(Buffer.from(`\uFEFF${JSON.stringify(body)}`));
    expect(d.records[0]).toMatchObject({ severityNumber: 23, body: '1' });
  });

  it('decodes {} as an empty request', () => {
    expect(decodeTracesJson(Buffer.from('{}'))).toEqual({ records: [], rejected: 0, rejectionMessage: '' });
    expect(decodeLogsJson(Buffer.from(' { } '))).toEqual({ records: [], rejected: 0, rejectionMessage: '' });
  });
});

// ---------------------------------------------------------------------------
// LogRecord.event_name (field 12, JSON eventName) and Span.flags (field 16,
// JSON flags): what the counting rule and the tiers' event rules read.

describe('event_name and span flags', () => {
  const logJson = (extra: Record<string, unknown>) => Buffer.from(JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'b' }, ...extra }] }] }] }));
  const spanJson = (extra: Record<string, unknown>) =>
    Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: TRACE, spanId: SPAN, parentSpanId: PARENT, name: 'n', ...extra }] }] }] }));

  it.each([
    { name: 'proto event_name', decode: () => decodeLogsProto(pbLogs([cat(len(5, av.str('b')), len(12, 'gen_ai.user.message'))])), want: 'gen_ai.user.message' },
    { name: 'proto without event_name', decode: () => decodeLogsProto(pbLogs([len(5, av.str('b'))])), want: '' },
    { name: 'proto event_name not UTF-8 is malformed', decode: () => decodeLogsProto(pbLogs([len(12, Buffer.from([0xff, 0xfe]))])), want: /invalid UTF-8/ },
    { name: 'JSON eventName', decode: () => decodeLogsJson(logJson({ eventName: 'gen_ai.choice' })), want: 'gen_ai.choice' },
    { name: 'JSON event_name (proto name)', decode: () => decodeLogsJson(logJson({ event_name: 'gen_ai.choice' })), want: 'gen_ai.choice' },
    { name: 'JSON eventName null', decode: () => decodeLogsJson(logJson({ eventName: null })), want: '' },
    { name: 'JSON eventName not a string is malformed', decode: () => decodeLogsJson(logJson({ eventName: 7 })), want: /expected a string/ },
  ])('log: $name', ({ decode, want }) => {
    if (want instanceof RegExp) expect(decode).toThrow(want);
    else expect(decode().records[0]!.eventName).toBe(want);
  });

  it.each([
    { name: 'proto HAS_IS_REMOTE | IS_REMOTE', decode: () => decodeTracesProto(pbTraces([pbSpan(len(4, hex(PARENT)), fixed32(16, 0x301))])), want: 0x301 },
    { name: 'proto local parent', decode: () => decodeTracesProto(pbTraces([pbSpan(fixed32(16, 0x100))])), want: 0x100 },
    { name: 'proto without flags', decode: () => decodeTracesProto(pbTraces([pbSpan()])), want: 0 },
    { name: 'proto flags as a varint is malformed', decode: () => decodeTracesProto(pbTraces([pbSpan(vint(16, 3))])), want: /wrong wire type 0, want 5/ },
    { name: 'JSON flags number', decode: () => decodeTracesJson(spanJson({ flags: 768 })), want: 768 },
    { name: 'JSON flags string', decode: () => decodeTracesJson(spanJson({ flags: '256' })), want: 256 },
    { name: 'JSON without flags', decode: () => decodeTracesJson(spanJson({})), want: 0 },
    { name: 'JSON negative flags are malformed', decode: () => decodeTracesJson(spanJson({ flags: -1 })), want: /unsigned 32-bit/ },
  ])('span: $name', ({ decode, want }) => {
    if (want instanceof RegExp) expect(decode).toThrow(want);
    else expect(decode().records[0]!.flags).toBe(want);
  });

  it('the JS SDK sends eventName and span flags that decode the same in both encodings', () => {
    const l = logs.find((x) => x.eventName === 'gateway.request')!;
    for (const { encode, decode } of logDecoders) expect(decode(Buffer.from(encode([l])!)).records[0]!.eventName).toBe('gateway.request');
    for (const { encode, decode } of traceDecoders) {
      const flags = decode(Buffer.from(encode(spans)!)).records.map((s) => s.flags);
      expect(flags.every((f) => (f & 0x100) !== 0)).toBe(true);
    }
  });
});
