// A seeded, deterministic corpus for the scrubber's tests and benchmark: planted
// secrets of many kinds in every place a record can carry them, look-alike
// non-secrets that must stay untouched, and realistic gateway spans. No secret
// here is real: every one is generated from the seed.

import type { Attributes, GatewayMetadataRecord, LogRecord, RecordBatch, Resource, Scope, SpanRecord } from '../../core/record.ts';
import { prng as rng } from '../testing/records.ts';


const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPPER32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const HEX = '0123456789abcdef';
const B64 = `${ALNUM}+/`;
const URLSAFE = `${ALNUM}_-`;

export class Gen {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  str(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  /** Random text of `n` characters from `alphabet` with at least one digit, one upper and one lower case letter (as real keys have). */
  key(alphabet: string, n: number): string {
    for (;;) {
      const s = this.str(alphabet, n);
      if (/[0-9]/.test(s) && /[a-z]/.test(s) && (/[A-Z]/.test(s) || !/[A-Z]/.test(alphabet))) return s;
    }
  }
  hex(n: number): string {
    return this.str(HEX, n);
  }
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
  base64(bytes: number): string {
    const b = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i++) b[i] = this.int(256);
    return b.toString('base64');
  }
}

// ---------------------------------------------------------------------------
// Secrets

export interface SecretKind {
  /** Name of the format (a test label, close to the rule kind). */
  name: string;
  make(g: Gen): string;
  /** Recognisable by content alone; otherwise only where a name or context says "credential". */
  patterned: boolean;
  /** Can stand in a URL (query value or userinfo) as it is. */
  urlSafe: boolean;
  /** A leading part that is not secret and may stay (the host of a webhook URL). */
  keeps?: string;
}

/** A PEM block shaped like a real one: the base64 body starts as DER (`MII...`) or OpenSSH key data does. */
const pem = (g: Gen, label: string, start: string): string => {
  const lines: string[] = [];
  for (let i = 0; i < 6; i++) lines.push(i === 0 ? start + g.str(B64, 64 - start.length) : g.str(B64, 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n${g.str(B64, 20)}==\n-----END ${label}-----`;
};

export const SECRET_KINDS: readonly SecretKind[] = [
  { name: 'openai-legacy', make: (g) => `sk-${g.key(ALNUM, 48)}`, patterned: true, urlSafe: true },
  { name: 'openai-project', make: (g) => `sk-proj-${g.key(URLSAFE, 120)}`, patterned: true, urlSafe: true },
  { name: 'openai-svcacct', make: (g) => `sk-svcacct-${g.key(URLSAFE, 60)}`, patterned: true, urlSafe: true },
  { name: 'anthropic', make: (g) => `sk-ant-api03-${g.key(URLSAFE, 93)}AA`, patterned: true, urlSafe: true },
  { name: 'openrouter', make: (g) => `sk-or-v1-${g.hex(64)}`, patterned: true, urlSafe: true },
  { name: 'aws-access-key-id', make: (g) => `${g.pick(['AKIA', 'ASIA'])}${g.str(UPPER32, 16)}`, patterned: true, urlSafe: true },
  { name: 'github-classic', make: (g) => `${g.pick(['ghp', 'gho', 'ghu', 'ghs', 'ghr'])}_${g.key(ALNUM, 36)}`, patterned: true, urlSafe: true },
  { name: 'github-fine-grained', make: (g) => `github_pat_${g.key(ALNUM, 22)}_${g.key(ALNUM, 59)}`, patterned: true, urlSafe: true },
  { name: 'slack-token', make: (g) => `${g.pick(['xoxb', 'xoxp', 'xoxa', 'xoxr'])}-${g.str('0123456789', 12)}-${g.str('0123456789', 12)}-${g.key(ALNUM, 24)}`, patterned: true, urlSafe: true },
  { name: 'slack-app-token', make: (g) => `xapp-1-A${g.str(UPPER32, 10)}-${g.str('0123456789', 13)}-${g.hex(64)}`, patterned: true, urlSafe: true },
  { name: 'slack-webhook', make: (g) => `https://hooks.slack.com/services/T${g.str(UPPER32, 8)}/B${g.str(UPPER32, 8)}/${g.key(ALNUM, 24)}`, patterned: true, urlSafe: false, keeps: 'https://hooks.slack.com/' },
  { name: 'google-api-key', make: (g) => `AIza${g.key(URLSAFE, 35)}`, patterned: true, urlSafe: true },
  { name: 'stripe-secret', make: (g) => `${g.pick(['sk_live', 'sk_test', 'rk_live'])}_${g.key(ALNUM, 48)}`, patterned: true, urlSafe: true },
  { name: 'stripe-webhook', make: (g) => `whsec_${g.key(ALNUM, 32)}`, patterned: true, urlSafe: true },
  {
    name: 'jwt',
    make: (g) => {
      const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc({ sub: g.uuid(), iat: 1700000000 + g.int(1e6), scope: 'chat' })}.${g.key(URLSAFE, 43)}`;
    },
    patterned: true,
    urlSafe: true,
  },
  { name: 'pem-rsa', make: (g) => pem(g, 'RSA PRIVATE KEY', 'MIIEpAIBAAKCAQEA'), patterned: true, urlSafe: false },
  { name: 'pem-pkcs8', make: (g) => pem(g, 'PRIVATE KEY', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'), patterned: true, urlSafe: false },
  { name: 'pem-openssh', make: (g) => pem(g, 'OPENSSH PRIVATE KEY', 'b3BlbnNzaC1rZXktdjEAAAAA'), patterned: true, urlSafe: false },
  { name: 'npm', make: (g) => `npm_${g.key(ALNUM, 36)}`, patterned: true, urlSafe: true },
  { name: 'gitlab', make: (g) => `glpat-${g.key(URLSAFE, 20)}`, patterned: true, urlSafe: true },
  { name: 'sendgrid', make: (g) => `SG.${g.key(URLSAFE, 22)}.${g.key(URLSAFE, 43)}`, patterned: true, urlSafe: true },
  { name: 'twilio', make: (g) => `SK${g.hex(32)}`, patterned: true, urlSafe: true },
  { name: 'huggingface', make: (g) => `hf_${g.key(ALNUM, 34)}`, patterned: true, urlSafe: true },
  { name: 'groq', make: (g) => `gsk_${g.key(ALNUM, 52)}`, patterned: true, urlSafe: true },
  { name: 'google-oauth-secret', make: (g) => `GOCSPX-${g.key(URLSAFE, 28)}`, patterned: true, urlSafe: true },
  { name: 'databricks', make: (g) => `dapi${g.hex(32)}`, patterned: true, urlSafe: true },
  // Only recognisable in context (a name, a URL userinfo, a scheme).
  { name: 'password', make: (g) => `${g.key(ALNUM, 10)}!${g.key(ALNUM, 4)}`, patterned: false, urlSafe: true },
  { name: 'opaque-token', make: (g) => g.key(URLSAFE, 40), patterned: false, urlSafe: true },
  { name: 'aws-secret-access-key', make: (g) => `${g.key(B64, 40)}`, patterned: false, urlSafe: false },
  { name: 'azure-account-key', make: (g) => `${g.base64(64)}`, patterned: false, urlSafe: false },
];

/** Where a secret can be planted; `render` gives the text around it (the secret itself must vanish). */
export interface Placement {
  name: string;
  /** Only for secrets recognisable by content. */
  needsPattern: boolean;
  /** Only for URL-safe secrets. */
  needsUrlSafe: boolean;
  /** Only for these secret kinds (context-specific formats). */
  only?: readonly string[];
  plant(p: PlantTarget, secret: string, g: Gen): void;
}

/** Records being built: a placement writes into them. */
export interface PlantTarget {
  span: SpanRecord;
  log: LogRecord;
  meta: GatewayMetadataRecord;
  resourceAttrs: Attributes;
}

const SECRET_HEADER_NAMES = ['x-api-key', 'api-key', 'x-auth-token', 'cookie', 'set-cookie', 'x-goog-api-key', 'proxy-authorization', 'x-amz-security-token', 'ocp-apim-subscription-key'];
const SECRET_JSON_KEYS = ['password', 'api_key', 'apiKey', 'secret', 'token', 'authorization', 'client_secret', 'private_key', 'access_token', 'refresh_token', 'x-api-key', 'Password', 'SecretAccessKey', 'credentials'];
const NEUTRAL_JSON_KEYS = ['note', 'value', 'data', 'text', 'content', 'detail'];
const SECRET_ENV_NAMES = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'DB_PASSWORD', 'PGPASSWORD', 'STRIPE_SECRET', 'GITHUB_TOKEN', 'SLACK_BOT_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'JWT_SECRET', 'SESSION_KEY', 'REDIS_PASS', 'SMTP_PASSWORD_FILE_CONTENT', 'HF_TOKEN', 'NPM_AUTH_TOKEN'];
const SECRET_QUERY_PARAMS = ['api_key', 'key', 'token', 'access_token', 'secret', 'password', 'sig', 'apiKey', 'X-Amz-Signature', 'client_secret', 'auth'];
const URL_SCHEMES = ['postgres', 'postgresql', 'mysql', 'mongodb+srv', 'redis', 'amqp', 'https'];

function nest(depth: number, leaf: Record<string, unknown>, g: Gen): Record<string, unknown> {
  let obj: Record<string, unknown> = leaf;
  for (let d = 1; d < depth; d++) {
    const wrap: Record<string, unknown> = { id: g.uuid(), kind: g.pick(['user', 'config', 'request', 'tool']) };
    wrap[g.pick(['config', 'auth', 'payload', 'items', 'settings', 'nested'])] = d % 2 === 0 ? [obj, { n: d }] : obj;
    obj = wrap;
  }
  return obj;
}

export const PLACEMENTS: readonly Placement[] = [
  { name: 'header authorization', needsPattern: false, needsUrlSafe: false, plant: (p, s) => void (p.span.attributes['http.request.header.authorization'] = `Bearer ${s}`) },
  { name: 'header by name', needsPattern: false, needsUrlSafe: false, plant: (p, s, g) => void (p.span.attributes[`http.request.header.${g.pick(SECRET_HEADER_NAMES)}`] = s) },
  { name: 'response header set-cookie', needsPattern: false, needsUrlSafe: false, plant: (p, s) => void (p.span.attributes['http.response.header.set-cookie'] = `session=${s}; Path=/; HttpOnly`) },
  { name: 'header free text', needsPattern: true, needsUrlSafe: false, plant: (p, s) => void (p.span.attributes['http.request.header.x-debug-note'] = `forwarded with ${s} by proxy`) },
  {
    name: 'url query',
    needsPattern: false,
    needsUrlSafe: true,
    plant: (p, s, g) => void (p.span.attributes['url.full'] = `https://api.example.com/v1/chat/completions?model=gpt-4o&${g.pick(SECRET_QUERY_PARAMS)}=${s}&stream=true`),
  },
  { name: 'url.query attribute', needsPattern: false, needsUrlSafe: true, plant: (p, s, g) => void (p.span.attributes['url.query'] = `${g.pick(SECRET_QUERY_PARAMS)}=${s}&page=2`) },
  { name: 'url userinfo', needsPattern: false, needsUrlSafe: true, plant: (p, s, g) => void (p.span.attributes['db.connection_string'] = `${g.pick(URL_SCHEMES)}://svc_user:${s}@db-${g.int(9)}.internal:5432/app?sslmode=require`) },
  { name: 'url userinfo no user', needsPattern: false, needsUrlSafe: true, plant: (p, s) => void (p.span.attributes['cache.url'] = `redis://:${s}@cache.internal:6379/0`) },
  { name: 'url in free text', needsPattern: true, needsUrlSafe: true, plant: (p, s) => void (p.log.body = `GET https://api.example.com/data/${s}/export failed`) },
  ...[1, 2, 3, 4, 5].map(
    (depth): Placement => ({
      name: `json body depth ${depth} secret key`,
      needsPattern: false,
      needsUrlSafe: false,
      plant: (p, s, g) => {
        const leaf: Record<string, unknown> = { user: 'bob', [g.pick(SECRET_JSON_KEYS)]: s, enabled: true, retries: 3 };
        p.span.attributes['gateway.request.body'] = JSON.stringify({ model: 'gpt-4o', max_tokens: 256, messages: [{ role: 'user', content: 'hello' }], meta: nest(depth, leaf, g) });
      },
    }),
  ),
  ...[1, 3, 5].map(
    (depth): Placement => ({
      name: `json body depth ${depth} neutral key`,
      needsPattern: true,
      needsUrlSafe: false,
      plant: (p, s, g) => {
        const leaf: Record<string, unknown> = { [g.pick(NEUTRAL_JSON_KEYS)]: `here is my key ${s} please use it`, n: 1 };
        p.span.attributes['gateway.response.body'] = JSON.stringify(nest(depth, leaf, g));
      },
    }),
  ),
  { name: 'json pretty printed', needsPattern: false, needsUrlSafe: false, plant: (p, s) => void (p.log.body = JSON.stringify({ level: 'info', config: { db: { host: 'db', password: s } } }, null, 2)) },
  { name: 'json in log text (escaped)', needsPattern: false, needsUrlSafe: false, plant: (p, s) => void (p.log.body = `request body: ${JSON.stringify(JSON.stringify({ api_key: s, q: 'x' }))}`) },
  { name: 'free text attribute', needsPattern: true, needsUrlSafe: false, plant: (p, s) => void (p.span.attributes['error.message'] = `upstream returned 401 for key ${s}; retrying`) },
  { name: 'status message', needsPattern: true, needsUrlSafe: false, plant: (p, s) => void (p.span.statusMessage = `invalid credentials: ${s}`) },
  { name: 'span name', needsPattern: true, needsUrlSafe: false, plant: (p, s) => void (p.span.name = `POST /v1/keys/${s}`) },
  { name: 'log body password=', needsPattern: false, needsUrlSafe: false, plant: (p, s) => void (p.log.body = `login ok user=bob password=${s} ip=10.0.0.1`) },
  { name: 'log body bearer', needsPattern: false, needsUrlSafe: false, only: ['opaque-token', 'jwt', 'openai-legacy', 'github-classic'], plant: (p, s) => void (p.log.body = `curl -H "Authorization: Bearer ${s}" https://api.example.com`) },
  { name: 'log body header line', needsPattern: false, needsUrlSafe: false, plant: (p, s) => void (p.log.body = `> GET / HTTP/1.1\n> Host: api\n> X-Api-Key: ${s}\n> Accept: */*`) },
  { name: 'log body free text', needsPattern: true, needsUrlSafe: false, plant: (p, s) => void (p.log.body = `user pasted ${s} into the prompt`) },
  { name: 'log attribute', needsPattern: true, needsUrlSafe: false, plant: (p, s) => void (p.log.attributes['exception.stacktrace'] = `Error: bad key ${s}\n    at call (client.js:10:5)`) },
  { name: 'ado connection string', needsPattern: false, needsUrlSafe: true, only: ['password', 'opaque-token'], plant: (p, s) => void (p.log.body = `Server=tcp:db.example.com,1433;Database=app;User ID=svc;Password=${s};Encrypt=True;`) },
  { name: 'azure storage connection string', needsPattern: false, needsUrlSafe: false, only: ['azure-account-key'], plant: (p, s) => void (p.log.body = `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${s};EndpointSuffix=core.windows.net`) },
  { name: 'aws secret in context', needsPattern: false, needsUrlSafe: false, only: ['aws-secret-access-key'], plant: (p, s) => void (p.log.body = `[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = ${s}\n`) },
  { name: 'env var by name', needsPattern: false, needsUrlSafe: false, plant: (p, s, g) => void (p.meta.environment[g.pick(SECRET_ENV_NAMES)] = s) },
  { name: 'env var DATABASE_URL', needsPattern: false, needsUrlSafe: true, plant: (p, s) => void (p.meta.environment['DATABASE_URL'] = `postgres://app:${s}@db:5432/app`) },
  { name: 'env var free text', needsPattern: true, needsUrlSafe: false, plant: (p, s) => void (p.meta.environment['EXTRA_ARGS'] = `--verbose --key ${s}`) },
  { name: 'env attribute on span', needsPattern: false, needsUrlSafe: false, plant: (p, s, g) => void (p.span.attributes[`env.${g.pick(SECRET_ENV_NAMES)}`] = s) },
  { name: 'policy config', needsPattern: false, needsUrlSafe: false, plant: (p, s) => void (p.meta.policyConfig = JSON.stringify({ policies: [{ name: 'auth', config: { upstream: { api_key: s } } }] })) },
  { name: 'span event attribute', needsPattern: true, needsUrlSafe: false, plant: (p, s) => void p.span.events.push({ timeUnixNano: 1n, name: 'exception', attributes: { 'exception.message': `rejected token ${s}` } }) },
  { name: 'span event attribute by name', needsPattern: false, needsUrlSafe: false, plant: (p, s) => void p.span.events.push({ timeUnixNano: 1n, name: 'auth', attributes: { 'auth.token': s } }) },
  { name: 'span link attribute', needsPattern: true, needsUrlSafe: false, plant: (p, s) => void p.span.links.push({ traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', traceState: '', attributes: { note: `linked via ${s}` } }) },
  { name: 'resource attribute by name', needsPattern: false, needsUrlSafe: false, plant: (p, s) => void (p.resourceAttrs['service.db.password'] = s) },
  { name: 'resource attribute free text', needsPattern: true, needsUrlSafe: false, plant: (p, s) => void (p.resourceAttrs['process.command_line'] = `node server.js --token=${s}`) },
  { name: 'db.password attribute', needsPattern: false, needsUrlSafe: false, plant: (p, s) => void (p.span.attributes['db.password'] = s) },
];

export interface Planted {
  kind: string;
  placement: string;
  /** What was planted. */
  secret: string;
  /** The part of it that must vanish (all of it but a non-secret prefix such as a webhook host). */
  mustVanish: string;
  /** Index of the request (batch) it was planted in. */
  request: number;
}

export interface SecretCorpus {
  /** One batch per planted secret: every record of it is scrubbed and searched. */
  batches: RecordBatch[];
  planted: Planted[];
  /** All text the generator writes around secrets (to tell a secret's windows from context). */
  contextText: string;
}

function baseResource(g: Gen): Attributes {
  return { 'service.name': 'gateway', 'service.version': `1.${g.int(20)}.${g.int(10)}`, 'host.name': `gw-${g.int(50)}`, 'telemetry.sdk.language': 'nodejs' };
}

export function emptyRecords(g: Gen): PlantTarget {
  const resource: Resource = { attributes: baseResource(g), schemaUrl: '' };
  const scope: Scope = { name: 'consentry-interceptor', version: '0.1.0', attributes: {}, schemaUrl: '' };
  const span: SpanRecord = {
    resource,
    scope,
    traceId: g.hex(32),
    spanId: g.hex(16),
    parentSpanId: '',
    traceState: '',
    name: 'POST /v1/chat/completions',
    kind: 2,
    startTimeUnixNano: 1_700_000_000_000_000_000n,
    endTimeUnixNano: 1_700_000_000_250_000_000n,
    attributes: { 'http.request.method': 'POST', 'http.route': '/v1/chat/completions', 'http.response.status_code': '200' },
    events: [],
    links: [],
    statusCode: 0,
    statusMessage: '',
    flags: 0,
  };
  const log: LogRecord = { resource, scope, timeUnixNano: 1n, observedTimeUnixNano: 1n, severityNumber: 17, severityText: 'ERROR', body: 'request failed', attributes: {}, traceId: span.traceId, spanId: span.spanId, flags: 1, eventName: '' };
  const meta: GatewayMetadataRecord = { timeUnixNano: 1n, serviceName: 'gateway', serviceVersion: '1.2.3', instanceId: g.uuid(), uptimeSeconds: 10, unexpectedRestarts: 0, environment: { NODE_ENV: 'production', PORT: '8000' }, policyConfig: '{}' };
  return { span, log, meta, resourceAttrs: resource.attributes };
}

/**
 * At least `perKind` secrets of every kind, each planted in one place (placements
 * taken in turn among those that fit the kind), one request per secret.
 */
export function secretCorpus(seed = 1, perKind = 8): SecretCorpus {
  const g = new Gen(seed);
  const batches: RecordBatch[] = [];
  const planted: Planted[] = [];
  let turn = 0;
  for (const kind of SECRET_KINDS) {
    const fits = PLACEMENTS.filter((p) => (!p.needsPattern || kind.patterned) && (!p.needsUrlSafe || kind.urlSafe) && (p.only === undefined || p.only.includes(kind.name)));
    // Context-only kinds get their dedicated placements first.
    const dedicated = fits.filter((p) => p.only !== undefined);
    const n = Math.max(perKind, dedicated.length);
    for (let i = 0; i < n; i++) {
      const placement = i < dedicated.length ? dedicated[i]! : fits[(turn++ + i) % fits.length]!;
      const secret = kind.make(g);
      const target = emptyRecords(g);
      placement.plant(target, secret, g);
      batches.push({ spans: [target.span], logs: [target.log], summaries: [], metadata: [target.meta] });
      const mustVanish = kind.keeps !== undefined && secret.startsWith(kind.keeps) ? secret.slice(kind.keeps.length) : secret;
      planted.push({ kind: kind.name, placement: placement.name, secret, mustVanish, request: batches.length - 1 });
    }
  }
  // Context text: the same records with a fixed placeholder for a secret.
  const ctx: string[] = [];
  for (const p of PLACEMENTS) {
    const t = emptyRecords(new Gen(seed));
    p.plant(t, '\u0000', new Gen(seed));
    ctx.push(...allStrings({ spans: [t.span], logs: [t.log], summaries: [], metadata: [t.meta] }));
  }
  ctx.push(SECRET_HEADER_NAMES.join(' '), SECRET_JSON_KEYS.join(' '), NEUTRAL_JSON_KEYS.join(' '), SECRET_ENV_NAMES.join(' '), SECRET_QUERY_PARAMS.join(' '), URL_SCHEMES.join(' '));
  return { batches, planted, contextText: ctx.join('\n') };
}

/** Every string a batch holds (keys included), for leak searches. */
export function allStrings(batch: RecordBatch): string[] {
  const out: string[] = [];
  const attrs = (a: Attributes): void => {
    for (const k in a) out.push(k, a[k]!);
  };
  for (const s of batch.spans) {
    out.push(s.name, s.traceState, s.statusMessage, s.resource.schemaUrl, s.scope.name, s.scope.version);
    attrs(s.attributes);
    attrs(s.resource.attributes);
    attrs(s.scope.attributes);
    for (const e of s.events) {
      out.push(e.name);
      attrs(e.attributes);
    }
    for (const l of s.links) {
      out.push(l.traceState);
      attrs(l.attributes);
    }
  }
  for (const l of batch.logs) {
    out.push(l.body, l.severityText, l.scope.name);
    attrs(l.attributes);
    attrs(l.resource.attributes);
    attrs(l.scope.attributes);
  }
  for (const m of batch.metadata) {
    out.push(m.serviceName, m.serviceVersion, m.instanceId, m.policyConfig);
    attrs(m.environment);
  }
  for (const s of batch.summaries) out.push(s.provider, s.endpoint, s.model, s.statusClass);
  return out;
}

// ---------------------------------------------------------------------------
// Look-alikes: must come out untouched.

export interface LookAlike {
  label: string;
  value: string;
}

export function lookAlikes(seed = 2): LookAlike[] {
  const g = new Gen(seed);
  const out: LookAlike[] = [];
  const add = (label: string, n: number, make: () => string): void => {
    for (let i = 0; i < n; i++) out.push({ label, value: make() });
  };
  add('uuid', 40, () => g.uuid());
  add('uuid upper', 10, () => g.uuid().toUpperCase());
  add('sha256 hex', 30, () => g.hex(64));
  add('sha1 hex', 20, () => g.hex(40));
  add('md5 hex', 20, () => g.hex(32));
  add('sha256 prefixed', 10, () => `sha256:${g.hex(64)}`);
  add('trace id', 30, () => g.hex(32));
  add('span id', 30, () => g.hex(16));
  add('traceparent', 10, () => `00-${g.hex(32)}-${g.hex(16)}-01`);
  add('base64 image', 10, () => `data:image/png;base64,${g.base64(1500 + g.int(3000))}`);
  add('base64 image in json', 5, () => JSON.stringify({ role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/jpeg;base64,${g.base64(2000)}` } }] }));
  add('iso timestamp', 20, () => new Date(1_600_000_000_000 + g.int(2e11)).toISOString());
  add('unix nanos', 10, () => String(1_700_000_000_000_000_000n + BigInt(g.int(1e9))));
  add('ip', 10, () => `${g.int(256)}.${g.int(256)}.${g.int(256)}.${g.int(256)}`);
  const fixed = [
    'gpt-4o', 'gpt-4o-mini-2024-07-18', 'claude-3-5-sonnet-20241022', 'claude-sonnet-4-5', 'o1-preview', 'text-embedding-3-large', 'gemini-1.5-pro', 'meta-llama/Llama-3.1-70B-Instruct', 'mistral-large-latest',
    '/v1/chat/completions', '/v1/messages', '/users/:id/keys', '/api/tenants/{tenantId}/tier', '/v1/models/{model}:generateContent', '/tokens/:tokenId', '/auth/password-reset',
    'Your token usage this month: 1,234,567 tokens', 'Click the link to complete your password reset.', 'The secret to good pasta is salt.', 'Use the sk- prefix to recognise OpenAI keys.', 'sk-', 'risk-adjusted returns', 'task-runner-service', 'ask-me-anything', 'desk-booking',
    'Bearer tokens are described in RFC 6750.', 'basic authentication is disabled', 'Basic auth', 'token expired', 'Token expiry: 3600s', 'password: <hidden>', 'max_tokens', 'input_tokens',
    '{"model":"gpt-4o","max_tokens":512,"temperature":0.7,"messages":[{"role":"user","content":"What is a token bucket?"}]}',
    '{"id":"chatcmpl-9x","object":"chat.completion","usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46}}',
    '{"type":"message","usage":{"input_tokens":10,"output_tokens":25,"cache_read_input_tokens":0},"stop_reason":"end_turn"}',
    '{"token_type":"Bearer","expires_in":3600}', '{"password_policy":{"min_length":12}}', '{"has_password":true,"password_set":false,"secret":null,"token":123}',
    'https://api.openai.com/v1/chat/completions', 'https://api.example.com:8443/users/bob@example.com', 'https://example.com/search?q=api+key+rotation&page=2', 'https://example.com/?monkey=banana&turkey=stuffed',
    'http://[::1]:8080/healthz', 'mailto:someone@example.com', 'postgres://db.internal:5432/app', 'http://default:@127.0.0.1:8123',
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36', 'OpenAI/Python 1.51.0', 'curl/8.5.0',
    'POST', 'GET', '200', '429', 'true', 'false', '0.734', 'application/json', 'text/event-stream; charset=utf-8', 'gzip, deflate, br', 'en-US,en;q=0.9',
    'req_8f3a2b1c9d0e', 'chatcmpl-AbC123xyz', 'msg_01XFDUDYJgAACzvnptvVoYEL', 'org-abc123', 'proj_abc123', 'asst_abc123', 'file-abc123', 'run_abc123',
    'x-ratelimit-remaining-tokens', 'anthropic-ratelimit-tokens-remaining', 'v1.2.3-rc.1', 'node-v20.11.0', 'linux-x64', 'us-east-1', 'arn:aws:iam::123456789012:role/gateway',
    'ASIA Pacific region', 'AKIA is the prefix of AWS access key ids', 'SKU-12345', 'SKIP', 'TASK-1234', 'eyJ is base64 for {"', 'hf_transformers_cache', 'npm_config_cache', 'ghp_ prefix',
    'The quick brown fox jumps over the lazy dog.', 'Lorem ipsum dolor sit amet, consectetur adipiscing elit.', 'key=value pairs', 'cache key: user:42', 'primary key violation',
  ];
  for (const v of fixed) out.push({ label: 'fixed', value: v });
  return out;
}

/** Look-alike attribute maps (keys that look secret-ish but are not). */
export function lookAlikeAttributes(): Attributes[] {
  return [
    { 'gen_ai.usage.input_tokens': '12', 'gen_ai.usage.output_tokens': '345', 'gen_ai.request.max_tokens': '512', 'llm.token_count.total': '357' },
    { 'http.response.header.x-ratelimit-remaining-tokens': '149000', 'http.response.header.x-ratelimit-limit-tokens': '150000', 'http.response.header.anthropic-ratelimit-tokens-remaining': '1000' },
    { 'http.request.header.content-type': 'application/json', 'http.request.header.user-agent': 'OpenAI/Python 1.51.0', 'http.request.header.accept': '*/*', 'http.request.header.x-request-id': 'req_8f3a2b1c9d0e' },
    { 'env.NODE_ENV': 'production', 'env.PWD': '/srv/app', 'env.PATH': '/usr/bin:/bin', 'env.TOKENIZERS_PARALLELISM': 'false', 'env.KEY_VAULT_NAME': 'kv-prod' },
    { 'auth.token.expires_at': '2024-01-01T00:00:00Z', 'session.id': 'sess-123', 'user.id': 'u-42', 'db.system': 'postgresql', 'cache.key': 'user:42' },
  ];
}

// ---------------------------------------------------------------------------
// Realistic gateway spans for the benchmark.

export interface SpanMix {
  count: number;
  /** Request and response bodies, about 1-2 KB together. */
  bodies: boolean;
  /** Fraction of spans carrying one planted secret (0.01 = 1 %). */
  secretRate: number;
  /** Spans sharing one Resource/Scope (one request of a gateway). */
  spansPerResource: number;
  seed?: number;
}

const PROSE = [
  'I am planning a trip to Lisbon next week. What is the weather usually like in late October, and what should I pack?',
  'Summarise the following meeting notes in three bullet points and list the action items with owners.',
  'Write a Python function that parses an ISO 8601 timestamp and returns the number of seconds since the epoch.',
  'Late October in Lisbon is mild: highs around 21°C and lows near 14°C, with a chance of rain showers.',
  'Here are three restaurants near Alfama: a small tasca with grilled sardines, a fado house, and a modern bistro.',
  'The action items are: update the roadmap (Ana), review the budget (Luís), and schedule the customer call (Sam).',
  'def parse(ts: str) -> float:\n    return datetime.fromisoformat(ts).timestamp()',
];

function body(g: Gen, target: number, response: boolean): string {
  const messages: { role: string; content: string }[] = [];
  let size = 0;
  while (size < target) {
    const content = g.pick(PROSE);
    messages.push({ role: messages.length % 2 === 0 ? 'user' : 'assistant', content });
    size += content.length + 30;
  }
  return response
    ? JSON.stringify({ id: `chatcmpl-${g.key(ALNUM, 24)}`, object: 'chat.completion', created: 1_700_000_000 + g.int(1e6), model: 'gpt-4o-2024-08-06', choices: messages.map((m, index) => ({ index, message: m, finish_reason: 'stop' })), usage: { prompt_tokens: 100 + g.int(900), completion_tokens: g.int(500), total_tokens: 1000 } })
    : JSON.stringify({ model: 'gpt-4o', max_tokens: 512, temperature: 0.7, stream: false, messages });
}

/** Gateway spans of 20 attributes (about 0.7 KB); with bodies 22 attributes, about 2-3 KB. */
export function gatewaySpans(mix: SpanMix): { spans: SpanRecord[]; secrets: number } {
  const g = new Gen(mix.seed ?? 3);
  const spans: SpanRecord[] = [];
  const patterned = SECRET_KINDS.filter((k) => k.patterned && k.urlSafe);
  let resource: Resource = { attributes: baseResource(g), schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' };
  let scope: Scope = { name: 'consentry-interceptor', version: '0.1.0', attributes: {}, schemaUrl: '' };
  let secrets = 0;
  for (let i = 0; i < mix.count; i++) {
    if (i % mix.spansPerResource === 0) {
      resource = { attributes: { ...baseResource(g), 'deployment.environment': 'prod', 'service.instance.id': g.uuid(), 'process.runtime.version': '20.11.0' }, schemaUrl: resource.schemaUrl };
      scope = { ...scope };
    }
    const provider = g.pick(['openai', 'anthropic', 'azure.openai', 'gcp.vertex_ai']);
    const attributes: Attributes = {
      'http.request.method': 'POST',
      'url.full': `https://api.${provider}.com/v1/chat/completions`,
      'url.path': '/v1/chat/completions',
      'http.route': '/v1/chat/completions',
      'http.response.status_code': g.pick(['200', '200', '200', '429', '500']),
      'server.address': `api.${provider}.com`,
      'server.port': '443',
      'client.address': `10.${g.int(256)}.${g.int(256)}.${g.int(256)}`,
      'user_agent.original': 'OpenAI/Python 1.51.0',
      'http.request.header.content-type': 'application/json',
      'http.request.header.x-request-id': `req_${g.hex(24)}`,
      'http.response.header.x-ratelimit-remaining-tokens': String(g.int(150000)),
      'gen_ai.provider.name': provider,
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.usage.input_tokens': String(g.int(2000)),
      'gen_ai.usage.output_tokens': String(g.int(800)),
      'gateway.streaming': 'false',
      'user.id': `user-${g.int(100000)}`,
      'gateway.latency_ms': String(g.int(4000)),
    };
    if (mix.bodies) {
      attributes['gateway.request.body'] = body(g, 350 + g.int(400), false);
      attributes['gateway.response.body'] = body(g, 350 + g.int(400), true);
    }
    if (g.next() < mix.secretRate) {
      secrets++;
      const s = g.pick(patterned).make(g);
      const where = g.int(3);
      if (where === 0) attributes['http.request.header.authorization'] = `Bearer ${s}`;
      else if (where === 1 && mix.bodies) attributes['gateway.request.body'] = attributes['gateway.request.body']!.replace('"messages"', `"api_key":"${s}","messages"`);
      else attributes['error.message'] = `upstream rejected key ${s}`;
    }
    spans.push({
      resource,
      scope,
      traceId: g.hex(32),
      spanId: g.hex(16),
      parentSpanId: '',
      traceState: '',
      name: 'POST /v1/chat/completions',
      kind: 2,
      startTimeUnixNano: 1n,
      endTimeUnixNano: 2n,
      attributes,
      events: [],
      links: [],
      statusCode: 0,
      statusMessage: '',
      flags: 0,
    });
  }
  return { spans, secrets };
}
