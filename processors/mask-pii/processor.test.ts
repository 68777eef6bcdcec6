import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { Static } from '@sinclair/typebox';
import type { Attributes, LogRecord, Resource, SpanRecord } from '../../core/record.ts';
import { TEST_CTX, TEST_RESOURCE, testBatch, testEnv, testLog, testSpan } from '../testing/records.ts';
import { luhn, maskPii, maskPiiSchema } from './processor.ts';

type Config = Static<typeof maskPiiSchema>;
const resource: Resource = { ...TEST_RESOURCE, attributes: { 'service.name': 'gw', 'host.ip': '10.0.0.9' } };

function span(attributes: Attributes, eventAttributes: Attributes = {}): SpanRecord {
  return testSpan(attributes, { resource, name: 'POST /users', events: [{ timeUnixNano: 1n, name: 'exception', attributes: eventAttributes }] });
}
function log(body: string, attributes: Attributes = {}): LogRecord {
  return testLog(attributes, { resource, severityNumber: 17, severityText: 'ERROR', body });
}
/** Masks one log body with the given config. */
function maskBody(text: string, config: Config = {}): string {
  return maskPii.create(config, testEnv().env)(testBatch({ logs: [log(text)] }), TEST_CTX).logs[0]!.body;
}

const texts: [string, string, string][] = [
  ['email', 'contact jane.doe+tag@mail.example.co.uk now', 'contact [EMAIL] now'],
  ['E.164', 'call +14155552671', 'call [PHONE]'],
  ['international with groups', 'call +1 (415) 555-2671 or +44 20 7946 0958.', 'call [PHONE] or [PHONE].'],
  ['French groups of two', 'tél. 01 23 45 67 89', 'tél. [PHONE]'],
  ['North American', '(555) 123-4567, 555.123.4567, 1-555-123-4567', '[PHONE], [PHONE], [PHONE]'],
  ['UK national', 'ring 020 7946 0958 or 0161 496 0000', 'ring [PHONE] or [PHONE]'],
  ['card with spaces', 'card 4111 1111 1111 1111 exp 12/29', 'card [CARD] exp 12/29'],
  ['card with dashes and plain', '5555-5555-5555-4444 / 378282246310005', '[CARD] / [CARD]'],
  ['IPv4 with port', 'from 203.0.113.5:443.', 'from [IP]:443.'],
  ['IPv6', 'peer 2001:db8::1 and [fe80::1%eth0] and ::ffff:192.0.2.1', 'peer [IP] and [[IP]%eth0] and [IP]'],
  ['all kinds', 'Jane <jane@example.com>, +1 415 555 2671, 4111111111111111, 10.0.0.1', 'Jane <[EMAIL]>, [PHONE], [CARD], [IP]'],
  // Left alone
  ['Luhn-invalid card', 'card 4111 1111 1111 1112', 'card 4111 1111 1111 1112'],
  ['ms and ns timestamps', 'ts 1700000000123 and 1700000000123456789', 'ts 1700000000123 and 1700000000123456789'],
  ['token counts and ids', 'tokens=123456789 id 987654321012', 'tokens=123456789 id 987654321012'],
  ['dates', '2024-01-15, 15.01.2024, 05.01.2024 12:30', '2024-01-15, 15.01.2024, 05.01.2024 12:30'],
  ['times, versions, MAC', 'at 12:34:56.789 v1.2.3 mac 00:1a:2b:3c:4d:5e', 'at 12:34:56.789 v1.2.3 mac 00:1a:2b:3c:4d:5e'],
  ['trace id and uuid', '0af7651916cd43dd8448eb211c80319c 550e8400-e29b-41d4-a716-446655440000', '0af7651916cd43dd8448eb211c80319c 550e8400-e29b-41d4-a716-446655440000'],
  ['decimals', 'p=0.4111111111111111 x=-4111111111111111', 'p=0.4111111111111111 x=-4111111111111111'],
  ['operators and scopes', 'x :: Int, std::vector, a::b', 'x :: Int, std::vector, a::b'],
  ['invalid IPv4', '999.1.1.1', '999.1.1.1'],
];

describe('mask-pii', () => {
  it.each(texts)('text: %s', (_name, input, want) => {
    expect(maskBody(input)).toBe(want);
  });

  it('returns the same string, record and attribute map when nothing matches', () => {
    const attrs = { 'http.route': '/v1/chat', 'gen_ai.usage.input_tokens': '1234' };
    const input = testBatch({ spans: [span(attrs)], logs: [log('no personal data 42', attrs)] });
    const out = maskPii.create({}, testEnv().env)(input, TEST_CTX);
    expect(out.spans[0]).toBe(input.spans[0]);
    expect(out.logs[0]).toBe(input.logs[0]);
  });

  const attrs: Attributes = {
    'user.email': 'jane@example.com',
    'client.address': '203.0.113.5',
    'http.route': '/users/:id',
    'gateway.request.body': '{"to":"bob@example.org"}',
  };
  const ev: Attributes = { 'exception.message': 'no user jane@example.com' };
  const body = 'login by jane@example.com from 203.0.113.5';
  const masked: Attributes = {
    'user.email': '[EMAIL]',
    'client.address': '[IP]',
    'http.route': '/users/:id',
    'gateway.request.body': '{"to":"[EMAIL]"}',
  };
  const cases: [string, Config, Attributes, Attributes, string, Record<string, number>][] = [
    [
      'default: every attribute, events, bodies',
      {},
      masked,
      { 'exception.message': 'no user [EMAIL]' },
      'login by [EMAIL] from [IP]',
      // span: 3 emails (2 attributes, 1 event) + 1 ip; log: 3 emails + 2 ips (attributes and body)
      { 'mask-pii.email': 3 + 3, 'mask-pii.ip': 1 + 2 },
    ],
    [
      'kinds: email only',
      { kinds: ['email'] },
      { ...masked, 'client.address': '203.0.113.5' },
      { 'exception.message': 'no user [EMAIL]' },
      'login by [EMAIL] from 203.0.113.5',
      { 'mask-pii.email': 6 },
    ],
    [
      'selected keys, bodies by default',
      { attributes: { keys: ['user.email'] } },
      { ...attrs, 'user.email': '[EMAIL]', 'gateway.request.body': '{"to":"[EMAIL]"}' },
      ev,
      'login by [EMAIL] from [IP]',
      { 'mask-pii.email': 2 + 3, 'mask-pii.ip': 1 },
    ],
    [
      'selected prefix',
      { attributes: { prefixes: ['client.'] }, bodies: false },
      { ...attrs, 'client.address': '[IP]' },
      ev,
      body,
      { 'mask-pii.ip': 2 },
    ],
    ['empty selection and no bodies: nothing', { attributes: {}, bodies: false }, attrs, ev, body, {}],
    [
      'bodies false: body attributes and log bodies left alone',
      { bodies: false },
      { ...masked, 'gateway.request.body': '{"to":"bob@example.org"}' },
      { 'exception.message': 'no user [EMAIL]' },
      body,
      { 'mask-pii.email': 2 + 1, 'mask-pii.ip': 2 },
    ],
  ];

  it.each(cases)('config: %s', (_name, config, wantAttrs, wantEvent, wantBody, wantCounts) => {
    expect(Value.Check(maskPiiSchema, config)).toBe(true);
    const input = testBatch({ spans: [span(attrs, ev)], logs: [log(body, attrs)] });
    const before = structuredClone(input);
    const { env, counts } = testEnv();
    const out = maskPii.create(config, env)(input, TEST_CTX);

    expect(input).toEqual(before); // purity
    expect(out.spans[0]!.attributes).toEqual(wantAttrs);
    expect(out.spans[0]!.events[0]!.attributes).toEqual(wantEvent);
    expect(out.logs[0]!.attributes).toEqual(wantAttrs);
    expect(out.logs[0]!.body).toBe(wantBody);
    // Resource attributes are never scanned, and stay shared.
    expect(out.spans[0]!.resource).toBe(resource);
    expect(out.logs[0]!.resource).toBe(resource);
    expect(Object.fromEntries(counts)).toEqual(wantCounts);
  });

  it('scans a 1 MiB body of tokens in linear time', () => {
    const chunk = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTExMTExMTExMTExMTEx+1234567890123456789012345678901234@';
    const big = chunk.repeat(Math.ceil((1 << 20) / chunk.length));
    const t0 = performance.now();
    const out = maskBody(big);
    const ms = performance.now() - t0;
    expect(out).toBe(big);
    expect(ms).toBeLessThan(1000);
  });

  it.each([
    ['4111111111111111', true],
    ['4111111111111112', false],
    ['378282246310005', true],
  ] as const)('luhn(%s) = %s', (digits, want) => {
    expect(luhn(digits)).toBe(want);
  });

  const invalid: [string, unknown, string, string][] = [
    ['unknown kind', { kinds: ['ssn'] }, '/kinds/0', 'Expected union value'],
    ['empty kinds', { kinds: [] }, '/kinds', 'Expected array length to be greater or equal to 1'],
    ['unknown attributes key', { attributes: { pattern: 'x' } }, '/attributes/pattern', 'Unexpected property'],
    ['bodies not boolean', { bodies: 'yes' }, '/bodies', 'Expected boolean'],
    ['unknown key', { markers: {} }, '/markers', 'Unexpected property'],
  ];
  it.each(invalid)('rejects config: %s', (_name, config, path, message) => {
    expect(Value.Check(maskPiiSchema, config)).toBe(false);
    expect([...Value.Errors(maskPiiSchema, config)].map((e) => [e.path, e.message])).toContainEqual([path, message]);
  });
});
