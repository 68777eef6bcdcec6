// Runs a tenant's SQL so that it sees that tenant's rows only, whatever it
// sends. The isolation is ClickHouse's own, in four layers:
//
// 1. Parse: `formatQuerySingleLine(<sql as a bound parameter>)` runs
//    ClickHouse's parser on the text (multi-statements refused by the parser)
//    and gives back the canonical statement. Only that canonical text is
//    checked and executed, so what is checked is what runs; comments and
//    quoting tricks are gone. Formatting it again must give the same text.
// 2. Syntax tree (`EXPLAIN AST`, sql-guard.ts checkAst): one SELECT, tenant
//    tables only, no table functions, SETTINGS, FORMAT, OUTFILE, refused
//    functions or virtual columns.
// 3. Query tree (`EXPLAIN QUERY TREE`, checkQueryTree): every table actually
//    read, after name resolution (unqualified names, CTEs, `IN table`), is a
//    tenant table; no PREWHERE.
// 4. Execution with the statement's own trailing SETTINGS (tenantSettings):
//    `additional_table_filters` = TenantId of the caller on every tenant
//    table, evaluated first, and the limits. In embedded mode on a connection
//    of its own: current database `consentry` and session `readonly = 2` (no
//    write, no DDL, whatever a statement says; settings changeable only by a
//    statement's SETTINGS, which step 2 allows for Consentry's clause alone).
//    That connection never runs anything else, so nothing a tenant query does
//    can reach the writer's session. On a ClickHouse server every request is
//    its own session; the database travels with the request, and read-only is
//    up to the ClickHouse user in CONSENTRY_CLICKHOUSE_URL (not done yet: a
//    separate readonly user and row policies, docs/queries.md).
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import {
  DEFAULT_LIMITS,
  TENANT_DATABASE,
  TENANT_TABLES,
  VIRTUAL_COLUMNS,
  checkAst,
  checkQueryTree,
  isRefusal,
  parseExplainAst,
  scrubMessage,
  tenantSettings,
  type QueryLimits,
} from './sql-guard.ts';

export type QueryFormat = 'json' | 'ndjson' | 'csv';

/** Why a query did not run, as the API reports it. */
export type QueryFailure =
  | { kind: 'rejected'; message: string } // refused by the guard
  | { kind: 'invalid'; message: string } // ClickHouse refused the SQL (syntax, unknown column, ...)
  | { kind: 'limit'; message: string } // a limit was exceeded
  | { kind: 'unavailable'; message: string }; // ClickHouse unreachable or failing

export type QueryResult = { ok: true; body: string; contentType: string; rows: number } | { ok: false; failure: QueryFailure };

export interface PreparedQuery {
  /** The canonical statement with Consentry's SETTINGS: what runs. */
  statement: string;
  /** Milliseconds spent in the guard (parse and both checks). */
  guardMs: number;
}

export interface TenantQueryEngineOptions {
  /** ClickHouse HTTP URL; empty: embedded chdb under `<dataDir>/clickhouse`. */
  clickhouseUrl: string;
  dataDir: string;
  limits?: Partial<QueryLimits>;
}

const CONTENT_TYPES: Record<QueryFormat, string> = {
  json: 'application/json; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
};

/** ClickHouse error codes that mean "a limit of the query was reached". */
const LIMIT_CODES: Record<string, string> = {
  '159': 'the query ran longer than the limit of {seconds} s: narrow the time range, filter more or aggregate',
  '160': 'the query would run longer than the limit of {seconds} s: narrow the time range, filter more or aggregate',
  '396': 'the result is larger than the limit ({rows} rows, {bytes} bytes): aggregate, add LIMIT or select fewer columns',
  '241': 'the query needs more memory than the limit of {memory} bytes: aggregate earlier, filter more or use fewer GROUP BY keys',
  '158': 'the query reads more rows than allowed: filter more',
  '307': 'the query reads more bytes than allowed: filter more',
};
/** Codes of a ClickHouse in trouble, not of the tenant's SQL. */
const UNAVAILABLE_CODES = new Set(['202', '209', '210', '279', '425', '999', '242', '236', '394']);

export class TenantQueryEngine {
  readonly limits: QueryLimits;
  private client: ClickHouseClient | undefined;
  private opening: Promise<ClickHouseClient> | undefined;
  private knownTables = new Set<string>();
  private virtualColumns = new Set<string>(VIRTUAL_COLUMNS);
  private closed = false;

  constructor(private readonly opts: TenantQueryEngineOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
  }

  /** The query connection, opened on first use (not in the constructor: no I/O there). */
  private connection(): Promise<ClickHouseClient> {
    if (this.closed) return Promise.reject(new Error('tenant query engine is closed'));
    this.opening ??= this.open().catch((err: unknown) => {
      this.opening = undefined;
      throw err;
    });
    return this.opening;
  }

  private async open(): Promise<ClickHouseClient> {
    let client: ClickHouseClient;
    if (this.opts.clickhouseUrl !== '') {
      // No settings in the URL: a readonly user is the server-side way (docs/queries.md,
      // "On a ClickHouse server"), and sinks/clickhouse/chdb-server.ts, which shares
      // one chdb session between processes, refuses URL settings on purpose.
      client = createClient({ url: this.opts.clickhouseUrl, database: TENANT_DATABASE, request_timeout: (this.limits.maxExecutionSeconds + 10) * 1000 });
    } else {
      const require = createRequire(import.meta.url);
      const mod = require('chdb/connection') as { createChdbConnection(o: { path: string }): unknown };
      const connection = mod.createChdbConnection({ path: join(resolve(this.opts.dataDir, 'clickhouse')) });
      client = createClient({ connection } as unknown as Parameters<typeof createClient>[0]);
      // This connection's session is the tenant queries' own: sticky on purpose.
      await client.command({ query: `USE ${TENANT_DATABASE}` });
      await client.command({ query: 'SET readonly = 2' });
    }
    try {
      const tables = await client.query({ query: `SELECT name FROM system.tables WHERE database = '${TENANT_DATABASE}'`, format: 'JSONEachRow' });
      this.knownTables = new Set((await tables.json<{ name: string }>()).map((r) => r.name));
      for (const t of TENANT_TABLES) {
        const d = await client.query({ query: `DESCRIBE TABLE ${TENANT_DATABASE}.${t} SETTINGS describe_include_virtual_columns = 1`, format: 'JSONEachRow' });
        for (const c of await d.json<{ name: string; is_virtual?: number }>()) if (Number(c.is_virtual) === 1) this.virtualColumns.add(c.name);
      }
    } catch (err) {
      await client.close();
      throw err;
    }
    if (this.closed) {
      await client.close();
      throw new Error('tenant query engine is closed');
    }
    this.client = client;
    return client;
  }

  /** Parses and checks `sql` for `tenantId`; the statement to run, or why not. */
  async prepare(tenantId: string, sql: string): Promise<PreparedQuery | QueryFailure> {
    const started = performance.now();
    if (Buffer.byteLength(sql, 'utf8') > this.limits.maxSqlBytes) {
      return { kind: 'rejected', message: `the SQL is longer than ${this.limits.maxSqlBytes} bytes` };
    }
    let client: ClickHouseClient;
    try {
      client = await this.connection();
    } catch (err) {
      return { kind: 'unavailable', message: `ClickHouse is not available: ${(err as Error).message}` };
    }
    // 1. ClickHouse's parser, on the text as a bound value: nothing in it runs.
    let canonical: string;
    try {
      const res = await client.query({
        query: 'SELECT formatQuerySingleLine({sql:String}) AS c, formatQuerySingleLine(c) = c AS stable',
        query_params: { sql },
        format: 'JSONEachRow',
      });
      const row = (await res.json<{ c: string; stable: number | boolean }>())[0];
      if (row === undefined || !(row.stable === 1 || row.stable === true)) {
        return { kind: 'rejected', message: 'the query could not be checked: ClickHouse does not print it back the same way; simplify it' };
      }
      canonical = row.c;
    } catch (err) {
      return this.failure(err);
    }
    // 2. Syntax tree.
    let astText: string;
    try {
      astText = await this.text(client, `EXPLAIN AST ${canonical}`);
    } catch (err) {
      return this.failure(err);
    }
    const ast = parseExplainAst(astText);
    if (isRefusal(ast)) return { kind: 'rejected', message: ast.message };
    const astRefusal = checkAst(ast, { knownTables: this.knownTables, virtualColumns: this.virtualColumns });
    if (astRefusal !== undefined) return { kind: 'rejected', message: astRefusal.message };
    // 3. Query tree, with the tenant's settings already attached: name
    // resolution may run scalar subqueries, and those are filtered too.
    const statement = `${canonical} SETTINGS ${tenantSettings(tenantId, this.limits)}`;
    let treeText: string;
    try {
      treeText = await this.text(client, `EXPLAIN QUERY TREE ${statement}`);
    } catch (err) {
      return this.failure(err);
    }
    const treeRefusal = checkQueryTree(treeText);
    if (treeRefusal !== undefined) return { kind: 'rejected', message: treeRefusal.message };
    return { statement, guardMs: performance.now() - started };
  }

  /** Checks and runs `sql` for `tenantId`; the whole answer in `format`. */
  async run(tenantId: string, sql: string, format: QueryFormat): Promise<QueryResult> {
    const prepared = await this.prepare(tenantId, sql);
    if ('kind' in prepared) return { ok: false, failure: prepared };
    const client = await this.connection();
    const chFormat = format === 'json' ? 'JSONCompactEachRowWithNamesAndTypes' : format === 'ndjson' ? 'JSONEachRow' : 'CSVWithNames';
    let text: string;
    try {
      const res = await client.query({ query: prepared.statement, format: chFormat });
      text = await res.text();
    } catch (err) {
      return { ok: false, failure: this.failure(err) };
    }
    // ClickHouse checks the result limits per block, and not at all for some
    // plans (a bare `SELECT arrayJoin(range(n))`, measured): check again here.
    const rows = countLines(text) - (format === 'json' ? 2 : format === 'csv' ? 1 : 0);
    if (text.length > this.limits.maxResultBytes * 4 || rows > this.limits.maxResultRows) {
      return { ok: false, failure: { kind: 'limit', message: this.limitMessage('396') } };
    }
    if (format !== 'json') return { ok: true, body: text, contentType: CONTENT_TYPES[format], rows };
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const names = JSON.parse(lines[0] ?? '[]') as string[];
    const types = JSON.parse(lines[1] ?? '[]') as string[];
    const columns = names.map((name, i) => ({ name, type: types[i] ?? '' }));
    // Rows are passed through as ClickHouse wrote them (valid JSON arrays).
    const body = `{"columns":${JSON.stringify(columns)},"rows":[${lines.slice(2).join(',')}]}`;
    return { ok: true, body, contentType: CONTENT_TYPES.json, rows: Math.max(0, lines.length - 2) };
  }

  /**
   * Runs an EXPLAIN and returns its text. Not `query()`: the FORMAT it appends
   * would belong to the explained statement. `default_format` is an output
   * option (chdb) or a request parameter (server), never a session setting.
   */
  private async text(client: ClickHouseClient, query: string): Promise<string> {
    const res = await client.exec({ query, clickhouse_settings: { default_format: 'TabSeparatedRaw' } });
    const chunks: Buffer[] = [];
    for await (const chunk of res.stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  }

  private limitMessage(code: string): string {
    const l = this.limits;
    return (LIMIT_CODES[code] ?? 'a limit of the query was exceeded')
      .replace('{seconds}', String(l.maxExecutionSeconds))
      .replace('{rows}', String(l.maxResultRows))
      .replace('{bytes}', String(l.maxResultBytes))
      .replace('{memory}', String(l.maxMemoryBytes));
  }

  private failure(err: unknown): QueryFailure {
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : String(err);
    if (typeof code !== 'string' || code === '') return { kind: 'unavailable', message: 'ClickHouse did not answer; retry later' };
    if (LIMIT_CODES[code] !== undefined) return { kind: 'limit', message: this.limitMessage(code) };
    if (UNAVAILABLE_CODES.has(code)) return { kind: 'unavailable', message: 'ClickHouse is overloaded or failing; retry later' };
    return { kind: 'invalid', message: scrubMessage(message, [resolve(this.opts.dataDir)]) };
  }

  /** Closes the query connection. Idempotent, safe without any query. */
  async close(): Promise<void> {
    this.closed = true;
    const opening = this.opening;
    this.opening = undefined;
    const client = this.client ?? (await opening?.catch(() => undefined));
    this.client = undefined;
    await client?.close();
  }
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
