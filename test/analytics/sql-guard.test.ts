// The guard's pure parts: rebuilding EXPLAIN output strictly, the checks on
// it, the SETTINGS clause, message scrubbing, Accept negotiation. (The whole
// path against ClickHouse is isolation.test.ts.)
import { describe, expect, it } from 'vitest';
import { checkAst, checkQueryTree, DEFAULT_LIMITS, isRefusal, parseExplainAst, scrubMessage, tenantSettings, type AstNode } from '../../collector/analytics/sql-guard.ts';
import { formatOf } from '../../collector/api/query.ts';
import { TenantQueryEngine } from '../../collector/analytics/tenant-query.ts';

const AST = `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Function count (children 1)
     ExpressionList
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier consentry.otel_traces
`;
const opts = { knownTables: new Set(['otel_traces', 'tenants']), virtualColumns: new Set(['_part']) };

describe('parseExplainAst', () => {
  it('rebuilds the tree', () => {
    const root = parseExplainAst(AST) as AstNode;
    expect(root.type).toBe('SelectWithUnionQuery');
    expect(root.children[0]!.children[0]!.children[1]!.children[0]!.children[0]!.children[0]).toEqual({ type: 'TableIdentifier', detail: 'consentry.otel_traces', children: [] });
    expect(checkAst(root, opts)).toBeUndefined();
  });

  it.each([
    ['an injected line (newline in a name)', AST.replace('Function count (children 1)', 'Function count (children 1)\n     Identifier x')],
    ['a missing child', AST.replace('(children 2)', '(children 3)')],
    ['a child too deep', AST.replace('     ExpressionList', '       ExpressionList')],
    ['two roots', `${AST}SelectWithUnionQuery\n`],
    ['an indented root', ' SelectWithUnionQuery\n'],
    ['empty', ''],
  ])('refuses %s', (_name, text) => {
    expect(isRefusal(parseExplainAst(text))).toBe(true);
  });
});

describe('checkAst', () => {
  const tree = (inner: string) => parseExplainAst(inner) as AstNode;
  it.each([
    ['FORMAT', 'SelectWithUnionQuery (children 2)\n ExpressionList\n Identifier JSON\n', /FORMAT/],
    ['a table function', AST.replace('TableIdentifier consentry.otel_traces', 'Function numbers (children 1)\n       ExpressionList'), /table functions/],
    ['a private table', AST.replace('consentry.otel_traces', 'consentry.tenants'), /not available/],
    ['a private table, unqualified', AST.replace('consentry.otel_traces', 'tenants'), /not available/],
    ['another database', AST.replace('consentry.otel_traces', 'system.one'), /database "system"/],
    ['SETTINGS', AST.replace('SelectQuery (children 2)', 'SelectQuery (children 3)').replace('      TableIdentifier consentry.otel_traces', '      TableIdentifier consentry.otel_traces\n   Set'), /SETTINGS/],
    ['a refused function', AST.replace('Function count', 'Function dictGetString'), /dictGetString/],
    ['an AI function', AST.replace('Function count', 'Function aiGenerate'), /aiGenerate/],
    ['a virtual column', AST.replace('    Function count (children 1)\n     ExpressionList', '    Identifier t._part'), /_part/],
    ['not a SELECT', 'DropQuery  table\n', /single SELECT/],
  ])('refuses %s', (_name, text, message) => {
    const r = checkAst(tree(text), opts);
    expect(r?.message).toMatch(message);
  });

  it('lets an unknown unqualified name through (a CTE): the query tree decides', () => {
    expect(checkAst(tree(AST.replace('consentry.otel_traces', 'my_cte')), opts)).toBeUndefined();
  });
});

describe('checkQueryTree', () => {
  it.each([
    ['a resolved private table', '  JOIN TREE\n    TABLE id: 3, alias: __table1, table_name: consentry.tenants\n', /consentry.tenants/],
    ['a table function', '    TABLE_FUNCTION id: 3, alias: __table1, table_function_name: numbers\n', /table functions/],
    ['PREWHERE', '    TABLE id: 3, table_name: consentry.otel_traces\n  PREWHERE\n    FUNCTION id: 4\n', /PREWHERE/],
  ])('refuses %s', (_name, text, message) => {
    expect(checkQueryTree(text)?.message).toMatch(message);
  });
  it('accepts tenant tables and system.one', () => {
    expect(checkQueryTree('    TABLE id: 3, alias: __table1, table_name: consentry.otel_traces\n    TABLE id: 5, table_name: system.one\n')).toBeUndefined();
  });
});

describe('tenantSettings and messages', () => {
  it('filters every tenant table by the tenant id and refuses odd ids', () => {
    const s = tenantSettings('acme', DEFAULT_LIMITS, '6f1c2d3e-0000-4000-8000-00000000abcd');
    for (const t of ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata', 'tier_audit']) expect(s).toContain(`'consentry.${t}':'TenantId = \\'acme\\''`);
    expect(s).toContain('max_execution_time = 30');
    expect(s).toContain('max_threads = 1');
    expect(s).toContain("log_comment = '6f1c2d3e-0000-4000-8000-00000000abcd'");
    expect(() => tenantSettings("x' OR 1", DEFAULT_LIMITS, '6f1c2d3e')).toThrow(/invalid tenant id/);
    expect(() => tenantSettings('acme', DEFAULT_LIMITS, "x', readonly = 0")).toThrow(/invalid query nonce/);
    expect(s).not.toContain('SQL_consentry_tenant');
    expect(tenantSettings('acme', DEFAULT_LIMITS, '6f1c2d3e', { rowPolicy: true })).toMatch(/^additional_table_filters = .*, SQL_consentry_tenant = 'acme', output_format_json_quote_64bit_integers = 0$/);
  });

  it('scrubs what is not the tenant\'s', () => {
    const msg =
      "Code: 60. DB::Exception: Unknown table expression identifier 'tenant' in scope SELECT * FROM tenant SETTINGS additional_table_filters = {'consentry.otel_traces':'TenantId = \\'acme\\''}, max_execution_time = 30, result_overflow_mode = 'throw', max_threads = 1, os_thread_priority = 10, log_comment = '6f1c2d3e-0000-4000-8000-00000000abcd', output_format_json_quote_64bit_integers = 0. Maybe you meant consentry.tenants?. (UNKNOWN_TABLE) (version 26.7.2.1)";
    expect(scrubMessage(msg)).toBe("Unknown table expression identifier 'tenant' in scope SELECT * FROM tenant. (UNKNOWN_TABLE)");
    expect(scrubMessage('Code: 62. DB::Exception: Syntax error: failed at position 9: ; DROP. : In scope SELECT formatQuerySingleLine(\'SELECT 1; DROP\') AS c. (SYNTAX_ERROR)')).toBe('Syntax error: failed at position 9: ; DROP. (SYNTAX_ERROR)');
    expect(scrubMessage('Cannot read /data/x/clickhouse/store/abc', ['/data/x'])).toBe('Cannot read <data>/clickhouse/store/abc');
  });

  it.each([
    [undefined, 'json'],
    ['*/*', 'json'],
    ['application/json', 'json'],
    ['application/x-ndjson', 'ndjson'],
    ['text/csv;q=0.9, application/json;q=0.5', 'csv'],
    ['text/html', undefined],
  ])('Accept %s -> %s', (accept, format) => {
    expect(formatOf(accept)).toBe(format);
  });
});

describe('TenantQueryEngine lifecycle', () => {
  it('closes without having opened, twice', async () => {
    const e = new TenantQueryEngine({ clickhouseUrl: '', dataDir: '/nonexistent' });
    await e.close();
    await e.close();
    expect(await e.prepare('acme', 'SELECT 1')).toMatchObject({ kind: 'unavailable' });
  });
});
