// Fault: a downgrade (full -> minimal) while the tenant's gateway keeps
// sending. Requests received before the switch sit in ingest workers and in
// batches waiting for their insert; the 200 of the switch must come only once
// none of them can still be written under `full`. Embedded mode (the Kafka
// path: privacy-kafka.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { post, splitTraces, tracesRequest } from './split-traces.ts';

// One embedded ClickHouse per process: each describe starts and stops its own instance.
let c: TestConsentry;

const fullSpans = async (tenant: string) =>
  Number((await c.rows<{ n: number }>(`SELECT toUInt32(count()) AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}' AND Tier = 'full'`))[0]!.n);

/** Sends requests of 10 traces (30 spans with prompts) from `senders` loops until stop() is called. */
function generator(key: string, senders: number): { stop(): Promise<void>; sent(): number } {
  let running = true;
  let sent = 0;
  const loops = Array.from({ length: senders }, async () => {
    while (running) {
      const traces = splitTraces({ users: ['u'], perUser: 10, children: 2 });
      await post(c.otlpUrl, key, 'traces', tracesRequest({ servers: traces, children: traces }));
      sent++;
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
    sent: () => sent,
  };
}

describe('downgrade under load', () => {
  beforeAll(async () => {
    // Batches wait a second before their insert, as under load with big batches.
    c = await startTestConsentry({ batchMaxDelayMs: 1000 });
  });
  afterAll(async () => c?.close());

  it('answers 200 only once nothing received under full can still be written as full', { timeout: 120_000 }, async () => {
    const rounds: Array<{ atSwitch: number; after: number }> = [];
    for (let round = 0; round < 3; round++) {
      const tenant = `dg${round}`;
      const { ingestKey } = await c.createTenant(tenant, 'full');
      const gen = generator(ingestKey, 6);
      await new Promise((r) => setTimeout(r, 1500));
      const res = await c.api('PUT', `/api/tenants/${tenant}/tier`, { tier: 'minimal', reason: 'consent withdrawn' });
      const atSwitch = await fullSpans(tenant);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      await new Promise((r) => setTimeout(r, 500));
      await gen.stop();
      await new Promise((r) => setTimeout(r, 1500)); // longer than a batch delay: everything accepted is written
      const after = await fullSpans(tenant);
      rounds.push({ atSwitch, after });
      expect(gen.sent()).toBeGreaterThan(0);
      // The audit has the switch, as before.
      const audit = await c.api('GET', `/api/tenants/${tenant}/audit`);
      expect(audit.body.audit.map((a: { action: string; from: string; to: string }) => [a.action, a.from, a.to])).toEqual([
        ['create', '', 'full'],
        ['switch', 'full', 'minimal'],
      ]);
    }
     
    console.log(`full spans at the 200 of full -> minimal, and once everything was written: ${JSON.stringify(rounds)}`);
    for (const r of rounds) {
      expect(r.atSwitch).toBeGreaterThan(0);
      expect(r.after - r.atSwitch, 'full spans written after the 200 of the downgrade').toBe(0);
    }
  });

});

describe('downgrade whose writes outlast CONSENTRY_TIER_SWITCH_TIMEOUT_MS', () => {
  beforeAll(async () => {
    c = await startTestConsentry({ batchMaxDelayMs: 3000, tierSwitchTimeoutMs: 200 });
  });
  afterAll(async () => c?.close());

  it('answers 503 TIER_SWITCH_PENDING, saying what holds; the switch is in force', async () => {
    const { ingestKey } = await c.createTenant('late', 'full');
    const traces = splitTraces({ users: ['u'], perUser: 5, children: 2 });
    const pending = post(c.otlpUrl, ingestKey, 'traces', tracesRequest({ servers: traces, children: traces }));
    await new Promise((r) => setTimeout(r, 300)); // received, waiting for its batch
    const res = await c.api('PUT', '/api/tenants/late/tier', { tier: 'minimal', reason: 'consent withdrawn' });
    expect([res.status, res.body.error]).toEqual([503, 'TIER_SWITCH_PENDING']);
    expect(res.body.message).toMatch(/^tier "minimal" is in force for data received from now on and audited, but writes received before the switch were not inserted within 200 ms/);
    expect((await c.api('GET', '/api/tenants/late/tier')).body.tier).toBe('minimal');
    await pending;
  });
});
