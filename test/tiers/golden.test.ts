// For every tier and preset: one realistic LLM gateway exchange, sent by the
// real OTel SDK, and a golden file of exactly what is stored, column by column,
// in every table. A row or column that is not in the golden file is a failure,
// so "nothing else is stored" is checked too. Regenerate on purpose with
// UPDATE_GOLDEN=1 and review the diff.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, eventually, type TestConsentry } from '../helpers/consentry.ts';
import { sdkClient } from '../helpers/otel.ts';
import { dump, normalise } from '../helpers/golden.ts';
import { expectGolden } from '../helpers/golden-file.ts';
import { PLANTED, sendExchange } from '../fixtures/llm-exchange.ts';

const GOLDEN_DIR = new URL('../golden/tiers/', import.meta.url);

let c: TestConsentry;
beforeAll(async () => {
  c = await startTestConsentry();
});
afterAll(async () => c?.close());

const TIERS = ['minimal', 'summary', 'full', 'lunar-oss', 'lunar-control-plane', 'lunos', 'logorhythms', 'luntrex', 'lunogen'];

describe.each(TIERS)('tier %s', (tier) => {
  it('stores exactly the golden rows for one LLM exchange, and no secret', async () => {
    const tenant = `golden-${tier}`;
    const { ingestKey } = await c.createTenant(tenant, tier);
    const client = sdkClient({
      otlpUrl: c.otlpUrl,
      ingestKey,
      encoding: 'proto',
      resource: { 'service.name': 'llm-gateway', 'service.version': '1.4.2', 'service.instance.id': 'gw-1', 'host.name': 'gw-host-1', 'k8s.pod.uid': '9f1c2d3e' },
    });
    sendExchange(client);
    await client.flush();
    await client.shutdown();
    // Every request has been answered 200 by now, so its rows are stored: no waiting needed,
    // but give the metadata/log batch a moment in case the exporter split requests.
    const raw = await eventually(async () => {
      const d = await dump(c, tenant);
      return d['gateway_metadata']!.length > 0 ? d : undefined;
    });
    expect(raw, 'metadata row stored').toBeDefined();
    const text = JSON.stringify(raw);
    for (const [name, secret] of Object.entries(PLANTED)) {
      expect(text.includes(secret), `${name} stored`).toBe(false);
      expect(text.includes(secret.slice(8, 24)), `part of ${name} stored`).toBe(false);
    }
    expect(text).not.toContain('hunter2secret');

    expectGolden(new URL(`${tier}.json`, GOLDEN_DIR), normalise(raw!));
  });
});

it('minimal and summary tiers store no individual request anywhere', async () => {
  for (const tier of ['minimal', 'summary', 'lunar-oss', 'lunar-control-plane']) {
    const d = await dump(c, `golden-${tier}`);
    expect(d['otel_traces'], tier).toEqual([]);
    const text = JSON.stringify(d);
    for (const needle of ['203.0.113', '198.51.100.7', 'user-1234', 'user-5678', 'jane.doe', 'openai-python', 'chatcmpl']) expect(text, `${tier}: ${needle}`).not.toContain(needle);
    if (tier.includes('minimal') || tier === 'lunar-oss') expect(d['request_summaries'], tier).toEqual([]);
  }
});
