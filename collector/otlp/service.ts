// What the OTLP/HTTP and OTLP/gRPC receivers share, behind their wire formats:
// the ingest key, admission (event-loop delay, one in-flight byte budget for
// both ports), bounded gunzip, the tier shortcut, decode and tiers (ingest.ts,
// on an ingest worker) and the transport. An export resolves only once its
// data is durable; every way it can end is an Outcome (outcome.ts), which each
// receiver renders in its own protocol.
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { TransportError, type Transport } from '../../storage/transport.ts';
import type { Metrics } from '../../core/metrics.ts';
import type { Logger } from '../../core/logger.ts';
import { bearerToken } from '../../core/keys.ts';
import type { Encoding, Format, Ingest, IngestJob, IngestResult, Signal } from './ingest.ts';
import { failureOf, type Failure, type Outcome } from './outcome.ts';

const gunzipAsync = promisify(gunzip);

export interface OtlpServiceOptions {
  /** Largest body (HTTP) or message (gRPC) as received, compressed or not, bytes. */
  maxBodyBytes: number;
  /** Largest body or message after decompression, bytes. */
  maxDecompressedBytes: number;
  /** Decompressed bytes of unanswered requests over both ports; past it new requests are `busy`. */
  maxInflightBytes: number;
  /** Event-loop delay when the collector is behind, else undefined: new requests are `busy`. */
  overloaded?: () => number | undefined;
  /** Why storage cannot take more now (Kafka behind), refused before decoding with 503; undefined: it can. */
  storageBehind?: () => string | undefined;
  /** Tenant id of an ingest key, or undefined. */
  authenticate(ingestKey: string): string | undefined;
  /** The tenant's tier in force, looked up once as a request arrives; it applies to the whole request. */
  tierOf(tenantId: string): { tier: string; version: number };
  /** False when the tier drops every span unread: its traces are answered without being decoded. */
  readsSpans(tier: string): boolean;
  /** Decodes a body and applies the tier, on this thread or a worker's. */
  ingest: Ingest;
  transport: Transport;
  metrics: Metrics;
  logger: Logger;
}

export interface ExportRequest {
  signal: Signal;
  format: Format;
  tenantId: string;
  /** Decompressed body. */
  body: Buffer;
  receivedAtMs: number;
}

/** A busy answer's delay, seconds: long enough for a backlog to drain, short enough to lose little time. */
const BUSY_RETRY_SECONDS = 1;

export class OtlpService {
  private inflight = 0;
  private unstored = 0;
  private lastUnstoredLog = 0;
  /** Results come encoded the way the transport stores them. */
  private readonly encode: Encoding;

  constructor(readonly opts: OtlpServiceOptions) {
    this.encode = opts.transport.sendRows !== undefined ? 'rows' : 'records';
  }

  /**
   * Before a byte of the body is read: the tenant of the `authorization`
   * value (`Bearer <key>`, or `Bearer%20<key>`), or why the request is refused
   * (unknown key, the collector behind, the in-flight budget spent for
   * `announcedBytes`, 0 when unknown).
   */
  admit(authorization: string | undefined, announcedBytes: number): string | Failure {
    const key = bearerToken(authorization);
    const tenantId = key === undefined ? undefined : this.opts.authenticate(key);
    if (tenantId === undefined) {
      return { kind: 'unauthenticated', message: key === undefined ? 'missing ingest key: send Authorization: Bearer <ingest key>' : 'unknown ingest key' };
    }
    const lag = this.opts.overloaded?.();
    if (lag !== undefined) return { kind: 'busy', message: `collector busy: ${Math.round(lag)} ms behind, retry later`, retryAfterSeconds: BUSY_RETRY_SECONDS };
    const behind = this.opts.storageBehind?.();
    if (behind !== undefined) return { kind: 'unavailable', message: `${behind}, retry later`, retryAfterSeconds: BUSY_RETRY_SECONDS };
    return this.room(announcedBytes) ?? tenantId;
  }

  /** `busy` when `bytes` more would overspend the in-flight budget (a request alone is always let in: the size limits bound it). */
  room(bytes: number): Failure | undefined {
    if (this.inflight > 0 && this.inflight + bytes > this.opts.maxInflightBytes) {
      return { kind: 'busy', message: 'collector busy: too much data in flight, retry later', retryAfterSeconds: BUSY_RETRY_SECONDS };
    }
    return undefined;
  }

  /** The body as received over the limit: `too-large`, naming the limit. */
  tooLarge(): Failure {
    return { kind: 'too-large', message: `body larger than ${this.opts.maxBodyBytes} bytes: send smaller batches` };
  }

  /** A gzip body inflated, never past the decompressed limit (a gzip bomb stops there). */
  async gunzip(body: Buffer): Promise<Buffer | Failure> {
    try {
      return await gunzipAsync(body, { maxOutputLength: this.opts.maxDecompressedBytes });
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        return { kind: 'too-large', message: `body larger than ${this.opts.maxDecompressedBytes} bytes after decompression: send smaller batches` };
      }
      return { kind: 'malformed', message: `invalid gzip body: ${(err as Error).message}` };
    }
  }

  /**
   * Decodes, applies the tenant's tier and stores; resolves once the data is
   * durable, or with the failure. Rejects only on an unexpected error (a bug).
   */
  async export(req: ExportRequest): Promise<Outcome> {
    const { signal, format, tenantId, body, receivedAtMs } = req;
    const full = this.room(body.length);
    if (full !== undefined) return full;
    const tier = this.opts.tierOf(tenantId);
    // The tier keeps nothing about requests: answer without reading them.
    if (signal === 'traces' && !this.opts.readsSpans(tier.tier)) return { kind: 'accepted', rejected: 0, message: '' };
    this.inflight += body.length;
    this.opts.metrics.inflightBytes.set(this.inflight);
    try {
      const job: IngestJob = { signal, format, body, ctx: { tenantId, tier: tier.tier, tierVersion: tier.version, receivedAtMs }, encode: this.encode };
      const processed = await this.opts.ingest(job);
      this.opts.metrics.recordsAccepted.inc({ signal }, processed.accepted);
      if (processed.rejected > 0) this.opts.metrics.recordsRejected.inc({ signal }, processed.rejected);
      await this.store(job, processed);
      return { kind: 'accepted', rejected: processed.rejected, message: processed.rejectionMessage };
    } catch (err) {
      const failure = failureOf(err);
      if (failure === undefined) throw err;
      if (err instanceof TransportError && err.retryable) this.countUnstored(err, receivedAtMs);
      return failure;
    } finally {
      this.inflight -= body.length;
      this.opts.metrics.inflightBytes.set(this.inflight);
    }
  }

  /** Hands a result to the transport; rows that need the downgrade or erasure check come back as records first. */
  private async store(job: IngestJob, result: IngestResult): Promise<void> {
    const { transport } = this.opts;
    if (result.rows !== undefined) {
      if (await transport.sendRows!(result.rows, result.ctx, result.traceIds ?? [])) return;
      result = await this.opts.ingest({ ...job, encode: 'records' });
    }
    await transport.send(result.batch!, result.ctx);
  }

  /** One line per 10 s with a count, not one per request, during an outage. */
  private countUnstored(err: TransportError, nowMs: number): void {
    this.unstored++;
    if (nowMs - this.lastUnstoredLog < 10_000) return;
    this.opts.logger.warn({ err, requests: this.unstored }, 'data not stored, answering unavailable (HTTP 503, gRPC UNAVAILABLE)');
    this.lastUnstoredLog = nowMs;
    this.unstored = 0;
  }
}
