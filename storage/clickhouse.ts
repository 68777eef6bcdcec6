// One @clickhouse/client code path for both targets: a ClickHouse server over
// HTTP, or embedded chdb through its Connection adapter.
//
// chdb turns `clickhouse_settings` into session-level SET statements that stay
// for every later query (DESIGN.md, Engines), so nothing in Consentry passes
// settings that way: they belong to the statement (`INSERT ... SETTINGS ...`).
import { createRequire } from 'node:module';
import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Session as ChdbSession } from 'chdb';
import type { Settings } from '../core/settings.ts';

export const DATABASE = 'consentry';

export interface ClickHouseOptions {
  /** ClickHouse HTTP URL; empty selects embedded chdb. */
  url: string;
  /** Data directory; embedded chdb keeps its files in `<dataDir>/clickhouse`. */
  dataDir: string;
  /** Embedded chdb only: bounds of the engine's memory (a server has its own configuration). */
  engine?: EngineBounds;
}

/** Memory bounds of an embedded engine, bytes (CONSENTRY_ENGINE_MAX_MEMORY_BYTES, _CACHE_BYTES). */
export interface EngineBounds {
  /** Most memory ClickHouse tracks for the whole engine: queries, inserts, merges, caches. */
  maxMemoryBytes: number;
  /** Its caches together: marks (half), primary indexes and skip-index marks (a quarter each). */
  cacheBytes: number;
}

/** Room the engine keeps beside tenant queries at their limit: inserts, merges and caches. */
const INGEST_ROOM_BYTES = 1 << 30;

/**
 * The bounds the settings give: CONSENTRY_ENGINE_MAX_MEMORY_BYTES, or when 0
 * every tenant query at its memory limit plus room for ingest, so that tenant
 * queries within their limits never make the engine refuse an insert.
 */
export function engineBounds(s: Pick<Settings, 'engineMaxMemoryBytes' | 'engineCacheBytes' | 'queryConcurrencyTotal' | 'queryMaxMemoryBytes'>): EngineBounds {
  const maxMemoryBytes = s.engineMaxMemoryBytes > 0 ? s.engineMaxMemoryBytes : s.queryConcurrencyTotal * s.queryMaxMemoryBytes + INGEST_ROOM_BYTES;
  return { maxMemoryBytes, cacheBytes: s.engineCacheBytes };
}

/**
 * The engine's server settings as chdb's start arguments. They take effect
 * only when the first connection to a data directory starts the engine, and
 * ClickHouse's defaults are sized for a server of its own: 90% of RAM, and
 * 5 GiB for each of the three caches, which grow with every part read.
 */
export function engineArgs(bounds: EngineBounds): string[] {
  const quarter = Math.floor(bounds.cacheBytes / 4);
  return [
    `--max_server_memory_usage=${bounds.maxMemoryBytes}`,
    `--mark_cache_size=${bounds.cacheBytes - 2 * quarter}`,
    `--primary_index_cache_size=${quarter}`,
    `--index_mark_cache_size=${quarter}`,
  ];
}

export interface ClickHouse {
  client: ClickHouseClient;
  /** `embedded` (chdb in this process) or `server` (HTTP). */
  kind: 'embedded' | 'server';
  /** Embedded only: where inserts leave their rows for `INSERT ... FROM INFILE` (insert.ts). */
  spoolDir?: string;
  close(): Promise<void>;
}

export function openClickHouse(opts: ClickHouseOptions): ClickHouse {
  if (opts.url !== '') {
    // clickhouse-js would print every failed request (each retry during an
    // outage) to stdout; callers log failures themselves, once, through pino.
    const client = createClient({ url: opts.url, request_timeout: 60_000, compression: { request: false, response: true }, log: { level: ClickHouseLogLevel.OFF } });
    return { client, kind: 'server', close: () => client.close() };
  }
  const path = resolve(opts.dataDir, 'clickhouse');
  mkdirSync(path, { recursive: true });
  // chdb is large and only needed in embedded mode: load it on first use.
  const require = createRequire(import.meta.url);
  let connectionModule: { createChdbConnection(o: { path: string }): unknown };
  let Session: typeof ChdbSession;
  try {
    connectionModule = require('chdb/connection') as typeof connectionModule;
    ({ Session } = require('chdb') as { Session: typeof ChdbSession });
  } catch (err) {
    throw new Error(
      `embedded ClickHouse (chdb) could not be loaded: ${(err as Error).message}. ` +
        'Run `npm install` (chdb is an optional dependency), or set CONSENTRY_CLICKHOUSE_URL to use a ClickHouse server.',
      { cause: err },
    );
  }
  // The connection adapter cannot pass start arguments: a session that can
  // starts the engine with the bounds, and is held while the client lives.
  const starter = opts.engine === undefined ? undefined : new Session(path, { connectionArgs: engineArgs(opts.engine) });
  const connection = connectionModule.createChdbConnection({ path: join(path) });
  const client = createClient({ connection } as unknown as Parameters<typeof createClient>[0]);
  // Files left by a crash belong to inserts that were never acknowledged.
  const spoolDir = resolve(opts.dataDir, 'insert-spool');
  rmSync(spoolDir, { recursive: true, force: true });
  mkdirSync(spoolDir, { recursive: true });
  return {
    client,
    kind: 'embedded',
    spoolDir,
    close: async () => {
      await client.close();
      starter?.close();
    },
  };
}

/** The bytes ClickHouse tracks as used by the engine (system.metrics MemoryTracking). */
export async function engineTrackedMemory(client: ClickHouseClient): Promise<number> {
  const rs = await client.query({ query: "SELECT value FROM system.metrics WHERE metric = 'MemoryTracking'", format: 'JSONEachRow' });
  const rows = await rs.json<{ value: number | string }>();
  return Number(rows[0]?.value ?? NaN);
}

/** Single-quoted SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
