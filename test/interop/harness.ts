// Runs real telemetry clients (Python drivers in clients/, telemetrygen)
// against a Consentry started in this process and the OpenAI mock, one tenant
// per client and tier, and reads back what each tenant stored through the
// public API only: POST /api/query with the tenant's query key, and the
// dashboard with the admin token.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTelemetrygen } from '../../scripts/interop/go-tools.ts';
import { ensurePythonEnv } from '../../scripts/interop/python-env.ts';
import { eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { startMockOpenAI, type MockOpenAI } from './mock-openai.ts';
import { EMAIL, MODEL, plantedSecret, promptMessages } from './traffic.ts';

const CLIENTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'clients');
/** A client run that takes longer is killed and reported (LiteLLM imports in about 3 s here). */
const RUN_TIMEOUT_MS = 90_000;
/** Client processes at once: the machine has 2 cores. */
const CONCURRENCY = 2;

export type Shape = 'bare' | 'server' | 'internal';

/** One process of a client: one LLM call for the Python drivers, `calls` traces for telemetrygen. */
export interface RunSpec {
  shape: Shape;
  stream?: boolean;
  /** Extra environment of this run (exporter protocol, compression, client switches). */
  vars?: Record<string, string>;
}

export type Launch = (ctx: { env: Interop; tenant: Tenant; run: RunSpec }) => { command: string; args: string[]; env: Record<string, string> };

export interface Tenant {
  id: string;
  tier: string;
  ingestKey: string;
  queryKey: string;
}

export interface RunResult {
  run: RunSpec;
  code: number | null;
  timedOut: boolean;
  /** Wall time of the process. */
  ms: number;
  stdout: string;
  stderr: string;
}

export interface Interop {
  consentry: TestConsentry;
  mock: MockOpenAI;
  /** The OpenAI key planted in every prompt and sent to the mock; made fresh per run. */
  secret: string;
  python: string;
  telemetrygen: string;
  close(): Promise<void>;
}

/** Starts Consentry and the mock, and builds the client toolchains this file needs (cached between runs). */
export async function startInterop(needs: { python?: boolean; go?: boolean }): Promise<Interop> {
  const python = needs.python === true ? (await ensurePythonEnv()).python : '';
  const telemetrygen = needs.go === true ? (await ensureTelemetrygen()).path : '';
  const consentry = await startTestConsentry();
  const mock = await startMockOpenAI();
  return {
    consentry,
    mock,
    secret: plantedSecret(),
    python,
    telemetrygen,
    async close() {
      await mock.close();
      await consentry.close();
    },
  };
}

export async function createTenant(env: Interop, id: string, tier: string): Promise<Tenant> {
  return { id, tier, ...(await env.consentry.createTenant(id, tier)) };
}

/** The parent's environment without any OTEL_* / LITELLM_* setting that would change what a client sends. */
function baseEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(OTEL_|LITELLM_|TRACELOOP_|OPENAI_)/.test(k)) out[k] = v;
  return out;
}

/** The OTLP/gRPC endpoint of the Consentry under test (tests start it with a gRPC port). */
function grpcUrl(env: Interop): string {
  if (env.consentry.otlpGrpcUrl === undefined) throw new Error('the Consentry under test has no gRPC port (CONSENTRY_OTLP_GRPC_PORT=off)');
  return env.consentry.otlpGrpcUrl;
}

/** A Python driver in clients/, configured through the standard OTEL_EXPORTER_OTLP_* variables (protocol `grpc`: sent to the gRPC port). */
export function pythonDriver(script: string, vars: Record<string, string> = {}): Launch {
  return ({ env, tenant, run }) => ({
    command: env.python,
    args: [join(CLIENTS_DIR, script)],
    env: {
      ...baseEnv(),
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONUNBUFFERED: '1',
      OTEL_EXPORTER_OTLP_ENDPOINT: { ...vars, ...run.vars }['OTEL_EXPORTER_OTLP_PROTOCOL'] === 'grpc' ? grpcUrl(env) : env.consentry.otlpUrl,
      // The spec's form: the value is URL-encoded, so the space is %20.
      OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer%20${tenant.ingestKey}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_SERVICE_NAME: `interop-${script.replace(/_client\.py$/, '')}`,
      INTEROP_MOCK_URL: env.mock.baseUrl,
      INTEROP_MODEL: MODEL,
      INTEROP_MESSAGES: JSON.stringify(promptMessages(env.secret)),
      INTEROP_SECRET: env.secret,
      INTEROP_EMAIL: EMAIL,
      INTEROP_SHAPE: run.shape,
      INTEROP_STREAM: run.stream === true ? '1' : '',
      ...vars,
      ...run.vars,
    },
  });
}

/**
 * telemetrygen: `traces` traces per run, each a CLIENT root ("lets-go") with
 * one SERVER child ("okey-dokey-0"); `attributes` go on every span of them.
 * Over OTLP/HTTP, or OTLP/gRPC (telemetrygen's default) with `grpc`.
 */
export function telemetrygenDriver(opts: { traces: number; attributes: Record<string, string | number>; grpc?: boolean }): Launch {
  return ({ env, tenant }) => ({
    command: env.telemetrygen,
    args: [
      'traces',
      ...(opts.grpc === true ? [] : ['--otlp-http']),
      '--otlp-insecure',
      '--otlp-endpoint',
      new URL(opts.grpc === true ? grpcUrl(env) : env.consentry.otlpUrl).host,
      '--otlp-header',
      `Authorization="Bearer ${tenant.ingestKey}"`,
      '--service',
      'interop-telemetrygen',
      '--traces',
      String(opts.traces),
      '--child-spans',
      '1',
      '--rate',
      '0',
      ...Object.entries(opts.attributes).flatMap(([k, v]) => ['--telemetry-attributes', typeof v === 'number' ? `${k}=${v}` : `${k}="${v}"`]),
    ],
    env: baseEnv(),
  });
}

function runOnce(launch: Launch, env: Interop, tenant: Tenant, run: RunSpec): Promise<RunResult> {
  const { command, args, env: childEnv } = launch({ env, tenant, run });
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, RUN_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not start ${command}: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ run, code, timedOut, ms: Date.now() - started, stdout, stderr });
    });
  });
}

/** Runs every job, CONCURRENCY processes at a time; results by tenant id. */
export async function runAll(env: Interop, jobs: Array<{ launch: Launch; tenant: Tenant; run: RunSpec }>): Promise<Map<string, RunResult[]>> {
  const results = new Map<string, RunResult[]>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      const r = await runOnce(job.launch, env, job.tenant, job.run);
      results.set(job.tenant.id, [...(results.get(job.tenant.id) ?? []), r]);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return results;
}

/** Why a run did not go through, or undefined when it did: exit 0 and no export refused. */
export function runProblem(r: RunResult): string | undefined {
  const what = `${r.run.shape}${r.run.stream === true ? ' stream' : ''} ${JSON.stringify(r.run.vars ?? {})} (${r.ms} ms)`;
  if (r.timedOut) return `${what}: killed after ${RUN_TIMEOUT_MS / 1000} s\n${r.stderr.slice(-2000)}`;
  // Exporters that the drivers do not own (LiteLLM's) only log a refused export.
  if (r.code !== 0 || /Failed to export|export failed/i.test(r.stderr)) return `${what}: exit ${r.code}\n${r.stderr.slice(-2000)}`;
  return undefined;
}

export type Row = Record<string, unknown>;

export interface Dashboard {
  requestData: string;
  totals?: { requests: number; errors: number; inputTokens: number; outputTokens: number };
  byModel?: Array<{ model: string; requests: number; calls: number; inputTokens: number; outputTokens: number }>;
  byProvider?: Array<{ provider: string; requests: number; calls: number; inputTokens: number; outputTokens: number }>;
}

export interface Stored {
  traces: Row[];
  logs: Row[];
  summaries: Row[];
  metadata: Row[];
  dashboard: Dashboard;
}

export const TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata'] as const;

/** One SELECT through the tenant query API (NDJSON); waits out QUERY_BUSY (Retry-After), as a client should. */
export async function query(env: Interop, tenant: Tenant, sql: string): Promise<Row[]> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${env.consentry.apiUrl}/api/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.queryKey}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
      body: JSON.stringify({ sql }),
    });
    const text = await res.text();
    if (res.status === 429 && attempt < 20) {
      await new Promise((r) => setTimeout(r, Math.min(Number(res.headers.get('retry-after') ?? 1), 2) * 1000));
      continue;
    }
    if (res.status !== 200) throw new Error(`POST /api/query ${JSON.stringify(sql)} for ${tenant.id}: ${res.status} ${text}`);
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Row);
  }
}

export async function dashboard(env: Interop, tenant: Tenant): Promise<Dashboard> {
  const r = await env.consentry.api('GET', `/api/tenants/${tenant.id}/dashboard?step=1h`);
  if (r.status !== 200) throw new Error(`dashboard of ${tenant.id}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Dashboard;
}

/**
 * Everything the tenant has stored. A 200 to the client means stored, but a
 * tier may fold spans of one trace that arrive apart, so the dashboard is
 * given a few seconds to reach `requests` before the rows are read.
 */
export async function stored(env: Interop, tenant: Tenant, requests: number): Promise<Stored> {
  if (requests > 0) await eventually(async () => ((await dashboard(env, tenant)).totals?.requests ?? 0) >= requests, 5000);
  // One query at a time: a tenant may run only CONSENTRY_QUERY_CONCURRENCY at once.
  const rows: Row[][] = [];
  for (const table of TABLES) rows.push(await query(env, tenant, `SELECT * FROM ${table}`));
  const [traces = [], logs = [], summaries = [], metadata = []] = rows;
  return { traces, logs, summaries, metadata, dashboard: await dashboard(env, tenant) };
}

/** `table.column` (or `table.column[key]` for maps) of every stored value containing `needle`. */
export function locate(s: Stored, needle: string): string[] {
  const found = new Set<string>();
  const tables: Array<[string, Row[]]> = [
    ['otel_traces', s.traces],
    ['otel_logs', s.logs],
    ['request_summaries', s.summaries],
    ['gateway_metadata', s.metadata],
  ];
  for (const [table, rows] of tables) {
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
          for (const [k, v] of Object.entries(value)) if (`${k}\u0000${JSON.stringify(v)}`.includes(needle)) found.add(`${table}.${column}[${k}]`);
        } else if (JSON.stringify(value ?? '').includes(needle)) {
          found.add(`${table}.${column}`);
        }
      }
    }
  }
  return [...found].sort();
}
