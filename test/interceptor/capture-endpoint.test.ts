// GET /v1/consentry/capture: what each tier keeps, derived from the tier
// engine itself, and the endpoint's contract (auth, answer, cache lifetime).
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureEndpoint, captureFlagsOf, type CaptureFlags } from '../../collector/otlp/capture-endpoint.ts';
import { BUILTIN_PROCESSORS } from '../../processors/builtin.ts';
import { scrubSecretsProcessor } from '../../processors/scrub-secrets/processor.ts';
import { loadTierFiles } from '../../processors/tiers/config.ts';
import { TierEngine } from '../../processors/tiers/engine.ts';

const dirs = ['../../processors/tiers/builtin/', '../../processors/tiers/presets/'].map((d) => fileURLToPath(new URL(d, import.meta.url)));
const engine = new TierEngine({
  tiers: loadTierFiles(dirs, BUILTIN_PROCESSORS),
  factories: BUILTIN_PROCESSORS,
  env: { hmacKey: randomBytes(32), count: () => undefined },
  scrub: scrubSecretsProcessor(),
});

const flags = (spans: boolean, bodies: boolean, headers: boolean, apiKeys: boolean): CaptureFlags => ({ spans, bodies, headers, apiKeys });

describe('what each tier keeps, from its pipeline', () => {
  it.each<[string, CaptureFlags]>([
    ['minimal', flags(false, false, false, false)],
    ['lunar-oss', flags(false, false, false, false)],
    ['summary', flags(true, false, false, false)],
    ['lunar-control-plane', flags(true, false, false, false)],
    ['lunos', flags(true, false, false, true)],
    ['luntrex', flags(true, false, false, true)],
    ['full', flags(true, true, true, true)],
    ['logorhythms', flags(true, true, true, true)],
    ['lunogen', flags(true, true, true, true)],
    ['no-such-tier', flags(false, false, false, false)],
    ['', flags(false, false, false, false)],
  ])('%s', (tier, expected) => {
    expect(captureFlagsOf(engine, tier)).toEqual(expected);
  });

  it('every tier the engine knows is covered above', () => {
    expect(engine.names()).toEqual(['full', 'logorhythms', 'lunar-control-plane', 'lunar-oss', 'lunogen', 'lunos', 'luntrex', 'minimal', 'summary']);
  });

  it('fails closed when the pipeline throws', () => {
    expect(captureFlagsOf({ process: () => { throw new Error('boom'); } }, 'full')).toEqual(flags(false, false, false, false));
  });
});

describe('GET /v1/consentry/capture', () => {
  const now = 1_700_000_000_000;
  const app = Fastify();
  const tiers: Record<string, { tier: string; until?: number }> = { acme: { tier: 'full' }, temp: { tier: 'full', until: now + 3_500 }, lunos: { tier: 'lunos' } };
  beforeAll(async () => {
    await app.register(captureEndpoint, {
      authenticate: (key: string) => ({ 'key-acme': 'acme', 'key-temp': 'temp', 'key-lunos': 'lunos', 'key-none': 'none' })[key],
      tierOf: (id: string) => tiers[id],
      engine,
      now: () => now,
    });
  });
  afterAll(() => app.close());
  const get = (key?: string) => app.inject({ method: 'GET', url: '/v1/consentry/capture', headers: key === undefined ? {} : { authorization: `Bearer ${key}` } });

  it.each([
    ['no key', undefined, 'missing ingest key'],
    ['an unknown key', 'key-nope', 'unknown ingest key'],
  ])('refuses %s with 401', async (_name, key, message) => {
    const res = await get(key);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 16, message: expect.stringContaining(message) });
  });

  it.each([
    ['key-acme', { tier: 'full', spans: true, bodies: true, headers: true, apiKeys: true, ttlSeconds: 10 }],
    ['key-lunos', { tier: 'lunos', spans: true, bodies: false, headers: false, apiKeys: true, ttlSeconds: 10 }],
    // A temporary switch ending in 3.5 s: cached no longer than that.
    ['key-temp', { tier: 'full', spans: true, bodies: true, headers: true, apiKeys: true, ttlSeconds: 4 }],
    // A tenant without a tier: nothing (fail closed).
    ['key-none', { tier: '', spans: false, bodies: false, headers: false, apiKeys: false, ttlSeconds: 10 }],
  ])('answers the policy of %s', async (key, expected) => {
    const res = await get(key);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.headers['cache-control']).toBe(`private, max-age=${expected.ttlSeconds}`);
    expect(res.json()).toEqual(expected);
  });
});
