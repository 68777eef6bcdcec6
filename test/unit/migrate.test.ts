// Migrations against embedded ClickHouse: applied once, in order; tuning an
// engine does not know is skipped and reported; any other failure stops them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClickHouse, type ClickHouse } from '../../storage/clickhouse.ts';
import { listMigrations, migrate, SchemaTooNewError, type Migration } from '../../storage/migrate.ts';
import { VERSION } from '../../core/version.ts';

let dir: string;
let ch: ClickHouse;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'consentry-migrate-'));
  ch = openClickHouse({ url: '', dataDir: dir });
});
afterAll(async () => {
  await ch?.close();
  await rm(dir, { recursive: true, force: true });
});

const scalar = async (query: string): Promise<string> => {
  const res = await ch.client.query({ query, format: 'JSONEachRow' });
  return String(Object.values((await res.json<Record<string, unknown>>())[0] ?? {})[0]);
};

// Known to this file's runs from the second test on (a schema with a version a build does not know is refused).
const tuning = {
  version: 901,
  name: 'future_tuning',
  statements: [
    'ALTER TABLE consentry.otel_logs MODIFY SETTING no_such_merge_setting_in_any_version = 1',
    'ALTER TABLE consentry.otel_logs MODIFY SETTING min_bytes_for_wide_part = 1000',
  ],
};

describe('migrate', () => {
  it('applies every shipped migration once, with the span table tuning in force; rows written before 007 read with its defaults', async () => {
    const versions = listMigrations().map((m) => m.version);
    // A database of a release before 007, with a row in each table 007 changes.
    expect(await migrate(ch.client, { migrations: listMigrations().filter((m) => m.version < 7) })).toEqual(versions.filter((v) => v < 7));
    await ch.client.command({ query: `INSERT INTO consentry.request_summaries (TenantId, Tier, Minute, Requests, LatencyBuckets, InputTokens, ExpireAt) VALUES ('t', 'summary', 60, 2, map(5, 2), 9, 4102444800)` });
    await ch.client.command({ query: `INSERT INTO consentry.otel_logs (TenantId, Tier, Timestamp, Body, ExpireAt) VALUES ('t', 'full', 1, 'old', 4102444800)` });
    await ch.client.command({ query: `INSERT INTO consentry.otel_traces (TenantId, Tier, Timestamp, TraceId, SpanId, SpanKind, ExpireAt) VALUES ('t', 'full', 1, 'a', 'b', 'SPAN_KIND_SERVER', 4102444800)` });
    expect(await migrate(ch.client)).toEqual(versions.filter((v) => v >= 7));
    expect(await scalar(`SELECT toJSONString(tuple(sum(Requests), sum(Calls), sum(CallErrors), sumMap(CallLatencyBuckets), sum(InputTokens))) FROM consentry.request_summaries`)).toBe('[2,0,0,{},9]');
    expect(await scalar(`SELECT toJSONString(tuple(Body, EventName)) FROM consentry.otel_logs`)).toBe('["old",""]');
    expect(await scalar(`SELECT SpanFlags FROM consentry.otel_traces`)).toBe('0');
    expect(await migrate(ch.client)).toEqual([]);
    const traces = await scalar(`SELECT engine_full FROM system.tables WHERE database = 'consentry' AND name = 'otel_traces'`);
    expect(traces).toContain('merge_selector_base = 20');
    expect(traces).toContain('min_bytes_for_wide_part = 268435456');
  });

  it('skips (and reports) a MODIFY SETTING the engine does not know, then records the version', async () => {
    const skipped: Array<{ version: number; statement: string; reason: string }> = [];
    expect(await migrate(ch.client, { migrations: [...listMigrations(), tuning], onSkipped: (s) => skipped.push(s) })).toEqual([901]);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ version: 901, statement: tuning.statements[0] });
    expect(skipped[0]!.reason).toMatch(/no_such_merge_setting_in_any_version/);
    // The statement after it ran.
    expect(await scalar(`SELECT engine_full FROM system.tables WHERE database = 'consentry' AND name = 'otel_logs'`)).toContain('min_bytes_for_wide_part = 1000');
    expect(await scalar(`SELECT count() FROM consentry.schema_migrations WHERE Version = 901`)).toBe('1');
  });

  it('stops at any other failure and does not record the version', async () => {
    const broken = { version: 902, name: 'broken', statements: ['ALTER TABLE consentry.no_such_table MODIFY SETTING min_bytes_for_wide_part = 1'] };
    await expect(migrate(ch.client, { migrations: [...listMigrations(), tuning, broken], onSkipped: () => undefined })).rejects.toThrow(/no_such_table/);
    expect(await scalar(`SELECT count() FROM consentry.schema_migrations WHERE Version = 902`)).toBe('0');
  });
});

// A statement runs again when a crash came after it and before its version was
// recorded: it must work on its own result. One ALTER may hold several actions.
const ALTER_VERBS = /^(ADD|DROP|MODIFY|RENAME|CLEAR|MATERIALIZE|UPDATE|DELETE|COMMENT|RESET|REMOVE|FREEZE|UNFREEZE|ATTACH|DETACH|REPLACE|MOVE|FETCH|APPLY)\b/i;
const RERUNNABLE_ACTIONS = [
  /^ADD (COLUMN|INDEX|PROJECTION|CONSTRAINT|STATISTICS) IF NOT EXISTS\b/i,
  /^DROP (COLUMN|INDEX|PROJECTION|CONSTRAINT|STATISTICS) IF EXISTS\b/i,
  /^(MODIFY|RENAME|COMMENT) COLUMN IF EXISTS\b/i,
  /^(MODIFY|RESET) SETTING\b/i,
  /^(MODIFY|REMOVE) TTL\b/i,
  /^MODIFY COMMENT\b/i,
  /^MATERIALIZE (INDEX|COLUMN|PROJECTION|TTL)\b/i,
];
const RERUNNABLE = [/^CREATE (TABLE|DATABASE|VIEW|MATERIALIZED VIEW|DICTIONARY) IF NOT EXISTS\b/i, /^DROP (TABLE|DATABASE|VIEW|DICTIONARY) IF EXISTS\b/i];

/** The actions of an ALTER TABLE, split at commas outside parentheses and quotes (a SETTING list stays one action). */
function alterActions(statement: string): string[] | undefined {
  const m = /^ALTER TABLE\s+\S+\s+([\s\S]*)$/i.exec(statement);
  if (m === null) return undefined;
  const parts: string[] = [];
  let depth = 0;
  let quote = '';
  let cur = '';
  for (const ch of m[1]!) {
    if (quote !== '') quote = ch === quote ? '' : quote;
    else if (ch === "'" || ch === '`' || ch === '"') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  parts.push(cur.trim());
  const actions: string[] = [];
  for (const p of parts) {
    if (ALTER_VERBS.test(p) || actions.length === 0) actions.push(p);
    else actions[actions.length - 1] += `, ${p}`;
  }
  return actions;
}

function rerunnable(statement: string): boolean {
  const oneLine = statement.replace(/\s+/g, ' ');
  if (RERUNNABLE.some((r) => r.test(oneLine))) return true;
  const actions = alterActions(oneLine);
  return actions !== undefined && actions.every((a) => RERUNNABLE_ACTIONS.some((r) => r.test(a)));
}

describe('migrations that cannot half-apply', () => {
  it.each(listMigrations().flatMap((m) => m.statements.map((st, i) => [`${String(m.version).padStart(3, '0')}_${m.name}.sql`, i + 1, st] as const)))(
    '%s statement %i can run again on its own result',
    (file, n, statement) => {
      expect(
        rerunnable(statement),
        `storage/sql/${file}, statement ${n} cannot run twice safely, and a crash after it runs it again at the next start: use CREATE ... IF NOT EXISTS, DROP ... IF EXISTS, ` +
          `ALTER TABLE ... ADD|DROP COLUMN|INDEX IF [NOT] EXISTS, MODIFY|RENAME COLUMN IF EXISTS, MODIFY SETTING, MODIFY TTL (data changes are not re-runnable as such):\n${statement}`,
      ).toBe(true);
    },
  );

  it('tells the forms apart', () => {
    expect(rerunnable('ALTER TABLE consentry.t ADD COLUMN IF NOT EXISTS a Map(Int32, UInt64) CODEC(T64, ZSTD(1)) AFTER b, ADD COLUMN IF NOT EXISTS c UInt8')).toBe(true);
    expect(rerunnable('ALTER TABLE consentry.t MODIFY SETTING a = 1, b = 0')).toBe(true);
    expect(rerunnable('ALTER TABLE consentry.t ADD COLUMN IF NOT EXISTS a UInt8, ADD COLUMN b UInt8')).toBe(false);
    expect(rerunnable('ALTER TABLE consentry.t UPDATE a = 1 WHERE 1')).toBe(false);
    expect(rerunnable('CREATE TABLE consentry.t (a UInt8) ENGINE = Memory')).toBe(false);
    expect(rerunnable('INSERT INTO consentry.t SELECT 1')).toBe(false);
    expect(rerunnable('RENAME TABLE consentry.a TO consentry.b')).toBe(false);
  });

  // The state a crash leaves: the earlier migrations, then the first statements of one.
  it('completes from a crash after any statement of any migration, to the schema of a clean run', async () => {
    const schema = async () => {
      const res = await ch.client.query({ query: `SELECT name, create_table_query FROM system.tables WHERE database = 'consentry' AND name != 'schema_migrations' ORDER BY name`, format: 'JSONEachRow' });
      return res.json<{ name: string; create_table_query: string }>();
    };
    const versions = async () => {
      const res = await ch.client.query({ query: 'SELECT Version, count() AS n FROM consentry.schema_migrations GROUP BY Version ORDER BY Version', format: 'JSONEachRow' });
      return (await res.json<{ Version: number; n: string }>()).map((r) => `${r.Version}x${r.n}`);
    };
    const all = listMigrations();
    await ch.client.command({ query: 'DROP DATABASE IF EXISTS consentry SYNC' });
    await migrate(ch.client);
    const clean = await schema();
    const once = all.map((m) => `${m.version}x1`);
    expect(await versions()).toEqual(once);
    for (const m of all) {
      for (let k = 0; k < m.statements.length - 1; k++) {
        await ch.client.command({ query: 'DROP DATABASE IF EXISTS consentry SYNC' });
        await migrate(ch.client, { migrations: all.filter((x) => x.version < m.version) });
        const crashed: Migration = { ...m, statements: m.statements.slice(0, k + 1) };
        for (const st of crashed.statements) await ch.client.command({ query: st });
        await migrate(ch.client);
        expect(await schema(), `after a crash after statement ${k + 1} of migration ${m.version}`).toEqual(clean);
        expect(await versions()).toEqual(once);
      }
    }
  }, 120_000);

  it('refuses a schema with a version it does not know, naming it and the release that wrote it, and changes nothing', async () => {
    await ch.client.command({ query: `INSERT INTO consentry.schema_migrations (Version, Name, Release) VALUES (999, 'from_the_future', '9.9.9')` });
    const before = await ch.client.query({ query: 'SELECT count() AS n FROM consentry.schema_migrations', format: 'JSONEachRow' }).then((r) => r.json<{ n: string }>());
    const err = await migrate(ch.client).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaTooNewError);
    const last = Math.max(...listMigrations().map((m) => m.version));
    expect((err as Error).message).toMatch(new RegExp(`schema version 999 \\(from_the_future, applied .* by consentry 9\\.9\\.9\\), and consentry ${VERSION.replace(/\./g, '\\.')} knows versions up to ${last}\\.`));
    expect((err as Error).message).toMatch(/Start the newer version again; to go back to this version, restore a backup/);
    const after = await ch.client.query({ query: 'SELECT count() AS n FROM consentry.schema_migrations', format: 'JSONEachRow' }).then((r) => r.json<{ n: string }>());
    expect(after).toEqual(before);
  });

  it('records the release that applied each version', async () => {
    const res = await ch.client.query({ query: 'SELECT DISTINCT Release FROM consentry.schema_migrations WHERE Version < 900', format: 'JSONEachRow' });
    expect(await res.json()).toEqual([{ Release: VERSION }]);
  });
});
