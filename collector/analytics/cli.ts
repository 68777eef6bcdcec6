// `consentry` command-line client (bin/consentry.mjs): tenant SQL for anyone
// with a query key; dashboards, exports, erasures and operators for operators
// whose role allows them. Talks to the management API over HTTP; nothing here
// touches ClickHouse directly.
//
//   consentry query [--url URL] [--key QUERY_KEY] [--format table|json|ndjson|csv] "SELECT ..."   (SQL "-": stdin)
//   consentry dashboard --tenant ID [--from T] [--to T] [--step 5m] [--token TOKEN]
//   consentry export --tenant ID [--subject USER_ID] [--token TOKEN]          (NDJSON to stdout)
//   consentry erase --tenant ID [--subject USER_ID] [--reason TEXT] [--token TOKEN]
//   consentry operators list|create --name NAME --role ROLE|revoke --name NAME|audit [--token TOKEN]
//   consentry whoami [--token TOKEN]
//
// Defaults from the environment: CONSENTRY_URL (http://127.0.0.1:8080),
// CONSENTRY_QUERY_KEY, CONSENTRY_TOKEN (an operator's token), else
// CONSENTRY_ADMIN_TOKEN (the bootstrap admin token).
import { VERSION } from '../../core/version.ts';

export interface CliIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env: Record<string, string | undefined>;
  readStdin: () => Promise<string>;
  fetch: typeof fetch;
}

const USAGE = `usage:
  consentry query [--url URL] [--key QUERY_KEY] [--format table|json|ndjson|csv] "SELECT ..."
  consentry dashboard --tenant ID [--from TIME] [--to TIME] [--step 5m] [--url URL] [--token TOKEN]
  consentry export --tenant ID [--subject USER_ID] [--url URL] [--token TOKEN]
  consentry erase --tenant ID [--subject USER_ID] [--reason TEXT] [--url URL] [--token TOKEN]
  consentry operators list|audit [--url URL] [--token TOKEN]
  consentry operators create --name NAME --role admin|operator|privacy|viewer [--url URL] [--token TOKEN]
  consentry operators revoke --name NAME [--url URL] [--token TOKEN]
  consentry whoami [--url URL] [--token TOKEN]
  consentry --version
TOKEN: an operator's token, or the bootstrap admin token
environment: CONSENTRY_URL, CONSENTRY_QUERY_KEY, CONSENTRY_TOKEN (else CONSENTRY_ADMIN_TOKEN)
`;

const FLAGS = new Set(['url', 'key', 'token', 'format', 'tenant', 'subject', 'from', 'to', 'step', 'reason', 'name', 'role']);

function parseArgs(argv: string[]): { command: string; flags: Record<string, string>; rest: string[] } | string {
  const [command = '', ...args] = argv;
  const flags: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq === -1 ? undefined : eq);
      if (!FLAGS.has(name)) return `unknown option --${name}`;
      const value = eq === -1 ? args[++i] : a.slice(eq + 1);
      if (value === undefined) return `--${name} needs a value`;
      flags[name] = value;
    } else rest.push(a);
  }
  return { command, flags, rest };
}

/** Column-aligned text table; long cells cut at 60 characters. */
export function formatTable(columns: Array<{ name: string; type: string }>, rows: unknown[][]): string {
  const cell = (v: unknown) => {
    const s = v === null ? 'NULL' : typeof v === 'string' ? v : JSON.stringify(v);
    const one = s.replace(/\s+/g, ' ');
    return one.length > 60 ? `${one.slice(0, 57)}...` : one;
  };
  const numeric = columns.map((c) => /^(Nullable\()?(U?Int|Float|Decimal)/.test(c.type));
  const cells = rows.map((r) => columns.map((_, i) => cell(r[i])));
  const widths = columns.map((c, i) => Math.max(c.name.length, ...cells.map((r) => r[i]!.length)));
  const line = (vals: string[], header = false) =>
    vals.map((v, i) => (numeric[i] && !header ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(columns.map((c) => c.name), true), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map((r) => line(r))];
  return `${out.join('\n')}\n(${rows.length} row${rows.length === 1 ? '' : 's'})\n`;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    io.stderr(`${parsed}\n${USAGE}`);
    return 2;
  }
  const { command, flags, rest } = parsed;
  const url = (flags['url'] ?? io.env['CONSENTRY_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const admin = flags['token'] ?? io.env['CONSENTRY_TOKEN'] ?? io.env['CONSENTRY_ADMIN_TOKEN'];
  const fail = (message: string, code = 1) => {
    io.stderr(`${message}\n`);
    return code;
  };
  const call = async (method: string, path: string, token: string | undefined, init: { body?: string; accept?: string } = {}) => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (init.accept !== undefined) headers['accept'] = init.accept;
    return io.fetch(`${url}${path}`, { method, headers, body: init.body });
  };
  const problem = async (res: Response) => {
    const text = await res.text();
    try {
      const b = JSON.parse(text) as { error?: string; message?: string };
      return `${res.status} ${b.error ?? ''}: ${b.message ?? text}`;
    } catch {
      return `${res.status}: ${text}`;
    }
  };
  const tenantPath = () => {
    const t = flags['tenant'];
    return t === undefined ? undefined : `/api/tenants/${encodeURIComponent(t)}`;
  };

  try {
    switch (command) {
      case 'query': {
        const key = flags['key'] ?? io.env['CONSENTRY_QUERY_KEY'];
        if (key === undefined) return fail('consentry query: give the tenant query key with --key or CONSENTRY_QUERY_KEY', 2);
        let sql = rest.join(' ');
        if (sql === '-' || sql === '') sql = await io.readStdin();
        if (sql.trim() === '') return fail(`consentry query: no SQL given\n${USAGE}`, 2);
        const format = flags['format'] ?? 'table';
        const accept = { table: 'application/json', json: 'application/json', ndjson: 'application/x-ndjson', csv: 'text/csv' }[format];
        if (accept === undefined) return fail(`--format: one of table, json, ndjson, csv`, 2);
        const res = await call('POST', '/api/query', key, { body: JSON.stringify({ sql }), accept });
        if (!res.ok) return fail(await problem(res));
        const text = await res.text();
        if (format !== 'table') io.stdout(text.endsWith('\n') || text === '' ? text : `${text}\n`);
        else {
          const body = JSON.parse(text) as { columns: Array<{ name: string; type: string }>; rows: unknown[][] };
          io.stdout(formatTable(body.columns, body.rows));
        }
        return 0;
      }
      case 'dashboard': {
        const path = tenantPath();
        if (path === undefined) return fail('consentry dashboard: --tenant is required', 2);
        const q = new URLSearchParams(Object.entries({ from: flags['from'], to: flags['to'], step: flags['step'] }).filter((e): e is [string, string] => e[1] !== undefined));
        const res = await call('GET', `${path}/dashboard?${q.toString()}`, admin);
        if (!res.ok) return fail(await problem(res));
        io.stdout(`${JSON.stringify(await res.json(), null, 2)}\n`);
        return 0;
      }
      case 'export': {
        const path = tenantPath();
        if (path === undefined) return fail('consentry export: --tenant is required', 2);
        const subject = flags['subject'];
        const res = await call('GET', subject === undefined ? `${path}/export` : `${path}/subjects/${encodeURIComponent(subject)}/export`, admin);
        if (!res.ok || res.body === null) return fail(await problem(res));
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) io.stdout(decoder.decode(chunk, { stream: true }));
        return 0;
      }
      case 'erase': {
        const path = tenantPath();
        if (path === undefined) return fail('consentry erase: --tenant is required', 2);
        const subject = flags['subject'];
        // The audit names the operator of the token.
        const q = new URLSearchParams(flags['reason'] === undefined ? {} : { reason: flags['reason'] });
        const res = await call('DELETE', `${subject === undefined ? path : `${path}/subjects/${encodeURIComponent(subject)}`}?${q.toString()}`, admin);
        if (!res.ok) return fail(await problem(res));
        io.stdout(`${JSON.stringify(await res.json(), null, 2)}\n`);
        return 0;
      }
      case '--version':
      case 'version':
        io.stdout(`consentry ${VERSION}\n`);
        return 0;
      case 'operators': {
        const sub = rest[0] ?? '';
        const name = flags['name'];
        let res: Response;
        if (sub === 'list' || sub === 'audit') res = await call('GET', sub === 'list' ? '/api/operators' : '/api/operators/audit', admin);
        else if (sub === 'create') {
          if (name === undefined || flags['role'] === undefined) return fail('consentry operators create: --name and --role are required', 2);
          res = await call('POST', '/api/operators', admin, { body: JSON.stringify({ name, role: flags['role'] }) });
        } else if (sub === 'revoke') {
          if (name === undefined) return fail('consentry operators revoke: --name is required', 2);
          res = await call('DELETE', `/api/operators/${encodeURIComponent(name)}`, admin);
        } else return fail(`consentry operators: one of list, create, revoke, audit\n${USAGE}`, 2);
        if (!res.ok) return fail(await problem(res));
        const body = (await res.json()) as { token?: string };
        io.stdout(`${JSON.stringify(body, null, 2)}\n`);
        // Shown once: Consentry keeps only its hash.
        if (body.token !== undefined) io.stderr('The token is shown this once (Consentry stores only its hash): store it now.\n');
        return 0;
      }
      case 'whoami': {
        const res = await call('GET', '/api/session', admin);
        if (!res.ok) return fail(await problem(res));
        const me = (await res.json()) as { name: string; role: string; permissions: string[] };
        io.stdout(`${me.name} (${me.role}): ${me.permissions.join(', ')}\n`);
        return 0;
      }
      case '':
      case 'help':
      case '--help':
        io.stdout(USAGE);
        return command === '' ? 2 : 0;
      default:
        return fail(`unknown command "${command}"\n${USAGE}`, 2);
    }
  } catch (err) {
    return fail(`cannot reach ${url}: ${(err as Error).message}`);
  }
}
