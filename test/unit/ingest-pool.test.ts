// Ingest on worker threads must give what ingest on the main thread gives:
// the same records (shared Resource objects still shared), the same decode
// errors, the same counts in the metrics; and a worker that dies must fail
// only its own requests, retryably, and be replaced.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings, type Settings } from '../../core/settings.ts';
import { buildTierEngine } from '../../app/pipeline.ts';
import type { EngineHooks } from '../../processors/tiers/engine.ts';
import { createLogger } from '../../core/logger.ts';
import { IngestPool } from '../../collector/otlp/ingest-pool.ts';
import { ingest, IngestUnavailable, type IngestJob, type IngestStages } from '../../collector/otlp/ingest.ts';
import { encodeRows } from '../../sinks/clickhouse/encode.ts';
import { OtlpDecodeError } from '../../collector/otlp/errors.ts';
import { buildPool } from '../../bench/otlp-batches.ts';
import { startTestConsentry } from '../helpers/consentry.ts';

/** The app's worker entry, as the collector starts it from TypeScript sources. */
const WORKER = new URL('../../app/ingest-worker.mjs', import.meta.url);

/** Everything the engine's hooks were told, in order. */
function recorder(): { hooks: EngineHooks; seen: unknown[][] } {
  const seen: unknown[][] = [];
  return {
    seen,
    hooks: {
      count: (name, n) => seen.push(['count', name, n]),
      onRedact: (kind, n) => seen.push(['redact', kind, n]),
      onDrop: (signal, tier, n) => seen.push(['drop', signal, tier, n]),
    },
  };
}

const sorted = (calls: unknown[][]): string[] => calls.map((c) => JSON.stringify(c)).sort();

const TRAFFIC = buildPool({ tenantId: 't', seed: 3, bodies: true, spansPerBatch: 50, batches: 1, markerTemplates: 1, baseTimeMs: 1_763_892_000_000, requestsPerSecond: 100, secretRate: 0.2 });
const job = (tier: string, body: Uint8Array = TRAFFIC.batches[0]!, tenantId = 't'): IngestJob => ({
  signal: 'traces',
  format: 'proto',
  body,
  ctx: { tenantId, tier, tierVersion: 1, receivedAtMs: 1_763_892_030_000 },
  encode: 'records',
});

let dataDir: string;
let settings: Settings;
let inline: { stages: IngestStages; seen: unknown[][] };
const logger = createLogger({ level: 'silent', scrub: (s) => s });

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'consentry-pool-'));
  settings = loadSettings({}, { dataDir });
  const r = recorder();
  inline = { stages: { engine: buildTierEngine(settings, r.hooks), encodeRows }, seen: r.seen };
});
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('an ingest pool of two workers', () => {
  let pool: IngestPool;
  const r = recorder();
  beforeAll(async () => {
    pool = await IngestPool.start({ size: 2, settings, stages: inline.stages, hooks: r.hooks, logger, entry: WORKER });
  });
  afterAll(async () => pool?.close());

  it.each(['full', 'summary', 'minimal', 'lunos'])('returns what the main thread computes for tier %s, and counts the same', async (tier) => {
    inline.seen.length = 0;
    r.seen.length = 0;
    const expected = ingest(inline.stages, job(tier));
    const got = await pool.ingest(job(tier));
    expect(got).toEqual(expected);
    // Replayed by kind on the main thread: the same counts, not the same order.
    expect(sorted(r.seen)).toEqual(sorted(inline.seen));
    if (tier === 'full') {
      expect(got.batch!.spans.length).toBe(50);
      // One ResourceSpans: one Resource object, as decoded (the row encoder serialises it once).
      expect(new Set(got.batch!.spans.map((s) => s.resource)).size).toBe(1);
      expect(r.seen.some(([what]) => what === 'redact')).toBe(true);
    }
  });

  it.each(['full', 'summary'])('encodes rows for tier %s exactly as the main thread does', async (tier) => {
    const rows = { ...job(tier), encode: 'rows' as const };
    const expected = ingest(inline.stages, rows);
    expect(expected.batch).toBeUndefined();
    expect(Object.values(expected.rows!).reduce((n, t) => n + t.rows, 0)).toBeGreaterThan(0);
    expect(await pool.ingest(rows)).toEqual(expected);
  });

  it('rejects a malformed body with the decoder error the main thread gives', async () => {
    const bad = new Uint8Array([0x0a, 0x05, 0x12, 0x03, 0xff]);
    const expected = (() => {
      try {
        ingest(inline.stages, job('full', bad));
      } catch (err) {
        return err;
      }
      throw new Error('expected a decode error');
    })();
    expect(expected).toBeInstanceOf(OtlpDecodeError);
    await expect(pool.ingest(job('full', bad))).rejects.toEqual(expected);
  });

  it('leaves the caller its buffer (a copy is sent) and runs requests side by side', async () => {
    const body = Buffer.from(TRAFFIC.batches[0]!);
    const results = await Promise.all(Array.from({ length: 6 }, () => pool.ingest(job('full', body))));
    expect(results.map((x) => x.accepted)).toEqual([50, 50, 50, 50, 50, 50]);
    expect(body.equals(TRAFFIC.batches[0]!)).toBe(true);
  });
});

describe('a worker that dies', () => {
  it('fails its request with IngestUnavailable, the main thread fills in, and a new worker takes over', async () => {
    const pool = await IngestPool.start({
      size: 1,
      settings,
      stages: inline.stages,
      hooks: recorder().hooks,
      logger,
      entry: new URL('./fixtures/crashing-ingest-worker.mjs', import.meta.url),
    });
    try {
      await expect(pool.ingest(job('full', undefined, 'crash'))).rejects.toBeInstanceOf(IngestUnavailable);
      // No worker alive: the main thread ingests.
      expect((await pool.ingest(job('full'))).accepted).toBe(50);
      // A replacement starts after about a second: "crash" is then a worker's request again (on the main thread it is not).
      let outcome = 'served on the main thread';
      for (const deadline = Date.now() + 15_000; outcome !== 'worker died' && Date.now() < deadline; ) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        outcome = await pool.ingest(job('full', undefined, 'crash')).then(
          () => 'served on the main thread',
          (err: unknown) => (err instanceof IngestUnavailable ? 'worker died' : String(err)),
        );
      }
      expect(outcome).toBe('worker died');
    } finally {
      await pool.close();
    }
  });

  it('at start-up fails the start with a message that says how to do without workers', async () => {
    await expect(
      IngestPool.start({ size: 1, settings, stages: inline.stages, hooks: recorder().hooks, logger, entry: new URL('./fixtures/no-such-worker.mjs', import.meta.url) }),
    ).rejects.toThrow(/ingest worker failed to start: .*CONSENTRY_INGEST_WORKERS=0/);
  });
});

describe('CONSENTRY_INGEST_WORKERS', () => {
  it('reads auto as one per CPU (at most 4), 0 as none, and refuses anything else', () => {
    expect(loadSettings({}, {}).ingestWorkers).toBeGreaterThanOrEqual(1);
    expect(loadSettings({}, {}).ingestWorkers).toBeLessThanOrEqual(4);
    expect(loadSettings({ CONSENTRY_INGEST_WORKERS: '0' }).ingestWorkers).toBe(0);
    expect(loadSettings({ CONSENTRY_INGEST_WORKERS: '3' }).ingestWorkers).toBe(3);
    expect(() => loadSettings({ CONSENTRY_INGEST_WORKERS: 'many' })).toThrow(/CONSENTRY_INGEST_WORKERS: must be a non-negative integer/);
  });

  it('at 0, the collector decodes and stores on its main thread', async () => {
    const c = await startTestConsentry({ ingestWorkers: 0 });
    try {
      const { ingestKey } = await c.createTenant('inline', 'full');
      const res = await fetch(`${c.otlpUrl}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/x-protobuf' }, body: TRAFFIC.batches[0]! });
      expect(res.status).toBe(200);
      expect(await c.rows("SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = 'inline'")).toEqual([{ n: 50 }]);
    } finally {
      await c.close();
    }
  });
});
