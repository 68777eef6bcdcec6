// A small ClickHouse HTTP server hosting embedded chdb, for running several
// Consentry processes (collectors, sinks) against one embedded database in
// tests and on a laptop: chdb allows one data directory per process and is
// in-process only. It speaks the subset of the ClickHouse HTTP interface that
// @clickhouse/client uses, so every process points CONSENTRY_CLICKHOUSE_URL at
// it exactly as it would at a real server (https://clickhouse.com/docs/interfaces/http):
//
//   GET|POST /?query=...            query in the URL, data (INSERT) in the body
//   POST /                          the query in the body
//   database, query_id, default_format, param_<name> (for {name:Type}),
//   enable_http_compression (gzip answers), session_id, wait_end_of_query
//   GET /ping                       "Ok."
//
// Other settings in the URL are refused with an error: chdb would turn them into
// session-wide SET statements that stay for every later query (DESIGN.md,
// Engines); settings belong in the statement (`... SETTINGS name=value`).
// Errors answer like a server: a non-2xx status, X-ClickHouse-Exception-Code,
// and a body `Code: N. DB::Exception: ... (NAME)` that clickhouse-js parses.
//
//   npm run chdb-server -- --data-dir ./data/chdb --port 8123 [--host 127.0.0.1]
//
// It prints `chdb-server listening on http://HOST:PORT` once it serves, and
// stops cleanly on SIGTERM or SIGINT (finishes the queries it runs, then closes
// the database). Queries run one at a time, in arrival order.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { mkdirSync, rmSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

/** `INSERT INTO <table> [(<columns>)]` and the rest (SETTINGS, FORMAT), as clickhouse-js writes an insert with its data in the body. */
const INSERT_HEAD = /^\s*(INSERT\s+INTO\s+[\w.`"]+(?:\s*\([^)]*\))?)\s+((?:SETTINGS\b[\s\S]*?\s+)?FORMAT\s+\w+)\s*$/i;

/** The part of chdb's Session this server uses. */
interface ChdbSession {
  queryAsync(query: string, opts?: { format?: string }): Promise<ChdbResult>;
  queryBindAsync(query: string, params: object, opts?: { format?: string }): Promise<ChdbResult>;
  close(): void;
}
interface ChdbResult {
  readonly elapsed: number;
  readonly rowsRead: number;
  readonly bytesRead: number;
  bytes(): Uint8Array;
}

export interface ChdbServerOptions {
  /** chdb data directory (created if missing). */
  dataDir: string;
  /** Port on `host`; 0 picks a free one. */
  port: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Largest request body, bytes; default 1 GiB. */
  maxBodyBytes?: number;
}

export interface ChdbServer {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, finishes running queries, closes chdb. Idempotent. */
  close(): Promise<void>;
}

/** URL parameters of the HTTP interface that are not settings, or that this server honours itself. */
const ACCEPTED = new Set(['query', 'query_id', 'database', 'default_format', 'enable_http_compression', 'session_id', 'session_timeout', 'session_check', 'wait_end_of_query', 'user', 'password']);

/** ClickHouse error codes and names used for this server's own errors. */
const E = {
  UNKNOWN_SETTING: 115,
  BAD_ARGUMENTS: 36,
  SYNTAX_ERROR: 62,
  NETWORK_ERROR: 210,
  STD_EXCEPTION: 1001,
  TOO_LARGE_REQUEST: 241, // MEMORY_LIMIT_EXCEEDED is the nearest a server answers
} as const;

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
  ) {
    super(message);
  }
}

/** HTTP status a ClickHouse server gives an exception code (HTTPHandler's mapping, the common cases). */
function statusOf(code: number): number {
  switch (code) {
    case 60: // UNKNOWN_TABLE
    case 81: // UNKNOWN_DATABASE
    case 47: // UNKNOWN_IDENTIFIER
    case 46: // UNKNOWN_FUNCTION
      return 404;
    case 164: // READONLY
    case 497: // ACCESS_DENIED
      return 403;
    case 516: // AUTHENTICATION_FAILED
      return 401;
    case 6:
    case 26:
    case 27:
    case 36:
    case 53:
    case 62:
    case 69:
    case 115:
    case 117:
    case 130:
    case 131:
    case 16:
      return 400;
    default:
      return 500;
  }
}

/** Placeholder types in a query: `{name:Type}` -> Type (outer Nullable/LowCardinality removed). */
function placeholderTypes(sql: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of sql.matchAll(/\{\s*([A-Za-z_]\w*)\s*:\s*([^{}]+?)\s*\}/g)) {
    let type = m[2]!.trim();
    for (;;) {
      const inner = /^(?:Nullable|LowCardinality)\((.*)\)$/s.exec(type);
      if (inner === null) break;
      type = inner[1]!.trim();
    }
    out.set(m[1]!, type);
  }
  return out;
}

/** Reverses the TSV escaping clickhouse-js applies to top-level parameter values. */
function tsvUnescape(s: string): string {
  if (!s.includes('\\')) return s;
  const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', '0': '\0', a: '\x07', v: '\v', "'": "'", '\\': '\\', '"': '"' };
  return s.replace(/\\(.)/gs, (_m, c: string) => map[c] ?? c);
}

const COMPOSITE = /^(?:Array|Map|Tuple|Nested|Variant|Object|JSON|Dynamic)\b/;

/**
 * clickhouse-js sends parameter values in ClickHouse's escaped text form; chdb
 * takes JS values and escapes top-level strings itself. Scalars are unescaped
 * so that chdb's escaping gives back exactly what the client sent; composite
 * values (arrays, maps, tuples) go as they are, which is exact unless they
 * contain a backslash (refused rather than bound wrongly).
 */
function bindParams(sql: string, params: Map<string, string>): Record<string, string | null> {
  const types = placeholderTypes(sql);
  const out: Record<string, string | null> = {};
  for (const [name, raw] of params) {
    const type = types.get(name) ?? 'String';
    if (raw === '\\N') out[name] = null;
    else if (!COMPOSITE.test(type)) out[name] = tsvUnescape(raw);
    else if (!/[\\\t\n\r]/.test(raw)) out[name] = raw;
    else throw new HttpError(E.BAD_ARGUMENTS, 'BAD_ARGUMENTS', `chdb-server cannot bind ${type} parameter "${name}" containing backslashes or control characters: pass it as an array of simpler values or inline it`);
  }
  return out;
}

/** One FIFO lane: chdb keeps one current database per session, so queries run one after another. */
class Lane {
  private tail: Promise<unknown> = Promise.resolve();
  private running = 0;
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.running++;
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined).finally(() => this.running--);
    return next;
  }
  async idle(): Promise<void> {
    while (this.running > 0) await this.tail;
  }
}

type SessionCtor = new (path: string, opts?: { connectionArgs?: readonly string[] }) => ChdbSession;

function loadChdb(): SessionCtor {
  const require = createRequire(import.meta.url);
  try {
    return (require('chdb') as { Session: SessionCtor }).Session;
  } catch (err) {
    throw new Error(`chdb could not be loaded: ${(err as Error).message}. Run \`npm install\` (chdb is an optional dependency).`, { cause: err });
  }
}

export async function startChdbServer(opts: ChdbServerOptions): Promise<ChdbServer> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  // Insert data waiting for chdb; anything left here is from a crash, before the insert was answered.
  const spoolDir = join(dataDir, 'insert-spool');
  rmSync(spoolDir, { recursive: true, force: true });
  mkdirSync(spoolDir, { recursive: true });
  const Session = loadChdb();
  // A server quotes 64-bit integers in JSON formats by default; chdb does not.
  // Answer as a server does, so that code tested here works against one.
  const session = new Session(dataDir, { connectionArgs: ['--output_format_json_quote_64bit_integers=1'] });
  const lane = new Lane();
  const maxBody = opts.maxBodyBytes ?? 1 << 30;
  let currentDb = 'default';
  let closing = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/ping' || (url.pathname === '/' && req.method === 'GET' && !url.searchParams.has('query'))) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8' }).end('Ok.\n');
      return;
    }
    if (url.pathname !== '/') throw new HttpError(E.BAD_ARGUMENTS, 'BAD_ARGUMENTS', `chdb-server serves / and /ping only, not ${url.pathname}`);
    if (req.method !== 'GET' && req.method !== 'POST') throw new HttpError(E.BAD_ARGUMENTS, 'BAD_ARGUMENTS', `method ${req.method} not allowed: use GET or POST`);
    if (closing) throw new HttpError(E.NETWORK_ERROR, 'NETWORK_ERROR', 'chdb-server is shutting down');

    const params = new Map<string, string>();
    for (const [k, v] of url.searchParams) {
      if (k.startsWith('param_')) params.set(k.slice(6), v);
      else if (!ACCEPTED.has(k)) {
        throw new HttpError(
          E.UNKNOWN_SETTING,
          'UNKNOWN_SETTING',
          `chdb-server does not take the setting "${k}" as a URL parameter: chdb would keep it for every later query of the session. Put it in the statement instead: ... SETTINGS ${k} = <value>`,
        );
      }
    }
    let body = await readBody(req, maxBody);
    if ((req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip') body = gunzipSync(body);

    const inUrl = url.searchParams.get('query');
    let sql: string;
    let dataFile: string | undefined;
    if (inUrl === null) sql = body.toString('utf8');
    else if (body.length === 0) sql = inUrl;
    else {
      // An INSERT with its data in the body; an empty data part inserts nothing (as a server does).
      const insert = INSERT_HEAD.exec(inUrl);
      if (insert !== null && body.toString('utf8').trim() === '') sql = '';
      else if (insert !== null) {
        // The data goes to chdb as a file (INSERT ... FROM INFILE), not inside the SQL text: about
        // half the CPU per row for large inserts (`npm run bench:insert`, e-infile).
        dataFile = join(spoolDir, `${randomUUID()}.data`);
        await writeFile(dataFile, body);
        sql = `${insert[1]} FROM INFILE '${dataFile}' ${insert[2]}`;
      } else sql = `${inUrl}\n${body.toString('utf8')}`;
    }
    const queryId = url.searchParams.get('query_id') ?? randomUUID();
    const format = url.searchParams.get('default_format') ?? 'TabSeparated';
    const database = url.searchParams.get('database') ?? 'default';
    if (!/^[\w.-]+$/.test(database)) throw new HttpError(E.BAD_ARGUMENTS, 'BAD_ARGUMENTS', `invalid database name "${database}"`);
    const bound = params.size > 0 ? bindParams(sql, params) : undefined;

    const result = await lane
      .run(async () => {
        if (sql.trim() === '') return undefined;
        if (database !== currentDb) {
          await session.queryAsync(`USE \`${database}\``);
          currentDb = database;
        }
        return bound === undefined ? session.queryAsync(sql, { format }) : session.queryBindAsync(sql, bound, { format });
      })
      .finally(() => (dataFile === undefined ? undefined : rm(dataFile, { force: true })));

    const out = result === undefined ? Buffer.alloc(0) : Buffer.from(result.bytes());
    const headers: Record<string, string> = {
      'content-type': 'text/plain; charset=UTF-8',
      'x-clickhouse-query-id': queryId,
      'x-clickhouse-format': format,
      'x-clickhouse-summary': JSON.stringify({
        read_rows: String(result?.rowsRead ?? 0),
        read_bytes: String(result?.bytesRead ?? 0),
        written_rows: '0',
        written_bytes: '0',
        total_rows_to_read: '0',
        result_rows: String(result?.rowsRead ?? 0),
        result_bytes: String(out.length),
        elapsed_ns: String(Math.round((result?.elapsed ?? 0) * 1e9)),
      }),
    };
    const gzip = url.searchParams.get('enable_http_compression') === '1' && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
    if (gzip) headers['content-encoding'] = 'gzip';
    res.writeHead(200, headers).end(gzip ? gzipSync(out) : out);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => sendError(res, err));
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : opts.port;
  const host = opts.host ?? '127.0.0.1';

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    close: () =>
      (closed ??= (async () => {
        closing = true;
        const stopped = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        await lane.idle();
        server.closeAllConnections();
        await stopped;
        session.close();
      })()),
  };
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new HttpError(E.TOO_LARGE_REQUEST, 'MEMORY_LIMIT_EXCEEDED', `request body larger than ${max} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendError(res: ServerResponse, err: unknown): void {
  let code: number;
  let text: string;
  if (err instanceof HttpError) {
    code = err.code;
    text = `Code: ${code}. DB::Exception: ${err.message}. (${err.codeName}) (version chdb-server)\n`;
  } else {
    const message = err instanceof Error ? err.message : String(err);
    const m = /Code: (\d+)\./.exec(message);
    code = m !== null ? Number(m[1]) : E.STD_EXCEPTION;
    // chdb's messages already read `Code: N. DB::Exception: ... (NAME)`, as a server's do.
    text = m !== null ? `${message.trimEnd()}\n` : `Code: ${code}. DB::Exception: ${message}. (STD_EXCEPTION) (version chdb-server)\n`;
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(statusOf(code), { 'content-type': 'text/plain; charset=UTF-8', 'x-clickhouse-exception-code': String(code) }).end(text);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'data-dir': { type: 'string' }, port: { type: 'string', default: '8123' }, host: { type: 'string', default: '127.0.0.1' } },
    strict: true,
  });
  const dataDir = values['data-dir'];
  const port = Number(values.port);
  const problems: string[] = [];
  if (dataDir === undefined || dataDir === '') problems.push('--data-dir: required, the folder chdb keeps its data in');
  if (!Number.isInteger(port) || port < 0 || port > 65535) problems.push(`--port: must be a port number 0-65535, got "${values.port}"`);
  if (problems.length > 0) {
    process.stderr.write(`usage: npm run chdb-server -- --data-dir DIR [--port 8123] [--host 127.0.0.1]\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exit(2);
  }
  const server = await startChdbServer({ dataDir: dataDir!, port, host: values.host });
  process.stdout.write(`chdb-server listening on ${server.url} (data in ${resolve(dataDir!)})\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: finishing running queries and stopping\n`);
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`chdb-server: stop failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`chdb-server failed to start: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
