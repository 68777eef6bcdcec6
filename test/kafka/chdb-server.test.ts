// The chdb HTTP server (app/chdb-server.ts) as a separate process,
// driven by @clickhouse/client exactly as Consentry drives a ClickHouse server:
// queries, inserts with a deduplication token in the statement, commands,
// query parameters, errors with their codes, gzip answers, and a clean stop
// and restart on the same data.
import { rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPermanentInsertError } from '../../sinks/clickhouse/insert.ts';
import { openClickHouse } from '../../storage/clickhouse.ts';
import { startChdbServerProcess, tempDir, type Proc } from './processes.ts';

let dataDir: string;
let logDir: string;
let server: Proc & { url: string; port: number };
let client: ClickHouseClient;

beforeAll(async () => {
  dataDir = tempDir('consentry-chdb-');
  logDir = tempDir('consentry-chdb-logs-');
  server = await startChdbServerProcess({ dataDir, logDir });
  // The same options Consentry uses for a server (gzip answers).
  client = openClickHouse({ url: server.url, dataDir }).client;
}, 60_000);

afterAll(async () => {
  await client?.close();
  await server?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(logDir, { recursive: true, force: true });
});

describe('chdb-server over HTTP', () => {
  it('answers ping and runs DDL as commands', async () => {
    expect((await client.ping()).success).toBe(true);
    await client.command({ query: 'CREATE DATABASE IF NOT EXISTS t' });
    await client.command({
      query: 'CREATE TABLE IF NOT EXISTS t.rows (id UInt64, s String) ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100',
    });
  });

  it('inserts with a deduplication token in the statement: a retried insert stores nothing twice', async () => {
    const lines = [JSON.stringify({ id: 1, s: 'a' }), JSON.stringify({ id: 2, s: "it's\ttab\\slash" })];
    await client.exec({ query: "INSERT INTO t.rows SETTINGS insert_deduplication_token='tok-1' FORMAT JSONEachRow", values: Readable.from([lines.join('\n')]) });
    await client.exec({ query: "INSERT INTO t.rows SETTINGS insert_deduplication_token='tok-1' FORMAT JSONEachRow", values: Readable.from([lines.join('\n')]) });
    // A later insert without a token is not swallowed (the token did not stick to the session).
    await client.insert({ table: 't.rows', values: [{ id: 3, s: 'c' }], format: 'JSONEachRow' });
    const rows = await (await client.query({ query: 'SELECT id, s FROM t.rows ORDER BY id', format: 'JSONEachRow' })).json<{ id: string; s: string }>();
    expect(rows).toEqual([
      { id: '1', s: 'a' },
      { id: '2', s: "it's\ttab\\slash" },
      { id: '3', s: 'c' },
    ]);
  });

  it('binds query parameters exactly (quotes, tabs, backslashes, arrays, numbers)', async () => {
    const tricky = "o'brien\t\\n\nline";
    const res = await client.query({
      query: 'SELECT {s:String} AS s, {n:UInt64} AS n, {a:Array(String)} AS a, {ns:Nullable(String)} AS ns',
      format: 'JSONEachRow',
      query_params: { s: tricky, n: 42, a: ['x', 'y z'], ns: null },
    });
    expect(await res.json()).toEqual([{ s: tricky, n: '42', a: ['x', 'y z'], ns: null }]);
    const sel = await client.query({ query: 'SELECT s FROM t.rows WHERE s = {v:String}', format: 'JSONEachRow', query_params: { v: "it's\ttab\\slash" } });
    expect(await sel.json()).toEqual([{ s: "it's\ttab\\slash" }]);
  });

  it('answers errors with the server code clickhouse-js parses', async () => {
    const syntax = await client.query({ query: 'SELEC 1', format: 'JSONEachRow' }).catch((e: unknown) => e);
    expect(syntax).toMatchObject({ code: '62', type: 'SYNTAX_ERROR' });
    const unknown = await client.query({ query: 'SELECT * FROM t.nope', format: 'JSONEachRow' }).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: '60' });
    const bad = await client.exec({ query: 'INSERT INTO t.rows FORMAT JSONEachRow', values: Readable.from(['{"id":NaN}']) }).catch((e: unknown) => e);
    expect(isPermanentInsertError(bad)).toBe(true);
  });

  it('refuses settings passed as URL parameters (chdb would keep them for the session)', async () => {
    const err = await client.query({ query: 'SELECT 1', format: 'JSONEachRow', clickhouse_settings: { max_threads: 1 } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '115', type: 'UNKNOWN_SETTING' });
    expect((err as Error).message).toContain('SETTINGS max_threads');
  });

  it('serves a client without compression and a database parameter', async () => {
    const plain = createClient({ url: server.url, database: 't', compression: { request: true, response: false } });
    try {
      await plain.insert({ table: 'rows', values: [{ id: 4, s: 'd' }], format: 'JSONEachRow' });
      const res = await plain.query({ query: 'SELECT count() AS n FROM rows', format: 'JSONEachRow' });
      expect(await res.json()).toEqual([{ n: '4' }]);
    } finally {
      await plain.close();
    }
    // The database of one request does not leak into the next.
    const res = await client.query({ query: 'SELECT currentDatabase() AS d', format: 'JSONEachRow' });
    expect(await res.json()).toEqual([{ d: 'default' }]);
  });

  it('stops cleanly on SIGTERM and keeps its data across a restart on the same port', { timeout: 60_000 }, async () => {
    expect(await server.stop()).toBe(0);
    server = await startChdbServerProcess({ dataDir, logDir, port: server.port });
    const res = await client.query({ query: 'SELECT count() AS n FROM t.rows', format: 'JSONEachRow' });
    expect(await res.json()).toEqual([{ n: '4' }]);
  });
});
