import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { Static } from '@sinclair/typebox';
import type { Attributes, RecordBatch, Resource, Scope, SpanRecord } from '../../core/record.ts';
import { TEST_CTX, TEST_RESOURCE, TEST_SCOPE, testBatch, testEnv, testLog, testSpan } from '../testing/records.ts';
import { filterAttributes, filterAttributesSchema } from './processor.ts';

type Config = Static<typeof filterAttributesSchema>;

function fixture(): RecordBatch {
  const resource: Resource = { ...TEST_RESOURCE, attributes: { 'service.name': 'gw', 'host.name': 'h1', 'cloud.region': 'eu-west-1' } };
  const scope: Scope = { ...TEST_SCOPE, attributes: { 'otel.library': 'x', 'lib.build': '7' } };
  const span = (spanId: string): SpanRecord =>
    testSpan(
      { 'http.route': '/v1/chat/completions', 'user.id': 'u-42', 'exception.type': 'Timeout', 'http.request.header.x-trace': 'abc' },
      {
        resource,
        scope,
        spanId,
        events: [{ timeUnixNano: 1n, name: 'exception', attributes: { 'exception.message': 'boom', 'user.id': 'u-42' } }],
        links: [{ traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceState: '', attributes: { 'link.kind': 'retry', 'user.id': 'u-42' } }],
      },
    );
  const log = testLog(
    { 'exception.type': 'Timeout', 'user.id': 'u-42', 'code.function': 'forward' },
    { resource, scope, severityNumber: 17, severityText: 'ERROR', body: 'upstream failed' },
  );
  return testBatch({ spans: [span('b7ad6b7169203331'), span('b7ad6b7169203332')], logs: [log] });
}

interface Expected {
  span?: Attributes;
  event?: Attributes;
  link?: Attributes;
  log?: Attributes;
  resource?: Attributes;
  scope?: Attributes;
  removed: number;
}

const input = fixture();
const original = { span: input.spans[0]!, log: input.logs[0]! };

const cases: [string, Config, Expected][] = [
  [
    'allow by key and prefix (record, events, links by default)',
    { mode: 'allow', keys: ['http.route'], prefixes: ['exception.'] },
    {
      span: { 'http.route': '/v1/chat/completions', 'exception.type': 'Timeout' },
      event: { 'exception.message': 'boom' },
      link: {},
      log: { 'exception.type': 'Timeout' },
      // 2 spans x (2 record + 1 event + 2 link) + 2 log
      removed: 12,
    },
  ],
  [
    'deny by pattern',
    { mode: 'deny', patterns: ['^http\\.request\\.header\\.', '^user\\.id$'] },
    {
      span: { 'http.route': '/v1/chat/completions', 'exception.type': 'Timeout' },
      event: { 'exception.message': 'boom' },
      link: { 'link.kind': 'retry' },
      log: { 'exception.type': 'Timeout', 'code.function': 'forward' },
      removed: 9,
    },
  ],
  [
    'allow-list naming nothing removes everything (fail closed)',
    { mode: 'allow' },
    { span: {}, event: {}, link: {}, log: {}, removed: 2 * (4 + 2 + 2) + 3 },
  ],
  ['deny-list naming nothing removes nothing', { mode: 'deny' }, { removed: 0 }],
  [
    'resource scope only: shared resource filtered once',
    { mode: 'allow', prefixes: ['service.'], keys: ['host.name'], scopes: ['resource'] },
    { resource: { 'service.name': 'gw', 'host.name': 'h1' }, removed: 1 },
  ],
  [
    'instrumentation scope only',
    { mode: 'deny', keys: ['lib.build'], scopes: ['scope'] },
    { scope: { 'otel.library': 'x' }, removed: 1 },
  ],
  [
    'logs only',
    { mode: 'deny', keys: ['user.id'], signals: ['logs'] },
    { log: { 'exception.type': 'Timeout', 'code.function': 'forward' }, removed: 1 },
  ],
  [
    'record only: events and links untouched',
    { mode: 'deny', keys: ['user.id'], scopes: ['record'] },
    {
      span: { 'http.route': '/v1/chat/completions', 'exception.type': 'Timeout', 'http.request.header.x-trace': 'abc' },
      log: { 'exception.type': 'Timeout', 'code.function': 'forward' },
      removed: 3,
    },
  ],
];

describe('filter-attributes', () => {
  it.each(cases)('%s', (_name, config, want) => {
    expect(Value.Check(filterAttributesSchema, config)).toBe(true);
    const { env, counts } = testEnv();
    const before = structuredClone(input);
    const out = filterAttributes.create(config, env)(input, TEST_CTX);

    expect(input).toEqual(before); // purity
    const s = out.spans[0]!;
    const l = out.logs[0]!;
    expect(s.attributes).toEqual(want.span ?? original.span.attributes);
    expect(s.events[0]!.attributes).toEqual(want.event ?? original.span.events[0]!.attributes);
    expect(s.links[0]!.attributes).toEqual(want.link ?? original.span.links[0]!.attributes);
    expect(l.attributes).toEqual(want.log ?? original.log.attributes);
    expect(s.resource.attributes).toEqual(want.resource ?? original.span.resource.attributes);
    expect(s.scope.attributes).toEqual(want.scope ?? original.span.scope.attributes);
    // Records that shared a Resource/Scope still share one.
    expect(out.spans[1]!.resource).toBe(s.resource);
    expect(l.resource).toBe(s.resource);
    expect(out.spans[1]!.scope).toBe(s.scope);
    // Unchanged maps are not copied.
    if (want.resource === undefined) expect(s.resource).toBe(original.span.resource);
    if (want.log === undefined && want.resource === undefined && want.scope === undefined) expect(l).toBe(original.log);
    expect(counts.get('filter-attributes.removed') ?? 0).toBe(want.removed);
  });

  const invalid: [string, unknown, string, string][] = [
    ['mode missing', {}, '/mode', 'Expected required property'],
    ['unknown mode', { mode: 'keep' }, '/mode', 'Expected union value'],
    ['unknown key', { mode: 'allow', key: ['a'] }, '/key', 'Unexpected property'],
    ['invalid regex', { mode: 'deny', patterns: ['(unclosed'] }, '/patterns/0', "Expected string to match 'regex' format"],
    ['unknown scope', { mode: 'deny', scopes: ['body'] }, '/scopes/0', 'Expected union value'],
    ['empty signals', { mode: 'deny', signals: [] }, '/signals', 'Expected array length to be greater or equal to 1'],
    ['empty key string', { mode: 'allow', keys: [''] }, '/keys/0', 'Expected string length greater or equal to 1'],
    ['unknown set', { mode: 'allow', sets: ['llm-content'] }, '/sets/0', "Expected 'llm-metadata'"],
  ];
  it.each(invalid)('rejects config: %s', (_name, config, path, message) => {
    expect(Value.Check(filterAttributesSchema, config)).toBe(false);
    expect([...Value.Errors(filterAttributesSchema, config)].map((e) => [e.path, e.message])).toContainEqual([path, message]);
  });

  it('sets: llm-metadata keeps the LLM metadata of every convention, and no content', () => {
    const { env } = testEnv();
    const span = testSpan({
      'gen_ai.system': 'openai',
      'gen_ai.usage.prompt_tokens': '3',
      'llm.model_name': 'gpt-4o',
      'llm.token_count.completion': '2',
      'openinference.span.kind': 'LLM',
      'llm.is_streaming': 'False',
      'llm.cost.total': '0.01',
      'input.value': 'a prompt',
      'llm.input_messages.0.message.content': 'a prompt',
      'gen_ai.input.messages': '[]',
      'http.route': '/x',
    });
    const out = filterAttributes.create({ mode: 'allow', keys: ['http.route'], sets: ['llm-metadata'] }, env)(testBatch({ spans: [span] }), TEST_CTX);
    expect(Object.keys(out.spans[0]!.attributes).sort()).toEqual(['gen_ai.system', 'gen_ai.usage.prompt_tokens', 'http.route', 'llm.cost.total', 'llm.is_streaming', 'llm.model_name', 'llm.token_count.completion', 'openinference.span.kind']);
  });

  it('create refuses an invalid pattern even without validation', () => {
    expect(() => filterAttributes.create({ mode: 'deny', patterns: ['('] }, testEnv().env)).toThrow(/patterns\/0/);
  });

  it('two distinct resources get two replacements, each shared by its records', () => {
    const b = fixture();
    const other: Resource = { attributes: { 'service.name': 'gw2', secret: 'x' }, schemaUrl: '' };
    b.spans[1] = { ...b.spans[1]!, resource: other };
    b.logs.push({ ...b.logs[0]!, resource: other });
    const { env } = testEnv();
    const out = filterAttributes.create({ mode: 'allow', prefixes: ['service.'], scopes: ['resource'] }, env)(b, TEST_CTX);
    expect(out.spans[0]!.resource).toBe(out.logs[0]!.resource);
    expect(out.spans[1]!.resource).toBe(out.logs[1]!.resource);
    expect(out.spans[1]!.resource.attributes).toEqual({ 'service.name': 'gw2' });
    expect(other.attributes).toEqual({ 'service.name': 'gw2', secret: 'x' });
  });
});
