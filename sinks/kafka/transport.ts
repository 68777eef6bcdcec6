// The collector's Kafka transport: a request's records are encoded
// (codec.ts), keyed by tenant, and handed to an idempotent producer with
// acks=all; send() resolves once the broker acknowledged every message of the
// request, so the gateway's 200 means the data is in Kafka.
//
// Requests arriving while a produce is in flight are gathered into the next
// one (one produce request in flight, as librdkafka with
// max.in.flight=1 and linger: batching grows with latency, ordering per
// partition holds, and kafkajs' idempotent sequence numbers stay correct).
//
// Broker slow or unreachable: each request waits at most sendTimeoutMs, then
// fails as retryable (the receiver answers 503 + Retry-After). Messages whose
// requests all gave up before they were sent are never sent. Bytes waiting for
// the broker are capped (maxPendingBytes): past it, send() fails at once, so
// memory stays bounded. So is the wait: once the oldest request waiting to be
// sent has waited half of sendTimeoutMs, send() fails at once too. Without
// that, a broker slower than the offered load lets every request queue until
// its timeout, and the collector answers almost nothing but 503 (twice the
// sustainable `full` load through Kafka in `npm run bench`, kafka-full-soak:
// 300-4,500 of 26,000 spans/s accepted). The producer retries by itself; a
// probe marks the transport ready again as soon as the broker answers.
import { Partitioners, type Admin, type Kafka, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BatchContext, RecordBatch } from '../../core/record.ts';
import type { Logger } from '../../core/logger.ts';
import { TransportError, type Transport } from '../../storage/transport.ts';
import { encodeRequestMessages } from './codec.ts';
import { compressionType, ensureTopics, withTimeout, type KafkaSettings } from './config.ts';

/** kafkajs error types that mean the messages themselves are refused, and why. */
const REFUSED_TYPES: Record<string, 'invalid' | 'too-large'> = {
  MESSAGE_TOO_LARGE: 'too-large',
  RECORD_LIST_TOO_LARGE: 'too-large',
  INVALID_RECORD: 'invalid',
  CORRUPT_MESSAGE: 'invalid',
};

export interface KafkaTransportOptions {
  kafka: Kafka;
  settings: KafkaSettings;
  logger: Logger;
  /** Where to register the transport's metrics; none: not exported. */
  registry?: Registry;
  /** Most bytes one produce request carries. Default 8 MiB. */
  maxRequestBytes?: number;
}

interface Pending {
  messages: TopicMessages[];
  bytes: number;
  settled: boolean;
  /** All requests of this entry gave up: never send it. */
  abandoned: boolean;
  resolve(): void;
  reject(err: TransportError): void;
  timer: NodeJS.Timeout | undefined;
  /** Date.now() when it was queued. */
  queuedAt: number;
}

class TransportMetrics {
  readonly pendingBytes: Gauge;
  readonly produceSeconds: Histogram;
  readonly failures: Counter<'reason'>;
  readonly messages: Counter;
  readonly bytes: Counter;
  constructor(registry: Registry | undefined) {
    const registers = registry === undefined ? [] : [registry];
    this.pendingBytes = new Gauge({ name: 'consentry_kafka_pending_bytes', help: 'Encoded bytes waiting for the broker', registers });
    this.produceSeconds = new Histogram({
      name: 'consentry_kafka_produce_duration_seconds',
      help: 'Time from handing a produce request to the broker to its acknowledgement',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.failures = new Counter({ name: 'consentry_kafka_send_failures_total', help: 'Requests answered 503 because Kafka did not take their records, by reason', labelNames: ['reason'] as const, registers });
    this.messages = new Counter({ name: 'consentry_kafka_messages_produced_total', help: 'Kafka messages acknowledged by the broker', registers });
    this.bytes = new Counter({ name: 'consentry_kafka_bytes_produced_total', help: 'Encoded (uncompressed) bytes acknowledged by the broker', registers });
  }
}

export class KafkaTransport implements Transport {
  readonly name = 'kafka';
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly metrics: TransportMetrics;
  private queue: Pending[] = [];
  private pendingBytes = 0;
  private inflight: Promise<void> | undefined;
  private inflightSince = 0;
  private started = false;
  private stopped = false;
  private healthy = false;
  private probe: NodeJS.Timeout | undefined;
  private probing = false;
  private lastError = '';

  constructor(private readonly opts: KafkaTransportOptions) {
    this.producer = opts.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Idempotence needs unlimited retries; each request's wait is bounded by sendTimeoutMs instead.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    this.admin = opts.kafka.admin();
    this.metrics = new TransportMetrics(opts.registry);
  }

  async start(): Promise<void> {
    const timeout = Math.max(this.opts.settings.sendTimeoutMs, 10_000);
    await withTimeout(this.admin.connect(), timeout, `Kafka brokers ${this.opts.settings.brokers.join(',')} unreachable`);
    await withTimeout(ensureTopics(this.admin, this.opts.settings), 30_000, 'creating Kafka topics timed out');
    await withTimeout(this.producer.connect(), timeout, `Kafka brokers ${this.opts.settings.brokers.join(',')} unreachable`);
    this.started = true;
    this.healthy = true;
    this.probe = setInterval(() => void this.check(), 1000);
    this.probe.unref();
  }

  async send(batch: RecordBatch, ctx: BatchContext): Promise<void> {
    if (this.stopped || !this.started) throw TransportError.retryable('Kafka transport not running');
    const encoded = encodeRequestMessages(batch, ctx);
    const messages: TopicMessages[] = [];
    let bytes = 0;
    for (const kind of ['logs', 'spans'] as const) {
      if (encoded[kind].length === 0) continue;
      messages.push({ topic: this.opts.settings.topics[kind], messages: encoded[kind].map((value) => ({ key: ctx.tenantId, value })) });
      for (const v of encoded[kind]) bytes += v.length;
    }
    if (messages.length === 0) return; // nothing left to store (a tier dropped everything): durable as it is
    if (this.pendingBytes + bytes > this.opts.settings.maxPendingBytes && this.pendingBytes > 0) {
      this.metrics.failures.inc({ reason: 'queue_full' });
      throw TransportError.retryable(`Kafka producer queue full (${this.pendingBytes} bytes waiting for the broker)`);
    }
    const behind = this.behind();
    if (behind !== undefined) {
      this.metrics.failures.inc({ reason: 'queue_slow' });
      throw TransportError.retryable(behind);
    }
    this.pendingBytes += bytes;
    this.metrics.pendingBytes.set(this.pendingBytes);
    await new Promise<void>((resolve, reject) => {
      const entry: Pending = {
        messages,
        bytes,
        settled: false,
        abandoned: false,
        resolve,
        reject,
        timer: undefined,
        queuedAt: Date.now(),
      };
      entry.timer = setTimeout(() => this.timeout(entry), this.opts.settings.sendTimeoutMs);
      this.queue.push(entry);
      this.pump();
    });
  }

  /**
   * Why new requests are refused while the oldest request waiting to be sent
   * has waited more than half of sendTimeoutMs (the collector asks before it
   * decodes a request, which would only feed the backlog); else undefined.
   */
  behind(): string | undefined {
    const waited = this.queue.length === 0 ? 0 : Date.now() - this.queue[0]!.queuedAt;
    return waited > this.opts.settings.sendTimeoutMs / 2 ? `Kafka is behind (the oldest request waiting to be sent has waited ${waited} ms)` : undefined;
  }

  private timeout(entry: Pending): void {
    if (entry.settled) return;
    entry.settled = true;
    const queued = this.queue.indexOf(entry);
    if (queued >= 0) {
      // Never sent: drop it, so it is neither sent later nor held in memory.
      this.queue.splice(queued, 1);
      entry.abandoned = true;
      this.release(entry.bytes);
    }
    this.healthy = false;
    this.metrics.failures.inc({ reason: 'timeout' });
    entry.reject(TransportError.retryable(`Kafka did not acknowledge within ${this.opts.settings.sendTimeoutMs} ms${this.lastError === '' ? '' : ` (${this.lastError})`}`));
  }

  private release(bytes: number): void {
    this.pendingBytes -= bytes;
    this.metrics.pendingBytes.set(this.pendingBytes);
  }

  /** Sends what is queued if no produce request is in flight. */
  private pump(): void {
    if (this.inflight !== undefined || this.queue.length === 0) return;
    const max = this.opts.maxRequestBytes ?? 8 << 20;
    const take: Pending[] = [];
    let size = 0;
    while (this.queue.length > 0 && (take.length === 0 || size + this.queue[0]!.bytes <= max)) {
      const e = this.queue.shift()!;
      take.push(e);
      size += e.bytes;
    }
    const byTopic = new Map<string, Message[]>();
    for (const e of take) {
      for (const tm of e.messages) {
        const list = byTopic.get(tm.topic);
        if (list === undefined) byTopic.set(tm.topic, [...tm.messages]);
        else for (const m of tm.messages) list.push(m);
      }
    }
    const started = performance.now();
    this.inflightSince = Date.now();
    this.inflight = this.producer
      .sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        acks: -1,
        compression: compressionType(this.opts.settings.compression),
        timeout: 30_000,
      })
      .then(
        () => {
          this.healthy = true;
          this.lastError = '';
          this.metrics.produceSeconds.observe((performance.now() - started) / 1000);
          let n = 0;
          for (const list of byTopic.values()) n += list.length;
          this.metrics.messages.inc(n);
          this.metrics.bytes.inc(size);
          for (const e of take) this.settle(e);
        },
        (err: unknown) => {
          const retryable = (err as { retriable?: boolean }).retriable !== false;
          this.lastError = (err as Error).message;
          if (retryable) this.healthy = false;
          this.opts.logger.warn({ err }, 'Kafka produce failed');
          // Refused data is blamed on a request only when it was sent alone. A
          // request too large for the topic's max.message.bytes (16 MiB, after
          // compression) is: a produce request joins several only up to
          // maxRequestBytes (8 MiB) before compression. Other errors the broker
          // calls final (authorization, configuration) are the operator's to
          // fix, and the sender's to retry.
          const refused = take.length === 1 ? REFUSED_TYPES[String((err as { type?: unknown }).type)] : undefined;
          const message = `Kafka produce failed: ${(err as Error).message}`;
          for (const e of take) this.settle(e, refused === undefined ? TransportError.retryable(message, { cause: err }) : TransportError.refused(message, refused, err));
        },
      )
      .finally(() => {
        this.release(size);
        this.inflight = undefined;
        this.pump();
      });
  }

  private settle(e: Pending, err?: TransportError): void {
    clearTimeout(e.timer);
    if (e.settled) return;
    e.settled = true;
    if (err === undefined) e.resolve();
    else {
      this.metrics.failures.inc({ reason: 'error' });
      e.reject(err);
    }
  }

  /** While unhealthy: ready again once the broker answers metadata and nothing is stuck in flight. */
  private async check(): Promise<void> {
    if (this.healthy || this.probing || this.stopped) return;
    this.probing = true;
    try {
      await withTimeout(this.admin.fetchTopicMetadata({ topics: [this.opts.settings.topics.spans] }), 2000, 'metadata request timed out');
      const stuck = this.inflight !== undefined && Date.now() - this.inflightSince > this.opts.settings.sendTimeoutMs;
      if (!stuck) this.healthy = true;
    } catch (err) {
      this.lastError = (err as Error).message;
    } finally {
      this.probing = false;
    }
  }

  ready(): boolean {
    return this.started && !this.stopped && this.healthy && this.pendingBytes < this.opts.settings.maxPendingBytes;
  }

  /** Why ready() is false, for /readyz. */
  status(): string {
    if (!this.started) return 'not started';
    if (this.stopped) return 'stopped';
    if (!this.healthy) return `broker unreachable or slow${this.lastError === '' ? '' : `: ${this.lastError}`}`;
    if (this.pendingBytes >= this.opts.settings.maxPendingBytes) return 'producer queue full';
    return 'ok';
  }

  async shutdown(deadlineMs = 10_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.probe);
    if (!this.started) {
      await this.producer.disconnect().catch(() => undefined);
      await this.admin.disconnect().catch(() => undefined);
      return;
    }
    // Requests already accepted are still waiting for their answer: let them finish.
    const end = Date.now() + deadlineMs;
    while ((this.inflight !== undefined || this.queue.length > 0) && Date.now() < end) {
      await Promise.race([this.inflight ?? Promise.resolve(), new Promise((r) => setTimeout(r, 50))]);
    }
    for (const e of this.queue.splice(0)) this.settle(e, TransportError.retryable('shutting down'));
    await withTimeout(this.producer.disconnect(), 5000, 'producer disconnect timed out').catch(() => undefined);
    await withTimeout(this.admin.disconnect(), 5000, 'admin disconnect timed out').catch(() => undefined);
  }
}
