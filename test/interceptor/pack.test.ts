// `consentry/interceptor` from a plain JavaScript project, as a gateway team
// uses it: the package is packed (`npm pack`, which builds dist/), installed
// from the tarball into a new project, and a fastify gateway written in plain
// JavaScript (no TypeScript, no loader) sends its requests through it to a
// running Consentry.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { REPO } from '../helpers/dist.ts';

const run = promisify(execFile);
let c: TestConsentry;
let dir: string;

beforeAll(async () => {
  c = await startTestConsentry();
  dir = mkdtempSync(join(tmpdir(), 'consentry-pack-'));
}, 60_000);
afterAll(async () => {
  await c?.close();
  rmSync(dir, { recursive: true, force: true });
});

const GATEWAY = `
import Fastify from 'fastify';
import { createInterceptor } from 'consentry/interceptor';

const consentry = createInterceptor({
  url: process.env.CONSENTRY_OTLP_URL,
  ingestKey: process.env.CONSENTRY_INGEST_KEY,
  serviceName: 'plain-js-gateway',
  scheduledDelayMillis: 20,
});
if (!(await consentry.ready())) throw new Error('capture policy unknown: ' + consentry.stats().policyError);
const app = Fastify();
await app.register(consentry.fastify);
app.post('/v1/chat/completions', async () => ({ id: 'x', choices: [] }));
const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', payload: { model: 'gpt-4o-mini' } });
await consentry.shutdown();
await app.close();
console.log(JSON.stringify({ status: res.statusCode, stats: consentry.stats() }));
`;

describe('consentry/interceptor from a plain JavaScript project', () => {
  it('installs from the packed tarball and sends a gateway request as a span', { timeout: 240_000 }, async () => {
    const packs = join(dir, 'packs');
    mkdirSync(packs);
    await run('npm', ['pack', '--pack-destination', packs, '--silent'], { cwd: REPO, maxBuffer: 16 << 20 });
    const tarball = readdirSync(packs).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();

    const project = join(dir, 'gateway');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'plain-gateway', private: true, type: 'module' }));
    // From the npm cache where it can (the machine installed the same versions); chdb (optional) is left out.
    await run('npm', ['install', '--omit=optional', '--no-audit', '--no-fund', '--prefer-offline', join(packs, tarball!)], { cwd: project, maxBuffer: 16 << 20 });
    writeFileSync(join(project, 'gateway.js'), GATEWAY);

    const { ingestKey } = await c.createTenant('plainjs', 'full');
    const { stdout } = await run(process.execPath, ['gateway.js'], { cwd: project, env: { ...process.env, CONSENTRY_OTLP_URL: c.otlpUrl, CONSENTRY_INGEST_KEY: ingestKey } });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as { status: number; stats: { captured: number; exported: number } };
    expect(out.status).toBe(200);
    expect(out.stats).toMatchObject({ captured: 1, exported: 1 });
    const rows = await eventually(async () => {
      const r = await c.rows<{ SpanName: string; ServiceName: string }>("SELECT SpanName, ServiceName FROM consentry.otel_traces WHERE TenantId = 'plainjs'");
      return r.length > 0 ? r : undefined;
    });
    expect(rows).toEqual([{ SpanName: 'POST /v1/chat/completions', ServiceName: 'plain-js-gateway' }]);
  });
});
