// The Kafka path end to end, every process real: OTel SDK -> collector ->
// Kafka (a real broker) -> sink -> ClickHouse (the chdb HTTP server). Also the
// dead-letter topic, the downgrade of data in flight, and tier switches,
// tenants and operators shared across two collector instances.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeverityNumber } from '@opentelemetry/api-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { encodeBatchMessage } from '../../sinks/kafka/codec.ts';
import { hrToNanos, sdkClient, type Encoding } from '../helpers/otel.ts';
import { ADMIN_TOKEN, api, until, type Proc } from './processes.ts';
import { createTenant, logsBody, post, postUntilOk, spansBody, startDeployment, type Deployment } from './deployment.ts';

let d: Deployment;
let a: Proc & { otlpUrl: string; apiUrl: string };
let sink: Proc & { url: string };

beforeAll(async () => {
  d = await startDeployment({ prefix: 'pipe.' });
  [a, sink] = await Promise.all([d.collector(), d.sink()]);
}, 180_000);

afterAll(async () => {
  await d?.stop();
}, 120_000);

const count = async (sql: string): Promise<number> => Number((await d.rows<{ n: string }>(sql))[0]?.n ?? 0);

describe('Kafka pipeline', () => {
  it.each<Encoding>(['proto', 'json'])('OTel SDK (%s) -> collector -> Kafka -> sink -> ClickHouse: every span and log once, exact', { timeout: 90_000 }, async (encoding) => {
    const tenant = `sdk-${encoding}`;
    const key = await createTenant(a.apiUrl, tenant, 'full');
    const client = sdkClient({ otlpUrl: a.otlpUrl, ingestKey: key, encoding });
    const tracer = client.tracerProvider.getTracer('kafka-test', '1.0.0');
    const logger = client.loggerProvider.getLogger('kafka-test');
    const SPANS = 300;
    const LOGS = 120;
    const ended: ReadableSpan[] = [];
    for (let i = 0; i < SPANS; i++) {
      const span = tracer.startSpan(`op-${i}`, { attributes: { 'http.route': '/v1/chat/completions', 'gen_ai.usage.input_tokens': i, ratio: 0.5 } });
      span.addEvent('first-token', { index: i });
      span.end();
      ended.push(span as unknown as ReadableSpan);
      if (i < LOGS) logger.emit({ severityNumber: SeverityNumber.WARN, severityText: 'WARN', body: `log ${i}`, attributes: { 'log.seq': i }, ...(i % 2 === 0 ? { eventName: 'app.step' } : {}) });
    }
    await client.flush();
    await client.shutdown();

    await until('all spans and logs stored', async () => (await count(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'`)) >= SPANS && (await count(`SELECT count() AS n FROM consentry.otel_logs WHERE TenantId = '${tenant}'`)) >= LOGS, 60_000);
    const [spans] = await d.rows<{ n: string; u: string }>(`SELECT count() AS n, uniqExact(SpanId) AS u FROM consentry.otel_traces WHERE TenantId = '${tenant}'`);
    expect(spans).toEqual({ n: String(SPANS), u: String(SPANS) });
    const [logs] = await d.rows<{ n: string; u: string }>(`SELECT count() AS n, uniqExact(Body) AS u FROM consentry.otel_logs WHERE TenantId = '${tenant}'`);
    expect(logs).toEqual({ n: String(LOGS), u: String(LOGS) });
    // Nanosecond times and attributes cross the Kafka encoding exactly.
    const s = ended[7]!;
    const [row] = await d.rows<{ ts: string; d: string; a: Record<string, string>; ev: string[]; tier: string }>(
      `SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ts, toString(Duration) AS d, SpanAttributes AS a, Events.Name AS ev, Tier AS tier FROM consentry.otel_traces WHERE TenantId = '${tenant}' AND SpanId = '${s.spanContext().spanId}'`,
    );
    expect(row?.ts).toBe(hrToNanos(s.startTime));
    expect(BigInt(row!.d)).toBe(BigInt(hrToNanos(s.endTime)) - BigInt(hrToNanos(s.startTime)));
    expect(row?.a).toMatchObject({ 'http.route': '/v1/chat/completions', 'gen_ai.usage.input_tokens': '7', ratio: '0.5' });
    expect(row?.ev).toEqual(['first-token']);
    expect(row?.tier).toBe('full');
    // Span flags and the log event name cross it too (codec version 2).
    expect(await count(`SELECT countIf(bitAnd(SpanFlags, 256) != 0) AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'`)).toBe(SPANS);
    expect(await count(`SELECT countIf(EventName = 'app.step') AS n FROM consentry.otel_logs WHERE TenantId = '${tenant}'`)).toBe(LOGS / 2);
  });

  it('sends undecodable messages and rows ClickHouse refuses to the dead-letter topic; the partition keeps flowing', { timeout: 90_000 }, async () => {
    const tenant = 'poison';
    const key = await createTenant(a.apiUrl, tenant, 'full');
    const producer = d.kafka.producer();
    await producer.connect();
    // Same key as the tenant's data: same partition, so later data must flow past it.
    // (A version above this build's is a newer layout, left in Kafka: test/upgrade/kafka.test.ts; 0 is no layout.)
    const garbage = [Buffer.from('not a consentry message'), Buffer.from([0x43, 0x53, 0x00, 0x01]), encodeBatchMessage({ spans: [], logs: [], summaries: [], metadata: [] }, { tenantId: tenant, tier: 'full', tierVersion: 1, receivedAtMs: 1 }).subarray(0, 6)];
    // Decodes fine, but ClickHouse refuses the metadata row (NaN for a UInt32).
    const refused = encodeBatchMessage(
      {
        spans: [],
        logs: [],
        summaries: [],
        metadata: [{ timeUnixNano: 1_700_000_000_000_000_000n, serviceName: 'gw', serviceVersion: '1', instanceId: 'i', uptimeSeconds: 1, unexpectedRestarts: Number.NaN, environment: {}, policyConfig: '' }],
      },
      { tenantId: tenant, tier: 'full', tierVersion: 1, receivedAtMs: Date.now() },
    );
    await producer.send({ topic: d.topics.spans, acks: -1, messages: [...garbage, refused].map((value) => ({ key: tenant, value })) });
    await producer.disconnect();
    await postUntilOk(`${a.otlpUrl}/v1/traces`, key, spansBody({ from: 1_000_000, count: 50, tag: 'after-poison' }));

    await until('data after the poison stored', async () => (await count(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'`)) === 50, 60_000);
    const dead: Array<{ value: Buffer | null; headers: Record<string, string> }> = [];
    const consumer = d.kafka.consumer({ groupId: `${d.prefix}dlq-reader`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: d.topics.deadletter, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        dead.push({ value: message.value, headers });
      },
    });
    try {
      await until('4 dead letters', () => dead.length >= 4, 30_000);
    } finally {
      await consumer.disconnect();
    }
    expect(dead.filter((m) => m.headers['consentry-stage'] === 'decode')).toHaveLength(3);
    for (const m of dead) expect(m.headers['consentry-reason']).toMatch(/\w/);
    expect(dead.map((m) => m.headers['consentry-source'])).toEqual(dead.map(() => expect.stringMatching(new RegExp(`^${d.topics.spans.replace(/\./g, '\\.')}/\\d+/\\d+$`))));
    const insert = dead.find((m) => m.headers['consentry-stage'] === 'insert');
    expect(insert?.headers['consentry-table']).toBe('gateway_metadata');
    expect(insert?.headers['consentry-reason']).toMatch(/code 27|code 6|CANNOT_PARSE/);
    expect(Buffer.compare(insert!.value!, refused)).toBe(0);
    const metrics = await (await fetch(`${sink.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toMatch(/consentry_sink_deadletter_total\{stage="decode"\} 3/);
    expect(metrics).toMatch(/consentry_sink_deadletter_total\{stage="insert"\} 1/);
  });

  it('downgrade in flight: records produced under full, sink stopped, tenant switched to minimal, sink resumed: no spans, no bodies', { timeout: 120_000 }, async () => {
    const tenant = 'downgrade';
    const key = await createTenant(a.apiUrl, tenant, 'full');
    expect(await sink.stop()).toBe(0);
    await postUntilOk(`${a.otlpUrl}/v1/traces`, key, spansBody({ from: 2_000_000, count: 100, tag: 'dg', bodies: true }));
    await postUntilOk(`${a.otlpUrl}/v1/logs`, key, logsBody({ from: 0, count: 40, tag: 'dg' }));
    const switched = await api(a.apiUrl, 'PUT', `/api/tenants/${tenant}/tier`, { tier: 'minimal', reason: 'consent withdrawn' });
    expect(switched.status).toBe(200);
    sink = await d.sink();
    await until('the sink caught up', async () => {
      const o = await d.offsets();
      return o.committed === o.end;
    }, 60_000);
    expect(await count(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'`)).toBe(0);
    const logs = await d.rows<{ Tier: string; LogAttributes: Record<string, string>; Body: string }>(`SELECT Tier, LogAttributes, Body FROM consentry.otel_logs WHERE TenantId = '${tenant}'`);
    expect(logs).toHaveLength(40);
    for (const l of logs) {
      expect(l.Tier).toBe('minimal');
      expect(Object.keys(l.LogAttributes).filter((k) => k.includes('body'))).toEqual([]);
      expect(JSON.stringify(l)).not.toContain('secret plans');
    }
  });

  it('shares tenants and applies tier switches on every collector instance within 250 ms', { timeout: 90_000 }, async () => {
    const b = await d.collector();
    const tenant = 'shared';
    const key = await createTenant(a.apiUrl, tenant, 'full');
    // Created on A, known to B: its ingest key works there.
    await until('B knows the tenant', async () => (await api(b.apiUrl, 'GET', `/api/tenants/${tenant}/tier`)).status === 200, 10_000, 5);
    expect((await post(`${b.otlpUrl}/v1/traces`, key, spansBody({ from: 3_000_000, count: 5, tag: 'shared' }))).status).toBe(200);

    const latencies: number[] = [];
    const tiers = ['summary', 'minimal', 'full', 'minimal', 'summary', 'minimal'];
    for (const tier of tiers) {
      const r = await api(a.apiUrl, 'PUT', `/api/tenants/${tenant}/tier`, { tier, reason: 'propagation test' });
      expect(r.status).toBe(200);
      const t0 = performance.now();
      await until(`B applies ${tier}`, async () => (await api(b.apiUrl, 'GET', `/api/tenants/${tenant}/tier`)).body.tier === tier, 5000, 2);
      latencies.push(performance.now() - t0);
    }
     
    console.log(`tier switch propagation A -> B (ms, measured from A's answer): ${latencies.map((l) => l.toFixed(1)).join(', ')}`);
    for (const l of latencies) expect(l).toBeLessThan(250);
    // The sink applies them too: data sent under the last tier (minimal) stores no span.
    const before = await count(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'`);
    await postUntilOk(`${b.otlpUrl}/v1/traces`, key, spansBody({ from: 3_100_000, count: 5, tag: 'shared' }));
    await until('the sink caught up', async () => {
      const o = await d.offsets();
      return o.committed === o.end;
    }, 30_000);
    expect(await count(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'`)).toBe(before);
    expect(await b.stop()).toBe(0);
  });

  it('shares operators: one created on A works on B, one revoked on A is refused on B (control channel)', { timeout: 90_000 }, async () => {
    const b = await d.collector();
    const created = await api(a.apiUrl, 'POST', '/api/operators', { name: 'kafka-olga', role: 'operator' });
    expect(created.status).toBe(201);
    const token = created.body.token as string;
    let t0 = performance.now();
    await until('B knows the operator', async () => (await api(b.apiUrl, 'GET', '/api/session', undefined, token)).status === 200, 5000, 2);
    const known = performance.now() - t0;
    // On B it acts under its own name; A records the same.
    expect((await api(b.apiUrl, 'POST', '/api/tenants', { id: 'made-on-b', tier: 'full' }, token)).status).toBe(201);
    await until('A knows the tenant', async () => (await api(a.apiUrl, 'GET', '/api/tenants/made-on-b/audit')).status === 200, 10_000, 5);
    expect((await api(a.apiUrl, 'GET', '/api/tenants/made-on-b/audit')).body.audit).toMatchObject([{ actor: 'kafka-olga', action: 'create', to: 'full' }]);
    // The name is taken on B too, though A created it.
    expect((await api(b.apiUrl, 'POST', '/api/operators', { name: 'kafka-olga', role: 'viewer' })).status).toBe(409);

    expect((await api(a.apiUrl, 'DELETE', '/api/operators/kafka-olga')).status).toBe(200);
    t0 = performance.now();
    await until('B refuses the revoked token', async () => (await api(b.apiUrl, 'GET', '/api/session', undefined, token)).status === 401, 5000, 2);
    const revoked = performance.now() - t0;
    console.log(`operator propagation A -> B (ms, measured from A's answer): created ${known.toFixed(1)}, revoked ${revoked.toFixed(1)}`);
    expect(await b.stop()).toBe(0);
  });
});
