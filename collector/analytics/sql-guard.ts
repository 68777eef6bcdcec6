// The checks a tenant's SQL must pass before it runs, on what ClickHouse itself
// made of it: the syntax tree of `EXPLAIN AST` and the resolved query tree of
// `EXPLAIN QUERY TREE` (names resolved to tables, CTEs inlined). Pure
// functions over their text output; tenant-query.ts runs the statements.
//
// Why not the SQL text: comments, quoting, string literals and aliases make
// every string match wrong in one direction or the other. The parser's output
// has one node per line and says what each thing is.
//
// The output is not escaped: an identifier or alias with a newline in it
// starts a new line. So the tree is rebuilt strictly (every node declares its
// number of children, every child sits exactly one level deeper) and any line
// that does not fit makes the query fail: an injected line can only cause a
// rejection, never hide a real node.

/** Tables a tenant may read, in database `consentry`; each is filtered to the tenant's rows. */
export const TENANT_TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata', 'tier_audit'] as const;
export const TENANT_DATABASE = 'consentry';
/** The custom setting the row policies of the server-side reader user compare TenantId with (deploy/README.md). */
export const ROW_POLICY_SETTING = 'SQL_consentry_tenant';

/** Consentry tables that are never readable, also when the current schema lists more. */
export const PRIVATE_TABLES = ['tenants', 'tier_assignments', 'schema_migrations', 'erasures', 'erasure_tombstones', 'erased_traces'];

/** Virtual columns of MergeTree tables: they expose the physical layout (and so other tenants' row counts). */
export const VIRTUAL_COLUMNS = [
  '_part',
  '_part_index',
  '_part_uuid',
  '_part_offset',
  '_part_starting_offset',
  '_part_granule_offset',
  '_part_data_version',
  '_partition_id',
  '_partition_value',
  '_sample_factor',
  '_row_exists',
  '_block_number',
  '_block_offset',
  '_disk_name',
  '_table',
  '_database',
  '_shard_num',
  '_distance',
];

/**
 * Functions refused anywhere in a tenant query (lower case): they read other
 * tables or files (dictionaries, Join tables, `file`), reveal server settings
 * or identity, act outside the query (AI calls, keeper ids, sleep), or see rows
 * beyond the filtered block (neighbor, running*, blockSize, rowNumberInBlock).
 */
const DENIED_FUNCTIONS = new Set([
  'file',
  'filesystemavailable',
  'filesystemcapacity',
  'filesystemunreserved',
  'getsetting',
  'getsettingordefault',
  'getserversetting',
  'getmergetreesetting',
  'getmacro',
  'getclienthttpheader',
  'showcertificate',
  'hascolumnintable',
  'generateserialid',
  'sleep',
  'sleepeachrow',
  'neighbor',
  'runningaccumulate',
  'runningconcurrency',
  'runningdifference',
  'runningdifferencestartingwithfirstvalue',
  'rownumberinblock',
  'rownumberinallblocks',
  'blocknumber',
  'blocksize',
  'catboostevaluate',
  'naivebayesclassifier',
  'naivebayesclassifierwithallprobs',
  'naivebayesclassifierwithprob',
  'naivebayesngrams',
  'fuzzquery',
  'fuzzbits',
  'hostname',
  'fqdn',
  'getoskernelversion',
  'getserverport',
  'tcpport',
  'serveruuid',
  'buildid',
  'mergetreepartinfo',
  'input',
]);
/** Prefixes refused (lower case): dictGet*, dictHas, dictIsIn, joinGet*, ClickHouse internals. */
const DENIED_PREFIXES = ['dict', 'joinget', '__'];
/** aiGenerate, AIClassify, ...: calls to model providers. */
const AI_FUNCTION = /^(ai|AI)[A-Z]/;

/** Syntax-tree node types a tenant SELECT may contain; anything else is refused. */
const ALLOWED_NODES = new Set([
  'SelectWithUnionQuery',
  'SelectIntersectExceptQuery',
  'SelectQuery',
  'ExpressionList',
  'TablesInSelectQuery',
  'TablesInSelectQueryElement',
  'TableExpression',
  'TableIdentifier',
  'TableJoin',
  'ArrayJoin',
  'Subquery',
  'Identifier',
  'Literal',
  'Function',
  'Asterisk',
  'QualifiedAsterisk',
  'ColumnsRegexpMatcher',
  'ColumnsListMatcher',
  'QualifiedColumnsRegexpMatcher',
  'QualifiedColumnsListMatcher',
  'ColumnsTransformerList',
  'ColumnsApplyTransformer',
  'ColumnsExceptTransformer',
  'ColumnsReplaceTransformer',
  'ColumnsReplaceTransformer::Replacement',
  'OrderByElement',
  'InterpolateElement',
  'WindowDefinition',
  'WindowListElement',
  'WithElement',
]);

/** What some refused node types are, for the message. */
const NODE_REASONS: Record<string, string> = {
  Set: 'SETTINGS is not allowed: Consentry sets the filters and limits of tenant queries',
  Explain: 'EXPLAIN is not allowed',
  QueryParameter: 'query parameters ({name:Type}) are not supported',
  SampleRatio: 'SAMPLE is not supported',
};

export interface AstNode {
  type: string;
  /** What follows the type on its line, without `(children N)`. */
  detail: string;
  children: AstNode[];
}

/** A refusal: the message says what was refused and what to do. */
export interface Refusal {
  refused: true;
  message: string;
}

const refuse = (message: string): Refusal => ({ refused: true, message });
export const isRefusal = (x: unknown): x is Refusal => typeof x === 'object' && x !== null && (x as Refusal).refused === true;

const LINE = /^( *)([A-Za-z][A-Za-z0-9_]*(?:::[A-Za-z0-9_]+)?)(?: (.*?))??(?: \(children (\d+)\))?$/;

/** Rebuilds the tree printed by `EXPLAIN AST`; a Refusal when the text is not one well-formed tree. */
export function parseExplainAst(text: string): AstNode | Refusal {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  const malformed = refuse('the query could not be checked (unexpected parser output); simplify names and aliases (no line breaks)');
  if (lines.length === 0 || lines[0] === '') return malformed;
  let pos = 0;
  const read = (depth: number): AstNode | undefined => {
    const line = lines[pos++];
    if (line === undefined) return undefined;
    const m = LINE.exec(line);
    if (m === null || m[1]!.length !== depth) return undefined;
    const node: AstNode = { type: m[2]!, detail: m[3] ?? '', children: [] };
    const n = m[4] === undefined ? 0 : Number(m[4]);
    for (let i = 0; i < n; i++) {
      const child = read(depth + 1);
      if (child === undefined) return undefined;
      node.children.push(child);
    }
    return node;
  };
  const root = read(0);
  if (root === undefined || pos !== lines.length) return malformed;
  return root;
}

/** `name (alias x)` -> `name`. */
function nameOf(detail: string): string {
  const i = detail.indexOf(' (alias ');
  return i === -1 ? detail : detail.slice(0, i);
}

export interface AstCheckOptions {
  /** Tables in database consentry that exist now (any tenant-readable or private). */
  knownTables: ReadonlySet<string>;
  /** Virtual column names of the tenant tables. */
  virtualColumns: ReadonlySet<string>;
}

/**
 * Checks the syntax tree of one tenant statement: a single SELECT (UNION,
 * INTERSECT, EXCEPT, WITH and subqueries allowed) without SETTINGS, FORMAT or
 * INTO OUTFILE, reading only tenant tables of database consentry (or CTEs), no
 * table functions, no refused functions, no virtual columns. Unqualified names
 * that are not tenant tables may be CTEs: the query tree check decides.
 */
export function checkAst(root: AstNode, opts: AstCheckOptions): Refusal | undefined {
  if (root.type !== 'SelectWithUnionQuery') return refuse('only a single SELECT statement is allowed (no DDL, DML, SET, SHOW or EXPLAIN)');
  const allowed = new Set<string>(TENANT_TABLES);
  const tableList = TENANT_TABLES.join(', ');
  const walk = (node: AstNode, parent: AstNode | undefined): Refusal | undefined => {
    if (!ALLOWED_NODES.has(node.type)) {
      return refuse(NODE_REASONS[node.type] ?? `"${node.type}" is not allowed in a tenant query: only a single SELECT is`);
    }
    switch (node.type) {
      case 'SelectWithUnionQuery':
        // More than the list of selects: FORMAT (an Identifier) or INTO OUTFILE (a Literal).
        if (node.children.length !== 1) return refuse('FORMAT and INTO OUTFILE are not allowed: ask for JSON, NDJSON or CSV with the Accept header');
        break;
      case 'TableExpression':
        for (const c of node.children) {
          if (c.type === 'Function') return refuse(`table functions are not allowed (${nameOf(c.detail)}(...)): read ${tableList}`);
          if (c.type !== 'TableIdentifier' && c.type !== 'Subquery') return refuse(`"${c.type}" is not allowed in FROM`);
        }
        break;
      case 'TableIdentifier': {
        const name = nameOf(node.detail);
        const dot = name.indexOf('.');
        if (dot !== -1) {
          const db = name.slice(0, dot);
          const table = name.slice(dot + 1);
          if (db !== TENANT_DATABASE) return refuse(`database "${db}" is not available: tenant queries read ${tableList} of database ${TENANT_DATABASE}`);
          if (!allowed.has(table)) return refuse(`table ${name} is not available: tenant queries read ${tableList}`);
        } else if (!allowed.has(name) && (opts.knownTables.has(name) || PRIVATE_TABLES.includes(name))) {
          return refuse(`table ${name} is not available: tenant queries read ${tableList}`);
        }
        break;
      }
      case 'Function': {
        const name = nameOf(node.detail).split(' ')[0] ?? '';
        const lower = name.toLowerCase();
        if (DENIED_FUNCTIONS.has(lower) || DENIED_PREFIXES.some((p) => lower.startsWith(p)) || AI_FUNCTION.test(name)) {
          return refuse(`function ${name}() is not available in tenant queries`);
        }
        break;
      }
      case 'Identifier': {
        const name = nameOf(node.detail);
        const last = name.slice(name.lastIndexOf('.') + 1);
        if (opts.virtualColumns.has(last) || VIRTUAL_COLUMNS.includes(last)) return refuse(`virtual column ${last} is not available in tenant queries`);
        break;
      }
    }
    void parent;
    for (const c of node.children) {
      const r = walk(c, node);
      if (r !== undefined) return r;
    }
    return undefined;
  };
  return walk(root, undefined);
}

/**
 * Checks the resolved query tree (`EXPLAIN QUERY TREE`): every table read, by
 * whatever name, CTE or `IN table` it was reached, is a tenant table of
 * database consentry (or system.one, the table of a SELECT without FROM); no
 * table function; no PREWHERE (it would run before the tenant filter).
 * Injected text can only add matches, so it can only cause a refusal.
 */
export function checkQueryTree(text: string): Refusal | undefined {
  if (text.includes('TABLE_FUNCTION') || text.includes('table_function_name')) return refuse('table functions are not allowed');
  const allowed = new Set<string>(TENANT_TABLES.map((t) => `${TENANT_DATABASE}.${t}`));
  allowed.add('system.one');
  let tables = 0;
  for (const m of text.matchAll(/table_name: ([^\s,]*)/g)) {
    const name = m[1] ?? '';
    if (!allowed.has(name)) return refuse(`table ${name} is not available: tenant queries read ${TENANT_TABLES.join(', ')}`);
    tables++;
  }
  for (const line of text.split('\n')) {
    if (line.trim() === 'PREWHERE') return refuse('PREWHERE is not allowed: use WHERE');
  }
  if (tables === 0 && /\bTABLE\b/.test(text)) return refuse('the query could not be checked (a table without a name); read the tenant tables by name');
  return undefined;
}

/**
 * The statement's own trailing SETTINGS: the tenant filter on every tenant
 * table (applied by ClickHouse to every read of it, in subqueries, joins, CTEs
 * and `IN table` too) and the limits. Never session settings: in embedded
 * chdb those would outlive the query (DESIGN.md, Engines).
 *
 * optimize_move_to_prewhere / query_plan_optimize_prewhere off and forced
 * short-circuit evaluation: the tenant's WHERE is evaluated only on rows that
 * passed the tenant filter (`TenantId = 'x' AND <where>`, lazily), so an
 * expression that fails on some value (throwIf, a division by zero, a parse)
 * cannot reveal other tenants' values through its error. Projections and the
 * trivial count are off so that every answer comes from filtered rows.
 */
export function tenantSettings(tenantId: string, limits: QueryLimits, nonce: string, opts: { rowPolicy?: boolean } = {}): string {
  if (!/^[0-9a-f-]{1,64}$/.test(nonce)) throw new Error(`invalid query nonce "${nonce}"`);
  const filter = (t: string) => `'${TENANT_DATABASE}.${t}':'TenantId = \\'${escapeForNestedLiteral(tenantId)}\\''`;
  return [
    `additional_table_filters = {${TENANT_TABLES.map(filter).join(', ')}}`,
    'optimize_move_to_prewhere = 0',
    'query_plan_optimize_prewhere = 0',
    "short_circuit_function_evaluation = 'force_enable'",
    'optimize_use_projections = 0',
    'optimize_use_implicit_projections = 0',
    'optimize_trivial_count_query = 0',
    'use_query_cache = 0',
    'enable_analyzer = 1',
    `max_execution_time = ${limits.maxExecutionSeconds}`,
    "timeout_overflow_mode = 'throw'",
    `max_result_rows = ${limits.maxResultRows}`,
    `max_result_bytes = ${limits.maxResultBytes}`,
    "result_overflow_mode = 'throw'",
    `max_memory_usage = ${limits.maxMemoryBytes}`,
    `max_threads = ${limits.maxThreads}`,
    // Below ingest in the CPU queue where the engine may renice its threads (Linux, CAP_SYS_NICE).
    'os_thread_priority = 10',
    // The nonce tags the running statement, so that it can be cancelled (KILL QUERY) when its client goes away.
    `log_comment = '${nonce}'`,
    // The tenant for the reader user's row policies (deploy/README.md); custom settings exist on a server only.
    ...(opts.rowPolicy === true ? [`${ROW_POLICY_SETTING} = '${escapeForNestedLiteral(tenantId)}'`] : []),
    'output_format_json_quote_64bit_integers = 0',
  ].join(', ');
}

/** Tenant ids are `[a-z0-9_-]` (TENANT_ID_PATTERN); refuse anything else rather than escape it twice. */
function escapeForNestedLiteral(id: string): string {
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(id)) throw new Error(`invalid tenant id "${id}"`);
  return id;
}

export interface QueryLimits {
  /** Longest a query may run, seconds (max_execution_time). */
  maxExecutionSeconds: number;
  /** Most rows a result may have (max_result_rows). */
  maxResultRows: number;
  /** Most bytes a result may have, uncompressed in memory (max_result_bytes). */
  maxResultBytes: number;
  /** Most memory a query may use, bytes (max_memory_usage). */
  maxMemoryBytes: number;
  /** Longest SQL text accepted, bytes. */
  maxSqlBytes: number;
  /** Threads one query may use (max_threads): one core stays for ingest on a small machine. */
  maxThreads: number;
}

export const DEFAULT_LIMITS: QueryLimits = {
  maxExecutionSeconds: 30,
  maxResultRows: 100_000,
  maxResultBytes: 64 << 20,
  maxMemoryBytes: 1 << 30,
  maxSqlBytes: 64 << 10,
  maxThreads: 1,
};

/**
 * A ClickHouse error message as the tenant may see it: without the settings
 * Consentry added, the guard's own wrapper statements, hints that may name
 * other tables ("Maybe you meant ..."), the server version, and `hide` strings
 * (the data directory).
 */
export function scrubMessage(message: string, hide: readonly string[] = []): string {
  let m = message;
  for (const h of hide) if (h !== '') m = m.split(h).join('<data>');
  m = m.replace(/^Code: \d+\. DB::Exception: /, '');
  m = m.replace(/\s*SETTINGS additional_table_filters = \{[^}]*\}(?:, [a-z0-9_]+ = (?:\d+|'[a-z0-9_-]+'))*/g, '');
  m = m.replace(/:?\s*In scope SELECT formatQuerySingleLine\([\s\S]*?(?=\s*\([A-Z_]+\)\s*$|$)/, '');
  m = m.replace(/EXPLAIN (?:AST|QUERY TREE) /g, '');
  m = m.replace(/\s*\(version [^)]*\)/g, '');
  m = m.replace(/\s*Maybe you meant[\s\S]*?(?=\s*\([A-Z_]+\)\s*$|$)/, '');
  return m.replace(/\s+(\([A-Z_]+\))$/, ' $1').trim();
}
