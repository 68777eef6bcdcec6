// Fault suite (issue 12, item 4): /readyz follows the inserts. Inserts are made
// to fail for real on a running Consentry (embedded chdb): the spool
// directory every embedded insert writes its rows through is replaced by a
// file, as a full or broken disk fails it. Storage unavailable is answered
// 503 + Retry-After to every tenant (never 400: the data is fine), /readyz
// turns not ready although ClickHouse still answers queries, and turns ready
// again by itself, without traffic, once inserts work again.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';

let c: TestConsentry;
let a: string;
let b: string;

beforeAll(async () => {
  c = await startTestConsentry();
  a = (await c.createTenant('ready-a', 'full')).ingestKey;
  b = (await c.createTenant('ready-b', 'full')).ingestKey;
});
afterAll(async () => c?.close());

const readyz = async (): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> => {
  const res = await fetch(`${c.apiUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
};
const postLog = (key: string, body: string) =>
  fetch(`${c.otlpUrl}/v1/logs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: '1700000000000000000', body: { stringValue: body } }] }] }] }),
  });
const probes = async (): Promise<number> => Number((await c.rows<{ n: string }>('SELECT count() AS n FROM consentry.insert_probe'))[0]!.n);

describe('/readyz while inserts fail', () => {
  it('turns not ready when inserts fail, and ready again by itself once they work', { timeout: 60_000 }, async () => {
    expect((await readyz()).status).toBe(200);
    const spool = c.clickhouse.spoolDir!;
    rmSync(spool, { recursive: true, force: true });
    writeFileSync(spool, 'not a directory');
    try {
      const answers = await Promise.all([postLog(a, 'during the outage'), postLog(b, 'during the outage')]);
      for (const res of answers) {
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('5');
      }
      const down = await readyz();
      expect(down.status).toBe(503);
      expect(down.body.checks['clickhouse']).toBe('ok'); // queries still work: reachability alone would say ready
      expect(down.body.checks['transport']).toMatch(/^inserts failing: .*ENOTDIR/);
      // Still not ready a while later, with no traffic: nothing has changed.
      await new Promise((r) => setTimeout(r, 1500));
      expect((await readyz()).status).toBe(503);
    } finally {
      rmSync(spool, { force: true });
      mkdirSync(spool, { recursive: true });
    }
    // No request is sent from here on: the probe alone finds inserts working again.
    const up = await eventually(async () => (await readyz()).status === 200, 15_000);
    expect(up).toBe(true);
    expect((await readyz()).body.checks['transport']).toBe('ok');
    // The probe stops once ready: no more probe rows.
    const n = await probes();
    expect(n).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await probes()).toBe(n);
    expect((await postLog(a, 'after the outage')).status).toBe(200);
  });
});
