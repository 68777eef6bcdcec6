// Fault suite (issue 12, item 4): connections and endpoints of a running
// Consentry (embedded chdb), from a raw socket as an attacker would use them.
// Headers, bodies and idle keep-alive connections are bounded in time on both
// ports; a request answered before its body is read (401, 413, 415) is closed
// instead of read to its end; /metrics takes a token and its 401 names no
// tenant; the metrics never count a `minimal` tenant's requests per tenant.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { RawConnection } from './raw-http.ts';

const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 1000;
const IDLE_TIMEOUT_MS = 1500;
/** Generous: each timeout above, plus Node's check period and a loaded machine. */
const CLOSES_WITHIN_MS = 6000;
const METRICS_TOKEN = 'fault-suite-metrics-token';

let c: TestConsentry;
let key: string;
const open: RawConnection[] = [];

beforeAll(async () => {
  // Inserts wait for a batch window longer than the request timeout: a slow answer must not count.
  c = await startTestConsentry({ httpHeadersTimeoutMs: HEADERS_TIMEOUT_MS, httpRequestTimeoutMs: REQUEST_TIMEOUT_MS, httpIdleTimeoutMs: IDLE_TIMEOUT_MS, metricsToken: METRICS_TOKEN, batchMaxDelayMs: 1500 });
  key = (await c.createTenant('conn-full', 'full')).ingestKey;
});
afterEach(() => {
  for (const conn of open.splice(0)) conn.destroy();
});
afterAll(async () => c?.close());

async function connection(port: 'otlp' | 'api'): Promise<RawConnection> {
  const conn = await RawConnection.open(port === 'otlp' ? c.otlpUrl : c.apiUrl);
  open.push(conn);
  return conn;
}

describe('a request answered before its body is read is closed, its body not read', () => {
  const BIG = 100 * 1024 * 1024;
  it.each([
    ['OTLP, no ingest key', 401, 'otlp', `POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${BIG}\r\n\r\n`],
    ['OTLP, unknown ingest key', 401, 'otlp', `POST /v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer csk_ingest_nope\r\nContent-Type: application/json\r\nContent-Length: ${BIG}\r\n\r\n`],
    ['OTLP, unknown content type', 415, 'otlp', `POST /v1/traces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nContent-Type: text/plain\r\nContent-Length: ${BIG}\r\n\r\n`],
    ['OTLP, announced body over the limit', 413, 'otlp', `POST /v1/traces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer KEY\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${BIG}\r\n\r\n`],
    // One chunk of 16 MiB announced (hex 1000000), then its bytes trickle in.
    ['OTLP, chunked body without a key', 401, 'otlp', 'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1000000\r\n'],
    ['management API, no admin token', 401, 'api', `POST /api/tenants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BIG}\r\n\r\n`],
    ['management API, /api/query with a wrong query key', 401, 'api', `POST /api/query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer csk_query_nope\r\nContent-Type: application/json\r\nContent-Length: 500000\r\n\r\n`],
    ['management API, /metrics without a token', 401, 'api', `GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${BIG}\r\n\r\n`],
    // Under the body limits (larger ones are refused as 413 up front): here the 404 answers before the body.
    ['OTLP, unknown endpoint', 404, 'otlp', 'POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500000\r\n\r\n'],
    ['management API, unknown endpoint', 404, 'api', 'POST /api/nothing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500000\r\n\r\n'],
  ] as const)('%s: answered %i, then closed while the client still sends', async (_name, status, port, head) => {
    const conn = await connection(port);
    conn.write(head.replace('KEY', key));
    // A first chunk at once, then a trickle for as long as the connection stays open.
    conn.write(Buffer.alloc(64 * 1024, 0x78));
    conn.trickleBody(1024, 50);
    expect(await conn.answer()).toMatch(new RegExp(`^HTTP/1\\.1 ${status} [\\s\\S]*\\r\\nconnection: close\\r\\n`, 'i'));
    expect(await conn.closesWithin(CLOSES_WITHIN_MS)).toBe(true);
  });
});

describe('timeouts on both ports', () => {
  it.each(['otlp', 'api'] as const)('%s: headers sent slowly: 408 and closed after the headers timeout', async (port) => {
    const conn = await connection(port);
    conn.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    // One header byte every 100 ms: never done.
    const slow = setInterval(() => conn.write('a'), 100);
    try {
      expect(await conn.closesWithin(CLOSES_WITHIN_MS)).toBe(true);
    } finally {
      clearInterval(slow);
    }
    expect(conn.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it.each(['otlp', 'api'] as const)('%s: an authorized body sent slowly: 408 and closed after the request timeout', async (port) => {
    const conn = await connection(port);
    const head =
      port === 'otlp'
        ? `POST /v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`
        : `POST /api/tenants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${c.adminToken}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;
    conn.write(head);
    conn.trickleBody(10, 100);
    expect(await conn.closesWithin(CLOSES_WITHIN_MS)).toBe(true);
    expect(conn.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it.each(['otlp', 'api'] as const)('%s: an idle keep-alive connection is closed after the idle timeout', async (port) => {
    const conn = await connection(port);
    conn.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await conn.answer()).toMatch(port === 'api' ? /^HTTP\/1\.1 200 [\s\S]*keep-alive/i : /^HTTP\/1\.1 404 [\s\S]*keep-alive/i);
    expect(await conn.closesWithin(CLOSES_WITHIN_MS)).toBe(true);
  });

  it('a slow answer is not cut: waiting for the insert does not count as receiving the request', async () => {
    // The body arrives at once; the answer waits for the batch window, longer than the request timeout.
    const res = await fetch(`${c.otlpUrl}/v1/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: '1700000000000000000', body: { stringValue: 'slow answer' } }] }] }] }),
    });
    expect(res.status).toBe(200);
  });
});

describe('/metrics', () => {
  const get = (token?: string, path = '/metrics') => fetch(`${c.apiUrl}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  it('needs the admin token or the metrics token; the 401 names no tenant', async () => {
    // A query labels the tenant query series with the tenant's id.
    const { queryKey } = await c.createTenant('metrics-visible', 'full');
    expect((await c.api('POST', '/api/query', { sql: 'SELECT 1 AS one' }, queryKey)).status).toBe(200);
    for (const token of [undefined, 'wrong', key]) {
      const res = await get(token);
      expect(res.status).toBe(401);
      const body = await res.text();
      expect(body).not.toContain('metrics-visible');
      expect(body).not.toContain('consentry_');
    }
    for (const token of [c.adminToken, METRICS_TOKEN]) {
      const res = await get(token);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('consentry_tenant_queries_total{tenant="metrics-visible",outcome="ok"} 1');
    }
    // The metrics token reads metrics only.
    expect((await get(METRICS_TOKEN, '/api/tenants')).status).toBe(401);
  });

  it("never counts a minimal tenant's requests per tenant", async () => {
    const quiet = (await c.createTenant('quiet-minimal', 'minimal')).ingestKey;
    const post = (path: string, body: object) =>
      fetch(`${c.otlpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${quiet}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'GET /x', kind: 2, startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000100000000' };
    expect((await post('/v1/traces', { resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] })).status).toBe(200);
    expect((await post('/v1/logs', { resourceLogs: [{ scopeLogs: [{ logRecords: [{ timeUnixNano: '1700000000000000000', severityNumber: 17, body: { stringValue: 'upstream failed' } }] }] }] })).status).toBe(200);
    const text = await (await get(c.adminToken)).text();
    expect(text).toMatch(/consentry_otlp_requests_total\{signal="logs",code="200"\} \d+/);
    expect(text).not.toContain('quiet-minimal');
  });
});
