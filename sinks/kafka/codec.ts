// The Kafka record encoding: one Kafka message carries many internal records
// (core/record.ts) of one tenant plus their BatchContext, in a compact,
// versioned binary layout written with protobufjs' Writer/Reader primitives
// (varints, length-prefixed UTF-8, fixed32, doubles). It is not protobuf
// messages: fields are positional, so there are no tags to write or skip.
//
//   magic "CS" | version u8 (=3) | counts: spans, logs, summaries, metadata (varints)
//   | context: tenant, tier, tierVersion, receivedAtMs, expireAt+1 (0 = unset),
//     contentExpireAt+1 (0 = unset)
//   | spans | logs | summaries | metadata
//
// Repetition inside a message is written once: Resources and Scopes are
// numbered in order of first use (a reference is 0 followed by the object, or
// index+1), and so are attribute keys. Decoded records of one message share
// their Resource objects, which the ClickHouse encoder relies on to serialise
// each resource once. Trace and span ids travel as bytes when they are hex.
// Times are bigint nanoseconds, written as two fixed32 halves: exact.
//
// The counts sit in front so that a sink can size its batches (rows) without
// decoding. A new layout gets a new version byte, and its own data topics
// (config.ts topicNames: `consentry.spans.v<layout>`), because a sink of a
// release before it cannot read it: 0.1.0's sink sends an unknown version to
// the dead-letter topic, so a newer message on its topic would never be
// stored (recorded in test/upgrade/fixtures/v0.1.0/manifest.json). Collectors
// write CODEC_VERSION to its topics; sinks read the topics of every layout in
// READS, so during a rolling upgrade, in either order, each message waits in
// Kafka for a sink that reads it. Decoders read every version they know; a
// version newer than they know is left in Kafka for an upgraded sink
// (newerLayout), any other unreadable message is dead-lettered. Version 2
// added span flags, the log event name and the summaries' LLM calls; version 3
// the content expiry and the summaries' cost (picodollars, as decimal text:
// exact) and unpriced calls (layout 2 was never written by a release, it is
// read all the same). Older messages read with those at their defaults (0, '',
// no calls, content kept as long as the rows, every call unpriced: its price
// was not looked up).
import { Reader, Writer } from 'protobufjs/minimal.js';
import type {
  Attributes,
  BatchContext,
  GatewayMetadataRecord,
  LogRecord,
  RecordBatch,
  Resource,
  Scope,
  SpanEvent,
  SpanLink,
  SpanRecord,
  SummaryRecord,
} from '../../core/record.ts';
import { batchOf, emptyBatch } from '../../core/record.ts';


/** The layout this build writes. */
export const CODEC_VERSION = 3;
/** Layouts this build reads, oldest first (CODEC_VERSION last). */
export const READS: readonly number[] = [1, 2, 3];
const MAGIC0 = 0x43; // C
const MAGIC1 = 0x53; // S

export class CodecError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CodecError';
  }
}

/** Records per signal in one message, readable without decoding it. */
export interface RecordCounts {
  spans: number;
  logs: number;
  summaries: number;
  metadata: number;
}

const HEX = /^(?:[0-9a-f]{2})*$/;
const U32 = 0x1_0000_0000n;

class EncodeState {
  readonly resources = new Map<Resource, number>();
  readonly scopes = new Map<Scope, number>();
  readonly keys = new Map<string, number>();
  constructor(readonly w: Writer) {}

  resource(r: Resource): void {
    const i = this.resources.get(r);
    if (i !== undefined) {
      this.w.uint32(i + 1);
      return;
    }
    this.resources.set(r, this.resources.size);
    this.w.uint32(0);
    this.attrs(r.attributes);
    this.w.string(r.schemaUrl);
  }

  scope(s: Scope): void {
    const i = this.scopes.get(s);
    if (i !== undefined) {
      this.w.uint32(i + 1);
      return;
    }
    this.scopes.set(s, this.scopes.size);
    this.w.uint32(0);
    this.w.string(s.name);
    this.w.string(s.version);
    this.attrs(s.attributes);
    this.w.string(s.schemaUrl);
  }

  attrs(a: Attributes): void {
    let n = 0;
    for (const _ in a) n++;
    this.w.uint32(n);
    for (const k in a) {
      const i = this.keys.get(k);
      if (i === undefined) {
        this.keys.set(k, this.keys.size);
        this.w.uint32(0);
        this.w.string(k);
      } else {
        this.w.uint32(i + 1);
      }
      this.w.string(a[k]!);
    }
  }

  id(s: string): void {
    if (HEX.test(s)) {
      this.w.uint32(0);
      this.w.bytes(Buffer.from(s, 'hex'));
    } else {
      this.w.uint32(1);
      this.w.string(s);
    }
  }

  time(t: bigint): void {
    this.w.fixed32(Number(t % U32));
    this.w.fixed32(Number(t / U32));
  }
}

class DecodeState {
  readonly resources: Resource[] = [];
  readonly scopes: Scope[] = [];
  readonly keys: string[] = [];
  constructor(
    readonly r: Reader,
    readonly version: number,
  ) {}

  resource(): Resource {
    const ref = this.r.uint32();
    if (ref > 0) return this.ref(this.resources, ref, 'resource');
    const res: Resource = { attributes: this.attrs(), schemaUrl: this.r.string() };
    this.resources.push(res);
    return res;
  }

  scope(): Scope {
    const ref = this.r.uint32();
    if (ref > 0) return this.ref(this.scopes, ref, 'scope');
    const s: Scope = { name: this.r.string(), version: this.r.string(), attributes: this.attrs(), schemaUrl: this.r.string() };
    this.scopes.push(s);
    return s;
  }

  attrs(): Attributes {
    const n = this.count();
    const a: Attributes = {};
    for (let i = 0; i < n; i++) {
      const ref = this.r.uint32();
      let k: string;
      if (ref === 0) {
        k = this.r.string();
        this.keys.push(k);
      } else {
        k = this.ref(this.keys, ref, 'attribute key');
      }
      a[k] = this.r.string();
    }
    return a;
  }

  id(): string {
    const kind = this.r.uint32();
    if (kind === 0) return Buffer.from(this.r.bytes()).toString('hex');
    if (kind === 1) return this.r.string();
    throw new CodecError(`invalid id kind ${kind}`);
  }

  time(): bigint {
    const lo = this.r.fixed32();
    const hi = this.r.fixed32();
    return BigInt(hi) * U32 + BigInt(lo);
  }

  /** A length that must fit in what is left of the message (each element takes at least one byte). */
  count(): number {
    const n = this.r.uint32();
    if (n > this.r.len - this.r.pos) throw new CodecError(`count ${n} exceeds the message`);
    return n;
  }

  private ref<T>(table: T[], ref: number, what: string): T {
    const v = table[ref - 1];
    if (v === undefined) throw new CodecError(`${what} reference ${ref} before its definition`);
    return v;
  }
}

function writeSpan(st: EncodeState, s: SpanRecord): void {
  const w = st.w;
  st.resource(s.resource);
  st.scope(s.scope);
  st.id(s.traceId);
  st.id(s.spanId);
  st.id(s.parentSpanId);
  w.string(s.traceState);
  w.string(s.name);
  w.uint32(s.kind);
  st.time(s.startTimeUnixNano);
  st.time(s.endTimeUnixNano);
  st.attrs(s.attributes);
  w.uint32(s.events.length);
  for (const e of s.events) {
    st.time(e.timeUnixNano);
    w.string(e.name);
    st.attrs(e.attributes);
  }
  w.uint32(s.links.length);
  for (const l of s.links) {
    st.id(l.traceId);
    st.id(l.spanId);
    w.string(l.traceState);
    st.attrs(l.attributes);
  }
  w.uint32(s.statusCode);
  w.string(s.statusMessage);
  w.uint32(s.flags);
}

function readSpan(st: DecodeState): SpanRecord {
  const r = st.r;
  const resource = st.resource();
  const scope = st.scope();
  const traceId = st.id();
  const spanId = st.id();
  const parentSpanId = st.id();
  const traceState = r.string();
  const name = r.string();
  const kind = r.uint32();
  const startTimeUnixNano = st.time();
  const endTimeUnixNano = st.time();
  const attributes = st.attrs();
  const nEvents = st.count();
  const events: SpanEvent[] = [];
  for (let i = 0; i < nEvents; i++) events.push({ timeUnixNano: st.time(), name: r.string(), attributes: st.attrs() });
  const nLinks = st.count();
  const links: SpanLink[] = [];
  for (let i = 0; i < nLinks; i++) links.push({ traceId: st.id(), spanId: st.id(), traceState: r.string(), attributes: st.attrs() });
  const statusCode = r.uint32();
  const statusMessage = r.string();
  const flags = st.version >= 2 ? r.uint32() : 0;
  return { resource, scope, traceId, spanId, parentSpanId, traceState, name, kind, startTimeUnixNano, endTimeUnixNano, attributes, events, links, statusCode, statusMessage, flags };
}

function writeLog(st: EncodeState, l: LogRecord): void {
  const w = st.w;
  st.resource(l.resource);
  st.scope(l.scope);
  st.time(l.timeUnixNano);
  st.time(l.observedTimeUnixNano);
  w.uint32(l.severityNumber);
  w.string(l.severityText);
  w.string(l.body);
  st.attrs(l.attributes);
  st.id(l.traceId);
  st.id(l.spanId);
  w.uint32(l.flags);
  w.string(l.eventName);
}

function readLog(st: DecodeState): LogRecord {
  const r = st.r;
  return {
    resource: st.resource(),
    scope: st.scope(),
    timeUnixNano: st.time(),
    observedTimeUnixNano: st.time(),
    severityNumber: r.uint32(),
    severityText: r.string(),
    body: r.string(),
    attributes: st.attrs(),
    traceId: st.id(),
    spanId: st.id(),
    flags: r.uint32(),
    eventName: st.version >= 2 ? r.string() : '',
  };
}

function writeBuckets(w: Writer, m: ReadonlyMap<number, number>): void {
  w.uint32(m.size);
  for (const [bucket, n] of m) {
    w.sint32(bucket);
    w.double(n);
  }
}

function readBuckets(st: DecodeState): Map<number, number> {
  const n = st.count();
  const m = new Map<number, number>();
  for (let i = 0; i < n; i++) m.set(st.r.sint32(), st.r.double());
  return m;
}

function writeSummary(w: Writer, s: SummaryRecord): void {
  w.double(s.minute);
  w.string(s.provider);
  w.string(s.endpoint);
  w.string(s.model);
  w.string(s.statusClass);
  w.double(s.requests);
  w.double(s.errors);
  writeBuckets(w, s.latencyBuckets);
  w.double(s.inputTokens);
  w.double(s.outputTokens);
  w.double(s.requestBytes);
  w.double(s.responseBytes);
  w.double(s.calls);
  w.double(s.callErrors);
  writeBuckets(w, s.callLatencyBuckets);
  w.string(s.costPicoUsd.toString());
  w.double(s.unpricedCalls);
}

function readSummary(st: DecodeState): SummaryRecord {
  const r = st.r;
  const minute = r.double();
  const provider = r.string();
  const endpoint = r.string();
  const model = r.string();
  const statusClass = r.string();
  const requests = r.double();
  const errors = r.double();
  const latencyBuckets = readBuckets(st);
  const inputTokens = r.double();
  const outputTokens = r.double();
  const requestBytes = r.double();
  const responseBytes = r.double();
  const v2 = st.version >= 2;
  const calls = v2 ? r.double() : 0;
  const callErrors = v2 ? r.double() : 0;
  const callLatencyBuckets = v2 ? readBuckets(st) : new Map<number, number>();
  const v3 = st.version >= 3;
  const costPicoUsd = v3 ? BigInt(r.string()) : 0n;
  const unpricedCalls = v3 ? r.double() : calls;
  return { minute, provider, endpoint, model, statusClass, requests, errors, latencyBuckets, calls, callErrors, callLatencyBuckets, inputTokens, outputTokens, costPicoUsd, unpricedCalls, requestBytes, responseBytes };
}

function writeMetadata(st: EncodeState, m: GatewayMetadataRecord): void {
  const w = st.w;
  st.time(m.timeUnixNano);
  w.string(m.serviceName);
  w.string(m.serviceVersion);
  w.string(m.instanceId);
  w.double(m.uptimeSeconds);
  w.double(m.unexpectedRestarts);
  st.attrs(m.environment);
  w.string(m.policyConfig);
}

function readMetadata(st: DecodeState): GatewayMetadataRecord {
  const r = st.r;
  return {
    timeUnixNano: st.time(),
    serviceName: r.string(),
    serviceVersion: r.string(),
    instanceId: r.string(),
    uptimeSeconds: r.double(),
    unexpectedRestarts: r.double(),
    environment: st.attrs(),
    policyConfig: r.string(),
  };
}

/** Encodes one batch and its context as one message value. */
export function encodeBatchMessage(batch: RecordBatch, ctx: BatchContext): Buffer {
  const w = Writer.create();
  w.uint32(MAGIC0).uint32(MAGIC1).uint32(CODEC_VERSION); // each < 128: one byte
  w.uint32(batch.spans.length).uint32(batch.logs.length).uint32(batch.summaries.length).uint32(batch.metadata.length);
  w.string(ctx.tenantId);
  w.string(ctx.tier);
  w.double(ctx.tierVersion);
  w.double(ctx.receivedAtMs);
  w.double(batch.expireAt === undefined ? 0 : batch.expireAt + 1);
  w.double(batch.contentExpireAt === undefined ? 0 : batch.contentExpireAt + 1);
  const st = new EncodeState(w);
  for (const s of batch.spans) writeSpan(st, s);
  for (const l of batch.logs) writeLog(st, l);
  for (const s of batch.summaries) writeSummary(w, s);
  for (const m of batch.metadata) writeMetadata(st, m);
  const out = w.finish();
  return Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

function header(r: Reader): RecordCounts & { version: number } {
  if (r.len < 3) throw new CodecError('message too short');
  const m0 = r.uint32();
  const m1 = r.uint32();
  if (m0 !== MAGIC0 || m1 !== MAGIC1) throw new CodecError('not a Consentry record message (bad magic)');
  const version = r.uint32();
  if (!READS.includes(version)) throw new CodecError(`unknown encoding version ${version} (this build reads ${READS.join(', ')})`);
  return { version, spans: r.uint32(), logs: r.uint32(), summaries: r.uint32(), metadata: r.uint32() };
}

/**
 * The layout version of a message written in a layout newer than this build
 * reads (by a collector of a later release); undefined for every other
 * message, readable or not. Such a message is not broken: a sink leaves it in
 * Kafka for a sink that reads it, instead of dead-lettering it.
 */
export function newerLayout(value: Uint8Array): number | undefined {
  if (value.length < 3 || value[0] !== MAGIC0 || value[1] !== MAGIC1) return undefined;
  try {
    const version = Reader.create(value.subarray(2)).uint32();
    return version > CODEC_VERSION ? version : undefined;
  } catch {
    return undefined;
  }
}

/** Record counts of a message, reading only its header. Throws CodecError. */
export function peekCounts(value: Uint8Array): RecordCounts {
  try {
    const { version: _version, ...counts } = header(Reader.create(value));
    return counts;
  } catch (err) {
    throw err instanceof CodecError ? err : new CodecError(`unreadable header: ${(err as Error).message}`, { cause: err });
  }
}

/** Decodes a message value; throws CodecError on anything it cannot read completely. */
export function decodeBatchMessage(value: Uint8Array): { batch: RecordBatch; ctx: BatchContext } {
  const r = Reader.create(value);
  try {
    const counts = header(r);
    const st = new DecodeState(r, counts.version);
    const ctx: BatchContext = { tenantId: r.string(), tier: r.string(), tierVersion: r.double(), receivedAtMs: r.double() };
    const expire = r.double();
    const contentExpire = counts.version >= 3 ? r.double() : 0;
    for (const n of [counts.spans, counts.logs, counts.summaries, counts.metadata]) {
      if (n > r.len - r.pos) throw new CodecError(`record count ${n} exceeds the message`);
    }
    const batch = emptyBatch();
    for (let i = 0; i < counts.spans; i++) batch.spans.push(readSpan(st));
    for (let i = 0; i < counts.logs; i++) batch.logs.push(readLog(st));
    for (let i = 0; i < counts.summaries; i++) batch.summaries.push(readSummary(st));
    for (let i = 0; i < counts.metadata; i++) batch.metadata.push(readMetadata(st));
    if (expire !== 0) batch.expireAt = expire - 1;
    if (contentExpire !== 0) batch.contentExpireAt = contentExpire - 1;
    if (r.pos !== r.len) throw new CodecError(`${r.len - r.pos} bytes left after the last record`);
    return { batch, ctx };
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError(`truncated or corrupt message: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Encodes a batch as one or more message values of at most about `maxBytes`
 * each (a single record larger than that still makes one message). Spans and
 * logs are split; summaries and metadata ride with the first part.
 */
export function encodeBatchMessages(batch: RecordBatch, ctx: BatchContext, maxBytes: number): Buffer[] {
  const whole = encodeBatchMessage(batch, ctx);
  const records = batch.spans.length + batch.logs.length;
  if (whole.length <= maxBytes || records <= 1) return [whole];
  const half = Math.ceil(records / 2);
  const first: RecordBatch = { spans: batch.spans.slice(0, half), logs: batch.logs.slice(0, Math.max(0, half - batch.spans.length)), summaries: batch.summaries, metadata: batch.metadata };
  const second = batchOf({ spans: batch.spans.slice(half), logs: batch.logs.slice(Math.max(0, half - batch.spans.length)) });
  return [...encodeBatchMessages(withExpiry(first, batch), ctx, maxBytes), ...encodeBatchMessages(withExpiry(second, batch), ctx, maxBytes)];
}

/** `part` with the expiry times of the batch it was cut from (left unset when unset there). */
function withExpiry(part: RecordBatch, from: RecordBatch): RecordBatch {
  const out = { ...part };
  if (from.expireAt !== undefined) out.expireAt = from.expireAt;
  if (from.contentExpireAt !== undefined) out.contentExpireAt = from.contentExpireAt;
  return out;
}

/** Largest message the producer builds (records are split below it); the topics accept up to TOPIC_MAX_MESSAGE_BYTES (config.ts). */
export const MESSAGE_TARGET_BYTES = 900 * 1024;

/** A request's message values for the spans topic and for the logs topic. */
export interface RequestMessages {
  spans: Buffer[];
  logs: Buffer[];
}

/**
 * Encodes what a request left after its tier: its logs for the logs topic, its
 * spans with what the tier derived from them (summaries, gateway metadata) for
 * the spans topic. A batch with both (not made by the receiver) is split.
 */
export function encodeRequestMessages(batch: RecordBatch, ctx: BatchContext): RequestMessages {
  const encode = (b: RecordBatch) => encodeBatchMessages(withExpiry(b, batch), ctx, MESSAGE_TARGET_BYTES);
  const hasLogs = batch.logs.length > 0;
  const hasSpans = batch.spans.length > 0 || batch.summaries.length > 0;
  if (hasLogs && hasSpans) {
    return {
      logs: encode(batchOf({ logs: batch.logs })),
      spans: encode({ spans: batch.spans, logs: [], summaries: batch.summaries, metadata: batch.metadata }),
    };
  }
  if (hasLogs) return { logs: encode(batch), spans: [] };
  if (hasSpans || batch.metadata.length > 0) return { logs: [], spans: encode(batch) };
  return { logs: [], spans: [] };
}
