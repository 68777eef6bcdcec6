// Migrations at start, with real processes (dist/):
// - a collector killed (SIGKILL) between two statements of a migration leaves
//   a data directory the next start completes: every migration recorded once,
//   every table and column there, the rows of before readable;
// - a data directory migrated by a newer release is refused at start, with
//   what wrote it, what this build knows and what to do, and nothing changed.
// The kill point is a test hook (CONSENTRY_TEST_PAUSE_MIGRATION=<version>:<statement>,
// storage/migrate.ts) that stops the start after that statement, for good.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { afterAll, describe, expect, it } from 'vitest';
import { listMigrations } from '../../storage/migrate.ts';
import { VERSION } from '../../core/version.ts';
import { startChdbServerProcess, startCollectorProcess, startProcess, tempDir } from '../kafka/processes.ts';
import { readManifest, TIERS_DIR, unpackData } from './fixture.ts';

const logDir = tempDir('consentry-migrations-logs-');
const cleanup: string[] = [logDir];
afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

const ENV = { CONSENTRY_TIERS_DIR: TIERS_DIR, CONSENTRY_INGEST_WORKERS: '0' };

/** Runs SQL on the embedded ClickHouse of a data directory no collector uses now, through the chdb server. */
async function sql(dataDir: string, queries: string[]): Promise<Array<Array<Record<string, unknown>>>> {
  const server = await startChdbServerProcess({ dataDir: join(dataDir, 'clickhouse'), logDir });
  const client = createClient({ url: server.url });
  try {
    const out: Array<Array<Record<string, unknown>>> = [];
    for (const query of queries) {
      if (/^\s*INSERT/i.test(query)) {
        await client.command({ query });
        out.push([]);
      } else {
        out.push(await (await client.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>());
      }
    }
    return out;
  } finally {
    await client.close();
    await server.stop();
  }
}

const fresh = () => {
  const dir = tempDir('consentry-migrate-fresh-');
  cleanup.push(dir);
  return dir;
};
const fixture = () => {
  const dir = unpackData();
  cleanup.push(dirname(dir));
  return dir;
};

describe('a collector killed in the middle of a migration', () => {
  const all = listMigrations().map((m) => m.version);
  it.each([
    // 0.1.0's data (schema 6): killed after 007 added EventName and SpanFlags, before its request_summaries columns.
    { data: '0.1.0\'s data directory', make: fixture, pause: '7:1', applied: all.filter((v) => v > 6) },
    // An empty one: killed after 001 created two of its three tables.
    { data: 'an empty data directory', make: fresh, pause: '1:1', applied: all },
  ])('on $data (after statement $pause) is completed by the next start', async ({ make, pause, applied }) => {
    const dataDir = make();
    const [version, index] = pause.split(':');
    const paused = await startProcess({
      name: 'collector-paused',
      entry: 'app/collector-main.ts',
      env: { ...ENV, CONSENTRY_DATA_DIR: dataDir, CONSENTRY_OTLP_PORT: '0', CONSENTRY_API_PORT: '0', CONSENTRY_TEST_PAUSE_MIGRATION: pause },
      ready: new RegExp(`paused after statement ${index} of migration ${version}, for good`),
      logDir,
    });
    await paused.kill();
    expect((await paused.exited).signal).toBe('SIGKILL');

    const c = await startCollectorProcess({ env: ENV, dataDir, logDir });
    expect(c.log()).toContain(`"versions":[${applied.join(',')}],"release":"${VERSION}","msg":"schema migrations applied"`);
    expect((await fetch(`${c.apiUrl}/readyz`)).status).toBe(200);
    if (make === fixture) {
      // 0.1.0's rows, with the columns of the whole of 007.
      const key = readManifest().tenants['t-sum']!.queryKey;
      const res = await fetch(`${c.apiUrl}/api/query`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ sql: 'SELECT sum(Requests), sum(Calls), sum(CallErrors) FROM request_summaries' }) });
      expect(await res.json()).toMatchObject({ rows: [[6, 0, 0]] });
    }
    const code = await c.stop();
    // Once exited by a signal (README, Not finished yet): the message keeps what it died of.
    expect(code, `collector exited ${JSON.stringify(await c.exited)}; log tail:\n${c.log().slice(-2000)}`).toBe(0);

    const [versions, columns] = await sql(dataDir, [
      'SELECT Version, count() AS n FROM consentry.schema_migrations GROUP BY Version ORDER BY Version',
      "SELECT concat(table, '.', name) AS c FROM system.columns WHERE database = 'consentry' AND name IN ('EventName', 'SpanFlags', 'Calls', 'CallErrors', 'CallLatencyBuckets') ORDER BY c",
    ]);
    expect(versions).toEqual(all.map((v) => ({ Version: v, n: '1' })));
    expect(columns!.map((r) => r['c'])).toEqual([
      'otel_logs.EventName',
      'otel_traces.SpanFlags',
      'request_summaries.CallErrors',
      'request_summaries.CallLatencyBuckets',
      'request_summaries.Calls',
    ]);
  }, 120_000);
});

describe('a data directory written by a newer release', () => {
  it('is refused at start, saying which version wrote it, what this build knows and what to do; nothing is changed', async () => {
    // 0.1.0's data directory (schema 6), as if a release after this one had added schema version 99.
    const dataDir = fixture();
    await sql(dataDir, ["INSERT INTO consentry.schema_migrations (Version, Name) VALUES (99, 'from_a_newer_release')"]);
    const refused = await startProcess({
      name: 'collector-refused',
      entry: 'app/collector-main.ts',
      env: { ...ENV, CONSENTRY_DATA_DIR: dataDir, CONSENTRY_OTLP_PORT: '0', CONSENTRY_API_PORT: '0' },
      ready: /cannot start: .*\n/,
      logDir,
    });
    expect((await refused.exited).code).toBe(1);
    const last = Math.max(...listMigrations().map((m) => m.version));
    expect(refused.match[0]).toMatch(
      new RegExp(
        `^cannot start: the schema in ClickHouse was migrated by a newer Consentry: it has schema version 99 \\(from_a_newer_release, applied [0-9: -]+ by a release that did not record itself\\), ` +
          `and consentry ${VERSION.replace(/\./g, '\\.')} knows versions up to ${last}\\. Consentry never downgrades a schema.*Start the newer version again; to go back to this version, restore a backup`,
      ),
    );
    // No migration of this build ran: 0.1.0's schema and the newer version as they were.
    const [versions, columns] = await sql(dataDir, [
      'SELECT Version FROM consentry.schema_migrations ORDER BY Version',
      "SELECT name FROM system.columns WHERE database = 'consentry' AND (name IN ('EventName', 'SpanFlags') OR (table = 'schema_migrations' AND name = 'Release'))",
    ]);
    expect(versions).toEqual([1, 2, 3, 4, 5, 6, 99].map((Version) => ({ Version })));
    expect(columns).toEqual([]);
  }, 120_000);
});
