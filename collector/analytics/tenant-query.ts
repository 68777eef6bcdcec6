// Runs a tenant's SQL so that it sees that tenant's rows only, whatever it
// sends. The isolation is ClickHouse's own, in four layers, on an engine
// session of the query's own:
//
// 0. Session: every tenant query gets a fresh engine session (embedded: a new
//    chdb connection, current database `consentry`, `readonly = 2`; server:
//    HTTP requests without session_id, each its own session), used for that
//    query's guard steps and execution only and closed after it, whatever the
//    outcome. chdb 3.4 prepends output that a failed query had already written
//    to the next answer on the same session (DESIGN.md, Engines): with one
//    session per query, there is no next answer to poison. And no answer is
//    trusted as SQL: step 1 and step 3 carry a nonce that every row must echo,
//    step 2's text must rebuild as exactly one tree.
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
//    table, evaluated first, and the limits (time, rows, bytes, memory,
//    threads), enforced by the engine. Each query is tagged with its nonce
//    (`log_comment`), so a query whose client went away is cancelled in the
//    engine (`KILL QUERY`), not left running until its time limit.
//    On a ClickHouse server, CONSENTRY_CLICKHOUSE_QUERY_URL names a read-only
//    user whose row policies filter TenantId by a setting of the statement
//    (deploy/README.md): a second filter, the server's own access control.
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
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
  | { kind: 'unavailable'; message: string } // ClickHouse unreachable or failing
  | { kind: 'cancelled'; message: string }; // the caller went away; the engine stopped the query

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
  /**
   * URL of the server-side reader user (CONSENTRY_CLICKHOUSE_QUERY_URL): tenant
   * queries run as that read-only user under its row policies, and carry the
   * tenant in the setting those policies read. Empty: clickhouseUrl's user.
   */
  readerUrl?: string;
  dataDir: string;
  limits?: Partial<QueryLimits>;
}

export interface RunOptions {
  /** Aborted when the caller went away: the query is cancelled in the engine. */
  signal?: AbortSignal;
}

/** One engine session, for one tenant query only. */
interface QuerySession {
  client: ClickHouseClient;
  close(): Promise<void>;
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
const CANCELLED: QueryFailure = { kind: 'cancelled', message: 'the query was cancelled: the client went away' };

export class TenantQueryEngine {
  readonly limits: QueryLimits;
  /** Server mode: one HTTP client; its requests carry no session_id, so each is a session of its own. */
  private server: ClickHouseClient | undefined;
  private metadata: Promise<{ knownTables: Set<string>; virtualColumns: Set<string> }> | undefined;
  private closed = false;
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly opts: TenantQueryEngineOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
  }

  private get readerUrl(): string {
    return this.opts.readerUrl !== undefined && this.opts.readerUrl !== '' ? this.opts.readerUrl : this.opts.clickhouseUrl;
  }

  /** A fresh session for one query (no I/O in the constructor: opened on use). */
  private async session(): Promise<QuerySession> {
    if (this.closed) throw new Error('tenant query engine is closed');
    if (this.opts.clickhouseUrl !== '') {
      // No settings in the URL: a readonly user is the server-side way (deploy/README.md),
      // and app/chdb-server.ts refuses URL settings on purpose.
      this.server ??= createClient({ url: this.readerUrl, database: TENANT_DATABASE, request_timeout: (this.limits.maxExecutionSeconds + 10) * 1000 });
      return { client: this.server, close: async () => undefined };
    }
    const client = this.embedded();
    try {
      // This session is the query's own: its settings stay on it, and it is closed after the query.
      await client.command({ query: `USE ${TENANT_DATABASE}` });
      await client.command({ query: 'SET readonly = 2' });
    } catch (err) {
      await client.close();
      throw err;
    }
    return { client, close: () => client.close() };
  }

  /** A new embedded chdb connection (a session of its own; cheap: about 2 ms here). */
  private embedded(): ClickHouseClient {
    const require = createRequire(import.meta.url);
    const mod = require('chdb/connection') as { createChdbConnection(o: { path: string }): unknown };
    const connection = mod.createChdbConnection({ path: join(resolve(this.opts.dataDir, 'clickhouse')) });
    return createClient({ connection } as unknown as Parameters<typeof createClient>[0]);
  }

  /** The tables of database consentry and the virtual columns of the tenant tables, read once. */
  private async known(): Promise<{ knownTables: Set<string>; virtualColumns: Set<string> }> {
    this.metadata ??= this.readMetadata().catch((err: unknown) => {
      this.metadata = undefined;
      throw err;
    });
    return this.metadata;
  }

  private async readMetadata(): Promise<{ knownTables: Set<string>; virtualColumns: Set<string> }> {
    const s = await this.session();
    try {
      const tables = await s.client.query({ query: `SELECT name FROM system.tables WHERE database = '${TENANT_DATABASE}'`, format: 'JSONEachRow' });
      const knownTables = new Set((await tables.json<{ name: string }>()).map((r) => r.name));
      const virtualColumns = new Set<string>(VIRTUAL_COLUMNS);
      for (const t of TENANT_TABLES) {
        const d = await s.client.query({ query: `DESCRIBE TABLE ${TENANT_DATABASE}.${t} SETTINGS describe_include_virtual_columns = 1`, format: 'JSONEachRow' });
        for (const c of await d.json<{ name: string; is_virtual?: number }>()) if (Number(c.is_virtual) === 1) virtualColumns.add(c.name);
      }
      return { knownTables, virtualColumns };
    } finally {
      await s.close();
    }
  }

  /** Parses and checks `sql` for `tenantId` on a session of its own; the statement to run, or why not. */
  async prepare(tenantId: string, sql: string): Promise<PreparedQuery | QueryFailure> {
    return this.withSession((s) => this.check(s, tenantId, sql, randomUUID()));
  }

  /** Checks and runs `sql` for `tenantId` on a session of its own; the whole answer in `format`. */
  async run(tenantId: string, sql: string, format: QueryFormat, opts: RunOptions = {}): Promise<QueryResult> {
    const nonce = randomUUID();
    const { signal } = opts;
    const gone = (): boolean => signal?.aborted === true;
    if (gone()) return { ok: false, failure: CANCELLED };
    const onAbort = () => void this.kill(nonce);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await this.withSession(async (s): Promise<QueryResult> => {
        const prepared = await this.check(s, tenantId, sql, nonce);
        if ('kind' in prepared) return { ok: false, failure: prepared };
        if (gone()) return { ok: false, failure: CANCELLED };
        return this.execute(s, prepared.statement, format);
      });
      if ('kind' in result) return { ok: false, failure: result };
      return gone() && !result.ok ? { ok: false, failure: CANCELLED } : result;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Runs `fn` on a fresh session and closes it whatever happens; unavailable when none opens. */
  private async withSession<T>(fn: (s: QuerySession) => Promise<T>): Promise<T | QueryFailure> {
    let s: QuerySession;
    try {
      s = await this.session();
    } catch (err) {
      return { kind: 'unavailable', message: `ClickHouse is not available: ${(err as Error).message}` };
    }
    const work = fn(s).finally(() => s.close());
    this.running.add(work);
    try {
      return await work;
    } finally {
      this.running.delete(work);
    }
  }

  private async check(s: QuerySession, tenantId: string, sql: string, nonce: string): Promise<PreparedQuery | QueryFailure> {
    const started = performance.now();
    if (Buffer.byteLength(sql, 'utf8') > this.limits.maxSqlBytes) {
      return { kind: 'rejected', message: `the SQL is longer than ${this.limits.maxSqlBytes} bytes` };
    }
    let known: Awaited<ReturnType<TenantQueryEngine['known']>>;
    try {
      known = await this.known();
    } catch (err) {
      return { kind: 'unavailable', message: `ClickHouse is not available: ${(err as Error).message}` };
    }
    // 1. ClickHouse's parser, on the text as a bound value: nothing in it runs.
    // The answer must be one row echoing this query's nonce.
    let canonical: string;
    try {
      const res = await s.client.query({
        query: 'SELECT {nonce:String} AS n, formatQuerySingleLine({sql:String}) AS c, formatQuerySingleLine(c) = c AS stable',
        query_params: { sql, nonce },
        format: 'JSONEachRow',
      });
      const rows = await res.json<{ n: string; c: string; stable: number | boolean }>();
      const row = rows[0];
      if (rows.length !== 1 || row === undefined || row.n !== nonce) return untrusted();
      if (!(row.stable === 1 || row.stable === true)) {
        return { kind: 'rejected', message: 'the query could not be checked: ClickHouse does not print it back the same way; simplify it' };
      }
      canonical = row.c;
    } catch (err) {
      return this.failure(err);
    }
    // 2. Syntax tree: the text must rebuild as exactly one tree (parseExplainAst).
    let astText: string;
    try {
      astText = await this.text(s.client, `EXPLAIN AST ${canonical}`);
    } catch (err) {
      return this.failure(err);
    }
    const ast = parseExplainAst(astText);
    if (isRefusal(ast)) return { kind: 'rejected', message: ast.message };
    const astRefusal = checkAst(ast, known);
    if (astRefusal !== undefined) return { kind: 'rejected', message: astRefusal.message };
    // 3. Query tree, with the tenant's settings already attached: name
    // resolution may run scalar subqueries, and those are filtered too. Read
    // as rows that each echo the nonce.
    const statement = `${canonical} SETTINGS ${tenantSettings(tenantId, this.limits, nonce, { rowPolicy: this.readerUrl !== this.opts.clickhouseUrl })}`;
    let treeText: string;
    try {
      const res = await s.client.query({ query: `SELECT {nonce:String} AS n, explain FROM (EXPLAIN QUERY TREE ${statement})`, query_params: { nonce }, format: 'JSONCompactEachRow' });
      const rows = await res.json<[string, string]>();
      if (rows.length === 0 || rows.some((r) => r[0] !== nonce)) return untrusted();
      treeText = rows.map((r) => r[1]).join('\n');
    } catch (err) {
      return this.failure(err);
    }
    const treeRefusal = checkQueryTree(treeText);
    if (treeRefusal !== undefined) return { kind: 'rejected', message: treeRefusal.message };
    return { statement, guardMs: performance.now() - started };
  }

  private async execute(s: QuerySession, statement: string, format: QueryFormat): Promise<QueryResult> {
    const chFormat = format === 'json' ? 'JSONCompactEachRowWithNamesAndTypes' : format === 'ndjson' ? 'JSONEachRow' : 'CSVWithNames';
    let text: string;
    try {
      const res = await s.client.query({ query: statement, format: chFormat });
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
    let names: unknown;
    let types: unknown;
    try {
      names = JSON.parse(lines[0] ?? '');
      types = JSON.parse(lines[1] ?? '');
    } catch {
      return { ok: false, failure: untrusted() };
    }
    if (!isStrings(names) || !isStrings(types) || names.length !== types.length) return { ok: false, failure: untrusted() };
    const columns = names.map((name, i) => ({ name, type: types[i] ?? '' }));
    // Rows are passed through as ClickHouse wrote them (valid JSON arrays).
    const body = `{"columns":${JSON.stringify(columns)},"rows":[${lines.slice(2).join(',')}]}`;
    return { ok: true, body, contentType: CONTENT_TYPES.json, rows: Math.max(0, lines.length - 2) };
  }

  /**
   * Cancels the running statement tagged with `nonce`, from a session of its
   * own (asynchronously: the engine stops it at its next check).
   */
  private async kill(nonce: string): Promise<void> {
    const killer = this.opts.clickhouseUrl === '' ? this.embedded() : this.server;
    if (killer === undefined) return;
    try {
      await killer.command({ query: `KILL QUERY WHERE Settings['log_comment'] = {nonce:String} ASYNC`, query_params: { nonce } });
    } catch {
      // Nothing to kill any more, or the engine is down: the time limit ends it anyway.
    } finally {
      if (killer !== this.server) await killer.close();
    }
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

  /** Stops taking queries, waits for the running ones, closes the server client. Idempotent, safe without any query. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }
}

/** An answer that is not what the step asked for: the engine is not trusted with it. */
function untrusted(): QueryFailure {
  return { kind: 'unavailable', message: 'ClickHouse answered something other than what was asked; retry later' };
}

function isStrings(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((v) => typeof v === 'string');
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
