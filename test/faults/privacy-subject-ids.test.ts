// Fault: end-user ids that do not fit a short path segment. A user.id of 1
// and of 1024 characters, ASCII and unicode (astral characters included),
// with slashes and other characters that must be percent-encoded, is
// exported and erased through every route: the API, the `consentry` CLI and
// the control-plane page's erase form (a real Chromium).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { CHROMIUM_ARGS, ensureChromium } from '../../scripts/ensure-chromium.ts';
import { post, splitTraces, tracesRequest, type SplitTrace } from './split-traces.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** 1024 code points: ASCII with slashes, or a unicode mix with astral characters (2 UTF-16 units each) and reserved URL characters. */
const long = (prefix: string, unicode: boolean) => {
  const filler = unicode ? ['é', '名', '😀', '/', '?', '%', '#', ' ', '𝄞', '&'] : ['x', '/', 'y', '-'];
  const chars = [...prefix];
  for (let i = 0; chars.length < 1024; i++) chars.push(filler[i % filler.length]!);
  return chars.join('');
};
const SUBJECTS: Record<'api' | 'cli' | 'ui', string[]> = {
  api: ['a', long('api/', false), long('api:', true)],
  cli: ['名', long('cli/', false), long('cli:', true)],
  ui: ['😀', long('ui/', false), long('ui:', true)],
};

let c: TestConsentry;
let key: string;
let browser: Browser;
let page: Page;
const traces = new Map<string, SplitTrace>();

beforeAll(async () => {
  const chromiumPath = await ensureChromium();
  if (!chromiumPath.ok) throw new Error(chromiumPath.message);
  c = await startTestConsentry();
  key = (await c.createTenant('ids', 'full')).ingestKey;
  // One trace per subject: its SERVER span with the user.id, two upstream spans without.
  for (const subject of Object.values(SUBJECTS).flat()) {
    const [t] = splitTraces({ users: [subject], perUser: 1, children: 2 });
    traces.set(subject, t!);
    await post(c.otlpUrl, key, 'traces', tracesRequest({ servers: [t!], children: [t!] }));
  }
  browser = await chromium.launch({ executablePath: chromiumPath.path, args: CHROMIUM_ARGS });
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await c?.close();
});

/** Rows of the subject's trace in ClickHouse (read directly, by trace id). */
const stored = async (subject: string) =>
  Number((await c.rows<{ n: number }>(`SELECT toUInt32(count()) AS n FROM consentry.otel_traces WHERE TenantId = 'ids' AND TraceId = '${traces.get(subject)!.traceId}'`))[0]!.n);

/** `consentry <args>` as a process, with the admin token and URL in its environment. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/consentry.mjs', ...args], {
      cwd: REPO,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', CONSENTRY_URL: c.apiUrl, CONSENTRY_ADMIN_TOKEN: ADMIN_TOKEN },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The span ids an NDJSON export holds, and its trailer. */
function exported(ndjson: string): { spans: string[]; end: unknown } {
  const lines = ndjson.trim().split('\n').map((l) => JSON.parse(l) as { table?: string; row?: Record<string, string>; end?: boolean; rows?: unknown });
  const end = lines.pop();
  return { spans: lines.filter((l) => l.table === 'otel_traces').map((l) => l.row!['SpanId']!).sort(), end };
}
const spanIds = (subject: string) => {
  const t = traces.get(subject)!;
  return [t.serverSpanId, ...t.childSpanIds].sort();
};

const named = (subjects: string[]) => subjects.map((s) => [`${[...s].length} characters, ${[...s].slice(0, 6).join('')}...`, s]);

describe('end-user ids of 1 to 1024 characters', () => {
  it.each(named(Object.values(SUBJECTS).flat()))('export through the API and the CLI: %s', async (_name, subject) => {
    const res = await fetch(`${c.apiUrl}/api/tenants/ids/subjects/${encodeURIComponent(subject)}/export`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(res.status).toBe(200);
    const api = exported(await res.text());
    // The end line also says how long the tenant's tier (full) keeps rows and content.
    expect(api).toEqual({ spans: spanIds(subject), end: { end: true, rows: { otel_traces: 3, otel_logs: 0 }, retention: expect.objectContaining({ rowsDays: 30, contentDays: 30 }) } });
    const out = await cli(['export', '--tenant', 'ids', '--subject', subject]);
    expect(out.code, out.stderr).toBe(0);
    expect(exported(out.stdout)).toEqual(api);
  });

  it.each(named(SUBJECTS.api))('erase through the API: %s', async (_name, subject) => {
    expect(await stored(subject)).toBe(3);
    const res = await c.api('DELETE', `/api/tenants/ids/subjects/${encodeURIComponent(subject)}?reason=api`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect([res.body.subject, res.body.rows.otel_traces]).toEqual([subject, 3]);
    expect(await stored(subject)).toBe(0);
  });

  it.each(named(SUBJECTS.cli))('erase through the CLI: %s', async (_name, subject) => {
    expect(await stored(subject)).toBe(3);
    const out = await cli(['erase', '--tenant', 'ids', '--subject', subject, '--reason', 'cli']);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ subject, rows: { otel_traces: 3 } });
    expect(await stored(subject)).toBe(0);
  });

  it('erase through the control-plane page', { timeout: 120_000 }, async () => {
    await page.goto(`${c.apiUrl}/ui/`);
    await page.getByLabel('Admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor();
    for (const subject of SUBJECTS.ui) {
      expect(await stored(subject)).toBe(3);
      await page.locator('tr[data-tenant="ids"]').getByRole('button', { name: 'Erase end user of ids' }).click();
      const dialog = page.getByRole('dialog', { name: 'Erase an end user of ids' });
      await dialog.getByLabel('End user id (user.id)').fill(subject);
      expect(await dialog.getByLabel('End user id (user.id)').inputValue()).toBe(subject); // nothing cut by maxlength
      await dialog.getByLabel(/^Reason/).fill('ui');
      await dialog.getByRole('button', { name: 'Review the erasure' }).click();
      await dialog.locator('#erase-confirm button.danger').click();
      await page.getByRole('status').filter({ hasText: 'Erased' }).filter({ hasText: '3 spans' }).waitFor({ timeout: 30_000 });
      await dialog.waitFor({ state: 'detached' });
      expect(await stored(subject)).toBe(0);
    }
    const audit = (await c.api('GET', '/api/tenants/ids/erasures')).body.erasures as Array<{ subject: string; reason: string }>;
    for (const [reason, subjects] of Object.entries(SUBJECTS)) {
      expect(audit.filter((e) => e.reason === reason).map((e) => e.subject).sort()).toEqual([...subjects].sort());
    }
  });

  it('refuses more than 1024 characters with a message, in the API and the form', async () => {
    const over = long('over:', true) + 'z';
    const res = await c.api('DELETE', `/api/tenants/ids/subjects/${encodeURIComponent(over)}`);
    expect([res.status, res.body.message]).toEqual([400, 'subject: must be the user.id, 1 to 1024 characters (URL-encoded)']);
    await page.locator('tr[data-tenant="ids"]').getByRole('button', { name: 'Erase end user of ids' }).click();
    const dialog = page.getByRole('dialog', { name: 'Erase an end user of ids' });
    await dialog.getByLabel('End user id (user.id)').fill('x'.repeat(1025));
    await dialog.getByLabel(/^Reason/).fill('too long');
    await dialog.getByRole('button', { name: 'Review the erasure' }).click();
    expect(await dialog.getByRole('alert').textContent()).toMatch(/1025 characters; a user\.id has at most 1024/);
  });
});
