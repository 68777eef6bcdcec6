// Malformed OTLP bodies: every one must end in OtlpDecodeError (a 400) with a
// message that says what and where, and never in any other exception.
import { describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { decodeLogsProto, decodeTracesProto } from '../../collector/otlp/decode-proto.ts';
import { decodeLogsJson, decodeTracesJson, MAX_JSON_DEPTH } from '../../collector/otlp/decode-json.ts';
import { OtlpDecodeError } from '../../collector/otlp/errors.ts';
import { prng } from '../../processors/testing/records.ts';
import { cat, fixed64, hex, len, tag, varint, vint } from '../helpers/protobuf.ts';

const ids = cat(len(1, hex('0af7651916cd43dd8448eb211c80319c')), len(2, hex('b7ad6b7169203331')));
/** ExportTraceServiceRequest with one span made of `fields` (after valid ids). */
const oneSpan = (...fields: Buffer[]): Buffer => len(1, len(2, len(2, cat(ids, ...fields))));
const SPAN_PATH = 'resource_spans[0].scope_spans[0].spans[0]';
const kv = (key: Uint8Array | string, value: Buffer): Buffer => cat(len(1, key), len(2, value));

/** Runs `fn`, which must throw OtlpDecodeError; returns its message. */
function decodeError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OtlpDecodeError);
    return (e as Error).message;
  }
  throw new Error('expected OtlpDecodeError, but it decoded');
}

/** Decodes or throws OtlpDecodeError; anything else fails the test. */
function decodesOrRejects(fn: () => unknown): 'ok' | 'error' {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (!(e instanceof OtlpDecodeError)) throw e;
    return 'error';
  }
}


function sdkRequest(): { proto: Uint8Array; json: Uint8Array } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'svc', n: 1 }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('lib', '1.0.0');
  const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER, attributes: { a: 'x', b: 2, c: 1.5, d: [true, false] } });
  parent.addEvent('ev', { e: 'f' });
  const child = tracer.startSpan('child', { links: [{ context: parent.spanContext(), attributes: { l: 1 } }] }, trace.setSpan(ROOT_CONTEXT, parent));
  child.setStatus({ code: 2, message: 'failed' });
  child.end();
  parent.end();
  const spans = exporter.getFinishedSpans();
  return { proto: ProtobufTraceSerializer.serializeRequest(spans)!, json: JsonTraceSerializer.serializeRequest(spans)! };
}

const sdk = sdkRequest();

describe('protobuf', () => {
  it('throws OtlpDecodeError or decodes when truncated at every byte offset', () => {
    const handmade = oneSpan(
      len(5, 'name'),
      fixed64(7, 1n),
      len(9, kv('k', cat(len(5, len(1, len(6, len(1, kv('n', vint(3, -1n)))))), len(1, 'str')))),
      len(11, cat(fixed64(1, 2n), len(2, 'ev'))),
      len(15, cat(len(2, 'msg'), vint(3, 2))),
    );
    for (const body of [Buffer.from(sdk.proto), handmade]) {
      let errors = 0;
      for (let end = 0; end < body.length; end++) {
        if (decodesOrRejects(() => decodeTracesProto(body.subarray(0, end))) === 'error') errors++;
      }
      // Only the cut at 0 and cuts between top-level fields can decode.
      expect(errors).toBeGreaterThan(body.length - 8);
    }
  });

  it.each([
    ['a length past the end', cat(tag(1, 2), varint(5), Buffer.from([0x0a])), /^resource_spans\[0\]: length 5 runs past the end/],
    ['a huge length', cat(tag(1, 2), varint(0x7fffffff)), /^resource_spans\[0\]: length 2147483647 runs past the end/],
    ['a length over 2^31', cat(tag(1, 2), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])), /^resource_spans\[0\]: invalid length encoding/],
    ['resource_spans as a varint', vint(1, 1), /^resource_spans: wrong wire type 0, want 2 \(at byte 1\)$/],
    ['span name as a varint', oneSpan(vint(5, 1)), new RegExp(`^${escape(SPAN_PATH)}\\.name: wrong wire type 0, want 2`)],
    ['start time as a varint', oneSpan(vint(7, 1)), /spans\[0\]\.start_time_unix_nano: wrong wire type 0, want 1/],
    ['kind as a string', oneSpan(len(6, 'x')), /spans\[0\]\.kind: wrong wire type 2, want 0/],
    ['attribute value as a varint', oneSpan(len(9, cat(len(1, 'k'), vint(2, 1)))), /spans\[0\]\.attributes\[0\]\.value: wrong wire type 0, want 2/],
    ['int_value as fixed64', oneSpan(len(9, kv('k', fixed64(3, 1n)))), /attributes\[0\]\.value\.int_value: wrong wire type 1, want 0/],
    ['field number 0', Buffer.from([0x00, 0x01]), /^invalid field number 0 \(at byte 1\)$/],
    ['wire type 7', cat(tag(9, 7)), /^field_9: invalid wire type 7 \(at byte 1\)$/],
    ['a stray end-group', cat(tag(9, 4)), /^field_9: invalid wire type 4/],
    ['an unterminated group', cat(tag(9, 3), vint(1, 1)), /^field_9: truncated \(at byte 3\)$/],
    ['a truncated varint', cat(tag(2, 0), Buffer.from([0x80, 0x80])), /^field_2: truncated \(at byte 3\)$/],
    ['a truncated fixed64', oneSpan(cat(tag(7, 1), Buffer.from([1, 2, 3]))), /spans\[0\]\.start_time_unix_nano: truncated fixed64/],
    ['a truncated double', oneSpan(len(9, kv('k', cat(tag(4, 1), Buffer.from([1]))))), /value\.double_value: truncated double/],
    ['an 11-byte int64 varint', oneSpan(len(9, kv('k', cat(tag(3, 0), Buffer.alloc(10, 0xff), Buffer.from([1]))))), /int_value: varint longer than 10 bytes/],
    ['a truncated tag', cat(Buffer.from([0x80])), /^truncated \(at byte 1\)$/],
    ['a truncated span', len(1, len(2, cat(tag(2, 2), varint(4), tag(1, 2)))), /^resource_spans\[0\]\.scope_spans\[0\]\.spans\[0\]: length 4 runs past the end/],
  ])('rejects %s', (_name, body, message) => {
    expect(decodeError(() => decodeTracesProto(body))).toMatch(message);
  });

  it.each([
    ['span name', oneSpan(len(5, Buffer.from([0x61, 0xff, 0xfe]))), `${SPAN_PATH}.name`],
    ['attribute key', oneSpan(len(9, kv(Buffer.from([0xc3]), len(1, 'v')))), `${SPAN_PATH}.attributes[0].key`],
    ['attribute key before an int value', oneSpan(len(9, kv(Buffer.from([0xc3]), cat(tag(3, 0), varint(300))))), `${SPAN_PATH}.attributes[0].key`],
    ['attribute key before a double value', oneSpan(len(9, kv(Buffer.from([0xff, 0x61]), cat(tag(4, 1), Buffer.alloc(8))))), `${SPAN_PATH}.attributes[0].key`],
    ['long attribute key', oneSpan(len(9, kv(Buffer.concat([Buffer.alloc(60, 0x61), Buffer.from([0xc3])]), len(1, 'v')))), `${SPAN_PATH}.attributes[0].key`],
    ['attribute value', oneSpan(len(9, kv('k', len(1, Buffer.from([0xed, 0xa0, 0x80]))))), `${SPAN_PATH}.attributes[0].value.string_value`],
    ['overlong encoding', oneSpan(len(9, kv('k', len(1, Buffer.from([0xc0, 0x80]))))), `${SPAN_PATH}.attributes[0].value.string_value`],
    ['nested value', oneSpan(len(9, kv('k', len(5, len(1, len(1, Buffer.from([0xf8]))))))), `${SPAN_PATH}.attributes[0].value.array_value.values[0].string_value`],
    ['event name', oneSpan(len(11, len(2, Buffer.from([0x80])))), `${SPAN_PATH}.events[0].name`],
    ['status message', oneSpan(len(15, len(2, Buffer.from([0xe2, 0x82])))), `${SPAN_PATH}.status.message`],
    ['scope name', len(1, len(2, len(1, len(1, Buffer.from([0xff]))))), 'resource_spans[0].scope_spans[0].scope.name'],
  ])('rejects invalid UTF-8 in the %s, with its path', (_name, body, path) => {
    expect(decodeError(() => decodeTracesProto(body))).toMatch(new RegExp(`^${escape(path)}: invalid UTF-8 \\(at byte \\d+\\)$`));
  });

  it('rejects invalid UTF-8 in a log body', () => {
    const body = len(1, len(2, len(2, len(5, len(1, Buffer.from([0xff]))))));
    expect(decodeError(() => decodeLogsProto(body))).toMatch(/^resource_logs\[0\]\.scope_logs\[0\]\.log_records\[0\]\.body\.string_value: invalid UTF-8/);
  });

  it.each([
    ['arrays', (v: Buffer) => len(5, len(1, v))],
    ['kvlists', (v: Buffer) => len(6, len(1, kv('k', v)))],
  ])('rejects AnyValue nesting deeper than 32 (%s)', (_name, wrap) => {
    let v = len(1, 'deep');
    for (let i = 1; i <= 32; i++) v = wrap(v);
    expect(decodeError(() => decodeTracesProto(oneSpan(len(9, kv('k', v)))))).toMatch(/AnyValue nested deeper than 32/);
  });

  it('stops a 200k-level tower of nested arrays at the limit, without deep recursion', () => {
    // AnyValue { array_value { values: AnyValue { ... "x" } } }, 200k levels,
    // with every length computed inside out (no quadratic copying).
    const innermost = len(1, 'x');
    const prefixes: Buffer[] = [];
    let inner = innermost.length;
    for (let i = 0; i < 200_000; i++) {
      const array = 1 + varint(inner).length + inner;
      prefixes.push(cat(tag(5, 2), varint(array), tag(1, 2), varint(inner)));
      inner = 1 + varint(array).length + array;
    }
    const value = Buffer.concat([...prefixes.reverse(), innermost]);
    expect(value.length).toBe(inner);
    expect(decodeError(() => decodeTracesProto(oneSpan(len(9, kv('k', value)))))).toMatch(/AnyValue nested deeper than 32/);
  });

  it('fuzz: random bytes and mutated requests only decode or throw OtlpDecodeError', () => {
    const rand = prng(0xc0ffee);
    const valid = Buffer.from(sdk.proto);
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 3000; i++) {
      const random = Buffer.alloc(Math.floor(rand() * 96));
      for (let j = 0; j < random.length; j++) random[j] = Math.floor(rand() * 256);
      outcomes[decodesOrRejects(() => decodeTracesProto(random))]++;
      outcomes[decodesOrRejects(() => decodeLogsProto(random))]++;
      const mutated = Buffer.from(valid);
      for (let k = 1 + Math.floor(rand() * 4); k > 0; k--) mutated[Math.floor(rand() * mutated.length)] = Math.floor(rand() * 256);
      outcomes[decodesOrRejects(() => decodeTracesProto(mutated))]++;
    }
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.error).toBeGreaterThan(0);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const json = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const spanJson = (span: Record<string, unknown>) =>
  json({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', ...span }] }] }] });
const attrJson = (value: unknown) => spanJson({ attributes: [{ key: 'k', value }] });
const JSON_SPAN = 'resourceSpans[0].scopeSpans[0].spans[0]';

describe('JSON', () => {
  it.each([
    ['an empty body', Buffer.alloc(0), 'empty body: an OTLP/JSON request is a JSON object'],
    ['invalid JSON', json('{"resourceSpans": ['), /^invalid JSON: /],
    ['null', json('null'), 'expected a JSON object, got null'],
    ['an array', json('[]'), 'expected a JSON object, got array'],
    ['a string', json('"x"'), 'expected a JSON object, got string'],
    ['resourceSpans an object', json({ resourceSpans: {} }), 'resourceSpans: expected an array, got object'],
    ['a resource a string', json({ resourceSpans: [{ resource: 'r' }] }), 'resourceSpans[0].resource: expected an object, got string'],
    ['scopeSpans a number', json({ resourceSpans: [{ scope_spans: 1 }] }), 'resourceSpans[0].scope_spans: expected an array, got number'],
    ['a span a string', json({ resourceSpans: [{ scopeSpans: [{ spans: ['s'] }] }] }), `${JSON_SPAN}: expected an object, got string`],
    ['name a number', spanJson({ name: 5 }), `${JSON_SPAN}.name: expected a string, got number`],
    ['traceId a number', spanJson({ traceId: 12 }), `${JSON_SPAN}.traceId: expected a hex string, got number`],
    ['traceId not hex', spanJson({ traceId: 'zz'.repeat(16) }), /^resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.traceId: expected an even number of hex digits/],
    ['spanId of odd length', spanJson({ spanId: 'abc' }), /spans\[0\]\.spanId: expected an even number of hex digits/],
    ['a negative time', spanJson({ startTimeUnixNano: -1 }), `${JSON_SPAN}.startTimeUnixNano: expected an unsigned 64-bit integer, got -1`],
    ['a fractional time', spanJson({ endTimeUnixNano: 1.5 }), `${JSON_SPAN}.endTimeUnixNano: expected an unsigned 64-bit integer, got 1.5`],
    ['a time not a number', spanJson({ startTimeUnixNano: '12a' }), /startTimeUnixNano: expected an unsigned 64-bit integer, got "12a"/],
    ['a time beyond uint64', spanJson({ startTimeUnixNano: '18446744073709551616' }), /startTimeUnixNano: expected an unsigned 64-bit integer/],
    ['an unknown kind', spanJson({ kind: 'SPAN_KIND_BOGUS' }), `${JSON_SPAN}.kind: unknown enum value "SPAN_KIND_BOGUS"`],
    ['kind an Object.prototype name', spanJson({ kind: 'toString' }), `${JSON_SPAN}.kind: unknown enum value "toString"`],
    ['a fractional kind', spanJson({ kind: 1.5 }), `${JSON_SPAN}.kind: expected an enum number or name, got number`],
    ['status a string', spanJson({ status: 'ok' }), `${JSON_SPAN}.status: expected an object, got string`],
    ['status code unknown', spanJson({ status: { code: 'STATUS_CODE_NOPE' } }), `${JSON_SPAN}.status.code: unknown enum value "STATUS_CODE_NOPE"`],
    ['attributes an object', spanJson({ attributes: {} }), `${JSON_SPAN}.attributes: expected an array, got object`],
    ['an attribute key a number', spanJson({ attributes: [{ key: 1 }] }), `${JSON_SPAN}.attributes[0].key: expected a string, got number`],
    ['a value a string', attrJson('v'), `${JSON_SPAN}.attributes[0].value: expected an object, got string`],
    ['stringValue a number', attrJson({ stringValue: 1 }), `${JSON_SPAN}.attributes[0].value.stringValue: expected a string, got number`],
    ['intValue with letters', attrJson({ intValue: '12x' }), `${JSON_SPAN}.attributes[0].value.intValue: expected a 64-bit integer, got "12x"`],
    ['intValue fractional', attrJson({ intValue: 1.5 }), `${JSON_SPAN}.attributes[0].value.intValue: expected a 64-bit integer, got 1.5`],
    ['intValue beyond int64', attrJson({ intValue: '9223372036854775808' }), /intValue: expected a 64-bit integer/],
    ['boolValue a string', attrJson({ boolValue: 'true' }), `${JSON_SPAN}.attributes[0].value.boolValue: expected a boolean, got string`],
    ['doubleValue not numeric', attrJson({ doubleValue: 'fast' }), `${JSON_SPAN}.attributes[0].value.doubleValue: expected a double, got "fast"`],
    ['bytesValue not base64', attrJson({ bytesValue: '***' }), `${JSON_SPAN}.attributes[0].value.bytesValue: expected base64, got string`],
    ['arrayValue.values an object', attrJson({ arrayValue: { values: {} } }), `${JSON_SPAN}.attributes[0].value.arrayValue.values: expected an array, got object`],
    [
      'a nested value of the wrong type',
      attrJson({ kvlistValue: { values: [{ key: 'a', value: { arrayValue: { values: [{ intValue: true }] } } }] } }),
      `${JSON_SPAN}.attributes[0].value.kvlistValue.values[0].value.arrayValue.values[0].intValue: expected a 64-bit integer, got boolean`,
    ],
    ['an event time a string of letters', spanJson({ events: [{ timeUnixNano: 'now' }] }), /spans\[0\]\.events\[0\]\.timeUnixNano: expected an unsigned 64-bit integer/],
    ['a link traceId not hex', spanJson({ links: [{ traceId: 'xyz' }] }), /spans\[0\]\.links\[0\]\.traceId: expected an even number of hex digits/],
  ])('rejects %s', (_name, body, message) => {
    const got = decodeError(() => decodeTracesJson(body));
    if (typeof message === 'string') expect(got).toBe(message);
    else expect(got).toMatch(message);
  });

  it.each([
    ['severityNumber unknown', { severityNumber: 'SEVERITY_NUMBER_LOUD' }, 'severityNumber: unknown enum value "SEVERITY_NUMBER_LOUD"'],
    ['body a string', { body: 'text' }, 'body: expected an object, got string'],
    ['flags negative', { flags: -1 }, 'flags: expected an unsigned 32-bit integer, got number'],
    ['observedTimeUnixNano a boolean', { observedTimeUnixNano: true }, 'observedTimeUnixNano: expected an unsigned 64-bit integer, got boolean'],
    ['eventName a number', { eventName: 3 }, 'eventName: expected a string, got number'],
  ])('rejects a log with %s', (_name, log, message) => {
    const body = json({ resourceLogs: [{ scopeLogs: [{ logRecords: [log] }] }] });
    expect(decodeError(() => decodeLogsJson(body))).toBe(`resourceLogs[0].scopeLogs[0].logRecords[0].${message}`);
  });

  it('rejects invalid UTF-8 in the body', () => {
    const body = Buffer.concat([Buffer.from('{"resourceSpans":[{"schemaUrl":"'), Buffer.from([0xff]), Buffer.from('"}]}')]);
    expect(decodeError(() => decodeTracesJson(body))).toBe('invalid UTF-8 in JSON body');
  });

  it.each([
    ['100k [', Buffer.alloc(100_000, '[')],
    ['100k {"a":', Buffer.from('{"a":'.repeat(100_000))],
    ['10 MB of [', Buffer.alloc(10_000_000, '[')],
    ['valid JSON nested too deep', Buffer.from(`{"x":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`)],
  ])('rejects deep nesting before parsing: %s', (_name, body) => {
    const start = performance.now();
    expect(decodeError(() => decodeTracesJson(body))).toMatch(new RegExp(`^JSON nested deeper than ${MAX_JSON_DEPTH} levels`));
    expect(performance.now() - start).toBeLessThan(1000);
  });

  it.each([
    ['after an escaped quote', `\\"${'['.repeat(1000)}`],
    ['in a long string, after an escaped quote', `${'x'.repeat(40)}\\"${'{'.repeat(1000)}`],
    ['after escaped backslashes', `${'x'.repeat(50)}\\\\${'['.repeat(300)}\\\\\\"${'['.repeat(300)}`],
  ])('does not count brackets inside strings: %s', (_name, text) => {
    const body = json({ resourceSpans: [{ schemaUrl: JSON.parse(`"${text}"`) as string }] });
    expect(decodeTracesJson(body)).toEqual({ records: [], rejected: 0, rejectionMessage: '' });
    // and still counts the ones outside
    const deep = Buffer.from(`{"resourceSpans":[{"schemaUrl":"${text}"}],"x":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`);
    expect(decodeError(() => decodeTracesJson(deep))).toMatch(/^JSON nested deeper than/);
  });

  it('rejects AnyValue nesting deeper than 32', () => {
    let v: unknown = { stringValue: 'deep' };
    for (let i = 1; i <= 32; i++) v = { arrayValue: { values: [v] } };
    expect(decodeError(() => decodeTracesJson(attrJson(v)))).toMatch(/AnyValue nested deeper than 32$/);
    let ok: unknown = { stringValue: 'deep' };
    for (let i = 1; i < 32; i++) ok = { kvlistValue: { values: [{ key: 'k', value: ok }] } };
    expect(decodeTracesJson(attrJson(ok)).records).toHaveLength(1);
  });

  it('throws OtlpDecodeError or decodes when truncated at every byte offset', () => {
    const body = Buffer.from(sdk.json);
    for (let end = 0; end < body.length; end++) {
      expect(decodesOrRejects(() => decodeTracesJson(body.subarray(0, end)))).toBe('error');
    }
  });

  it('fuzz: mutated requests only decode or throw OtlpDecodeError', () => {
    const rand = prng(42);
    const valid = Buffer.from(sdk.json);
    const alphabet = Buffer.from('{}[]":,0123456789abcdef-.eE \\nultrfs');
    const outcomes = { ok: 0, error: 0 };
    for (let i = 0; i < 2000; i++) {
      const mutated = Buffer.from(valid);
      for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) {
        mutated[Math.floor(rand() * mutated.length)] = rand() < 0.8 ? alphabet[Math.floor(rand() * alphabet.length)]! : Math.floor(rand() * 256);
      }
      outcomes[decodesOrRejects(() => decodeTracesJson(mutated))]++;
      outcomes[decodesOrRejects(() => decodeLogsJson(mutated))]++;
    }
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.error).toBeGreaterThan(0);
  });
});
