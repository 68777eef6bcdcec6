import { describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import type { Static } from '@sinclair/typebox';
import type { Attributes } from '../../core/record.ts';
import { TEST_CTX, testBatch, testEnv, testLog, testSpan } from '../testing/records.ts';
import { captureBodies, captureBodiesSchema } from './processor.ts';

type Config = Static<typeof captureBodiesSchema>;

const REQ = 'gateway.request.body';
const RES = 'gateway.response.body';
const big = 'x'.repeat(20_000);

const cases: [string, Config, Attributes, Attributes, Record<string, number>][] = [
  ['small body kept as is', {}, { [REQ]: '{"a":1}', 'http.route': '/x' }, { [REQ]: '{"a":1}', 'http.route': '/x' }, {}],
  [
    'default cap 16384 bytes',
    {},
    { [REQ]: big },
    { [REQ]: 'x'.repeat(16384), [`${REQ}.truncated`]: 'true', [`${REQ}.size`]: '20000' },
    { 'capture-bodies.truncated': 1, 'capture-bodies.bytes-removed': 20000 - 16384 },
  ],
  ['exactly maxBytes is kept', { maxBytes: 4 }, { [RES]: 'abcd' }, { [RES]: 'abcd' }, {}],
  [
    'cut at a character boundary (2-byte é)',
    { maxBytes: 5 },
    { [RES]: 'éééé' }, // 8 bytes
    { [RES]: 'éé', [`${RES}.truncated`]: 'true', [`${RES}.size`]: '8' },
    { 'capture-bodies.truncated': 1, 'capture-bodies.bytes-removed': 4 },
  ],
  [
    'a surrogate pair is never split',
    { maxBytes: 6 },
    { [RES]: 'a😀😀' }, // 9 bytes
    { [RES]: 'a😀', [`${RES}.truncated`]: 'true', [`${RES}.size`]: '9' },
    { 'capture-bodies.truncated': 1, 'capture-bodies.bytes-removed': 4 },
  ],
  [
    'maxBytes 0 removes bodies, keeping their size',
    { maxBytes: 0 },
    { [REQ]: 'hello', [RES]: '', 'http.route': '/x' },
    { 'http.route': '/x', [`${REQ}.truncated`]: 'true', [`${REQ}.size`]: '5' },
    { 'capture-bodies.removed': 2, 'capture-bodies.bytes-removed': 5 },
  ],
  [
    'only the configured attributes',
    { maxBytes: 2, attributes: ['custom.body'] },
    { 'custom.body': 'abc', [REQ]: 'abc' },
    { 'custom.body': 'ab', 'custom.body.truncated': 'true', 'custom.body.size': '3', [REQ]: 'abc' },
    { 'capture-bodies.truncated': 1, 'capture-bodies.bytes-removed': 1 },
  ],
  ['empty attribute list is a no-op', { maxBytes: 0, attributes: [] }, { [REQ]: 'abc' }, { [REQ]: 'abc' }, {}],
];

describe('capture-bodies', () => {
  it.each(cases)('%s', (_name, config, attrs, want, wantCounts) => {
    expect(Value.Check(captureBodiesSchema, config)).toBe(true);
    const input = testBatch({ spans: [testSpan(attrs), testSpan(attrs)], logs: [testLog(attrs)] });
    const before = structuredClone(input);
    const { env, counts } = testEnv();
    const out = captureBodies.create(config, env)(input, TEST_CTX);

    expect(input).toEqual(before); // purity
    for (const r of [...out.spans, ...out.logs]) expect(r.attributes).toEqual(want);
    expect(out.spans[1]!.resource).toBe(out.spans[0]!.resource);
    if (JSON.stringify(want) === JSON.stringify(attrs)) expect(out.spans[0]).toBe(input.spans[0]);
    // Two spans and one log carry each body.
    expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(Object.entries(wantCounts).map(([k, v]) => [k, v * 3])));
  });

  const invalid: [string, unknown, string, string][] = [
    ['negative', { maxBytes: -1 }, '/maxBytes', 'Expected integer to be greater or equal to 0'],
    ['over 64 MiB', { maxBytes: 64 * 1024 * 1024 + 1 }, '/maxBytes', 'Expected integer to be less or equal to 67108864'],
    ['fraction', { maxBytes: 1.5 }, '/maxBytes', 'Expected integer'],
    ['string', { maxBytes: '16k' }, '/maxBytes', 'Expected integer'],
    ['unknown key', { max: 10 }, '/max', 'Unexpected property'],
    ['empty attribute name', { attributes: [''] }, '/attributes/0', 'Expected string length greater or equal to 1'],
  ];
  it.each(invalid)('rejects config: %s', (_name, config, path, message) => {
    expect(Value.Check(captureBodiesSchema, config)).toBe(false);
    expect([...Value.Errors(captureBodiesSchema, config)].map((e) => [e.path, e.message])).toContainEqual([path, message]);
  });
});
