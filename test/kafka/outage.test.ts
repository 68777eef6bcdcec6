// Outages while data flows. ClickHouse stopped (the chdb server process, then
// restarted on the same data and port): the collector keeps accepting (Kafka
// holds the data), the sink retries without committing past what it has not
// written, and everything arrives once. The broker stopped: the collector
// answers 503 with Retry-After within a bounded time and never 200 for data it
// could not hand over, /readyz says so, and both collector and sink recover
// without a restart; every record that got a 200 is stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, until, type Proc } from './processes.ts';
import { createTenant, post, postUntilOk, spansBody, startDeployment, type Deployment } from './deployment.ts';

const SEND_TIMEOUT_MS = 2000;

let d: Deployment;
let collector: Proc & { otlpUrl: string; apiUrl: string };
let sink: Proc & { url: string };

beforeAll(async () => {
  d = await startDeployment({ prefix: 'outage.', env: { CONSENTRY_KAFKA_SEND_TIMEOUT_MS: String(SEND_TIMEOUT_MS) } });
  [collector, sink] = await Promise.all([d.collector(), d.sink()]);
}, 180_000);

afterAll(async () => {
  await d?.stop();
}, 120_000);

const stored = async (tenant: string) =>
  (await d.rows<{ n: string; u: string }>(`SELECT count() AS n, uniqExact(SpanId) AS u FROM consentry.otel_traces WHERE TenantId = '${tenant}'`))[0]!;

describe('outages', () => {
  it('ClickHouse unavailable for a while: no loss, no duplicate, offsets never committed past unwritten data', { timeout: 150_000 }, async () => {
    const tenant = 'ch-down';
    const key = await createTenant(collector.apiUrl, tenant, 'full');
    for (let i = 0; i < 10; i++) await postUntilOk(`${collector.otlpUrl}/v1/traces`, key, spansBody({ from: i * 200, count: 200, tag: 'before' }));
    await until('phase 1 stored', async () => (await stored(tenant)).n === '2000', 30_000);
    await until('phase 1 committed', async () => {
      const o = await d.offsets();
      return o.committed === o.end;
    }, 30_000);

    expect(await d.chdb.stop()).toBe(0);
    const atOutage = await d.offsets();
    // Kafka holds the data: the collector keeps answering 200.
    for (let i = 10; i < 30; i++) expect((await post(`${collector.otlpUrl}/v1/traces`, key, spansBody({ from: i * 200, count: 200, tag: 'during' }))).status).toBe(200);
    // The sink fails its inserts and says so; nothing of the new data is committed.
    await until('the sink reports ClickHouse down', async () => (await fetch(`${sink.url}/readyz`)).status === 503, 30_000);
    // Readiness follows the sink's insert probe, which can fail before the first data insert is retried.
    const retried = async () => /consentry_sink_insert_retries_total\{table="otel_traces"\} [1-9]/.test(await (await fetch(`${sink.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text());
    await until('the sink retries its inserts', retried, 30_000);
    const during = await d.offsets();
    expect(during.end).toBeGreaterThan(atOutage.end);
    expect(during.committed).toBeLessThanOrEqual(atOutage.end);

    await d.restartChdb();
    await until('everything stored after ClickHouse returned', async () => (await stored(tenant)).n === '6000', 90_000, 250);
    await until('everything committed', async () => {
      const o = await d.offsets();
      return o.committed === o.end;
    }, 30_000);
    expect(await stored(tenant)).toEqual({ n: '6000', u: '6000' });
    await until('the sink ready again', async () => (await fetch(`${sink.url}/readyz`)).status === 200, 30_000);
  });

  it('broker stopped during sending: 503 with Retry-After, bounded; recovers; every 200 stored', { timeout: 180_000 }, async () => {
    const tenant = 'broker-down';
    const key = await createTenant(collector.apiUrl, tenant, 'full');
    const acked: number[] = [];
    const refused: Array<{ ms: number; retryAfter: string | null }> = [];
    const other: number[] = [];
    let seq = 0;
    let running = true;
    let afterRecovery = 0;
    let outage = false;
    const sender = async () => {
      while (running) {
        const from = (seq++) * 20;
        const r = await post(`${collector.otlpUrl}/v1/traces`, key, spansBody({ from, count: 20, tag: 'broker' }));
        if (r.status === 200) {
          acked.push(from);
          if (outage) afterRecovery++;
        } else if (r.status === 503) refused.push({ ms: r.ms, retryAfter: r.retryAfter });
        else other.push(r.status);
        if (r.status !== 200) await new Promise((res) => setTimeout(res, 50));
      }
    };
    const senders = Promise.all([sender(), sender()]);
    await until('traffic flowing', () => acked.length >= 20, 30_000);

    // Stop the broker; keep sending; check /readyz and the 503s; bring it back.
    const restarting = d.broker.restart({ downMs: 6000 }).then((b) => (d.broker = b));
    await until('503 while the broker is down', () => refused.length >= 2, 30_000);
    outage = true;
    afterRecovery = 0;
    await until('collector not ready while the broker is down', async () => (await fetch(`${collector.apiUrl}/readyz`)).status === 503, 15_000);
    await restarting;
    await until('requests accepted again after the broker returned', () => afterRecovery >= 20, 90_000);
    await until('collector ready again', async () => (await fetch(`${collector.apiUrl}/readyz`)).status === 200, 30_000);
    running = false;
    await senders;

    expect(other).toEqual([]);
    // Bounded: the send timeout plus request overhead, never an open-ended wait.
    for (const r of refused) {
      expect(r.ms).toBeLessThan(SEND_TIMEOUT_MS + 3000);
      expect(r.retryAfter).toMatch(/^\d+$/);
    }
    // Every span of every acknowledged request is stored (the sink recovered on its own).
    const want = new Set<string>();
    for (const from of acked) for (let i = from; i < from + 20; i++) want.add((i + 1).toString(16).padStart(16, '0'));
    await until('every acknowledged span stored', async () => {
      const rows = await d.rows<{ id: string }>(`SELECT DISTINCT SpanId AS id FROM consentry.otel_traces WHERE TenantId = '${tenant}'`);
      const have = new Set(rows.map((r) => r.id));
      for (const id of want) if (!have.has(id)) return false;
      return true;
    }, 120_000, 500);
     
    console.log(`broker outage: ${acked.length} requests acknowledged, ${refused.length} answered 503 (max ${Math.max(...refused.map((r) => r.ms)).toFixed(0)} ms)`);
  });
});
