// One captured request (a gateway's SERVER span, or a standalone upstream
// CLIENT span) as it is being observed, and how it becomes a span with the
// attributes of DESIGN.md's Gateway conventions. What is collected at all is
// decided by the tenant's capture policy: headers and bodies only when the
// tier keeps them, credential headers never (an API-key header only when the
// tier keeps its HMAC, and then only the one the collector would hash).
import type { Attributes, AttributeValue, SpanContext, Tracer } from '@opentelemetry/api';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import { DEFAULT_API_KEY_HEADERS } from '../processors/hash-api-keys/processor.ts';
import { createNameRules } from '../processors/scrub-secrets/names.ts';
import { cutBody, type BodyObserver, type CutBody, type ParseMode } from './body.ts';
import type { CapturePolicy } from './policy.ts';
import { requestFacts, usageFromJson, type LlmUsage } from './usage.ts';

export type HeaderValue = string | string[] | number | undefined;

const credentialNames = createNameRules({ extraHeaderNames: [], extraKeyNames: [] });
const API_KEY_HEADERS = new Set(DEFAULT_API_KEY_HEADERS);
type HeaderClass = 'plain' | 'credential' | 'api-key';
/** Header name -> class; header names repeat, the rules run once per name. Bounded. */
const headerClasses = new Map<string, HeaderClass>();

function classOf(name: string): HeaderClass {
  let c = headerClasses.get(name);
  if (c === undefined) {
    c = API_KEY_HEADERS.has(name) ? 'api-key' : credentialNames.headerName(name) !== null ? 'credential' : 'plain';
    if (headerClasses.size < 4096) headerClasses.set(name, c);
  }
  return c;
}

const asList = (v: string | string[] | number): string[] => (Array.isArray(v) ? v : [String(v)]);

/**
 * `http.request.header.<name>` attributes (string[], as the semantic
 * conventions define them) for the headers the policy lets out.
 */
export function requestHeaderAttributes(headers: Iterable<[string, HeaderValue]>, policy: CapturePolicy, into: Attributes): void {
  if (!policy.headers && !policy.apiKeys) return;
  let apiKey: [string, string[]] | undefined;
  let apiKeyRank = Infinity;
  for (const [raw, value] of headers) {
    if (value === undefined) continue;
    const name = raw.toLowerCase();
    const c = classOf(name);
    if (c === 'plain') {
      if (policy.headers) into[`http.request.header.${name}`] = asList(value);
    } else if (c === 'api-key' && policy.apiKeys) {
      // Only the header the collector hashes (the first of its list present): others would only be redacted.
      const rank = DEFAULT_API_KEY_HEADERS.indexOf(name);
      if (rank < apiKeyRank) {
        apiKeyRank = rank;
        apiKey = [name, asList(value)];
      }
    }
  }
  if (apiKey !== undefined) into[`http.request.header.${apiKey[0]}`] = apiKey[1];
}

/** `http.response.header.<name>` attributes: none unless the policy keeps headers; credentials (Set-Cookie) never. */
export function responseHeaderAttributes(headers: Iterable<[string, HeaderValue]>, policy: CapturePolicy, into: Attributes): void {
  if (!policy.headers) return;
  for (const [raw, value] of headers) {
    if (value === undefined) continue;
    const name = raw.toLowerCase();
    if (classOf(name) === 'plain') into[`http.response.header.${name}`] = asList(value);
  }
}

/** `url.full` without user and password (semantic conventions: never credentials). */
export function safeUrl(url: URL): string {
  if (url.username === '' && url.password === '') return url.href;
  const u = new URL(url.href);
  u.username = '';
  u.password = '';
  return u.href;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The caller's span from a W3C `traceparent` header, so the gateway's span joins the caller's trace. */
export function parentFromTraceparent(header: HeaderValue): SpanContext | undefined {
  if (typeof header !== 'string') return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (m === null || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16) & TraceFlags.SAMPLED, isRemote: true };
}

export function errorTypeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown } };
    if (typeof e.cause?.code === 'string') return e.cause.code; // undici: TypeError('fetch failed') { cause: ECONNREFUSED }
    if (typeof e.code === 'string' && e.code !== '') return e.code;
    if (typeof e.name === 'string' && e.name !== '' && e.name !== 'Error') return e.name;
  }
  return '_OTHER';
}

/** Epoch milliseconds with sub-millisecond precision. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

const textOf = (body: string | Uint8Array): string => (typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));

/** `model` and `stream` of a JSON request body given whole; {} when it is not one or is too large to parse. */
export function requestFactsOf(body: string | Uint8Array | undefined, maxParseBytes: number): { model?: string; stream?: boolean } {
  if (body === undefined) return {};
  const size = typeof body === 'string' ? body.length : body.byteLength;
  if (size > maxParseBytes) return {};
  const text = textOf(body);
  if (!text.includes('"model"') && !text.includes('"stream"')) return {};
  try {
    return requestFacts(JSON.parse(text));
  } catch {
    return {};
  }
}

/** A body seen whole (string or buffer payload), read only after the response went out. */
interface WholeBody {
  value: string | Uint8Array;
  parse: ParseMode;
}

export interface CaptureLimits {
  maxBodyBytes: number;
  maxParseBytes: number;
}

/** A request being observed; becomes one span when it ends. */
export class Capture {
  readonly startTime = nowMs();
  readonly attrs: Attributes = {};
  name = '';
  parent: SpanContext | undefined;
  /** Explicit provider (option), or the one of the upstream host. */
  provider: string | undefined;
  requestModel: string | undefined;
  streaming = false;
  errorType: string | undefined;
  /** Upstream failure seen by the fetch wrapper inside this request. */
  upstreamErrorType: string | undefined;
  requestBody: BodyObserver | undefined;
  /** A request body given whole (fetch): cut, sized and read for the model when the span ends. */
  requestRaw: string | Uint8Array | undefined;
  /** The body of the upstream call inside this request: read for the model at the end if nothing else told it. */
  upstreamRequestRaw: string | Uint8Array | undefined;
  requestSize: number | undefined;
  responseBody: BodyObserver | WholeBody | undefined;
  responseSize: number | undefined;
  private ended = false;

  constructor(
    readonly kind: 'server' | 'client',
    readonly policy: CapturePolicy,
  ) {}

  /** Keeps a body text the policy lets out, with truncation flag and size. */
  private body(key: 'gateway.request.body' | 'gateway.response.body', body: CutBody | undefined): void {
    if (body === undefined || !this.policy.bodies) return;
    this.attrs[key] = body.text;
    if (body.truncated) this.attrs[`${key}.truncated`] = true;
  }

  /**
   * Ends the capture once: fills the response-derived attributes and records
   * the span. Returns false when it had already ended.
   */
  end(tracer: Tracer, limits: CaptureLimits, statusCode: number | undefined): boolean {
    if (this.ended) return false;
    this.ended = true;
    const a = this.attrs;
    if (statusCode !== undefined && statusCode > 0) a['http.response.status_code'] = statusCode;

    let usage: LlmUsage | undefined;
    if (this.requestBody !== undefined) {
      this.requestBody.end();
      const b = this.requestBody.body();
      this.requestSize ??= this.requestBody.size;
      this.body('gateway.request.body', b);
    }
    const rb = this.responseBody;
    if (rb !== undefined && 'value' in rb) {
      let size: number;
      if (this.policy.bodies) {
        const cut = cutBody(rb.value, limits.maxBodyBytes);
        size = cut.size;
        this.body('gateway.response.body', cut);
      } else size = typeof rb.value === 'string' ? Buffer.byteLength(rb.value, 'utf8') : rb.value.byteLength;
      this.responseSize ??= size;
      if (rb.parse !== 'none' && size <= limits.maxParseBytes) {
        usage = usageFromJson(textOf(rb.value));
      }
    } else if (rb !== undefined) {
      rb.end();
      this.responseSize ??= rb.size;
      this.body('gateway.response.body', rb.body());
      usage = rb.usage();
    }
    if (this.requestRaw !== undefined) {
      const raw = this.requestRaw;
      this.requestSize = typeof raw === 'string' ? Buffer.byteLength(raw, 'utf8') : raw.byteLength;
      if (this.policy.bodies) this.body('gateway.request.body', cutBody(raw, limits.maxBodyBytes));
    }
    if (this.requestModel === undefined) {
      const facts = requestFactsOf(this.requestRaw ?? this.upstreamRequestRaw, limits.maxParseBytes);
      this.requestModel = facts.model;
      if (facts.stream === true) this.streaming = true;
    }
    if (this.requestSize !== undefined) a['http.request.body.size'] = this.requestSize;
    if (this.responseSize !== undefined) a['http.response.body.size'] = this.responseSize;

    const provider = this.provider ?? usage?.provider;
    if (provider !== undefined) a['gen_ai.provider.name'] = provider;
    if (this.requestModel !== undefined) a['gen_ai.request.model'] = this.requestModel;
    if (usage?.responseModel !== undefined) a['gen_ai.response.model'] = usage.responseModel;
    if (usage?.inputTokens !== undefined) a['gen_ai.usage.input_tokens'] = usage.inputTokens;
    if (usage?.outputTokens !== undefined) a['gen_ai.usage.output_tokens'] = usage.outputTokens;
    if (usage?.cacheReadInputTokens !== undefined) a['gen_ai.usage.cache_read.input_tokens'] = usage.cacheReadInputTokens;
    if (usage?.cacheCreationInputTokens !== undefined) a['gen_ai.usage.cache_creation.input_tokens'] = usage.cacheCreationInputTokens;
    a['gateway.streaming'] = this.streaming;

    // Server spans: 5xx is an error, 4xx is the client's (HTTP semantic conventions); client spans: both.
    const failedStatus = statusCode !== undefined && (statusCode >= 500 || (this.kind === 'client' && statusCode >= 400));
    let errorType = this.errorType;
    if (errorType === undefined && failedStatus) errorType = this.upstreamErrorType ?? String(statusCode);
    if (errorType !== undefined) a['error.type'] = errorType;

    const ctx = this.parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, this.parent);
    const span = tracer.startSpan(this.name, { kind: this.kind === 'server' ? SpanKind.SERVER : SpanKind.CLIENT, startTime: this.startTime, attributes: a }, ctx);
    if (errorType !== undefined) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end(nowMs());
    return true;
  }
}

export function setIfDefined(a: Attributes, key: string, value: AttributeValue | undefined): void {
  if (value !== undefined && value !== '') a[key] = value;
}
