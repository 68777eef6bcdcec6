// Fault suite (issue 12, item 3): a bad record fails only itself. Tenant A
// sends a record with values storage cannot hold, in the same batch window as
// tenant B's good log and good span, through the public OTLP endpoint of a
// running Consentry (embedded chdb). B is answered 200 and stored every round;
// A's record is either rejected with partial success naming the field, or
// stored by the rule the README gives (OTLP answers). Then rows ClickHouse
// itself refuses: the batch is split so that only their request fails, with
// 400, never 5xx, and every other row is written once.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { cat, fixed64, hex, len } from '../helpers/protobuf.ts';
import { ClickHouseBatcher } from '../../sinks/clickhouse/batcher.ts';
import { isPermanentInsertError } from '../../sinks/clickhouse/insert.ts';
import type { JoinedRows } from '../../storage/tables.ts';

const ROUNDS = 5;
const U64_MAX = '18446744073709551615';
const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

let c: TestConsentry;
let a: string;
let b: string;

beforeAll(async () => {
  // A wide batch window: requests sent together share one insert per table.
  c = await startTestConsentry({ batchMaxDelayMs: 150 });
  a = (await c.createTenant('tenant-a', 'full')).ingestKey;
  b = (await c.createTenant('tenant-b', 'full')).ingestKey;
});
afterAll(async () => c?.close());

interface Answer {
  status: number;
  body: string;
}

async function post(key: string, path: string, body: string | Uint8Array, type = 'application/json'): Promise<Answer> {
  const res = await fetch(`${c.otlpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': type }, body });
  return { status: res.status, body: type === 'application/json' ? await res.text() : Buffer.from(await res.arrayBuffer()).toString('latin1') };
}

const logs = (...records: object[]) => JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: records }] }] });
const spans = (...records: object[]) => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: records }] }] });
const span = (name: string, fields: object = {}) => {
  const start = nowNs();
  return { traceId: randomUUID().replace(/-/g, ''), spanId: randomUUID().replace(/-/g, '').slice(0, 16), name, kind: 2, startTimeUnixNano: String(start), endTimeUnixNano: String(start + 1000n), ...fields };
};
const count = async (sql: string): Promise<number> => Number((await c.rows<{ n: string }>(sql))[0]!.n);

/** A's request and B's good log and span, at once; B's answers and rows are checked here. */
async function withB(send: () => Promise<Answer>): Promise<Answer> {
  const marker = `b-${randomUUID()}`;
  const [answerA, bLog, bSpan] = await Promise.all([
    send(),
    post(b, '/v1/logs', logs({ timeUnixNano: String(nowNs()), body: { stringValue: marker } })),
    post(b, '/v1/traces', spans(span(marker))),
  ]);
  expect(bLog, "B's log").toEqual({ status: 200, body: '{}' });
  expect(bSpan, "B's span").toEqual({ status: 200, body: '{}' });
  expect(await count(`SELECT count() AS n FROM consentry.otel_logs WHERE TenantId = 'tenant-b' AND Body = '${marker}'`)).toBe(1);
  expect(await count(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = 'tenant-b' AND SpanName = '${marker}'`)).toBe(1);
  return answerA;
}

/** The partial-success answer of a request whose only record was rejected. */
function rejected(answer: Answer, field: RegExp, signal: 'traces' | 'logs'): void {
  expect(answer.status).toBe(200);
  const partial = (JSON.parse(answer.body) as { partialSuccess: Record<string, string> }).partialSuccess;
  expect(partial[signal === 'traces' ? 'rejectedSpans' : 'rejectedLogRecords']).toBe('1');
  expect(partial['errorMessage']).toMatch(field);
  expect(partial['errorMessage']).toMatch(/is after 2106-02-07T06:28:15Z, the latest time Consentry stores/);
}

const logTime = async (marker: string): Promise<bigint> =>
  BigInt((await c.rows<{ ns: string }>(`SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ns FROM consentry.otel_logs WHERE TenantId = 'tenant-a' AND Body = '${marker}'`))[0]?.ns ?? '-1');
const spanRow = async (marker: string) =>
  (await c.rows<{ ns: string; d: string }>(`SELECT toString(toUnixTimestamp64Nano(Timestamp)) AS ns, toString(Duration) AS d FROM consentry.otel_traces WHERE TenantId = 'tenant-a' AND SpanName = '${marker}'`))[0];

describe('a record with values storage cannot hold, beside another tenant\'s good records', () => {
  const cases: Array<[string, (marker: string) => Promise<void>]> = [
    [
      'log without time or observed time: stored at the time of receipt',
      async (m) => {
        const before = nowNs();
        const answer = await withB(() => post(a, '/v1/logs', logs({ timeUnixNano: '0', body: { stringValue: m } })));
        expect(answer).toEqual({ status: 200, body: '{}' });
        const t = await logTime(m);
        expect(t >= before && t <= nowNs()).toBe(true);
      },
    ],
    [
      'log time 2^64-1: rejected, naming timeUnixNano',
      async (m) => rejected(await withB(() => post(a, '/v1/logs', logs({ timeUnixNano: U64_MAX, body: { stringValue: m } }))), /logRecords\[0\]: timeUnixNano 18446744073709551615/, 'logs'),
    ],
    [
      'log without time, observed time past DateTime64 (2262): rejected, naming observedTimeUnixNano',
      async (m) => rejected(await withB(() => post(a, '/v1/logs', logs({ observedTimeUnixNano: '9300000000000000000', body: { stringValue: m } }))), /logRecords\[0\]: observedTimeUnixNano 9300000000000000000/, 'logs'),
    ],
    [
      'log one nanosecond after the epoch: stored exactly',
      async (m) => {
        expect(await withB(() => post(a, '/v1/logs', logs({ timeUnixNano: '1', body: { stringValue: m } })))).toEqual({ status: 200, body: '{}' });
        expect(await logTime(m)).toBe(1n);
      },
    ],
    [
      'log body with an unpaired surrogate (JSON): stored with U+FFFD',
      async (m) => {
        const body = logs({ timeUnixNano: String(nowNs()), body: { stringValue: 'PLACEHOLDER' } }).replace('PLACEHOLDER', `${m}\\ud800`);
        expect(await withB(() => post(a, '/v1/logs', body))).toEqual({ status: 200, body: '{}' });
        expect(await count(`SELECT count() AS n FROM consentry.otel_logs WHERE TenantId = 'tenant-a' AND Body = '${m}\u{FFFD}'`)).toBe(1);
      },
    ],
    [
      'gateway metadata with 1e21 unexpected restarts: stored as the UInt32 maximum',
      async (m) => {
        const attrs = [
          { key: 'event.name', value: { stringValue: 'gateway.metadata' } },
          { key: 'gateway.unexpected_restarts', value: { stringValue: '1e21' } },
          { key: 'gateway.policy_config', value: { stringValue: m } },
        ];
        expect(await withB(() => post(a, '/v1/logs', logs({ timeUnixNano: String(nowNs()), body: { stringValue: 'metadata' }, attributes: attrs })))).toEqual({ status: 200, body: '{}' });
        expect(await c.rows(`SELECT UnexpectedRestarts FROM consentry.gateway_metadata WHERE TenantId = 'tenant-a' AND PolicyConfig = '${m}'`)).toEqual([{ UnexpectedRestarts: 4294967295 }]);
      },
    ],
    [
      'span starting at 2^64-1: rejected, naming startTimeUnixNano',
      async (m) => rejected(await withB(() => post(a, '/v1/traces', spans(span(m, { startTimeUnixNano: U64_MAX, endTimeUnixNano: U64_MAX })))), /spans\[0\]: startTimeUnixNano 18446744073709551615/, 'traces'),
    ],
    [
      'span starting in 2200 (within DateTime64, past DateTime): rejected',
      async (m) => rejected(await withB(() => post(a, '/v1/traces', spans(span(m, { startTimeUnixNano: '7258118400000000000', endTimeUnixNano: '7258118400000001000' })))), /spans\[0\]: startTimeUnixNano 7258118400000000000/, 'traces'),
    ],
    [
      'span event at 2^64-1: rejected, naming the event',
      async (m) => rejected(await withB(() => post(a, '/v1/traces', spans(span(m, { events: [{ timeUnixNano: U64_MAX, name: 'e' }] })))), /spans\[0\]: events\[0\]\.timeUnixNano 18446744073709551615/, 'traces'),
    ],
    [
      'span without start time, ending before receipt: stored at the time of receipt with Duration 0',
      async (m) => {
        const before = nowNs();
        expect(await withB(() => post(a, '/v1/traces', spans(span(m, { startTimeUnixNano: '0', endTimeUnixNano: '1000' }))))).toEqual({ status: 200, body: '{}' });
        const row = await spanRow(m);
        expect(BigInt(row!.ns) >= before && BigInt(row!.ns) <= nowNs()).toBe(true);
        expect(row!.d).toBe('0');
      },
    ],
    [
      'span from 1999 (before 2001-09-09, a 18-digit nanosecond count): stored exactly',
      async (m) => {
        expect(await withB(() => post(a, '/v1/traces', spans(span(m, { startTimeUnixNano: '946684799000000007', endTimeUnixNano: '946684799000000107' }))))).toEqual({ status: 200, body: '{}' });
        expect(await spanRow(m)).toEqual({ ns: '946684799000000007', d: '100' });
      },
    ],
    [
      'spans over 101 days in one request: all stored',
      async (m) => {
        const day = 86_400_000_000_000n;
        const base = 1_700_000_000_000_000_000n;
        const many = Array.from({ length: 101 }, (_, i) => span(m, { startTimeUnixNano: String(base + BigInt(i) * day), endTimeUnixNano: String(base + BigInt(i) * day + 5n) }));
        expect(await withB(() => post(a, '/v1/traces', spans(...many)))).toEqual({ status: 200, body: '{}' });
        expect(await count(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = 'tenant-a' AND SpanName = '${m}'`)).toBe(101);
      },
    ],
    [
      'protobuf span starting at 2^64-1: rejected, naming start_time_unix_nano',
      async (m) => {
        const protoSpan = cat(len(1, hex(randomUUID().replace(/-/g, ''))), len(2, hex('b7ad6b7169203331')), len(5, m), fixed64(7, 2n ** 64n - 1n), fixed64(8, 2n ** 64n - 1n));
        const answer = await withB(() => post(a, '/v1/traces', len(1, len(2, len(2, protoSpan))), 'application/x-protobuf'));
        expect(answer.status).toBe(200);
        // ExportTracePartialSuccess: rejected_spans 1 and the message, protobuf-encoded.
        expect(answer.body).toMatch(/resource_spans\[0\]\.scope_spans\[0\]\.spans\[0\]: start_time_unix_nano 18446744073709551615 is after 2106-02-07T06:28:15Z/);
      },
    ],
  ];

  it.each(cases)('%s (B unaffected, every round)', { timeout: 60_000 }, async (_name, run) => {
    for (let round = 0; round < ROUNDS; round++) await run(`a-${randomUUID()}`);
  });
});

describe('rows ClickHouse refuses', () => {
  it('through OTLP: only the request whose rows are refused fails, with 400; the others in its insert are stored once', { timeout: 60_000 }, async () => {
    // A CHECK constraint stands for any refusal ClickHouse decides on the data (VIOLATED_CONSTRAINT).
    await c.clickhouse.client.command({ query: "ALTER TABLE consentry.otel_logs ADD CONSTRAINT fault_suite_refuses CHECK Body != 'refused-by-clickhouse'" });
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const markers = Array.from({ length: 5 }, () => `b-${randomUUID()}`);
        const [bad, ...good] = await Promise.all([
          post(a, '/v1/logs', logs({ timeUnixNano: String(nowNs()), body: { stringValue: 'refused-by-clickhouse' } })),
          ...markers.map((m) => post(b, '/v1/logs', logs({ timeUnixNano: String(nowNs()), body: { stringValue: m } }))),
        ]);
        expect(good).toEqual(markers.map(() => ({ status: 200, body: '{}' })));
        expect(bad.status).toBe(400);
        expect(JSON.parse(bad.body)).toEqual({ code: 3, message: expect.stringMatching(/^storage refused the records: ClickHouse error 469: .*fault_suite_refuses.*not stored/) });
        for (const m of markers) expect(await count(`SELECT count() AS n FROM consentry.otel_logs WHERE TenantId = 'tenant-b' AND Body = '${m}'`)).toBe(1);
      }
      expect(await count("SELECT count() AS n FROM consentry.otel_logs WHERE Body = 'refused-by-clickhouse'")).toBe(0);
    } finally {
      await c.clickhouse.client.command({ query: 'ALTER TABLE consentry.otel_logs DROP CONSTRAINT fault_suite_refuses' });
    }
  });

  describe('the embedded batcher', () => {
    const logRows = (tenant: string, body: string, n: number): JoinedRows => {
      const line = (i: number) => `{"TenantId":"${tenant}","Tier":"full","ExpireAt":4102444800,"Timestamp":"1700000000.${String(i).padStart(9, '0')}","Body":"${body}"}`;
      return {
        otel_traces: { body: '', rows: 0 },
        otel_logs: { body: Array.from({ length: n }, (_, i) => line(i)).join('\n'), rows: n },
        request_summaries: { body: '', rows: 0 },
        gateway_metadata: { body: '', rows: 0 },
      };
    };

    it('splits a refused insert down to the refused requests; every other request is written once', async () => {
      const inserts: Array<{ rows: number; ok: boolean }> = [];
      // Its own batcher on the instance's chdb (one chdb per process), with tenants of its own.
      const batcher = new ClickHouseBatcher({ client: c.clickhouse.client, spoolDir: c.clickhouse.spoolDir, maxRows: 1_000_000, maxDelayMs: 100, onInsert: (_t, rows, _s, err) => inserts.push({ rows, ok: err === undefined }) });
      // Eight requests in one insert; the 3rd and 6th carry a row ClickHouse refuses (a time past DateTime64: DECIMAL_OVERFLOW).
      const requests = Array.from({ length: 8 }, (_, i) => {
        const rows = logRows(`req-${i}`, 'ok', 10 + i);
        if (i === 2 || i === 5) rows.otel_logs = { body: `${rows.otel_logs.body}\n{"TenantId":"req-${i}","Tier":"full","ExpireAt":4102444800,"Timestamp":"99999999999.000000000","Body":"bad"}`, rows: rows.otel_logs.rows + 1 };
        return rows;
      });
      const settled = await Promise.allSettled(requests.map((r) => batcher.write(r)));
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      for (const s of settled) if (s.status === 'rejected') expect(isPermanentInsertError(s.reason)).toBe(true);
      const stored = await c.rows<{ t: string; n: string }>("SELECT TenantId AS t, toString(count()) AS n FROM consentry.otel_logs WHERE TenantId LIKE 'req-%' GROUP BY t ORDER BY t");
      expect(stored).toEqual([0, 1, 3, 4, 6, 7].map((i) => ({ t: `req-${i}`, n: String(10 + i) })));
      // One insert of all, then halves down to the two refused requests: no request inserted alone unless refused.
      expect(inserts[0]).toEqual({ rows: 8 * 10 + 28 + 2, ok: false });
      expect(inserts.filter((i) => i.ok).reduce((n, i) => n + i.rows, 0)).toBe([0, 1, 3, 4, 6, 7].reduce((n, i) => n + 10 + i, 0));
      await batcher.drain();
    });
  });
});
