import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { BatchContext, LogRecord, RecordBatch, Resource, Scope, SpanRecord } from '../record.ts';
import type { ProcessorEnv } from '../processor.ts';
import { stripTraceContext, stripTraceContextSchema } from './processor.ts';

const ctx: BatchContext = { tenantId: 't1', tier: 'minimal', tierVersion: 1, receivedAtMs: 1_700_000_000_000 };
const resource: Resource = { attributes: { 'service.name': 'gw' }, schemaUrl: '' };
const scope: Scope = { name: 'gw', version: '1.0', attributes: {}, schemaUrl: '' };
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

function log(traceId: string, spanId: string, flags: number): LogRecord {
  return { resource, scope, timeUnixNano: 1n, observedTimeUnixNano: 1n, severityNumber: 17, severityText: 'ERROR', body: 'failed', attributes: { 'code.function': 'f' }, traceId, spanId, flags };
}
const span: SpanRecord = {
  resource,
  scope,
  traceId: TRACE,
  spanId: SPAN,
  parentSpanId: '',
  traceState: '',
  name: 'GET /',
  kind: 2,
  startTimeUnixNano: 1n,
  endTimeUnixNano: 2n,
  attributes: {},
  events: [],
  links: [],
  statusCode: 0,
  statusMessage: '',
};
function testEnv(): { env: ProcessorEnv; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  return { env: { hmacKey: Buffer.alloc(32, 1), count: (name, n) => counts.set(name, (counts.get(name) ?? 0) + n) }, counts };
}

const cases: [string, LogRecord[], number][] = [
  ['ids and flags cleared', [log(TRACE, SPAN, 1), log(TRACE, SPAN, 1)], 2],
  ['flags alone cleared', [log('', '', 1)], 1],
  ['logs without context unchanged', [log('', '', 0)], 0],
  ['no logs', [], 0],
];

describe('strip-trace-context', () => {
  it.each(cases)('%s', (_name, logs, stripped) => {
    const input: RecordBatch = { spans: [span], logs, summaries: [], metadata: [] };
    const before = structuredClone(input);
    const { env, counts } = testEnv();
    const out = stripTraceContext.create({}, env)(input, ctx);

    expect(input).toEqual(before); // purity
    for (const l of out.logs) expect([l.traceId, l.spanId, l.flags]).toEqual(['', '', 0]);
    out.logs.forEach((l, i) => expect({ ...l, traceId: '', spanId: '', flags: 0 }).toEqual({ ...logs[i]!, traceId: '', spanId: '', flags: 0 }));
    if (stripped === 0) out.logs.forEach((l, i) => expect(l).toBe(logs[i]));
    for (const l of out.logs) expect(l.resource).toBe(resource);
    expect(out.spans[0]).toBe(span); // spans untouched
    expect(counts.get('strip-trace-context.logs') ?? 0).toBe(stripped);
  });

  const invalid: [string, unknown, string, string][] = [
    ['any key', { spans: true }, '/spans', 'Unexpected property'],
    ['not an object', null, '', 'Expected object'],
  ];
  it.each(invalid)('rejects config: %s', (_name, config, path, message) => {
    expect(Value.Check(stripTraceContextSchema, config)).toBe(false);
    expect([...Value.Errors(stripTraceContextSchema, config)].map((e) => [e.path, e.message])).toContainEqual([path, message]);
  });

  it('accepts the empty config', () => {
    expect(Value.Check(stripTraceContextSchema, {})).toBe(true);
  });
});
