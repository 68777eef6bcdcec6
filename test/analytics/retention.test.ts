// Retention: the tier sets ExpireAt (days after receipt, or never), and the
// row TTL of every table removes expired rows, and only those, when
// ClickHouse merges (forced here with OPTIMIZE ... FINAL).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { encodeRows, NEVER_EXPIRES } from '../../sinks/clickhouse/encode.ts';
import { TABLES } from '../../storage/tables.ts';
import { insertRows } from '../../sinks/clickhouse/insert.ts';
import { SpanKind, type RecordBatch } from '../../core/record.ts';
import { generateTraffic, metadataBody, sendOtlp, sendTraffic } from './traffic.ts';

let c: TestConsentry;
let tiersDir: string;
const DAY = 86_400;

beforeAll(async () => {
  tiersDir = mkdtempSync(join(tmpdir(), 'consentry-tiers-'));
  writeFileSync(
    join(tiersDir, 'one-day.yaml'),
    ['name: one-day', 'description: Full capture kept one day (test).', 'level: 3', 'stores: [everything]', 'omits: [secrets]', 'retentionDays: 1', 'spans: []', 'logs: []', ''].join('\n'),
  );
  c = await startTestConsentry({ tiersDir });
});
afterAll(async () => {
  await c?.close();
  rmSync(tiersDir, { recursive: true, force: true });
});

const expireOf = async (table: string, tenant: string) =>
  c.rows<{ e: number; n: number }>(`SELECT toUInt32(ExpireAt) AS e, toUInt32(count()) AS n FROM consentry.${table} WHERE TenantId = '${tenant}' GROUP BY e ORDER BY e`);

describe('retention', () => {
  it('ExpireAt is set by the tier: days after receipt, or never', async () => {
    const short = await c.createTenant('short', 'one-day');
    const forever = await c.createTenant('forever', 'logorhythms');
    const monthly = await c.createTenant('monthly', 'full');
    const traffic = generateTraffic({ seed: 1, n: 5, startSec: Math.floor(Date.now() / 1000) - 600, minutes: 1 });
    const t0 = Math.floor(Date.now() / 1000);
    for (const k of [short, forever, monthly]) await sendTraffic(c.otlpUrl, k.ingestKey, traffic, { logs: true });
    const t1 = Math.ceil(Date.now() / 1000);
    for (const [tenant, days] of [['short', 1], ['monthly', 30]] as const) {
      for (const table of ['otel_traces', 'otel_logs']) {
        const rows = await expireOf(table, tenant);
        expect(rows.length, `${tenant} ${table}`).toBeGreaterThan(0);
        for (const r of rows) {
          expect(Number(r.e)).toBeGreaterThanOrEqual(t0 + days * DAY - 1);
          expect(Number(r.e)).toBeLessThanOrEqual(t1 + days * DAY);
        }
      }
    }
    expect((await expireOf('otel_traces', 'forever')).map((r) => Number(r.e))).toEqual([NEVER_EXPIRES]);
  });

  it('the TTL removes expired rows in every table, and only those', async () => {
    const k = await c.createTenant('ttl', 'one-day');
    // Live rows through the pipeline: spans, logs, gateway metadata (expire in a day).
    await sendTraffic(c.otlpUrl, k.ingestKey, generateTraffic({ seed: 2, n: 8, startSec: Math.floor(Date.now() / 1000) - 600, minutes: 1 }), { logs: true });
    await sendOtlp(c.otlpUrl, k.ingestKey, 'logs', metadataBody('gw', '1', BigInt(Date.now()) * 1_000_000n));
    // Rows received two days ago under the same one-day tier, written as the sink writes them.
    // Background TTL merges would remove them within a second or so: held
    // back until the expired rows are seen, then forced with OPTIMIZE FINAL.
    for (const t of TABLES) await c.clickhouse.client.command({ query: `SYSTEM STOP TTL MERGES consentry.${t}` });
    const nowS = Math.floor(Date.now() / 1000);
    const old: RecordBatch = {
      spans: generateTraffic({ seed: 3, n: 6, startSec: nowS - 2 * DAY, minutes: 1 }).map((q) => ({
        resource: { attributes: { 'service.name': 'gw' }, schemaUrl: '' },
        scope: { name: 'gw', version: '', attributes: {}, schemaUrl: '' },
        traceId: q.traceId,
        spanId: q.spanId,
        parentSpanId: '',
        traceState: '',
        name: 'proxy',
        kind: SpanKind.SERVER,
        startTimeUnixNano: q.startNs,
        endTimeUnixNano: q.startNs + q.durationNs,
        attributes: { 'http.route': q.endpoint },
        events: [],
        links: [],
        statusCode: 0,
        statusMessage: '',
        flags: 0,
      })),
      logs: [
        {
          resource: { attributes: { 'service.name': 'gw' }, schemaUrl: '' },
          scope: { name: 'gw', version: '', attributes: {}, schemaUrl: '' },
          timeUnixNano: BigInt(nowS - 2 * DAY) * 1_000_000_000n,
          observedTimeUnixNano: 0n,
          severityNumber: 9,
          severityText: 'INFO',
          body: 'old',
          attributes: {},
          traceId: '',
          spanId: '',
          flags: 0,
          eventName: '',
        },
      ],
      summaries: [{ minute: nowS - 2 * DAY - ((nowS - 2 * DAY) % 60), provider: 'openai', endpoint: '/v1/x', model: 'm', statusClass: '2xx', requests: 3, errors: 0, latencyBuckets: new Map([[300, 3]]), calls: 0, callErrors: 0, callLatencyBuckets: new Map(), inputTokens: 1, outputTokens: 2, costPicoUsd: 0n, unpricedCalls: 0, requestBytes: 0, responseBytes: 0 }],
      metadata: [{ timeUnixNano: BigInt(nowS - 2 * DAY) * 1_000_000_000n, serviceName: 'gw', serviceVersion: '1', instanceId: 'i', uptimeSeconds: 1, unexpectedRestarts: 0, environment: {}, policyConfig: '' }],
      expireAt: nowS - 2 * DAY + DAY, // received two days ago + one day: expired yesterday
    };
    const fresh: RecordBatch = { ...old, spans: [], logs: [], metadata: [], summaries: [{ ...old.summaries[0]!, minute: nowS - (nowS % 60), requests: 5 }], expireAt: nowS + DAY };
    for (const [b, tag] of [[old, 'old'], [fresh, 'fresh']] as const) {
      const rows = encodeRows(b, { tenantId: 'ttl', tier: 'one-day', tierVersion: 1, receivedAtMs: Date.now() });
      for (const t of TABLES) await insertRows(c.clickhouse.client, t, [rows[t]], `retention-${tag}-${t}`, c.clickhouse.spoolDir);
    }
    const live = async () => {
      const out: Record<string, { expired: number; live: number }> = {};
      for (const t of TABLES) {
        const [r] = await c.rows<{ expired: number; live: number }>(
          `SELECT toUInt32(countIf(ExpireAt <= now())) AS expired, toUInt32(countIf(ExpireAt > now())) AS live FROM consentry.${t} WHERE TenantId = 'ttl'`,
        );
        out[t] = { expired: Number(r!.expired), live: Number(r!.live) };
      }
      return out;
    };
    const before = await live(); // expired, still stored until a merge applies the TTL
    for (const t of TABLES) {
      expect(before[t]!.expired, t).toBeGreaterThan(0);
      expect(before[t]!.live, t).toBeGreaterThan(0);
    }
    const otherTenants = await c.rows(`SELECT TenantId, toUInt32(count()) AS n FROM consentry.otel_traces WHERE TenantId != 'ttl' GROUP BY TenantId ORDER BY TenantId`);

    for (const t of TABLES) {
      await c.clickhouse.client.command({ query: `SYSTEM START TTL MERGES consentry.${t}` });
      await c.clickhouse.client.command({ query: `OPTIMIZE TABLE consentry.${t} FINAL` });
    }

    const after = await live();
    for (const t of TABLES) expect(after[t], t).toEqual({ expired: 0, live: before[t]!.live });
    expect(await c.rows(`SELECT TenantId, toUInt32(count()) AS n FROM consentry.otel_traces WHERE TenantId != 'ttl' GROUP BY TenantId ORDER BY TenantId`)).toEqual(otherTenants);
  });
});
