import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { Static } from '@sinclair/typebox';
import type { Attributes, SpanRecord } from '../../core/record.ts';
import { TEST_CTX, testBatch, testEnv, testLog, testSpan } from '../testing/records.ts';
import { hashApiKeys, hashApiKeysSchema } from './processor.ts';

type Config = Static<typeof hashApiKeysSchema>;
const KEY = Buffer.from('0123456789abcdef0123456789abcdef');

const span = (attributes: Attributes): SpanRecord => testSpan(attributes, { name: 'POST /v1/messages' });
/** Reference: first 32 hex characters of HMAC-SHA256(key, token). */
const h = (token: string): string => createHmac('sha256', KEY).update(token).digest('hex').slice(0, 32);

const H = 'http.request.header.';
const cases: [string, Config, Attributes, Attributes | undefined][] = [
  [
    'Bearer token in Authorization (header kept for the scrubber)',
    {},
    { [`${H}authorization`]: 'Bearer sk-proj-abc123' },
    { [`${H}authorization`]: 'Bearer sk-proj-abc123', 'gateway.api_key.hash': h('sk-proj-abc123'), 'gateway.api_key.hash.header': 'authorization' },
  ],
  [
    'scheme is case-insensitive and spaces are trimmed',
    {},
    { [`${H}authorization`]: '  bearer   sk-proj-abc123 ' },
    { [`${H}authorization`]: '  bearer   sk-proj-abc123 ', 'gateway.api_key.hash': h('sk-proj-abc123'), 'gateway.api_key.hash.header': 'authorization' },
  ],
  [
    'Basic credentials hash their encoded token',
    {},
    { [`${H}proxy-authorization`]: 'Basic dXNlcjpwYXNz' },
    { [`${H}proxy-authorization`]: 'Basic dXNlcjpwYXNz', 'gateway.api_key.hash': h('dXNlcjpwYXNz'), 'gateway.api_key.hash.header': 'proxy-authorization' },
  ],
  [
    'x-api-key (Anthropic) hashes like the same key as Bearer',
    {},
    { [`${H}x-api-key`]: 'sk-proj-abc123' },
    { [`${H}x-api-key`]: 'sk-proj-abc123', 'gateway.api_key.hash': h('sk-proj-abc123'), 'gateway.api_key.hash.header': 'x-api-key' },
  ],
  [
    'first configured header wins',
    {},
    { [`${H}x-api-key`]: 'key-b', [`${H}authorization`]: 'Bearer key-a' },
    { [`${H}x-api-key`]: 'key-b', [`${H}authorization`]: 'Bearer key-a', 'gateway.api_key.hash': h('key-a'), 'gateway.api_key.hash.header': 'authorization' },
  ],
  [
    'JSON array header value (semconv string[])',
    {},
    { [`${H}api-key`]: '["azure-key-1"]' },
    { [`${H}api-key`]: '["azure-key-1"]', 'gateway.api_key.hash': h('azure-key-1'), 'gateway.api_key.hash.header': 'api-key' },
  ],
  [
    'custom header (matched lower-cased) and attribute',
    { headers: ['X-Tenant-Key'], attribute: 'usage.key_hash' },
    { [`${H}x-tenant-key`]: 'tk-1', [`${H}authorization`]: 'Bearer other' },
    { [`${H}x-tenant-key`]: 'tk-1', [`${H}authorization`]: 'Bearer other', 'usage.key_hash': h('tk-1'), 'usage.key_hash.header': 'x-tenant-key' },
  ],
  ['empty token: nothing to hash', {}, { [`${H}authorization`]: 'Bearer ' }, undefined],
  ['no key header: unchanged', {}, { 'http.route': '/v1/messages' }, undefined],
  ['empty header list: nothing hashed', { headers: [] }, { [`${H}authorization`]: 'Bearer sk-1' }, undefined],
];

describe('hash-api-keys', () => {
  it.each(cases)('%s', (_name, config, attrs, want) => {
    expect(Value.Check(hashApiKeysSchema, config)).toBe(true);
    const input = testBatch({ spans: [span(attrs), span(attrs)], logs: [testLog(attrs)] });
    const before = structuredClone(input);
    const { env, counts } = testEnv(KEY);
    const out = hashApiKeys.create(config, env)(input, TEST_CTX);

    expect(input).toEqual(before); // purity
    for (const r of [...out.spans, ...out.logs]) expect(r.attributes).toEqual(want ?? attrs);
    expect(out.spans[1]!.resource).toBe(out.spans[0]!.resource);
    if (want === undefined) expect(out.spans[0]).toBe(input.spans[0]);
    expect(counts.get('hash-api-keys.hashed') ?? 0).toBe(want === undefined ? 0 : 3);
  });

  it('refuses a missing HMAC key', () => {
    expect(() => hashApiKeys.create({}, { hmacKey: Buffer.alloc(0), count: () => undefined })).toThrow(/at least 16 bytes/);
  });

  const invalid: [string, unknown, string, string][] = [
    ['header name with a space', { headers: ['x api key'] }, '/headers/0', "Expected string to match '^[!#$%&'*+.^_`|~0-9A-Za-z-]+$'"],
    ['empty attribute', { attribute: '' }, '/attribute', 'Expected string length greater or equal to 1'],
    ['duplicate headers', { headers: ['a', 'a'] }, '/headers', 'Expected array elements to be unique'],
    ['unknown key', { remove: true }, '/remove', 'Unexpected property'],
  ];
  it.each(invalid)('rejects config: %s', (_name, config, path, message) => {
    expect(Value.Check(hashApiKeysSchema, config)).toBe(false);
    expect([...Value.Errors(hashApiKeysSchema, config)].map((e) => [e.path, e.message])).toContainEqual([path, message]);
  });
});
