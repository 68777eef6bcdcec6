// Versioned schema migrations, applied in order at start. Each file in sql/ is
// one version (`NNN_name.sql`); applied versions are recorded in
// consentry.schema_migrations, with the release that applied them, and never
// run twice. Table tuning (`MODIFY SETTING`) that the engine does not know (an
// older ClickHouse server) is skipped and reported, not fatal: it changes
// cost, never results.
//
// A crash half-way through a migration cannot leave it half-applied for good:
// its version is recorded only after its last statement, so the next start
// runs the whole migration again, and every statement can run again on its
// own result (CREATE ... IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, DROP ... IF
// EXISTS, MODIFY SETTING; test/unit/migrate.test.ts refuses any other form).
// ClickHouse applies each DDL statement whole. Tested by killing a process
// between two statements (test/upgrade/migrations.test.ts).
//
// A schema with a version this build does not know was written by a newer
// release: the start is refused, nothing is changed (SchemaTooNewError).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Logger } from '../core/logger.ts';
import { StartRefused } from '../core/lifecycle.ts';
import { VERSION } from '../core/version.ts';
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

/** The schema was migrated by a newer release than this one: refused, never downgraded. */
export class SchemaTooNewError extends StartRefused {
  constructor(
    readonly unknown: ReadonlyArray<{ version: number; name: string; release: string; appliedAt: string }>,
    readonly known: number,
  ) {
    const list = unknown.map((u) => `${u.version} (${u.name}, applied ${u.appliedAt} by ${u.release === '' ? 'a release that did not record itself' : `consentry ${u.release}`})`).join(', ');
    super(
      `the schema in ClickHouse was migrated by a newer Consentry: it has schema version${unknown.length === 1 ? '' : 's'} ${list}, ` +
        `and consentry ${VERSION} knows versions up to ${known}. Consentry never downgrades a schema, and this version could write data the newer schema does not expect. ` +
        'Start the newer version again; to go back to this version, restore a backup of the data (data directory or ClickHouse) taken before the upgrade.',
    );
    this.name = 'SchemaTooNewError';
  }
}

export interface MigrateOptions {
  /** Default: the migrations in sql/ (listMigrations()). */
  migrations?: Migration[];
  /** A tuning statement this engine refused as an unknown setting, left out. */
  onSkipped?: (skipped: { version: number; statement: string; reason: string }) => void;
  /** Called after each statement of a migration not applied yet (`index` counts from 0), before the next one. */
  afterStatement?: (version: number, index: number) => Promise<void>;
}

interface AppliedRow {
  Version: number;
  Name: string;
  /** Absent in the table 0.1.0 created. */
  Release?: string;
  AppliedAt: string;
}

/**
 * Applies the migrations not applied yet; returns the versions it applied.
 * Throws SchemaTooNewError, changing nothing, when the schema has a version
 * this build does not know.
 */
export async function migrate(client: ClickHouseClient, opts: MigrateOptions = {}): Promise<number[]> {
  const migrations = opts.migrations ?? listMigrations();
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${DATABASE}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${DATABASE}.schema_migrations (Version UInt32, Name String, AppliedAt DateTime DEFAULT now(), Release String DEFAULT '') ENGINE = MergeTree ORDER BY Version`,
  });
  const res = await client.query({ query: `SELECT * FROM ${DATABASE}.schema_migrations ORDER BY Version`, format: 'JSONEachRow' });
  const rows = await res.json<AppliedRow>();
  const known = new Set(migrations.map((m) => m.version));
  const unknown = rows.filter((r) => !known.has(Number(r.Version)));
  if (unknown.length > 0) {
    throw new SchemaTooNewError(
      unknown.map((r) => ({ version: Number(r.Version), name: r.Name, release: r.Release ?? '', appliedAt: r.AppliedAt })),
      Math.max(0, ...known),
    );
  }
  // The table as 0.1.0 created it has no Release column.
  await client.command({ query: `ALTER TABLE ${DATABASE}.schema_migrations ADD COLUMN IF NOT EXISTS Release String DEFAULT ''` });
  const applied = new Set(rows.map((r) => Number(r.Version)));
  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    for (const [index, statement] of m.statements.entries()) {
      try {
        await client.command({ query: statement });
      } catch (err) {
        if ((err as { code?: string }).code !== UNKNOWN_SETTING || !/\bMODIFY SETTING\b/i.test(statement)) throw err;
        opts.onSkipped?.({ version: m.version, statement, reason: (err as Error).message.split('\n')[0]! });
      }
      await opts.afterStatement?.(m.version, index);
    }
    // Only now: a crash before this line runs the whole migration again at the next start.
    await client.insert({
      table: `${DATABASE}.schema_migrations`,
      values: [{ Version: m.version, Name: m.name, Release: VERSION }],
      format: 'JSONEachRow',
    });
    done.push(m.version);
  }
  return done;
}

/** Test hook: `<version>:<statement index>` after which the start stops (test/upgrade/migrations.test.ts). */
const PAUSE_ENV = 'CONSENTRY_TEST_PAUSE_MIGRATION';

/**
 * Migrates at the start of a collector or sink, logging what it applied or
 * skipped. With CONSENTRY_TEST_PAUSE_MIGRATION=<version>:<index> set (tests
 * only, not a setting) it stops for good after that statement of that
 * migration, before the version is recorded, and says so in the log: a test
 * kills the process there.
 */
export async function migrateAtStart(client: ClickHouseClient, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const pause = env[PAUSE_ENV];
  const applied = await migrate(client, {
    onSkipped: (s) => logger.warn(s, 'table tuning not known to this ClickHouse, skipped'),
    afterStatement:
      pause === undefined
        ? undefined
        : async (version, index) => {
            if (`${version}:${index}` !== pause) return;
            logger.warn({ version, index }, `${PAUSE_ENV}: paused after statement ${index} of migration ${version}, for good`);
            await new Promise(() => setInterval(() => undefined, 60_000));
          },
  });
  if (applied.length > 0) logger.info({ versions: applied, release: VERSION }, 'schema migrations applied');
}
