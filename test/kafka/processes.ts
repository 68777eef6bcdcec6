// Child processes for the Kafka suites: the chdb HTTP server, collectors and
// sinks, each started as `node dist/<entry>.js` (what production runs) with its own environment,
// on free loopback ports, with its output in a log file. Every process started
// here is killed when the test process exits.
import { compiled } from '../helpers/dist.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const ADMIN_TOKEN = 'kafka-test-admin-token';
/** One HMAC key for every instance of a test deployment (base64 of 32 bytes). */
export const HMAC_KEY = Buffer.alloc(32, 7).toString('base64');

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface Proc {
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The log so far (stdout and stderr). */
  log(): string;
  /** SIGTERM and wait (SIGKILL after `timeoutMs`); returns the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

/**
 * What a process runs: a compiled entry of this repo (given as its source
 * path) with its arguments, or Node's arguments in another folder (an older
 * release's code, test/upgrade/release.ts).
 */
export type Command = { entry: string; args?: string[] } | { argv: string[]; cwd: string };

/** Starts `node <command>`; resolves once `ready` matches its output. */
export async function startProcess(opts: Command & {
  name: string;
  env?: Record<string, string>;
  ready: RegExp;
  logDir: string;
  timeoutMs?: number;
}): Promise<Proc & { match: RegExpMatchArray }> {
  const logFile = join(opts.logDir, `${opts.name}-${Date.now()}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, 'argv' in opts ? opts.argv : [compiled(opts.entry), ...(opts.args ?? [])], {
    cwd: 'cwd' in opts ? opts.cwd : REPO,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...opts.env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  live.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const log = () => readFileSync(logFile, 'utf8');
  const proc: Proc = {
    child,
    logFile,
    exited,
    log,
    async stop(timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const r = await exited;
      clearTimeout(timer);
      return r.code;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let done = false;
  void exited.then(() => (done = true));
  for (;;) {
    const m = log().match(opts.ready);
    if (m !== null) return Object.assign(proc, { match: m });
    if (done) throw new Error(`${opts.name} exited before it was ready:\n${log().slice(-3000)}`);
    if (Date.now() > deadline) {
      await proc.kill();
      throw new Error(`${opts.name} not ready after ${opts.timeoutMs ?? 60_000} ms:\n${log().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type Role = 'chdb-server' | 'collector' | 'sink';

/** The code a helper below starts: this repo's compiled entry points (the default), or an older release's (test/upgrade/release.ts). */
export type Code = (role: Role, args: string[]) => Command;

const ENTRIES: Record<Role, string> = { 'chdb-server': 'app/chdb-server.ts', collector: 'app/collector-main.ts', sink: 'app/sink-main.ts' };
export const CURRENT: Code = (role, args) => ({ entry: ENTRIES[role], args });

/** The chdb HTTP server on `dataDir` (same port on restart when `port` is given). */
export async function startChdbServerProcess(opts: { dataDir: string; port?: number; logDir: string; code?: Code }): Promise<Proc & { url: string; port: number }> {
  const p = await startProcess({
    name: 'chdb-server',
    ...(opts.code ?? CURRENT)('chdb-server', ['--data-dir', opts.dataDir, '--port', String(opts.port ?? 0)]),
    ready: /listening on (http:\/\/127\.0\.0\.1:(\d+))/,
    logDir: opts.logDir,
  });
  return Object.assign(p, { url: p.match[1]!, port: Number(p.match[2]) });
}

/** Environment of a Kafka-mode deployment: one broker, one ClickHouse URL, one topic prefix. */
export function kafkaEnv(opts: { brokers: string; clickhouseUrl: string; prefix: string; extra?: Record<string, string> }): Record<string, string> {
  return {
    CONSENTRY_KAFKA_BROKERS: opts.brokers,
    CONSENTRY_CLICKHOUSE_URL: opts.clickhouseUrl,
    CONSENTRY_KAFKA_TOPIC_PREFIX: opts.prefix,
    CONSENTRY_KAFKA_PARTITIONS: '3',
    CONSENTRY_ADMIN_TOKEN: ADMIN_TOKEN,
    CONSENTRY_HMAC_KEY: HMAC_KEY,
    CONSENTRY_LOG_LEVEL: 'info',
    CONSENTRY_SINK_GROUP: `${opts.prefix}sink`,
    CONSENTRY_SINK_MAX_DELAY_MS: '200',
    CONSENTRY_SINK_SESSION_TIMEOUT_MS: '6000',
    ...opts.extra,
  };
}

/** A collector process (`app/collector-main.ts`), in Kafka mode when `env` says so. */
export async function startCollectorProcess(opts: { env: Record<string, string>; dataDir: string; logDir: string; code?: Code }): Promise<Proc & { otlpUrl: string; apiUrl: string }> {
  const p = await startProcess({
    name: 'collector',
    ...(opts.code ?? CURRENT)('collector', []),
    env: { ...opts.env, CONSENTRY_DATA_DIR: opts.dataDir, CONSENTRY_OTLP_PORT: '0', CONSENTRY_OTLP_GRPC_PORT: '0', CONSENTRY_API_PORT: '0' },
    ready: /OTLP\/HTTP\s+(http:\/\/\S+?)\/v1\/traces[\s\S]*management API (http:\/\/\S+?)\/api/,
    logDir: opts.logDir,
  });
  return Object.assign(p, { otlpUrl: p.match[1]!, apiUrl: p.match[2]! });
}

/** A sink process (`app/sink-main.ts`). */
export async function startSinkProcess(opts: { env: Record<string, string>; dataDir: string; logDir: string; port?: number; code?: Code }): Promise<Proc & { url: string }> {
  const port = opts.port ?? (await freePort());
  const p = await startProcess({
    name: 'sink',
    ...(opts.code ?? CURRENT)('sink', []),
    env: { ...opts.env, CONSENTRY_DATA_DIR: opts.dataDir, CONSENTRY_SINK_PORT: String(port) },
    ready: /sink is running[\s\S]*?(http:\/\/127\.0\.0\.1:\d+)/,
    logDir: opts.logDir,
  });
  return Object.assign(p, { url: p.match[1]! });
}

/** Polls until `fn` returns a truthy value; throws with `what` after the deadline. */
export async function until<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 30_000, everyMs = 50): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${(last as Error).message}`}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Management API call with the admin token of these tests, or `token`. */
export async function api(apiUrl: string, method: string, path: string, body?: unknown, token = ADMIN_TOKEN): Promise<{ status: number; body: any }> {
  const res = await fetch(apiUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}
