// CONSENTRY_SECRET_RULES_FILE end to end: a Consentry started with an
// operator's rules file (its ingest workers read it too) stores no token of the
// operator's own format, nor the values of the headers and keys it names, in
// a tier that keeps everything; a bad file stops the start with file and line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadSettings } from '../../core/settings.ts';
import { startConsentry } from '../../app/collector.ts';
import { createSecretScrubber } from '../../processors/scrub-secrets/processor.ts';
import { testBatch, testLog, testSpan } from '../../processors/testing/records.ts';
import { eventually, startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { logsJson, tracesJson } from '../helpers/otlp-json.ts';

const dir = mkdtempSync(join(tmpdir(), 'consentry-secret-rules-e2e-'));
const rulesFile = join(dir, 'secret-rules.yaml');
writeFileSync(
  rulesFile,
  `extraRules:
  - id: acme-token
    kind: acme-key
    pattern: 'acme_[a-z0-9]{32}'
    keywords: [acme_]
extraHeaderNames: [X-Acme-Badge]
extraKeyNames: [door_pin]
`,
);

const TOKEN = 'acme_7f3k9q2m8x4v1b6n0p5r3t7w9y2z4c6d';
const HEADER_VALUE = 'opaque-session-value-2291';
const PIN = '4711-0815';

let c: TestConsentry;
beforeAll(async () => {
  c = await startTestConsentry({ secretRulesFile: rulesFile, ingestWorkers: 1 });
});
afterAll(async () => {
  await c?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('CONSENTRY_SECRET_RULES_FILE', () => {
  it('the built-in rules alone let these values through (so the test can fail)', () => {
    const builtIn = createSecretScrubber();
    expect(builtIn.scrubString(`key ${TOKEN}`)).toBe(`key ${TOKEN}`);
    const attrs = { 'http.request.header.x-acme-badge': HEADER_VALUE, 'app.door_pin': PIN };
    expect(builtIn.scrubAttributes(attrs)).toEqual(attrs);
  });

  it('a tenant on the full tier gets none of them stored; the markers name the kinds', async () => {
    const { ingestKey } = await c.createTenant('acme', 'full');
    const now = BigInt(Date.now()) * 1_000_000n;
    const span = testSpan(
      { 'http.request.header.x-acme-badge': HEADER_VALUE, 'app.door_pin': PIN, 'gateway.request.body': `{"messages":[{"role":"user","content":"my key is ${TOKEN}"}]}` },
      { name: 'POST /v1/chat/completions', startTimeUnixNano: now, endTimeUnixNano: now + 1000n },
    );
    const log = testLog({}, { body: `X-Acme-Badge: ${HEADER_VALUE} token=${TOKEN}`, timeUnixNano: now, observedTimeUnixNano: now });
    for (const [path, body] of [
      ['/v1/traces', tracesJson([testBatch({ spans: [span] })])],
      ['/v1/logs', logsJson([testBatch({ logs: [log] })])],
    ] as const) {
      const res = await fetch(`${c.otlpUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ingestKey}`, 'content-type': 'application/json' }, body });
      expect(res.status, path).toBe(200);
    }
    const stored = await eventually(async () => {
      const spans = await c.rows<{ SpanAttributes: Record<string, string> }>("SELECT SpanAttributes FROM consentry.otel_traces WHERE TenantId = 'acme'");
      const logs = await c.rows<{ Body: string }>("SELECT Body FROM consentry.otel_logs WHERE TenantId = 'acme'");
      return spans.length === 1 && logs.length === 1 ? { span: spans[0]!.SpanAttributes, log: logs[0]!.Body } : undefined;
    });
    expect(stored, 'the span and the log stored').toBeDefined();
    expect(stored!.span).toMatchObject({
      'http.request.header.x-acme-badge': '[REDACTED:credential]',
      'app.door_pin': '[REDACTED:secret]',
      'gateway.request.body': '{"messages":[{"role":"user","content":"my key is [REDACTED:acme-key]"}]}',
    });
    expect(stored!.log).toBe('X-Acme-Badge: [REDACTED:credential] token=[REDACTED:acme-key]');
    const everything = JSON.stringify(await c.rows("SELECT * FROM consentry.otel_traces WHERE TenantId = 'acme'")) + JSON.stringify(await c.rows("SELECT * FROM consentry.otel_logs WHERE TenantId = 'acme'"));
    for (const secret of [TOKEN, HEADER_VALUE, PIN]) expect(everything).not.toContain(secret);
  });

  it('a bad file stops the start, naming the file, the line and the key', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, "extraRules:\n  - id: x\n    kind: x\n    pattern: 'x_('\n    keywords: [x_]\n");
    const start = startConsentry(loadSettings({}, { dataDir: join(dir, 'never'), secretRulesFile: bad, logLevel: 'silent' }));
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow(new RegExp(`^invalid secret rules file:\\n  - ${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:4: extraRules\\[0\\]\\.pattern: does not compile: `));
  });
});
