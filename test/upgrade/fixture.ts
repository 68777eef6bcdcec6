// The upgrade fixture of the first release (fixtures/v0.1.0/, written by
// make-fixture.ts with that release's own code): what it holds, how to read
// it, and the traffic make-fixture.ts sent, so tests can tell what must be
// there and send the same shapes again.
//
//   data.tar.gz          the data directory: embedded ClickHouse (clickhouse/), admin-token, hmac-key
//   kafka-records.json   every record the release's collector produced to its topics, not consumed by any sink
//   manifest.json        keys, times, the release's own answers to the queries in QUERIES, its sink's group metadata
//   tiers/               the operator's tier files (CONSENTRY_TIERS_DIR of every run)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/dist.ts';
import { FIRST_RELEASE } from './release.ts';

export const FIXTURE_DIR = join(REPO, 'test', 'upgrade', 'fixtures', FIRST_RELEASE);
export const TIERS_DIR = join(FIXTURE_DIR, 'tiers');
/** Topic prefix of the release's Kafka deployment; recorded topic names are without it. */
export const FIXTURE_PREFIX = 'fixture.';

/** What a tenant sent, and what happened to it, in the release's run. */
export interface TenantPlan {
  id: string;
  /** Tier at creation. */
  tier: string;
  /** Through the release's Kafka collector (left in Kafka) or its embedded collector (stored). */
  via: 'kafka' | 'embedded';
  /** Spans per end user (`user.id`), each with one log record of its trace. */
  spans: Record<string, number>;
  /** Then: this user erased, a switch to this tier (with until, ISO, when temporary), or the tenant deleted. */
  erase?: string;
  switchTo?: { tier: string; until?: string; reason: string };
  deleted?: boolean;
}

/**
 * Every tier without expiry: rows the release wrote stay while the fixture is
 * kept (years), whatever the wall clock when a test reads them.
 */
export const PLAN: TenantPlan[] = [
  // Through Kafka first: the release's collector with no sink running.
  { id: 'k-full', tier: 'logorhythms', via: 'kafka', spans: { 'u-keep': 4, 'u-kerased': 2 }, erase: 'u-kerased' },
  { id: 'k-down', tier: 'logorhythms', via: 'kafka', spans: { 'u-down': 3 }, switchTo: { tier: 'fixture-meta', reason: 'consent narrowed while in flight' } },
  { id: 'k-sum', tier: 'fixture-summary', via: 'kafka', spans: { 'u-sum': 5 } },
  { id: 'k-gone', tier: 'logorhythms', via: 'kafka', spans: { 'u-gone': 2 }, deleted: true },
  // Then embedded, on the same data.
  { id: 't-full', tier: 'logorhythms', via: 'embedded', spans: { 'u-keep': 3, 'u-erased': 2 }, erase: 'u-erased' },
  { id: 't-meta', tier: 'fixture-meta', via: 'embedded', spans: { 'u-meta': 3 }, switchTo: { tier: 'logorhythms', until: '2099-01-01T00:00:00.000Z', reason: 'debug ticket 7' } },
  { id: 't-sum', tier: 'fixture-summary', via: 'embedded', spans: { 'u-sum': 6 } },
  { id: 't-gone', tier: 'logorhythms', via: 'embedded', spans: { 'u-gone': 2 }, deleted: true },
  // Last: a temporary switch whose until passes once the release has stopped (make-fixture.ts).
  { id: 't-revert', tier: 'fixture-meta', via: 'embedded', spans: { 'u-revert': 1 }, switchTo: { tier: 'logorhythms', until: 'soon', reason: 'short debug' } },
];

/** The tenant queries whose answers the release recorded (per tenant, with its query key). */
export const QUERIES = {
  traces: 'SELECT * FROM otel_traces ORDER BY Timestamp, SpanId',
  logs: 'SELECT * FROM otel_logs ORDER BY Timestamp, Body',
  metadata: 'SELECT * FROM gateway_metadata ORDER BY Timestamp, InstanceId',
  summaries:
    'SELECT Minute, Provider, Endpoint, Model, StatusClass, max(Tier) AS Tier, sum(Requests) AS Requests, sum(Errors) AS Errors, ' +
    'sumMap(LatencyBuckets) AS LatencyBuckets, sum(InputTokens) AS InputTokens, sum(OutputTokens) AS OutputTokens, sum(RequestBytes) AS RequestBytes, ' +
    'sum(ResponseBytes) AS ResponseBytes, min(ExpireAt) AS ExpireAt FROM request_summaries GROUP BY Minute, Provider, Endpoint, Model, StatusClass ' +
    'ORDER BY Minute, Provider, Endpoint, Model, StatusClass',
  audit: 'SELECT * FROM tier_audit ORDER BY At, Version',
} as const;

export interface QueryAnswer {
  columns: Array<{ name: string; type: string }>;
  rows: unknown[][];
}

export interface Manifest {
  release: string;
  commit: string;
  generatedAt: string;
  node: string;
  tenants: Record<string, { ingestKey: string; queryKey: string }>;
  /** When the release recorded each erasure and deletion, and the temporary switch of t-revert. */
  times: { erasedAt: Record<string, string>; revertUntil: string; stoppedAt: string };
  /** The release's answers, per tenant: the queries above and its API. */
  answers: Record<string, { queries: Record<keyof typeof QUERIES, QueryAnswer>; tier: unknown; audit: unknown; erasures: unknown; dashboard: unknown }>;
  /** The window the dashboards were asked for. */
  dashboardWindow: { from: string; to: string };
  /** Records in kafka-records.json per topic (names without the prefix). */
  kafkaRecords: Record<string, number>;
  /** Partitions of each topic (names without the prefix). */
  kafkaPartitions: Record<string, number>;
  /** The release's sink, seen from the broker: its group membership and what it did with a message of a layout it does not read. */
  oldSink: {
    protocol: string;
    subscribedTopics: string[];
    userDataBytes: number;
    layout2OnItsTopic: { topic: string; outcome: string; headers: Record<string, string> };
  };
}

export interface RecordedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

export function readManifest(): Manifest {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, 'manifest.json'), 'utf8')) as Manifest;
}

/** Records as the release's collector produced them (key, value and headers as base64). */
export function readKafkaRecords(): RecordedMessage[] {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, 'kafka-records.json'), 'utf8')) as RecordedMessage[];
}

/** A fresh copy of the release's data directory; returns its path. */
export function unpackData(): string {
  const root = mkdtempSync(join(tmpdir(), 'consentry-upgrade-'));
  execFileSync('tar', ['-xzf', join(FIXTURE_DIR, 'data.tar.gz'), '-C', root]);
  return join(root, 'data');
}

/** Record times: 2026-12-01T10:00:00Z plus one second per record. */
const BASE_NS = 1_796_119_200_000_000_000n;
const hex = (label: string, chars: number) => createHash('sha256').update(label).digest('hex').slice(0, chars);

/** Trace id of a tenant's user's i-th request. */
export const traceIdOf = (tenant: string, user: string, i: number) => hex(`${tenant}/${user}/${i}`, 32);

/** An API key the gateway saw (scrubbed everywhere; its HMAC kept where the tier hashes keys). */
export const GATEWAY_API_KEY = 'sk-proj-Fx7upgradeFixtureKey0123456789abcdefABCDEF';

const kv = (a: Record<string, string | number>) =>
  Object.entries(a).map(([key, v]) => ({ key, value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v } }));

const RESOURCE = { attributes: kv({ 'service.name': 'gw-fixture', 'service.version': '1.2.3', 'service.instance.id': 'gw-1' }) };

/** OTLP/JSON: one SERVER span per request of `user`, an LLM call with tokens, headers and bodies. */
export function spansJson(tenant: string, user: string, count: number, from = 0): string {
  const spans = Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const start = BASE_NS + BigInt(i) * 1_000_000_000n;
    return {
      traceId: traceIdOf(tenant, user, i),
      spanId: hex(`${tenant}/${user}/${i}/span`, 16),
      name: 'POST /v1/chat/completions',
      kind: 2,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + 250_000_000n + BigInt(i) * 1_000_000n),
      attributes: kv({
        'http.request.method': 'POST',
        'http.route': '/v1/chat/completions',
        'url.path': '/v1/chat/completions',
        'http.response.status_code': i % 4 === 3 ? 500 : 200,
        'client.address': '203.0.113.7',
        'user_agent.original': 'fixture-client/1.0',
        'user.id': user,
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': 10 + i,
        'gen_ai.usage.output_tokens': 20 + i,
        'http.request.header.authorization': `Bearer ${GATEWAY_API_KEY}`,
        'gateway.request.body': `{"messages":[{"role":"user","content":"hello from ${user} #${i}"}]}`,
        'gateway.response.body': `{"choices":[{"message":{"content":"hi ${user} #${i}"}}]}`,
      }),
      status: i % 4 === 3 ? { code: 2, message: 'upstream failed' } : { code: 0 },
    };
  });
  return JSON.stringify({ resourceSpans: [{ resource: RESOURCE, scopeSpans: [{ scope: { name: 'fixture' }, spans }] }] });
}

/** OTLP/JSON: one log record per request of `user` (in its trace), plus one gateway metadata record. */
export function logsJson(tenant: string, user: string, count: number, from = 0): string {
  const logRecords: object[] = Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      timeUnixNano: String(BASE_NS + BigInt(i) * 1_000_000_000n + 5_000_000n),
      severityNumber: 13,
      severityText: 'WARN',
      body: { stringValue: `upstream slow for ${user} #${i}, reported by ops@example.com` },
      attributes: kv({ 'user.id': user, 'code.function': 'proxy', 'gateway.request.body': `{"prompt":"hello from ${user} #${i}"}` }),
      traceId: traceIdOf(tenant, user, i),
      spanId: hex(`${tenant}/${user}/${i}/span`, 16),
    };
  });
  logRecords.push({
    timeUnixNano: String(BASE_NS + BigInt(from) * 1_000_000_000n + 7_000_000n),
    severityNumber: 9,
    severityText: 'INFO',
    body: { stringValue: 'gateway metadata' },
    attributes: kv({ 'event.name': 'gateway.metadata', 'gateway.uptime_seconds': 3600 + from, 'gateway.unexpected_restarts': 1, 'gateway.env.REGION': 'eu-west-1', 'gateway.policy_config': '{"policy":"fixture"}' }),
  });
  return JSON.stringify({ resourceLogs: [{ resource: RESOURCE, scopeLogs: [{ scope: { name: 'fixture' }, logRecords }] }] });
}
