// The embedded engine starts with the memory bounds of the settings (ClickHouse's
// own defaults are a server's: 90% of RAM, 5 GiB per cache), and /metrics shows
// the memory it tracks.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineBounds, engineTrackedMemory, openClickHouse, type ClickHouse } from '../../storage/clickhouse.ts';
import { loadSettings } from '../../core/settings.ts';
import { Metrics } from '../../core/metrics.ts';

const GiB = 1 << 30;
const MiB = 1 << 20;

describe('engineBounds', () => {
  it('by default leaves room for every tenant query at its limit plus 1 GiB', () => {
    const s = loadSettings({ CONSENTRY_QUERY_CONCURRENCY_TOTAL: '3', CONSENTRY_QUERY_MAX_MEMORY_BYTES: String(GiB) });
    expect(engineBounds(s)).toEqual({ maxMemoryBytes: 4 * GiB, cacheBytes: 256 * MiB });
  });

  it('takes CONSENTRY_ENGINE_MAX_MEMORY_BYTES as given', () => {
    const s = loadSettings({ CONSENTRY_QUERY_CONCURRENCY_TOTAL: '2', CONSENTRY_ENGINE_MAX_MEMORY_BYTES: String(3 * GiB), CONSENTRY_ENGINE_CACHE_BYTES: String(64 * MiB) });
    expect(engineBounds(s)).toEqual({ maxMemoryBytes: 3 * GiB, cacheBytes: 64 * MiB });
  });

  it('refuses a bound below what tenant queries may take at their limits, saying what to change', () => {
    expect(() => loadSettings({ CONSENTRY_QUERY_CONCURRENCY_TOTAL: '4', CONSENTRY_ENGINE_MAX_MEMORY_BYTES: String(2 * GiB) })).toThrow(
      /CONSENTRY_ENGINE_MAX_MEMORY_BYTES: must be at least CONSENTRY_QUERY_CONCURRENCY_TOTAL x CONSENTRY_QUERY_MAX_MEMORY_BYTES \(4294967296\)/,
    );
  });
});

describe('an embedded engine opened with bounds', () => {
  let dir: string;
  let ch: ClickHouse;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'consentry-engine-'));
    ch = openClickHouse({ url: '', dataDir: dir, engine: { maxMemoryBytes: 3 * GiB, cacheBytes: 64 * MiB } });
  });
  afterAll(async () => {
    await ch?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs with them as its server settings', async () => {
    const res = await ch.client.query({
      query: "SELECT name, toUInt64(value) AS v FROM system.server_settings WHERE name IN ('max_server_memory_usage', 'mark_cache_size', 'primary_index_cache_size', 'index_mark_cache_size') ORDER BY name",
      format: 'JSONEachRow',
    });
    const rows = Object.fromEntries((await res.json<{ name: string; v: string }>()).map((r) => [r.name, Number(r.v)]));
    expect(rows).toEqual({ index_mark_cache_size: 16 * MiB, mark_cache_size: 32 * MiB, max_server_memory_usage: 3 * GiB, primary_index_cache_size: 16 * MiB });
  });

  it('reports the memory it tracks through consentry_engine_memory_bytes', async () => {
    expect(await engineTrackedMemory(ch.client)).toBeGreaterThan(0);
    const metrics = new Metrics();
    expect(await metrics.registry.metrics()).not.toMatch(/^consentry_engine_memory_bytes /m);
    metrics.watchEngineMemory(() => engineTrackedMemory(ch.client));
    const line = /^consentry_engine_memory_bytes (\d+)$/m.exec(await metrics.registry.metrics());
    expect(Number(line?.[1])).toBeGreaterThan(0);
  });
});
