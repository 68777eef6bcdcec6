// Crash: 100k spans sent through the collector while the sink is killed with
// SIGKILL twice and restarted. Every insert carries a deduplication token of
// its offset range and the range is committed as a plan before it is
// inserted, so whatever the sink was doing when it died, the next one cuts the
// same range again: exactly 100k distinct spans stored, none twice.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { until, type Proc } from './processes.ts';
import { createTenant, post, spansBody, startDeployment, type Deployment } from './deployment.ts';

const TOTAL = 100_000;
const PER_REQUEST = 500;
const REQUESTS = TOTAL / PER_REQUEST;

let d: Deployment;
let collector: Proc & { otlpUrl: string; apiUrl: string };

beforeAll(async () => {
  d = await startDeployment({ prefix: 'crash.', env: { CONSENTRY_BATCH_MAX_ROWS: '5000', CONSENTRY_LOG_LEVEL: process.env['CRASH_LOG_LEVEL'] ?? 'info' } });
  collector = await d.collector();
}, 180_000);

afterAll(async () => {
  await d?.stop();
}, 120_000);

it('stores exactly 100k distinct spans while the sink is SIGKILLed twice', { timeout: 240_000 }, async () => {
  const tenant = 'crash';
  const key = await createTenant(collector.apiUrl, tenant, 'full');
  // Pre-encoded OTLP/JSON bodies: the sender spends nothing per span.
  const bodies = Array.from({ length: REQUESTS }, (_, i) => spansBody({ from: i * PER_REQUEST, count: PER_REQUEST, tag: 'crash' }));
  let sink = await d.sink();

  let acked = 0;
  let next = 0;
  let retries = 0;
  const send = async () => {
    while (next < REQUESTS) {
      const body = bodies[next++]!;
      for (;;) {
        const r = await post(`${collector.otlpUrl}/v1/traces`, key, body);
        if (r.status === 200) break;
        if (r.status !== 503 && r.status !== 429 && r.status !== 0) throw new Error(`answered ${r.status}`);
        retries++;
        await new Promise((res) => setTimeout(res, 100));
      }
      acked++;
    }
  };
  const started = Date.now();
  const senders = Promise.all(Array.from({ length: 4 }, send));

  // Kill the sink while data flows, twice; each time start a new one at once.
  await until('a third of the requests acknowledged', () => acked >= REQUESTS / 3, 120_000);
  await until('the sink wrote something', async () => Number((await d.rows<{ n: string }>(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'`))[0]?.n) > 0, 60_000);
  await sink.kill();
  sink = await d.sink();
  await until('two thirds acknowledged', () => acked >= (2 * REQUESTS) / 3, 120_000);
  // Let the new sink get going (it waits for the dead member's session to expire), then kill it mid-stream.
  const before = Number((await d.rows<{ n: string }>(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'`))[0]?.n);
  await until('the second sink wrote something', async () => Number((await d.rows<{ n: string }>(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'`))[0]?.n) > before, 60_000);
  await sink.kill();
  await d.sink();
  await senders;
  const sentMs = Date.now() - started;

  await until('every span stored', async () => Number((await d.rows<{ n: string }>(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}'`))[0]?.n) >= TOTAL, 120_000, 250);
  await until('the sink caught up', async () => {
    const o = await d.offsets();
    return o.committed === o.end;
  }, 60_000, 250);
  const [r] = await d.rows<{ n: string; u: string }>(`SELECT count() AS n, uniqExact(SpanId) AS u FROM consentry.otel_traces WHERE TenantId = '${tenant}'`);
   
  console.log(`crash test: ${TOTAL} spans sent in ${(sentMs / 1000).toFixed(1)} s (${retries} retried requests), stored ${r?.n}, distinct ${r?.u}`);
  expect(r).toEqual({ n: String(TOTAL), u: String(TOTAL) });
});
