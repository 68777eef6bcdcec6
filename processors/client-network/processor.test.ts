import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { Static } from '@sinclair/typebox';
import type { Attributes } from '../../core/record.ts';
import { TEST_CTX, testBatch, testEnv, testLog, testSpan } from '../testing/records.ts';
import { clientNetwork, clientNetworkSchema, truncateAddress } from './processor.ts';

type Config = Static<typeof clientNetworkSchema>;

const XFF = 'http.request.header.x-forwarded-for';
const REAL = 'http.request.header.x-real-ip';
const FWD = 'http.request.header.forwarded';

const all: Attributes = {
  'http.route': '/v1/chat/completions',
  'client.address': '203.0.113.77',
  'network.peer.address': '2001:db8:abcd:12:1::5',
  'http.client_ip': 'gateway.example.com',
  [XFF]: '203.0.113.5, unknown, 10.1.2.3:8080, [2001:db8::1]:443, _hidden, not-an-ip',
  [REAL]: '::ffff:192.0.2.128',
  [FWD]: 'for=192.0.2.60;proto=http;by=203.0.113.43;host=example.com, for="[2001:db8:cafe::17]:4711", for=_hidden',
};
const truncated: Attributes = {
  'http.route': '/v1/chat/completions',
  'client.address': '203.0.113.0',
  'network.peer.address': '2001:db8:abcd::',
  [XFF]: '203.0.113.0, unknown, 10.1.2.0, 2001:db8::',
  [REAL]: '192.0.2.0',
  [FWD]: 'for=192.0.2.0;proto=http;by=203.0.113.0, for="[2001:db8:cafe::]"',
};

const cases: [string, Config, Attributes, Attributes, Record<string, number>][] = [
  ['default drops everything', {}, all, { 'http.route': '/v1/chat/completions' }, { 'client-network.removed': 6 }],
  [
    'truncate both (forwardedFor follows clientAddress)',
    { clientAddress: 'truncate' },
    all,
    truncated,
    // removed: http.client_ip (a host name); invalid: that, _hidden, not-an-ip, for=_hidden
    { 'client-network.removed': 1, 'client-network.truncated': 9, 'client-network.invalid': 4 },
  ],
  ['keep both is a no-op', { clientAddress: 'keep', forwardedFor: 'keep' }, all, all, {}],
  [
    'keep client, drop forwarded',
    { clientAddress: 'keep', forwardedFor: 'drop' },
    all,
    { 'http.route': '/v1/chat/completions', 'client.address': '203.0.113.77', 'network.peer.address': '2001:db8:abcd:12:1::5', 'http.client_ip': 'gateway.example.com' },
    { 'client-network.removed': 3 },
  ],
  [
    'JSON array header values (semconv string[])',
    { clientAddress: 'keep', forwardedFor: 'truncate' },
    { [XFF]: '["203.0.113.5, 198.51.100.7", "garbage"]' },
    { [XFF]: '["203.0.113.0, 198.51.100.0"]' },
    { 'client-network.truncated': 2, 'client-network.invalid': 1 },
  ],
  [
    'a list with no address left is dropped',
    { clientAddress: 'drop', forwardedFor: 'truncate' },
    { [XFF]: 'proxy-a, proxy-b', 'client.address': '::1' },
    {},
    { 'client-network.removed': 2, 'client-network.invalid': 2 },
  ],
  ['already truncated values are left as they are', { clientAddress: 'truncate' }, { 'client.address': '203.0.113.0' }, { 'client.address': '203.0.113.0' }, { 'client-network.truncated': 1 }],
];

describe('client-network', () => {
  it.each(cases)('%s', (_name, config, attrs, want, wantCounts) => {
    expect(Value.Check(clientNetworkSchema, config)).toBe(true);
    const input = testBatch({ spans: [testSpan(attrs), testSpan(attrs)], logs: [testLog(attrs)] });
    const before = structuredClone(input);
    const { env, counts } = testEnv();
    const out = clientNetwork.create(config, env)(input, TEST_CTX);

    expect(input).toEqual(before); // purity
    for (const r of [...out.spans, ...out.logs]) expect(r.attributes).toEqual(want);
    expect(out.logs[0]!.resource).toBe(out.spans[0]!.resource);
    if (want === attrs) expect(out.spans[0]).toBe(input.spans[0]);
    expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(Object.entries(wantCounts).map(([k, v]) => [k, v * 3])));
  });

  const addresses: [string, string | undefined][] = [
    ['192.0.2.1', '192.0.2.0'],
    ['192.0.2.1:8080', '192.0.2.0'],
    ['2001:db8:85a3::8a2e:370:7334', '2001:db8:85a3::'],
    ['2001:0DB8:0000:0001::1', '2001:db8::'],
    ['0:db8:1::', '0:db8:1::'],
    ['[2001:db8:1:2::3]:443', '2001:db8:1::'],
    ['fe80::1%eth0', 'fe80::'],
    ['::1', '::'],
    ['::ffff:198.51.100.23', '198.51.100.0'],
    ['::ffff:c633:6417', '198.51.100.0'],
    ['256.1.1.1', undefined],
    ['[192.0.2.1]', undefined],
    ['example.com', undefined],
    ['', undefined],
  ];
  it.each(addresses)('truncateAddress(%j) = %j', (input, want) => {
    expect(truncateAddress(input)).toBe(want);
  });

  const invalid: [string, unknown, string, string][] = [
    ['unknown mode', { clientAddress: 'hash' }, '/clientAddress', 'Expected union value'],
    ['unknown forwardedFor mode', { forwardedFor: 'mask' }, '/forwardedFor', 'Expected union value'],
    ['unknown key', { userAgent: 'drop' }, '/userAgent', 'Unexpected property'],
  ];
  it.each(invalid)('rejects config: %s', (_name, config, path, message) => {
    expect(Value.Check(clientNetworkSchema, config)).toBe(false);
    expect([...Value.Errors(clientNetworkSchema, config)].map((e) => [e.path, e.message])).toContainEqual([path, message]);
  });
});
