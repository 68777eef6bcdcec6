// The request explorer's pure parts: cursors, the growth of time windows, the
// tree of a trace (cycles and missing parents included), and which request an
// LLM call belongs to. Stored data: test/analytics/explorer.test.ts.
import { describe, expect, it } from 'vitest';
import { attributeCalls, attributeKind, decodeCursor, encodeCursor, isoOfNs, nextWindowFactor, traceTree, type CallSpan } from '../../collector/analytics/explorer.ts';

describe('cursors', () => {
  it('round-trip, and anything else is refused', () => {
    const c = { ns: 1_796_574_964_995_109_483n, spanId: '8198f12d63cd9480' };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    for (const bad of ['', 'x', Buffer.from('12:zz').toString('base64url'), Buffer.from('99999999999999999999:8198f12d63cd9480').toString('base64url'), Buffer.from(`1:8198f12d63cd9480' OR 1=1`).toString('base64url')]) {
      expect(decodeCursor(bad), bad).toBeUndefined();
    }
  });

  it('writes times with nine fraction digits', () => {
    expect(isoOfNs(1_700_000_000_000_000_007n)).toBe('2023-11-14T22:13:20.000000007Z');
  });
});

describe('time windows', () => {
  it.each([
    [0, 51, 8n], // nothing found: grow as fast as allowed
    [50, 1, 2n], // almost done: at least twice
    [10, 41, 7n], // ceil(1.5 * 41 / 10)
    [1, 50, 8n], // capped
  ])('found %i, missing %i: next window %i times longer', (found, missing, factor) => {
    expect(nextWindowFactor(found, missing)).toBe(factor);
  });
});

const row = (id: string, parent: string, ns: number, extra: Partial<{ entry: boolean; call: boolean }> = {}) => ({
  ns: String(ns),
  SpanId: id,
  ParentSpanId: parent,
  SpanName: id,
  SpanKind: 'SPAN_KIND_INTERNAL',
  ServiceName: 's',
  Duration: '1000000',
  StatusCode: 'STATUS_CODE_UNSET',
  StatusMessage: '',
  attrs: {},
  is_entry: extra.entry === true ? 1 : 0,
  is_call: extra.call === true ? 1 : 0,
});

describe('traceTree', () => {
  it('puts each span under its parent, siblings by start; an unknown parent starts a tree; a cycle shows each span once', () => {
    const spans = traceTree([row('c', 'a', 30), row('a', '', 10), row('b', 'a', 20), row('orphan', 'gone', 5), row('x', 'y', 40), row('y', 'x', 50)]);
    expect(spans.map((s) => [s.spanId, s.depth, s.offsetMs])).toEqual([
      ['orphan', 0, 0],
      ['a', 0, 5e-6],
      ['b', 1, 1.5e-5],
      ['c', 1, 2.5e-5],
      ['x', 0, 3.5e-5],
      ['y', 1, 4.5e-5],
    ]);
  });
});

const span = (trace: string, id: string, parent: string, o: Partial<CallSpan> = {}): CallSpan => ({
  TraceId: trace,
  SpanId: id,
  ParentSpanId: parent,
  is_entry: 0,
  is_call: 0,
  is_error: 0,
  provider: '',
  model: '',
  in_tok: 0,
  out_tok: 0,
  ...o,
});

describe('attributeCalls', () => {
  it('gives a call to the nearest request above it, or to the only request of its trace when its parents are missing', () => {
    const entries = [
      { TraceId: 't1', SpanId: 'root' },
      { TraceId: 't1', SpanId: 'nested' },
      { TraceId: 't2', SpanId: 'only' },
    ];
    const spans = [
      span('t1', 'root', '', { is_entry: 1 }),
      span('t1', 'step', 'root'),
      span('t1', 'c1', 'step', { is_call: 1, model: 'a', in_tok: 1, out_tok: 2 }),
      span('t1', 'nested', 'c1', { is_entry: 1 }),
      span('t1', 'c2', 'nested', { is_call: 1, model: 'b', in_tok: 10, out_tok: 20, is_error: 1 }),
      span('t1', 'lost', 'missing-parent', { is_call: 1, model: 'z' }), // two requests in t1: goes to neither
      span('t2', 'only', '', { is_entry: 1 }),
      span('t2', 'c3', 'missing-parent', { is_call: 1, model: 'c', provider: 'p', in_tok: 5 }),
      span('t3', 'c4', '', { is_call: 1, is_entry: 1, model: 'd' }), // its own request, not on the page
    ];
    const out = attributeCalls(entries, spans, false);
    expect(out.get('t1/root')).toEqual({ calls: 1, errors: 0, providers: [], models: ['a'], inputTokens: 1, outputTokens: 2 });
    expect(out.get('t1/nested')).toEqual({ calls: 1, errors: 1, providers: [], models: ['b'], inputTokens: 10, outputTokens: 20 });
    expect(out.get('t2/only')).toEqual({ calls: 1, errors: 0, providers: ['p'], models: ['c'], inputTokens: 5, outputTokens: 0 });
    expect(out.has('t3/c4')).toBe(false);
  });

  it('adds up cost and counts calls without a known price apart, when cost is given', () => {
    const out = attributeCalls([{ TraceId: 't', SpanId: 'r' }], [span('t', 'r', '', { is_entry: 1, is_call: 1, cost: 0.25 }), span('t', 'c', 'r', { is_call: 1, cost: null })], true);
    expect(out.get('t/r')).toMatchObject({ calls: 2, costUsd: 0.25, unknownCostCalls: 1 });
  });
});

describe('attributeKind', () => {
  it.each([
    ['http.request.header.user-agent', 'header'],
    ['http.response.header.x-ratelimit-remaining', 'header'],
    ['gateway.request.body', 'content'],
    ['gen_ai.input.messages', 'content'],
    ['input.value', 'content'],
    ['gen_ai.request.model', 'llm'],
    ['llm.token_count.prompt', 'llm'],
    ['http.route', 'other'],
    ['user.id', 'other'],
  ])('%s is %s', (key, kind) => {
    expect(attributeKind(key)).toBe(kind);
  });
});
