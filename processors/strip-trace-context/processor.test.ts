import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { LogRecord } from '../../core/record.ts';
import { TEST_CTX, TEST_RESOURCE, testBatch, testEnv, testLog, testSpan } from '../testing/records.ts';
import { stripTraceContext, stripTraceContextSchema } from './processor.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

function log(traceId: string, spanId: string, flags: number): LogRecord {
  return testLog({ 'code.function': 'f' }, { severityNumber: 17, severityText: 'ERROR', body: 'failed', traceId, spanId, flags });
}
const span = testSpan({}, { traceId: TRACE, spanId: SPAN, name: 'GET /' });

const cases: [string, LogRecord[], number][] = [
  ['ids and flags cleared', [log(TRACE, SPAN, 1), log(TRACE, SPAN, 1)], 2],
  ['flags alone cleared', [log('', '', 1)], 1],
  ['logs without context unchanged', [log('', '', 0)], 0],
  ['no logs', [], 0],
];

describe('strip-trace-context', () => {
  it.each(cases)('%s', (_name, logs, stripped) => {
    const input = testBatch({ spans: [span], logs });
    const before = structuredClone(input);
    const { env, counts } = testEnv();
    const out = stripTraceContext.create({}, env)(input, TEST_CTX);

    expect(input).toEqual(before); // purity
    for (const l of out.logs) expect([l.traceId, l.spanId, l.flags]).toEqual(['', '', 0]);
    out.logs.forEach((l, i) => expect({ ...l, traceId: '', spanId: '', flags: 0 }).toEqual({ ...logs[i]!, traceId: '', spanId: '', flags: 0 }));
    if (stripped === 0) out.logs.forEach((l, i) => expect(l).toBe(logs[i]));
    for (const l of out.logs) expect(l.resource).toBe(TEST_RESOURCE);
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
