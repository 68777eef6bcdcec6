// Fault: a restart while gateways keep sending. The first request that the
// OTLP port accepts must already meet the erasures (subject tombstones and
// erased traces) and the tiers: nothing of an erased subject is written
// because it arrived before the tombstones were read.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../core/settings.ts';
import { startConsentry, type Consentry } from '../../app/collector.ts';
import { ADMIN_TOKEN } from '../helpers/consentry.ts';
import { splitTraces, tracesRequest } from './split-traces.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'consentry-startup-'));
const settings = (otlpPort: number) => loadSettings({}, { dataDir, otlpPort, otlpGrpcPort: 0, apiPort: 0, adminToken: ADMIN_TOKEN, logLevel: 'silent', batchMaxDelayMs: 20 });
let running: Consentry | undefined;

afterAll(async () => {
  await running?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });

const api = async (c: Consentry, method: string, path: string, body?: unknown) => {
  const res = await fetch(c.apiUrl + path, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('start-up', () => {
  it('filters the very first request the OTLP port accepts', { timeout: 120_000 }, async () => {
    // Before the restart: a tenant, an erased subject whose trace was stored, a tombstone for
    // data still in flight, and a tenant switched to minimal.
    let c = await startConsentry(settings(0));
    running = c;
    const created = await api(c, 'POST', '/api/tenants', { id: 'boot', tier: 'full' });
    const key = created.body['ingestKey'] as string;
    const quiet = (await api(c, 'POST', '/api/tenants', { id: 'quiet', tier: 'full' })).body['ingestKey'] as string;
    expect((await api(c, 'PUT', '/api/tenants/quiet/tier', { tier: 'minimal', reason: 'consent withdrawn' })).status).toBe(200);
    const [erasedTrace, inflight, other] = splitTraces({ users: ['erased', 'inflight', 'other'], perUser: 1, children: 1 });
    const send = (port: number, body: string, ingestKey = key) => fetch(`http://127.0.0.1:${port}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' }, body });
    expect((await send(Number(new URL(c.otlpUrl).port), tracesRequest({ servers: [erasedTrace!] }))).status).toBe(200);
    expect((await api(c, 'DELETE', '/api/tenants/boot/subjects/erased')).status).toBe(200);
    // "inflight"'s data was received before its erasure, which comes after the restart: a tombstone an hour ahead stands for it.
    await c.clickhouse.client.insert({ table: 'consentry.erasure_tombstones', values: [{ TenantId: 'boot', Subject: 'inflight', ErasedAt: new Date(Date.now() + 3_600_000).toISOString().replace('T', ' ').replace('Z', '') }], format: 'JSONEachRow' });
    // A deployment with a history of erasures (other tenants): reading the tombstones takes a while.
    await c.clickhouse.client.command({ query: `INSERT INTO consentry.erasure_tombstones SELECT concat('t', toString(number % 100)), concat('user-', toString(number)), now64(3) - INTERVAL 1 DAY FROM numbers(300000)` });
    await c.stop();
    running = undefined;

    // Restart on a known port and send from the first moment it accepts connections.
    const port = await freePort();
    const starting = startConsentry(settings(port));
    const first = [
      { body: tracesRequest({ servers: [inflight!, other!], children: [erasedTrace!, inflight!, other!] }), key, status: 0 },
      { body: tracesRequest({ servers: [other!] }), key: quiet, status: 0 },
    ];
    for (let tries = 0; first.some((f) => f.status === 0); tries++) {
      await Promise.all(first.filter((f) => f.status === 0).map(async (f) => (f.status = await send(port, f.body, f.key).then((r) => r.status, () => 0))));
      await new Promise((r) => setImmediate(r));
      if (tries > 200_000) throw new Error('the OTLP port never accepted a connection');
    }
    c = await starting;
    running = c;
    expect(first.map((f) => f.status)).toEqual([200, 200]);

    const rows = await c.clickhouse.client.query({ query: `SELECT TraceId, SpanAttributes['user.id'] AS user FROM consentry.otel_traces WHERE TenantId = 'boot' ORDER BY user`, format: 'JSONEachRow' });
    const stored = (await rows.json<{ TraceId: string; user: string }>()).map((r) => [r.TraceId, r.user]);
    // Only "other" of tenant boot: its SERVER span and its upstream span; nothing of tenant quiet (minimal).
    expect(await c.clickhouse.client.query({ query: `SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = 'quiet'`, format: 'JSONEachRow' }).then((r) => r.json())).toEqual([{ n: 0 }]);
    expect(stored).toEqual([
      [other!.traceId, ''],
      [other!.traceId, 'other'],
    ]);
  });
});
