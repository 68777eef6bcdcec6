// Migrations against embedded ClickHouse: applied once, in order; tuning an
// engine does not know is skipped and reported; any other failure stops them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClickHouse, type ClickHouse } from '../../storage/clickhouse.ts';
import { listMigrations, migrate } from '../../storage/migrate.ts';

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
    const tuning = {
      version: 901,
      name: 'future_tuning',
      statements: [
        'ALTER TABLE consentry.otel_logs MODIFY SETTING no_such_merge_setting_in_any_version = 1',
        'ALTER TABLE consentry.otel_logs MODIFY SETTING min_bytes_for_wide_part = 1000',
      ],
    };
    expect(await migrate(ch.client, { migrations: [tuning], onSkipped: (s) => skipped.push(s) })).toEqual([901]);
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ version: 901, statement: tuning.statements[0] });
    expect(skipped[0]!.reason).toMatch(/no_such_merge_setting_in_any_version/);
    // The statement after it ran.
    expect(await scalar(`SELECT engine_full FROM system.tables WHERE database = 'consentry' AND name = 'otel_logs'`)).toContain('min_bytes_for_wide_part = 1000');
    expect(await scalar(`SELECT count() FROM consentry.schema_migrations WHERE Version = 901`)).toBe('1');
  });

  it('stops at any other failure and does not record the version', async () => {
    const broken = { version: 902, name: 'broken', statements: ['ALTER TABLE consentry.no_such_table MODIFY SETTING min_bytes_for_wide_part = 1'] };
    await expect(migrate(ch.client, { migrations: [broken], onSkipped: () => undefined })).rejects.toThrow(/no_such_table/);
    expect(await scalar(`SELECT count() FROM consentry.schema_migrations WHERE Version = 902`)).toBe('0');
  });
});
