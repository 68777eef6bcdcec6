// The tenant's capture policy, learnt from Consentry (GET /v1/consentry/capture
// on the OTLP port, ingest key as bearer) and kept fresh in the background, so
// reading it on the request path is a field read, never an await.
//
// Fail closed: until a first answer arrives, and once the last answer is older
// than maxAgeMs (Consentry unreachable, key revoked), current() is undefined
// and the interceptor captures nothing. Missing or non-boolean fields read as
// false. The collector enforces the tier whatever the gateway sends; this only
// keeps data the tier would drop from leaving the gateway.

export const CAPTURE_PATH = '/v1/consentry/capture';

export interface CapturePolicy {
  tier: string;
  /** Send request spans at all (false: the tier keeps nothing about requests). */
  spans: boolean;
  /** Capture request and response bodies. */
  bodies: boolean;
  /** Capture request and response headers (credential headers never). */
  headers: boolean;
  /** Send API-key request headers (Authorization, x-api-key, ...) so the collector can keep their HMAC. */
  apiKeys: boolean;
  ttlSeconds: number;
}

export interface PolicyClientOptions {
  url: string;
  ingestKey: string;
  /** Longest interval between refreshes, ms. */
  refreshMs: number;
  /** Age after which a policy is forgotten, ms. */
  maxAgeMs: number;
  /** Deadline of one policy request, ms. Default 2000. */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
  now?: () => number;
}

/** A policy from the endpoint's JSON, or an error message. */
export function parsePolicy(body: unknown): CapturePolicy | string {
  if (typeof body !== 'object' || body === null) return 'capture policy is not a JSON object';
  const b = body as Record<string, unknown>;
  const flag = (k: string) => b[k] === true;
  const ttl = typeof b['ttlSeconds'] === 'number' && Number.isFinite(b['ttlSeconds']) && b['ttlSeconds'] > 0 ? b['ttlSeconds'] : 10;
  return { tier: typeof b['tier'] === 'string' ? b['tier'] : '', spans: flag('spans'), bodies: flag('bodies'), headers: flag('headers'), apiKeys: flag('apiKeys'), ttlSeconds: ttl };
}

export class PolicyClient {
  private policy: CapturePolicy | undefined;
  private fetchedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  private firstAnswer: Promise<boolean> | undefined;
  private resolveFirst: ((known: boolean) => void) | undefined;
  /** Why the last refresh failed; undefined after a success. */
  lastError: string | undefined;
  private readonly fetchFn: typeof globalThis.fetch;
  private readonly now: () => number;

  constructor(private readonly opts: PolicyClientOptions) {
    // Bound now: a gateway that wraps the global fetch later must not capture our own requests.
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.now = opts.now ?? Date.now;
  }

  /** Starts refreshing (first request now). Idempotent. */
  start(): void {
    if (this.firstAnswer !== undefined || this.stopped) return;
    this.firstAnswer = new Promise((resolve) => (this.resolveFirst = resolve));
    void this.refresh();
  }

  /** Resolves after the first refresh attempt: true when a policy is known. */
  ready(): Promise<boolean> {
    return this.firstAnswer ?? Promise.resolve(this.current() !== undefined);
  }

  /** The policy in force, or undefined when unknown (capture nothing). */
  current(): CapturePolicy | undefined {
    if (this.policy === undefined) return undefined;
    if (this.now() - this.fetchedAt > this.opts.maxAgeMs) return undefined;
    return this.policy;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.resolveFirst?.(this.current() !== undefined);
  }

  private async refresh(): Promise<void> {
    let next: number;
    try {
      const res = await this.fetchFn(this.opts.url + CAPTURE_PATH, {
        headers: { authorization: `Bearer ${this.opts.ingestKey}`, accept: 'application/json' },
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 2000),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`GET ${CAPTURE_PATH} answered ${res.status}: ${text.slice(0, 200)}`);
      const parsed = parsePolicy(JSON.parse(text));
      if (typeof parsed === 'string') throw new Error(parsed);
      this.policy = parsed;
      this.fetchedAt = this.now();
      this.failures = 0;
      this.lastError = undefined;
      next = Math.min(this.opts.refreshMs, parsed.ttlSeconds * 1000);
    } catch (err) {
      this.failures++;
      this.lastError = err instanceof Error ? err.message : String(err);
      // Retry sooner than a refresh, backing off to the refresh interval.
      next = Math.min(this.opts.refreshMs, 500 * 2 ** Math.min(this.failures - 1, 6));
    }
    this.resolveFirst?.(this.current() !== undefined);
    this.resolveFirst = undefined;
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.refresh(), next);
    // Refreshing must never keep the gateway's process alive.
    this.timer.unref();
  }
}
