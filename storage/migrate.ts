// Versioned schema migrations, applied in order at start. Each file in sql/ is
// one version (`NNN_name.sql`); applied versions are recorded in
// consentry.schema_migrations and never run twice. Table tuning (`MODIFY
// SETTING`) that the engine does not know (an older ClickHouse server) is
// skipped and reported, not fatal: it changes cost, never results.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import { DATABASE } from './clickhouse.ts';

const SQL_DIR = fileURLToPath(new URL('./sql/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** The migrations shipped in sql/, in order. Also used to generate cluster DDL. */
export function listMigrations(): Migration[] {
  return readdirSync(SQL_DIR)
    .filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      statements: splitStatements(readFileSync(SQL_DIR + file, 'utf8')),
    }));
}

/** Splits a file on `;` at line ends, dropping `--` comment lines. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join('\n');
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const UNKNOWN_SETTING = '115';

export interface MigrateOptions {
  /** Default: the migrations in sql/ (listMigrations()). */
  migrations?: Migration[];
  /** A tuning statement this engine refused as an unknown setting, left out. */
  onSkipped?: (skipped: { version: number; statement: string; reason: string }) => void;
}

/** Applies the migrations not applied yet; returns the versions it applied. */
export async function migrate(client: ClickHouseClient, opts: MigrateOptions = {}): Promise<number[]> {
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${DATABASE}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${DATABASE}.schema_migrations (Version UInt32, Name String, AppliedAt DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY Version`,
  });
  const res = await client.query({ query: `SELECT Version FROM ${DATABASE}.schema_migrations`, format: 'JSONEachRow' });
  const applied = new Set((await res.json<{ Version: number }>()).map((r) => Number(r.Version)));
  const done: number[] = [];
  for (const m of opts.migrations ?? listMigrations()) {
    if (applied.has(m.version)) continue;
    for (const statement of m.statements) {
      try {
        await client.command({ query: statement });
      } catch (err) {
        if ((err as { code?: string }).code !== UNKNOWN_SETTING || !/\bMODIFY SETTING\b/i.test(statement)) throw err;
        opts.onSkipped?.({ version: m.version, statement, reason: (err as Error).message.split('\n')[0]! });
      }
    }
    await client.insert({
      table: `${DATABASE}.schema_migrations`,
      values: [{ Version: m.version, Name: m.name }],
      format: 'JSONEachRow',
    });
    done.push(m.version);
  }
  return done;
}
