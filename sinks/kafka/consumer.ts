// The Kafka -> ClickHouse writer of a sink process: a consumer group member
// that gathers messages per partition, decodes them, reduces them to each
// tenant's current tier (the downgrade check), encodes rows
// (sinks/clickhouse/encode.ts) and inserts them, committing offsets only after
// the insert succeeded. Several sink processes share the partitions.
//
// Exactly-once effect. Each insert carries insert_deduplication_token
// `<topic>-<partition>-<first>-<last>-<table>` (offset range of the batch), so a
// retried insert is a no-op in ClickHouse. A retry must therefore cut the very
// same range, even in another process after a crash or a rebalance: before
// inserting, the sink commits the batch's first offset with the plan
// `consentry-plan:v1:<last>` as offset metadata; whoever reads that partition
// next starts at <first>, finds the plan and cuts exactly <first>..<last> again
// before batching freely. After every table of the batch is inserted (and
// dead letters are produced), it commits <last>+1. A crash anywhere in between
// replays the same range with the same tokens.
//
// No auto-commit, no auto-resolve: kafkajs only moves its fetch position
// (resolveOffset) as messages enter the sink's buffer; commits are explicit and
// checked (kafkajs silently skips a commit while it restarts a crashed consumer,
// so a commit counts only when its COMMIT_OFFSETS event was seen). A rebalance
// (GROUP_JOIN) starts a new epoch: buffers of the old one are dropped (the next
// owner refetches from the committed offset) and their flushes commit nothing.
//
// Failures. ClickHouse unreachable or 5xx: the partitions are paused, the insert
// is retried with exponential backoff and full jitter, never skipped; the
// group membership stays alive (kafkajs heartbeats while partitions are
// paused). A message that cannot be decoded, or rows ClickHouse rejects as
// bad data (isPermanentInsertError: the batch's messages are then inserted in
// halves, down to the ones refused), go to the dead-letter topic with the
// reason in headers, and are counted; the rest is inserted, the partition
// keeps flowing, and offsets are committed only after both. On SIGTERM the sink
// stops fetching, inserts and commits what it holds, then leaves the group.
//
// A message in a record layout newer than this sink reads (codec.ts
// newerLayout: a collector of a later release wrote it) is not broken: the
// sink inserts and commits what came before it, pauses that partition at it,
// uncommitted, and goes on with the others; /readyz and the log say which
// partition waits for an upgraded sink. The next rebalance tries again (the
// partition may go to a sink that reads it).
//
// Tier changes. A batch is reduced (erasure tombstones, the tenant's tier) and
// encoded before its inserts; each insert attempt first checks that every
// tenant of the batch still has the tier version it was reduced under, and
// reduces the batch again if not (tables inserted already stay). So once a
// change is applied here and the inserts running then have settled
// (insertsSettled), nothing reduced under the older tier is written: the
// service then confirms the change to the collectors (control.ts).
import type { Admin, Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BatchContext, RecordBatch } from '../../core/record.ts';
import type { Logger } from '../../core/logger.ts';
import { encodeRows } from '../clickhouse/encode.ts';
import { TABLES, type JoinedRows, type Table, type TableRows } from '../../storage/tables.ts';
import { insertParts, isPermanentInsertError, type InsertParts, type InsertTarget } from '../clickhouse/insert.ts';
import { CodecError, decodeBatchMessage, newerLayout, peekCounts, READS } from './codec.ts';
import { ensureTopics, withTimeout, type KafkaSettings } from './config.ts';

/** The batch reduced to the tenant's current tier, or undefined when this instance does not know the tenant. */
export type ReduceToCurrent = (batch: RecordBatch, ctx: BatchContext) => { batch: RecordBatch; ctx: BatchContext } | undefined;

/** Where inserts go (a ClickHouse client, with the spool folder of embedded chdb), and the rest. */
export type KafkaSinkOptions = InsertTarget & KafkaSinkSettings;

export interface KafkaSinkSettings {
  kafka: Kafka;
  settings: KafkaSettings;
  /** Consumer group shared by every sink process. */
  groupId: string;
  reduce: ReduceToCurrent;
  /** The version of the tenant's tier in force now (undefined: unknown tenant); rows reduced under another version are reduced again before their insert. */
  tierVersion: (tenantId: string) => number | undefined;
  /** Changes when `reduce` learned of an erased trace (ErasureTombstones.learnedCount): a batch reduced meanwhile is reduced again, so its earlier messages lose the trace's pieces too. */
  erasedTraces?: () => number;
  /** Re-reads tier assignments from ClickHouse (a tenant this instance has not heard of yet). */
  refreshTiers: () => Promise<void>;
  /** Rows per insert, at most (a batch is cut when it reaches this). */
  maxRows: number;
  /** Kafka message bytes per batch, at most. */
  maxBytes: number;
  /** Longest time a message waits in the buffer, ms. */
  maxDelayMs: number;
  sessionTimeoutMs: number;
  /** Bytes buffered over all partitions before fetching pauses. Default 4 x maxBytes. */
  maxBufferedBytes?: number;
  /** Inserts running at once over all partitions. Default 2. */
  insertConcurrency?: number;
  logger: Logger;
  registry?: Registry;
}

interface BufferedMessage {
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  rows: number;
  bytes: number;
}

/** A cut batch: one contiguous offset range of one partition. */
interface Cut {
  topic: string;
  partition: number;
  epoch: number;
  first: number;
  last: number;
  messages: BufferedMessage[];
  bytes: number;
  /** Cut from a committed plan: the plan commit is done already. */
  replay: boolean;
}

interface PartitionState {
  topic: string;
  partition: number;
  epoch: number;
  messages: BufferedMessage[];
  rows: number;
  bytes: number;
  /** When the oldest buffered message arrived, ms. */
  since: number | undefined;
  /** The next offset expected from the fetcher. */
  next: number | undefined;
  /** A committed plan to honour before batching freely. */
  plan: { first: number; last: number } | undefined;
  planLoaded: boolean;
  /** The group's committed offset: a fresh state starts there and nowhere else. */
  expect: number | undefined;
  /** Sought back to `expect` once already. */
  sought: boolean;
  queue: Cut[];
  draining: Promise<void> | undefined;
  /** Replaced after a rewind: its queued batches are dropped, not flushed. */
  dead: boolean;
}

interface DeadLetter {
  message: BufferedMessage;
  stage: 'decode' | 'encode' | 'insert';
  reason: string;
  table?: Table;
}

const PLAN_PREFIX = 'consentry-plan:v1:';

/** The offset metadata of a plan: the batch starting at the committed offset ends at `last`. */
export function planMetadata(last: number): string {
  return `${PLAN_PREFIX}${last}`;
}

/** The plan a committed offset carries, when its metadata is one (anything else: batch freely). */
export function committedPlan(committed: { offset: number; metadata: string }): { first: number; last: number } | undefined {
  if (!committed.metadata.startsWith(PLAN_PREFIX)) return undefined;
  const last = Number(committed.metadata.slice(PLAN_PREFIX.length));
  return Number.isSafeInteger(last) && last >= committed.offset ? { first: committed.offset, last } : undefined;
}

/** The deduplication token of an insert of `table`'s rows of the messages first..last of a partition. */
export function insertToken(topic: string, partition: number, first: number, last: number, table: Table): string {
  return `${topic}-${partition}-${first}-${last}-${table}`;
}

/** One message's rows of a table. */
interface MessageRows {
  message: BufferedMessage;
  rows: TableRows;
}

/** A batch decoded, reduced and encoded, per table, with each tenant's tier version it was reduced under. */
interface Built {
  /** Per table, each message's rows (messages without rows for the table left out). */
  tables: Map<Table, MessageRows[]>;
  dead: DeadLetter[];
  versions: Map<string, number | undefined>;
}

/** An insert not attempted: the batch must be reduced again first. */
const STALE = Symbol('stale');

/** Thrown inside a flush that must stop without committing (rebalance, shutdown past its deadline). */
class Abandoned extends Error {}

class SinkMetrics {
  readonly messages: Counter<'topic'>;
  readonly rows: Counter<'table'>;
  readonly insertSeconds: Histogram<'table' | 'outcome'>;
  readonly insertRetries: Counter<'table'>;
  readonly deadLetters: Counter<'stage'>;
  readonly dropped: Counter<'reason'>;
  readonly commits: Counter<'kind'>;
  readonly buffered: Gauge;
  readonly lag: Gauge<'topic' | 'partition'>;
  readonly batchRows: Histogram;
  readonly blocked: Gauge;
  constructor(registry: Registry | undefined) {
    const registers = registry === undefined ? [] : [registry];
    this.messages = new Counter({ name: 'consentry_sink_messages_total', help: 'Kafka messages taken into a batch', labelNames: ['topic'] as const, registers });
    this.rows = new Counter({ name: 'consentry_sink_rows_inserted_total', help: 'Rows inserted into ClickHouse (a deduplicated retry counts again)', labelNames: ['table'] as const, registers });
    this.insertSeconds = new Histogram({
      name: 'consentry_sink_insert_duration_seconds',
      help: 'ClickHouse insert latency',
      labelNames: ['table', 'outcome'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.insertRetries = new Counter({ name: 'consentry_sink_insert_retries_total', help: 'Inserts retried after a transient ClickHouse error', labelNames: ['table'] as const, registers });
    this.deadLetters = new Counter({ name: 'consentry_sink_deadletter_total', help: 'Messages sent to the dead-letter topic, by stage (decode, encode, insert)', labelNames: ['stage'] as const, registers });
    this.dropped = new Counter({ name: 'consentry_sink_records_dropped_total', help: 'Records not written on purpose, by reason (unknown_tenant: deleted while in flight)', labelNames: ['reason'] as const, registers });
    this.commits = new Counter({ name: 'consentry_sink_commits_total', help: 'Offset commits by kind (plan, done, failed)', labelNames: ['kind'] as const, registers });
    this.buffered = new Gauge({ name: 'consentry_sink_buffered_bytes', help: 'Kafka message bytes held by the sink, not yet committed', registers });
    this.lag = new Gauge({ name: 'consentry_sink_lag_messages', help: 'Messages between the last fetched offset and the end of the partition', labelNames: ['topic', 'partition'] as const, registers });
    this.batchRows = new Histogram({ name: 'consentry_sink_batch_rows', help: 'Rows per cut batch', buckets: [10, 100, 1000, 5000, 10000, 20000, 50000], registers });
    this.blocked = new Gauge({ name: 'consentry_sink_partitions_blocked', help: 'Partitions paused at a message in a record layout newer than this sink reads (upgrade the sink)', registers });
  }
}

class Semaphore {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(n: number) {
    this.free = n;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.free++;
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class KafkaSinkConsumer {
  private consumer: Consumer | undefined;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly metrics: SinkMetrics;
  private readonly inserts: Semaphore;
  private readonly insertParts: InsertParts;
  private readonly states = new Map<string, PartitionState>();
  private plans = new Map<string, Promise<Map<number, { offset: number; metadata: string }>>>();
  private readonly committed = new Map<string, string>();
  private epoch = 0;
  private buffered = 0;
  private paused = false;
  private clickhouseHealthy = true;
  private joined = false;
  private started = false;
  private stopping = false;
  /** Set when the shutdown deadline passed: running flushes give up without committing. */
  private abandonAll = false;
  private timer: NodeJS.Timeout | undefined;
  private lastError = '';
  /** Partitions paused at a message of a newer layout, by `topic:partition`. */
  private readonly blocked = new Map<string, { topic: string; partition: number; offset: number; layout: number }>();
  /** Inserts running now (insertsSettled). */
  private readonly inserting = new Set<Promise<void>>();

  constructor(private readonly opts: KafkaSinkOptions) {
    this.producer = opts.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    this.admin = opts.kafka.admin();
    this.metrics = new SinkMetrics(opts.registry);
    this.inserts = new Semaphore(opts.insertConcurrency ?? 2);
    this.insertParts = insertParts(opts);
  }

  private get topics(): string[] {
    return this.opts.settings.topics.read;
  }

  async start(): Promise<void> {
    await withTimeout(this.admin.connect(), 30_000, `Kafka brokers ${this.opts.settings.brokers.join(',')} unreachable`);
    await withTimeout(ensureTopics(this.admin, this.opts.settings), 30_000, 'creating Kafka topics timed out');
    await withTimeout(this.producer.connect(), 30_000, `Kafka brokers ${this.opts.settings.brokers.join(',')} unreachable`);
    await this.startConsumer();
    this.started = true;
    this.timer = setInterval(() => this.tick(), Math.max(10, Math.min(100, this.opts.maxDelayMs / 4)));
    this.timer.unref();
  }

  private async startConsumer(): Promise<void> {
    const sessionTimeout = this.opts.sessionTimeoutMs;
    const consumer = this.opts.kafka.consumer({
      groupId: this.opts.groupId,
      sessionTimeout,
      heartbeatInterval: Math.max(500, Math.min(3000, Math.floor(sessionTimeout / 5))),
      maxWaitTimeInMs: 250,
      // A fetch brings about one batch's worth (maxBytes) over all partitions:
      // more only waits in the buffer, and kafkajs holds each fetch response
      // whole while it decodes it (64 MiB fetches kept a sink at 470-730 MB RSS
      // with nothing buffered; bench/kafka-client.ts --fetch-mb). A message
      // larger than a partition's share still comes (the broker returns at
      // least one record batch).
      maxBytesPerPartition: Math.max(1 << 20, Math.floor(this.opts.maxBytes / 4)),
      maxBytes: Math.max(1 << 20, this.opts.maxBytes),
      allowAutoTopicCreation: false,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.newEpoch();
      this.joined = true;
      this.opts.logger.info({ assignment: e.payload.memberAssignment, epoch: this.epoch }, 'sink joined the consumer group');
    });
    consumer.on(consumer.events.REBALANCING, () => {
      this.joined = false;
    });
    consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
      for (const t of e.payload.topics) for (const p of t.partitions) this.committed.set(`${t.topic}:${p.partition}`, String(p.offset));
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.joined = false;
      this.newEpoch();
      const { error, restart } = e.payload;
      this.lastError = error.message;
      this.opts.logger.warn({ err: error, restart }, 'sink consumer crashed');
      if (!restart && !this.stopping) {
        setTimeout(() => {
          if (this.stopping) return;
          void consumer.disconnect().catch(() => undefined);
          this.startConsumer().catch((err: unknown) => this.opts.logger.error({ err }, 'restarting the sink consumer failed'));
        }, 1000).unref();
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.topics, fromBeginning: true });
    this.paused = false;
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 3,
      eachBatch: (payload) => this.onBatch(payload),
    });
  }

  /**
   * A rebalance or restart: everything buffered belongs to the previous
   * generation. Messages not cut yet are released here; cut batches are released
   * by their drain loop, which flushes none of them (their epoch is old).
   */
  private newEpoch(): void {
    this.epoch++;
    for (const st of this.states.values()) this.forget(st);
    this.states.clear();
    this.plans.clear();
    // Blocked partitions still ours are fetched from their committed offset again, and blocked again.
    const blocked = [...this.blocked.values()];
    this.blocked.clear();
    this.metrics.blocked.set(0);
    try {
      if (blocked.length > 0) this.consumer?.resume(blocked.map((b) => ({ topic: b.topic, partitions: [b.partition] })));
    } catch (err) {
      this.opts.logger.warn({ err }, 'resuming blocked partitions failed');
    }
    this.updatePause();
  }

  private forget(st: PartitionState): void {
    st.dead = true;
    this.buffered -= st.bytes;
    st.messages = [];
    st.bytes = 0;
    st.rows = 0;
    this.metrics.buffered.set(this.buffered);
  }

  private state(topic: string, partition: number): PartitionState {
    const key = `${topic}:${partition}`;
    let st = this.states.get(key);
    if (st === undefined || st.epoch !== this.epoch) {
      st = { topic, partition, epoch: this.epoch, messages: [], rows: 0, bytes: 0, since: undefined, next: undefined, plan: undefined, planLoaded: false, expect: undefined, sought: false, queue: [], draining: undefined, dead: false };
      this.states.set(key, st);
    }
    return st;
  }

  /** Committed offsets and metadata of the group for a topic (once per epoch). */
  private committedOf(topic: string): Promise<Map<number, { offset: number; metadata: string }>> {
    let p = this.plans.get(topic);
    if (p === undefined) {
      p = this.admin.fetchOffsets({ groupId: this.opts.groupId, topics: [topic] }).then((res) => {
        const out = new Map<number, { offset: number; metadata: string }>();
        for (const t of res) for (const part of t.partitions) out.set(part.partition, { offset: Number(part.offset), metadata: part.metadata ?? '' });
        return out;
      });
      p.catch(() => this.plans.delete(topic));
      this.plans.set(topic, p);
    }
    return p;
  }

  private async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const epoch = this.epoch;
    if (this.stopping || this.blocked.has(`${batch.topic}:${batch.partition}`)) return;
    let st = this.state(batch.topic, batch.partition);
    if (!st.planLoaded) {
      const committed = (await this.committedOf(batch.topic)).get(batch.partition);
      if (epoch !== this.epoch || this.stopping) return; // refetched in the new generation
      st = this.state(batch.topic, batch.partition);
      st.planLoaded = true;
      if (committed !== undefined && committed.offset >= 0) st.expect = committed.offset;
      if (committed !== undefined) st.plan = committedPlan(committed);
    }
    const now = Date.now();
    for (const m of batch.messages) {
      if (!payload.isRunning() || payload.isStale() || epoch !== this.epoch) break;
      const offset = Number(m.offset);
      if (st.next !== undefined && offset < st.next) continue; // already buffered (a refetch)
      if (st.next === undefined && st.expect !== undefined && offset !== st.expect) {
        if (offset < st.expect) continue; // before the committed offset: stored already
        if (!st.sought) {
          // Messages fetched before a rewind: go back to the committed offset, so
          // that nothing between it and here is skipped.
          st.sought = true;
          this.consumer?.seek({ topic: st.topic, partition: st.partition, offset: String(st.expect) });
          break;
        }
        // Still ahead after seeking: the range is gone (retention). Batch from here.
        this.opts.logger.warn({ topic: st.topic, partition: st.partition, committed: st.expect, offset }, 'records after the committed offset are gone (retention); batching from the first one left');
        st.plan = undefined;
      }
      if (st.plan !== undefined && offset > st.plan.last) this.cut(st, st.plan.last);
      const layout = m.value === null ? undefined : newerLayout(m.value);
      if (layout !== undefined) {
        this.block(st, offset, layout);
        break;
      }
      if (st.next === undefined) this.opts.logger.debug({ topic: st.topic, partition: st.partition, offset, expect: st.expect, plan: st.plan }, 'first message of the partition in this generation');
      const msg = this.buffer(m, offset);
      st.messages.push(msg);
      st.rows += msg.rows;
      st.bytes += msg.bytes;
      st.since ??= now;
      st.next = offset + 1;
      this.buffered += msg.bytes;
      this.metrics.messages.inc({ topic: st.topic });
      payload.resolveOffset(m.offset);
      if (st.plan !== undefined) {
        if (offset >= st.plan.last) this.cut(st, st.plan.last);
      } else if (st.rows >= this.opts.maxRows || st.bytes >= this.opts.maxBytes) {
        this.cut(st);
      }
    }
    this.metrics.lag.set({ topic: batch.topic, partition: String(batch.partition) }, Number(batch.offsetLag()));
    this.metrics.buffered.set(this.buffered);
    this.updatePause();
    await payload.heartbeat();
  }

  /**
   * Pauses a partition at a message of a newer layout, uncommitted: what is
   * buffered before it is inserted and committed (a committed plan that
   * reaches it cannot be, and stays buffered until the next generation).
   */
  private block(st: PartitionState, offset: number, layout: number): void {
    if (st.plan === undefined) this.cut(st);
    this.blocked.set(`${st.topic}:${st.partition}`, { topic: st.topic, partition: st.partition, offset, layout });
    this.metrics.blocked.set(this.blocked.size);
    this.consumer?.pause([{ topic: st.topic, partitions: [st.partition] }]);
    this.opts.logger.error(
      { topic: st.topic, partition: st.partition, offset, layout, reads: READS },
      `${st.topic}/${st.partition} offset ${offset} is in record layout ${layout}, newer than this sink reads (${READS.join(', ')}): ` +
        'a collector of a later release wrote it. The partition is paused there and the message left in Kafka, uncommitted; the other partitions go on. ' +
        "Upgrade this sink to the collectors' release (sinks before collectors) and it is written then. " +
        'If no release writes that layout, the message is damaged: move the consumer group past it (kafka-consumer-groups --reset-offsets --shift-by 1).',
    );
  }

  private buffer(m: KafkaMessage, offset: number): BufferedMessage {
    let rows = 1;
    if (m.value !== null) {
      try {
        const c = peekCounts(m.value);
        rows = Math.max(1, c.spans + c.logs + c.summaries + c.metadata);
      } catch {
        // Not readable: it goes to the dead-letter topic when its batch is flushed.
      }
    }
    return { offset, key: m.key, value: m.value, rows, bytes: (m.value?.length ?? 0) + (m.key?.length ?? 0) };
  }

  /** Time-based cuts. */
  private tick(): void {
    if (this.stopping) return;
    const now = Date.now();
    for (const st of this.states.values()) {
      if (st.epoch !== this.epoch || st.plan !== undefined || st.since === undefined) continue;
      if (now - st.since >= this.opts.maxDelayMs) this.cut(st);
    }
  }

  /** Moves the buffered messages (up to `upTo` inclusive) into a batch and starts flushing it. */
  private cut(st: PartitionState, upTo?: number): void {
    let n = st.messages.length;
    if (upTo !== undefined) {
      n = st.messages.findIndex((m) => m.offset > upTo);
      if (n < 0) n = st.messages.length;
    }
    if (n === 0) return;
    const messages = st.messages.splice(0, n);
    let bytes = 0;
    let rows = 0;
    for (const m of messages) {
      bytes += m.bytes;
      rows += m.rows;
    }
    st.bytes -= bytes;
    st.rows -= rows;
    st.since = st.messages.length > 0 ? Date.now() : undefined;
    const replay = st.plan !== undefined;
    const cut: Cut = {
      topic: st.topic,
      partition: st.partition,
      epoch: st.epoch,
      first: st.plan?.first ?? messages[0]!.offset,
      last: st.plan?.last ?? messages[messages.length - 1]!.offset,
      messages,
      bytes,
      replay,
    };
    st.plan = undefined;
    this.metrics.batchRows.observe(rows);
    st.queue.push(cut);
    this.drain(st);
  }

  /** Flushes a partition's batches one after another (commits must stay in offset order). */
  private drain(st: PartitionState): void {
    if (st.draining !== undefined) return;
    st.draining = (async () => {
      while (st.queue.length > 0) {
        const cut = st.queue[0]!;
        let ok = false;
        const live = !st.dead && cut.epoch === this.epoch;
        try {
          ok = live && (await this.inserts.run(() => this.flush(cut)));
          this.opts.logger.debug({ topic: cut.topic, partition: cut.partition, first: cut.first, last: cut.last, replay: cut.replay, live, ok }, 'batch flushed');
        } catch (err) {
          if (!(err instanceof Abandoned)) this.opts.logger.error({ err, topic: cut.topic, partition: cut.partition }, 'sink flush failed');
        }
        this.buffered -= cut.bytes;
        this.metrics.buffered.set(this.buffered);
        st.queue.shift();
        if (live && !ok && !st.dead && cut.epoch === this.epoch && !this.stopping) this.rewind(st, cut);
      }
      st.draining = undefined;
      this.updatePause();
    })();
  }

  /**
   * A flush stopped without a rebalance (a commit failed, the broker is away):
   * drop the partition's buffer and fetch again from the batch's first offset;
   * the plan, if it was committed, is read again.
   */
  private rewind(st: PartitionState, cut: Cut): void {
    this.forget(st);
    this.states.delete(`${st.topic}:${st.partition}`);
    this.plans.delete(st.topic);
    try {
      this.consumer?.seek({ topic: cut.topic, partition: cut.partition, offset: String(cut.first) });
    } catch (err) {
      this.opts.logger.warn({ err }, 'seek after a failed flush failed; the next rebalance resets the position');
    }
  }

  private async flush(cut: Cut): Promise<boolean> {
    const check = () => {
      if (cut.epoch !== this.epoch || this.abandonAll) throw new Abandoned();
    };
    if (!cut.replay && !(await this.commit(cut, cut.first, planMetadata(cut.last), 'plan'))) return false;

    const inserted = new Set<string>();
    const refused: DeadLetter[] = [];
    let built = await this.build(cut);
    for (const table of TABLES) {
      // A tenant's tier changed since the batch was reduced: reduce it again (tables inserted already stay).
      while ((await this.insertTable(cut, table, built, inserted, refused, check)) === STALE) built = await this.build(cut);
    }

    const dead = [...built.dead, ...refused];
    if (dead.length > 0) await this.deadLetter(cut, dead, check);
    check();
    return this.commit(cut, cut.last + 1, '', 'done');
  }

  /** Decodes, reduces (tombstones, tier) and encodes a batch's messages, noting each tenant's tier version it was reduced under. */
  private async build(cut: Cut): Promise<Built> {
    const dead: DeadLetter[] = [];
    const tables = new Map<Table, MessageRows[]>(TABLES.map((t) => [t, []]));
    const versions = new Map<string, number | undefined>();
    const erased = this.opts.erasedTraces?.();
    let changed = false;
    let refreshed = false;
    for (const message of cut.messages) {
      let decoded: { batch: RecordBatch; ctx: BatchContext };
      try {
        if (message.value === null) throw new CodecError('message without a value');
        decoded = decodeBatchMessage(message.value);
      } catch (err) {
        dead.push({ message, stage: 'decode', reason: (err as Error).message });
        continue;
      }
      const tenant = decoded.ctx.tenantId;
      let version = this.opts.tierVersion(tenant);
      let reduced = this.opts.reduce(decoded.batch, decoded.ctx);
      if (reduced === undefined && !refreshed) {
        // A tenant created moments ago whose assignment has not reached this instance yet.
        refreshed = true;
        await this.opts.refreshTiers().catch((err: unknown) => this.opts.logger.warn({ err }, 'refreshing tier assignments failed'));
        version = this.opts.tierVersion(tenant);
        reduced = this.opts.reduce(decoded.batch, decoded.ctx);
      }
      if (versions.has(tenant) && versions.get(tenant) !== version) changed = true;
      versions.set(tenant, version);
      if (reduced === undefined) {
        const b = decoded.batch;
        this.metrics.dropped.inc({ reason: 'unknown_tenant' }, b.spans.length + b.logs.length + b.summaries.length + b.metadata.length);
        continue;
      }
      let rows: JoinedRows;
      try {
        rows = encodeRows(reduced.batch, reduced.ctx);
      } catch (err) {
        dead.push({ message, stage: 'encode', reason: (err as Error).message });
        continue;
      }
      for (const t of TABLES) if (rows[t].rows > 0) tables.get(t)!.push({ message, rows: rows[t] });
    }
    // A tier changed half-way through (messages of one tenant reduced under two versions), or a trace was found erased.
    return changed || this.opts.erasedTraces?.() !== erased ? this.build(cut) : { tables, dead, versions };
  }

  /** True when a tenant of the batch has another tier version now than the one it was reduced under. */
  private stale(built: Built): boolean {
    for (const [tenant, version] of built.versions) if (this.opts.tierVersion(tenant) !== version) return true;
    return false;
  }

  /**
   * Inserts a table's rows of the batch (`inserted` keeps what is done across
   * rebuilds): all at once; when ClickHouse refuses the data, the messages in
   * halves, each half inserted again, down to the single messages it refuses
   * (their messages go to `refused`). A refused insert writes nothing, and each
   * part's token names its own offset range (deterministic: a replay cuts and
   * refuses the same ones). STALE, before an insert, when the batch must be
   * reduced again.
   */
  private async insertTable(cut: Cut, table: Table, built: Built, inserted: Set<string>, refused: DeadLetter[], check: () => void): Promise<typeof STALE | undefined> {
    const ranges = built.tables.get(table)!;
    if (ranges.length === 0 || inserted.has(table)) return undefined;
    const stale = () => this.stale(built);
    const insert = async (rs: typeof ranges, whole: boolean): Promise<typeof STALE | undefined> => {
      const first = rs[0]!;
      const last = rs[rs.length - 1]!;
      const [from, to] = whole ? [cut.first, cut.last] : [first.message.offset, last.message.offset];
      const key = `${table}/${from}-${to}`;
      if (inserted.has(key)) return undefined;
      const outcome = await this.insertWithRetry(table, rs.map((r) => r.rows), insertToken(cut.topic, cut.partition, from, to, table), check, stale);
      if (outcome === STALE) return STALE;
      if (outcome !== undefined && rs.length === 1) refused.push({ message: first.message, stage: 'insert', table, reason: outcome });
      else if (outcome !== undefined) {
        for (const half of [rs.slice(0, rs.length >>> 1), rs.slice(rs.length >>> 1)]) if ((await insert(half, false)) === STALE) return STALE;
      }
      inserted.add(key);
      return undefined;
    };
    if ((await insert(ranges, true)) === STALE) return STALE;
    inserted.add(table);
    return undefined;
  }

  /**
   * Inserts until it succeeds (undefined) or ClickHouse refuses the data (the
   * reason); STALE, instead of an attempt, once `stale()` says the rows were
   * reduced under a tier that is no longer the tenant's.
   */
  private async insertWithRetry(table: Table, parts: readonly TableRows[], token: string, check: () => void, stale: () => boolean): Promise<string | undefined | typeof STALE> {
    for (let attempt = 0; ; attempt++) {
      check();
      if (stale()) return STALE;
      const started = performance.now();
      // Registered in the same tick as the check above (insertsSettled).
      const insert = this.insertParts(table, parts, token);
      this.inserting.add(insert);
      try {
        await insert;
        this.metrics.insertSeconds.observe({ table, outcome: 'ok' }, (performance.now() - started) / 1000);
        this.metrics.rows.inc({ table }, parts.reduce((n, p) => n + p.rows, 0));
        if (!this.clickhouseHealthy) {
          this.clickhouseHealthy = true;
          this.opts.logger.info('ClickHouse inserts succeed again');
          this.updatePause();
        }
        return undefined;
      } catch (err) {
        this.metrics.insertSeconds.observe({ table, outcome: 'error' }, (performance.now() - started) / 1000);
        if (isPermanentInsertError(err)) return `ClickHouse refused the rows (code ${(err as { code?: string }).code ?? ''}): ${(err as Error).message}`;
        this.lastError = (err as Error).message;
        if (this.clickhouseHealthy) {
          this.clickhouseHealthy = false;
          this.opts.logger.warn({ err, table }, 'ClickHouse insert failed; pausing consumption and retrying with backoff');
          this.updatePause();
        }
        this.metrics.insertRetries.inc({ table });
        // Full jitter, 200 ms doubling to 10 s.
        await sleep(Math.random() * Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)));
      } finally {
        this.inserting.delete(insert);
      }
    }
  }

  /**
   * Settles once every insert started before this call has settled. Each
   * insert checks the tier versions first, so after a tier change has been
   * applied here and this settled, no rows reduced under the old tier are
   * still written by this sink.
   */
  async insertsSettled(): Promise<void> {
    await Promise.allSettled([...this.inserting]);
  }

  private async deadLetter(cut: Cut, dead: DeadLetter[], check: () => void): Promise<void> {
    const messages = dead.map((d) => {
      const headers: IHeaders = {
        'consentry-reason': d.reason.slice(0, 2000),
        'consentry-stage': d.stage,
        'consentry-source': `${cut.topic}/${cut.partition}/${d.message.offset}`,
        'consentry-failed-at': new Date().toISOString(),
      };
      if (d.table !== undefined) headers['consentry-table'] = d.table;
      // A deterministic key lets a reader drop the copies a replayed batch produces again.
      return { key: `${cut.topic}/${cut.partition}/${d.message.offset}${d.table === undefined ? '' : `/${d.table}`}`, value: d.message.value, headers };
    });
    for (let attempt = 0; ; attempt++) {
      check();
      try {
        await withTimeout(this.producer.send({ topic: this.opts.settings.topics.deadletter, acks: -1, messages }), 30_000, 'dead-letter produce timed out');
        for (const d of dead) this.metrics.deadLetters.inc({ stage: d.stage });
        this.opts.logger.warn({ topic: cut.topic, partition: cut.partition, count: dead.length, first: dead[0]?.reason }, 'messages sent to the dead-letter topic');
        return;
      } catch (err) {
        this.lastError = (err as Error).message;
        this.opts.logger.warn({ err }, 'producing to the dead-letter topic failed; retrying');
        await sleep(Math.random() * Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /** Commits one partition's offset; true only when the broker took it (checked through kafkajs' COMMIT_OFFSETS event). */
  private async commit(cut: Cut, offset: number, metadata: string, kind: 'plan' | 'done'): Promise<boolean> {
    if (cut.epoch !== this.epoch || this.abandonAll || this.consumer === undefined) return false;
    const key = `${cut.topic}:${cut.partition}`;
    this.committed.delete(key);
    try {
      await this.consumer.commitOffsets([{ topic: cut.topic, partition: cut.partition, offset: String(offset), metadata }]);
    } catch (err) {
      this.metrics.commits.inc({ kind: 'failed' });
      this.lastError = (err as Error).message;
      this.opts.logger.warn({ err, topic: cut.topic, partition: cut.partition, offset, kind }, 'offset commit failed; the range is fetched again');
      return false;
    }
    if (this.committed.get(key) !== String(offset)) {
      this.metrics.commits.inc({ kind: 'failed' });
      return false;
    }
    this.metrics.commits.inc({ kind });
    return true;
  }

  private updatePause(): void {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    const max = this.opts.maxBufferedBytes ?? this.opts.maxBytes * 4;
    const want = this.stopping || !this.clickhouseHealthy || this.buffered > max || (this.paused && this.buffered > max / 2);
    if (want === this.paused) return;
    this.paused = want;
    const topics = this.topics.map((topic) => ({ topic }));
    try {
      if (want) consumer.pause(topics);
      else {
        consumer.resume(topics);
        // Resuming a topic resumes its partitions: the blocked ones stay paused.
        for (const b of this.blocked.values()) consumer.pause([{ topic: b.topic, partitions: [b.partition] }]);
      }
    } catch (err) {
      this.opts.logger.warn({ err }, 'pausing or resuming the consumer failed');
    }
  }

  /** False also while a partition is blocked at a message of a newer layout. */
  ready(): boolean {
    return this.started && this.joined && !this.stopping && this.blocked.size === 0;
  }

  /** False from a failed insert until one succeeds again (the failed one, retried with backoff). */
  insertsSucceed(): boolean {
    return this.clickhouseHealthy;
  }

  status(): Record<string, string> {
    const blocked = [...this.blocked.values()].map((b) => `${b.topic}/${b.partition} at offset ${b.offset} (layout ${b.layout})`);
    return {
      kafka: this.joined ? 'ok' : `not in the consumer group${this.lastError === '' ? '' : `: ${this.lastError}`}`,
      clickhouse: this.clickhouseHealthy ? 'ok' : `inserts failing: ${this.lastError}`,
      messages:
        blocked.length === 0
          ? 'ok'
          : `paused at messages in a record layout newer than this sink reads (${READS.join(', ')}), left in Kafka: ${blocked.join(', ')}; upgrade this sink`,
    };
  }

  /**
   * Stops fetching, inserts and commits what is buffered (a planned range that
   * is not complete is left to the next owner), then leaves the group. Past the
   * deadline, running inserts give up without committing.
   */
  async shutdown(deadlineMs = 20_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.timer);
    this.updatePause();
    if (this.started) {
      for (const st of this.states.values()) if (st.epoch === this.epoch && st.plan === undefined) this.cut(st);
      const drains = [...this.states.values()].map((st) => st.draining ?? Promise.resolve());
      const deadline = setTimeout(() => (this.abandonAll = true), deadlineMs);
      await Promise.all(drains);
      clearTimeout(deadline);
    }
    await withTimeout(this.consumer?.disconnect() ?? Promise.resolve(), 15_000, 'consumer disconnect timed out').catch(() => undefined);
    await withTimeout(this.producer.disconnect(), 5000, 'producer disconnect timed out').catch(() => undefined);
    await withTimeout(this.admin.disconnect(), 5000, 'admin disconnect timed out').catch(() => undefined);
  }
}
