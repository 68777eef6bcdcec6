// How the receiver hands a request's result to a transport that stores rows
// itself (the embedded one): encoded rows when nothing changed for the tenant
// since the request was processed, the records (which get the downgrade and
// erasure checks) when the transport says the rows are stale. The transport
// here is a test double recording what it is given; the real one is covered
// end to end (test/tiers, test/analytics).
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { receiverApp } from '../helpers/receiver.ts';
import type { BatchContext, RecordBatch } from '../../core/record.ts';
import type { JoinedRows } from '../../storage/tables.ts';
import { TRACE_COLUMNS } from '../../sinks/clickhouse/native.ts';
import { TransportError, type Transport } from '../../storage/transport.ts';
import { buildPool } from '../../bench/otlp-batches.ts';

const BODY = buildPool({ tenantId: 't', seed: 5, bodies: true, spansPerBatch: 20, batches: 1, markerTemplates: 1, baseTimeMs: 1_763_892_000_000, requestsPerSecond: 100 }).batches[0]!;

class RecordingTransport implements Transport {
  readonly name = 'recording';
  readonly rows: Array<{ rows: JoinedRows; ctx: BatchContext }> = [];
  readonly batches: Array<{ batch: RecordBatch; ctx: BatchContext }> = [];
  constructor(private readonly rowsAnswer: () => Promise<boolean>) {}
  async start(): Promise<void> {}
  async send(batch: RecordBatch, ctx: BatchContext): Promise<void> {
    this.batches.push({ batch, ctx });
  }
  async sendRows(rows: JoinedRows, ctx: BatchContext): Promise<boolean> {
    this.rows.push({ rows, ctx });
    return this.rowsAnswer();
  }
  ready(): boolean {
    return true;
  }
  async shutdown(): Promise<void> {}
}

let app: FastifyInstance | undefined;
afterEach(async () => app?.close());

async function post(transport: Transport): Promise<number> {
  app = await receiverApp(transport, 3);
  const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: { authorization: 'Bearer k', 'content-type': 'application/x-protobuf' }, payload: BODY });
  return res.statusCode;
}

describe('a transport that stores rows', () => {
  it('gets the encoded rows, and nothing else, when they are current', async () => {
    const t = new RecordingTransport(async () => true);
    expect(await post(t)).toBe(200);
    expect(t.rows).toHaveLength(1);
    const spans = t.rows[0]!.rows.otel_traces;
    expect(spans.rows).toBe(20);
    // One Native block (sinks/clickhouse/native.ts), whose first byte is the column count.
    expect(spans.body.charCodeAt(0)).toBe(TRACE_COLUMNS.length);
    expect(t.rows[0]!.ctx).toMatchObject({ tenantId: 't', tier: 'full', tierVersion: 3 });
    expect(t.batches).toHaveLength(0);
  });

  it('gets the records, under the same context, when it says the rows are stale', async () => {
    const t = new RecordingTransport(async () => false);
    expect(await post(t)).toBe(200);
    expect(t.rows).toHaveLength(1);
    expect(t.batches).toHaveLength(1);
    expect(t.batches[0]!.batch.spans).toHaveLength(20);
    expect(t.batches[0]!.ctx).toEqual(t.rows[0]!.ctx);
  });

  it('answers 503 when storing the rows fails retryably', async () => {
    const t = new RecordingTransport(async () => {
      throw TransportError.retryable('ClickHouse insert failed: down');
    });
    expect(await post(t)).toBe(503);
    expect(t.batches).toHaveLength(0);
  });
});
