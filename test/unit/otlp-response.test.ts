// OTLP/HTTP response bodies (collector/otlp/encode-response.ts), read back with
// protobufjs's Reader, JSON.parse and OTel JS's own response deserializers.
import { describe, expect, it } from 'vitest';
import { Reader } from 'protobufjs/minimal.js';
import { ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { encodeExportResponse, encodeStatus } from '../../collector/otlp/encode-response.ts';

/** Field number -> values of a flat message, read with protobufjs's Reader. */
function fields(buf: Uint8Array): Map<number, (number | string | Uint8Array)[]> {
  const r = new Reader(buf);
  const out = new Map<number, (number | string | Uint8Array)[]>();
  while (r.pos < r.len) {
    const tag = r.uint32();
    const value = (tag & 7) === 0 ? Number(r.int64()) : r.bytes();
    out.set(tag >>> 3, [...(out.get(tag >>> 3) ?? []), value]);
  }
  return out;
}

describe('encodeExportResponse', () => {
  it.each(['traces', 'logs'] as const)('full success (%s) is an empty message or {}', (signal) => {
    expect(encodeExportResponse({ signal, format: 'proto', rejected: 0, message: '' })).toHaveLength(0);
    expect(encodeExportResponse({ signal, format: 'json', rejected: 0, message: '' }).toString()).toBe('{}');
  });

  it.each([
    ['traces', 3, 'resource_spans[0].scope_spans[0].spans[1]: trace_id is all zeros'],
    ['logs', 1, 'bad ids ✗'],
    ['traces', 5_000_000_000, 'more than 2^32'],
    ['logs', 0, 'a warning without rejections'],
  ] as const)('partial success (%s, %d rejected) in protobuf', (signal, rejected, message) => {
    const body = encodeExportResponse({ signal, format: 'proto', rejected, message });
    const outer = fields(body);
    expect([...outer.keys()]).toEqual([1]);
    const partial = fields(outer.get(1)![0] as Uint8Array);
    expect(partial.get(1)).toEqual(rejected === 0 ? undefined : [rejected]);
    expect(Buffer.from(partial.get(2)![0] as Uint8Array).toString()).toBe(message);
  });

  it('is what OTel JS exporters read back', () => {
    const traces = encodeExportResponse({ signal: 'traces', format: 'proto', rejected: 2, message: 'bad' });
    expect(ProtobufTraceSerializer.deserializeResponse(traces)).toEqual({ partialSuccess: { rejectedSpans: 2, errorMessage: 'bad' } });
    const logs = encodeExportResponse({ signal: 'logs', format: 'proto', rejected: 4, message: 'worse' });
    expect(ProtobufLogsSerializer.deserializeResponse(logs)).toEqual({ partialSuccess: { rejectedLogRecords: 4, errorMessage: 'worse' } });
  });

  it.each([
    ['traces', 3, 'm', { partialSuccess: { rejectedSpans: '3', errorMessage: 'm' } }],
    ['logs', 7, 'n', { partialSuccess: { rejectedLogRecords: '7', errorMessage: 'n' } }],
    ['traces', 2, '', { partialSuccess: { rejectedSpans: '2' } }],
    ['logs', 0, 'w', { partialSuccess: { errorMessage: 'w' } }],
  ] as const)('partial success (%s) in JSON, int64 as a string', (signal, rejected, message, want) => {
    expect(JSON.parse(encodeExportResponse({ signal, format: 'json', rejected, message }).toString())).toEqual(want);
  });
});

describe('encodeStatus', () => {
  it.each([
    [3, 'resource_spans[0]: invalid UTF-8'],
    [8, 'body larger than 10485760 bytes'],
    [0, ''],
  ])('google.rpc.Status code %d in protobuf and JSON', (code, message) => {
    const proto = fields(encodeStatus({ format: 'proto', code, message }));
    expect(proto.get(1)).toEqual(code === 0 ? undefined : [code]);
    expect(proto.has(2) ? Buffer.from(proto.get(2)![0] as Uint8Array).toString() : '').toBe(message);
    expect(JSON.parse(encodeStatus({ format: 'json', code, message }).toString())).toEqual({ code, message });
  });
});
