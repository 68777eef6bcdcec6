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

export const DATABASE = 'consentry';

export interface ClickHouseOptions {
  /** ClickHouse HTTP URL; empty selects embedded chdb. */
  url: string;
  /** Data directory; embedded chdb keeps its files in `<dataDir>/clickhouse`. */
  dataDir: string;
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
  try {
    connectionModule = require('chdb/connection') as typeof connectionModule;
  } catch (err) {
    throw new Error(
      `embedded ClickHouse (chdb) could not be loaded: ${(err as Error).message}. ` +
        'Run `npm install` (chdb is an optional dependency), or set CONSENTRY_CLICKHOUSE_URL to use a ClickHouse server.',
      { cause: err },
    );
  }
  const connection = connectionModule.createChdbConnection({ path: join(path) });
  const client = createClient({ connection } as unknown as Parameters<typeof createClient>[0]);
  // Files left by a crash belong to inserts that were never acknowledged.
  const spoolDir = resolve(opts.dataDir, 'insert-spool');
  rmSync(spoolDir, { recursive: true, force: true });
  mkdirSync(spoolDir, { recursive: true });
  return { client, kind: 'embedded', spoolDir, close: () => client.close() };
}

/** Single-quoted SQL string literal. */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
