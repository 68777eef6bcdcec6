// `npm start` as a user runs it: a separate process that prints where things
// are, generates its admin token, takes data, and on SIGTERM flushes what it
// accepted before exiting.
import { compiled } from '../helpers/dist.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openClickHouse } from '../../storage/clickhouse.ts';
import { GrpcTestClient, TRACE_METHOD } from '../helpers/grpc.ts';
import { cat, fixed64, hex, len } from '../helpers/protobuf.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'consentry-proc-'));
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

function start(env: Record<string, string>): Promise<{ out: string[]; otlp: string; grpc: string | undefined; api: string }> {
  const proc = spawn(process.execPath, [compiled('app/collector-main.ts')], {
    cwd: new URL('../../', import.meta.url).pathname,
    env: { ...process.env, CONSENTRY_DATA_DIR: dataDir, CONSENTRY_OTLP_PORT: '0', CONSENTRY_OTLP_GRPC_PORT: '0', CONSENTRY_API_PORT: '0', CONSENTRY_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  const out: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start banner: ${out.join('')}`)), 60_000);
    proc.stderr.on('data', (d: Buffer) => out.push(d.toString()));
    proc.stdout.on('data', (d: Buffer) => {
      out.push(d.toString());
      const text = out.join('');
      const otlp = /OTLP\/HTTP\s+(http:\/\/\S+?)\/v1\/traces/.exec(text)?.[1];
      const api = /management API\s+(http:\/\/\S+?)\/api/.exec(text)?.[1];
      const grpc = /OTLP\/gRPC\s+(http:\/\/\S+)/.exec(text)?.[1];
      if (otlp !== undefined && api !== undefined && text.includes('Try it:')) {
        clearTimeout(timer);
        resolve({ out, otlp, grpc, api });
      }
    });
    proc.on('exit', (code) => reject(new Error(`exited with ${code}: ${out.join('')}`)));
  });
}

describe('the service process', () => {
  it('refuses bad settings with every problem named, before starting', async () => {
    const proc = spawn(process.execPath, [compiled('app/collector-main.ts')], {
      cwd: new URL('../../', import.meta.url).pathname,
      env: { ...process.env, CONSENTRY_DATA_DIR: dataDir, CONSENTRY_OTLP_PORT: 'abc', CONSENTRY_BATCH_MAX_ROWS: '-1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise((r) => proc.on('exit', r));
    expect(code).toBe(1);
    expect(err).toContain('CONSENTRY_OTLP_PORT: must be a port number');
    expect(err).toContain('CONSENTRY_BATCH_MAX_ROWS: must be a positive integer');
  });

  it('starts, takes a span over each OTLP port, and flushes them on SIGTERM before exiting', async () => {
    // A batch delay far longer than the test: only the shutdown flush can store the span.
    const { out, otlp, grpc, api } = await start({ CONSENTRY_BATCH_MAX_DELAY_MS: '600000' });
    expect(out.join('')).toContain(join(dataDir, 'admin-token'));
    const admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const created = await fetch(`${api}/api/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'proc', tier: 'full' }),
    });
    expect(created.status).toBe(201);
    const { ingestKey } = (await created.json()) as { ingestKey: string };
    expect((await fetch(`${api}/readyz`)).status).toBe(200);

    const pending = fetch(`${otlp}/v1/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'flushed-on-sigterm', kind: 2, startTimeUnixNano: '1', endTimeUnixNano: '2' }] }] }] }),
    });
    const client = new GrpcTestClient(grpc!);
    const pendingGrpc = client.call(TRACE_METHOD, len(1, len(2, len(2, cat(len(1, hex('1af7651916cd43dd8448eb211c80319c')), len(2, hex('c7ad6b7169203331')), len(5, 'grpc-flushed-on-sigterm'), fixed64(7, 1n), fixed64(8, 2n))))), `Bearer ${ingestKey}`);
    await new Promise((r) => setTimeout(r, 300));
    const metrics = await (await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text();
    expect(metrics).toMatch(/consentry_records_accepted_total\{signal="traces"\} 2/);
    const exited = new Promise((r) => child!.on('exit', r));
    child!.kill('SIGTERM');
    const answer = await pending;
    expect(answer.status).toBe(200);
    expect((await pendingGrpc).code).toBe(0);
    client.close();
    const code = await exited;
    expect(code).toBe(0);
    child = undefined;

    const ch = openClickHouse({ url: '', dataDir });
    const rows = await (await ch.client.query({ query: `SELECT SpanName FROM consentry.otel_traces`, format: 'JSONEachRow' })).json();
    await ch.close();
    expect(rows).toEqual(expect.arrayContaining([{ SpanName: 'flushed-on-sigterm' }, { SpanName: 'grpc-flushed-on-sigterm' }]));
    expect(rows).toHaveLength(2);
  });

  it('CONSENTRY_OTLP_GRPC_PORT=off: no gRPC port, and the banner says how it was turned off', async () => {
    const { out, grpc } = await start({ CONSENTRY_OTLP_GRPC_PORT: 'off' });
    expect(grpc).toBeUndefined();
    expect(out.join('')).toMatch(/OTLP\/gRPC\s+off \(CONSENTRY_OTLP_GRPC_PORT=off\)/);
    const exited = new Promise((r) => child!.on('exit', (code, signal) => r({ code, signal })));
    child!.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    child = undefined;
  });
});
