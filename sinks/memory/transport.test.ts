// The in-process transport over the real ClickHouse sink and batcher, with a
// stand-in insert function and probe (the real ones against chdb:
// test/faults/readiness.test.ts, test/faults/bad-record.test.ts): a send
// resolves once its rows are inserted, the data's refusal is permanent and
// storage's failure retryable, readiness follows the inserts and comes back by
// itself through the probe, shutdown drains.
import { afterEach, describe, expect, it } from 'vitest';
import { emptyBatch, type BatchContext } from '../../core/record.ts';
import { TransportError } from '../../storage/transport.ts';
import type { Table, TableRows } from '../../storage/tables.ts';
import { testBatch, testSpan } from '../../processors/testing/records.ts';
import { ClickHouseBatcher } from '../clickhouse/batcher.ts';
import { encodeRows } from '../clickhouse/encode.ts';
import { ClickHouseSink } from '../clickhouse/sink.ts';
import { InProcessTransport } from './transport.ts';

const ctx: BatchContext = { tenantId: 'acme', tier: 'full', tierVersion: 1, receivedAtMs: 1_700_000_000_000 };
const clickhouseError = (code: string, message: string): Error => Object.assign(new Error(message), { code });
const spans = (...names: string[]) => testBatch({ spans: names.map((name) => testSpan({}, { name })) });
/**
 * Which of `names` the inserted otel_traces rows hold, and how many rows: each
 * request's spans are one Native block (native.ts), whose SpanName dictionary
 * holds each name as a length-prefixed string.
 */
const spanNames = (inserted: TableRows[], names: string[]) => ({
  rows: inserted.reduce((n, p) => n + p.rows, 0),
  names: names.filter((name) => inserted.some((p) => p.body.includes(`${String.fromCharCode(name.length)}${name}`))),
});

/** A transport over a real sink and batcher whose inserts go to `insert`; `probe` stands in for the probe insert. */
function setUp(opts: { insert?: (table: Table, parts: readonly TableRows[]) => Promise<void>; probe?: () => Promise<void>; maxRows?: number; maxDelayMs?: number; isCurrent?: boolean } = {}) {
  const inserted: TableRows[] = [];
  let probes = 0;
  const batcher = new ClickHouseBatcher({
    insert: async (table, parts) => {
      await opts.insert?.(table, parts);
      inserted.push(...parts);
    },
    maxRows: opts.maxRows ?? 1,
    maxDelayMs: opts.maxDelayMs ?? 5,
  });
  const sink = new ClickHouseSink({ batcher, downgrade: (batch, c) => ({ batch, ctx: c }), isCurrent: () => opts.isCurrent ?? true });
  const transport = new InProcessTransport({
    sink,
    probe: async () => {
      probes++;
      await opts.probe?.();
    },
    probeIntervalMs: 10,
  });
  transports.push(transport);
  return { transport, inserted, probes: () => probes };
}

const transports: InProcessTransport[] = [];
afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.shutdown()));
});

describe('lifecycle', () => {
  it('shutdown without start: resolves, not ready, and sends are refused as retryable', async () => {
    const { transport, inserted } = setUp();
    await transport.shutdown();
    expect([transport.ready(), transport.status()]).toEqual([false, 'stopped']);
    const err = await transport.send(spans('late'), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ retryable: true, message: 'shutting down' });
    expect(inserted).toEqual([]);
  });

  it('start, send, shutdown: the send resolves once its rows are inserted', async () => {
    const { transport, inserted } = setUp();
    await transport.start();
    expect([transport.name, transport.ready(), transport.status()]).toEqual(['in-process', true, 'ok']);
    await transport.send(spans('one', 'two'), ctx);
    expect(spanNames(inserted, ['one', 'two', 'late'])).toEqual({ rows: 2, names: ['one', 'two'] });
    await transport.shutdown();
    expect(transport.ready()).toBe(false);
  });

  it('shutdown inserts what waits for its batch delay before it resolves; a second shutdown does nothing more', async () => {
    const { transport, inserted } = setUp({ maxRows: 1000, maxDelayMs: 60_000, insert: () => new Promise((r) => setTimeout(r, 20)) });
    await transport.start();
    let acked = false;
    const send = transport.send(spans('pending'), ctx).then(() => (acked = true));
    await new Promise((r) => setTimeout(r, 20));
    expect([acked, inserted.length]).toEqual([false, 0]);
    await transport.shutdown();
    expect(inserted).toHaveLength(1);
    await send;
    await transport.shutdown();
    expect(inserted).toHaveLength(1);
  });
});

describe('outcomes', () => {
  it('rows ClickHouse refuses: refused as invalid with the reason, and the transport stays ready', async () => {
    const { transport } = setUp({ insert: () => Promise.reject(clickhouseError('117', 'Cannot parse input: expected \'"\' (in file/uri /data/spool/x.data): While executing File')) });
    const err = await transport.send(spans('bad'), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ retryable: false, refused: 'invalid', message: 'storage refused the records: ClickHouse error 117: Cannot parse input: expected \'"\'' });
    expect(transport.ready()).toBe(true);
  });

  it('storage failing: retryable with a delay, not ready, and ready again by itself once the probe succeeds', async () => {
    let probeWorks = false;
    const { transport, probes } = setUp({
      insert: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8123')),
      probe: () => (probeWorks ? Promise.resolve() : Promise.reject(new Error('still down'))),
    });
    const err = await transport.send(spans('a'), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ retryable: true, retryAfterSeconds: 5, message: 'ClickHouse insert failed: connect ECONNREFUSED 127.0.0.1:8123' });
    expect([transport.ready(), transport.status()]).toEqual([false, 'inserts failing: connect ECONNREFUSED 127.0.0.1:8123']);
    // The probe runs without traffic; its own error becomes the reason.
    await expect.poll(() => transport.status()).toBe('inserts failing: still down');
    expect(transport.ready()).toBe(false);
    probeWorks = true;
    await expect.poll(() => transport.ready()).toBe(true);
    const after = probes();
    await new Promise((r) => setTimeout(r, 50));
    expect(probes(), 'no probe once healthy').toBe(after);
  });

  it('a successful insert makes it ready again without the probe', async () => {
    let failing = true;
    const { transport } = setUp({
      insert: () => (failing ? Promise.reject(new Error('disk full')) : Promise.resolve()),
      probe: () => new Promise<void>(() => undefined), // never answers
    });
    await expect(transport.send(spans('a'), ctx)).rejects.toMatchObject({ retryable: true });
    expect(transport.ready()).toBe(false);
    failing = false;
    await transport.send(spans('b'), ctx);
    expect([transport.ready(), transport.status()]).toEqual([true, 'ok']);
  });

  it('runs one probe at a time, and none after shutdown', async () => {
    let release: () => void = () => undefined;
    const { transport, probes } = setUp({
      insert: () => Promise.reject(new Error('down')),
      probe: () => new Promise<void>((r) => (release = r)),
    });
    await expect(transport.send(spans('a'), ctx)).rejects.toBeInstanceOf(TransportError);
    await expect.poll(() => probes()).toBe(1);
    await new Promise((r) => setTimeout(r, 60)); // several intervals
    expect(probes()).toBe(1);
    await transport.shutdown();
    release();
    await new Promise((r) => setTimeout(r, 60));
    expect(probes()).toBe(1);
  });

  it('an insert failing during shutdown starts no probe', async () => {
    const { transport, probes } = setUp({ maxRows: 1000, maxDelayMs: 60_000, insert: () => new Promise((_r, reject) => setTimeout(() => reject(new Error('down')), 20)) });
    const send = transport.send(spans('a'), ctx).catch((e: unknown) => e);
    await transport.shutdown();
    expect(await send).toMatchObject({ retryable: true, message: 'ClickHouse insert failed: down' });
    await new Promise((r) => setTimeout(r, 60)); // several probe intervals
    expect(probes()).toBe(0);
  });
});

describe('rows encoded by an ingest worker (sendRows)', () => {
  it('writes them when the batch is still current', async () => {
    const { transport, inserted } = setUp({ isCurrent: true });
    await expect(transport.sendRows(encodeRows(spans('encoded'), ctx), ctx, [])).resolves.toBe(true);
    expect(spanNames(inserted, ['encoded', 'stale'])).toEqual({ rows: 1, names: ['encoded'] });
  });

  it('writes nothing and answers false when the tenant changed since (the records are then sent)', async () => {
    const { transport, inserted } = setUp({ isCurrent: false });
    await expect(transport.sendRows(encodeRows(spans('stale'), ctx), ctx, [])).resolves.toBe(false);
    await transport.send(emptyBatch(), ctx);
    expect(inserted).toEqual([]);
  });
});
