// Kafka settings shared by the producer (collector), the sink and the control
// channel, derived from core/settings.ts Settings; topic names; the kafkajs
// client with its logs sent to Consentry's logger; topic creation.
//
// kafkajs stays behind this folder: nothing outside sinks/kafka/ imports it.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { constants, gzip, gunzip, zstdCompress, zstdDecompress } from 'node:zlib';
import { promisify } from 'node:util';
import kafkajs, { CompressionTypes, Kafka, logLevel, type Admin, type ITopicConfig, type LogEntry } from 'kafkajs';
import type { Settings } from '../../core/settings.ts';
import type { Logger } from '../../core/logger.ts';
import { CODEC_VERSION, READS } from './codec.ts';

/** Topic names, versioned: a new record layout that old readers cannot read gets a new name. */
export interface Topics {
  /** Spans of one request each, plus what the tier derived from them (summaries, gateway metadata), in the layout this build writes. */
  spans: string;
  /** Logs of one request each, plus gateway metadata extracted from them, in the layout this build writes. */
  logs: string;
  /** The data topics sinks read: those of every layout this build reads (codec.ts READS), so what older collectors wrote is stored too. */
  read: string[];
  /** Messages a sink could not decode or insert, with the reason in headers. */
  deadletter: string;
  /** Compacted: key tenant id, value its tier assignment (JSON); tombstone when the tenant is deleted. */
  tiers: string;
  /** Compacted: key tenant id, value a change notice (no keys, no hashes): instances reload tenants from ClickHouse. */
  tenants: string;
  /** Short-lived: sinks confirm here that they applied a tier change (a downgrade's 200 waits for them). */
  tierAcks: string;
  /** Compacted: key operator id, value a change notice (no token, no hash): collectors reload operators from ClickHouse. */
  operators: string;
}

/** The data topic of a signal for one record layout (codec.ts): a layout gets topics of its own. */
const dataTopic = (prefix: string, signal: 'spans' | 'logs', layout: number) => `${prefix}consentry.${signal}.v${layout}`;

export function topicNames(prefix: string): Topics {
  return {
    spans: dataTopic(prefix, 'spans', CODEC_VERSION),
    logs: dataTopic(prefix, 'logs', CODEC_VERSION),
    read: READS.flatMap((layout) => [dataTopic(prefix, 'spans', layout), dataTopic(prefix, 'logs', layout)]),
    deadletter: `${prefix}consentry.deadletter.v1`,
    tiers: `${prefix}consentry.tiers.v1`,
    tenants: `${prefix}consentry.tenants.v1`,
    tierAcks: `${prefix}consentry.tier-acks.v1`,
    operators: `${prefix}consentry.operators.v1`,
  };
}

/** Largest message the topics accept; the producer builds messages of at most MESSAGE_TARGET_BYTES (codec.ts). */
export const TOPIC_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface KafkaSettings {
  brokers: string[];
  topics: Topics;
  partitions: number;
  /** 0: the broker's default. */
  replicationFactor: number;
  retentionMs: number;
  sendTimeoutMs: number;
  maxPendingBytes: number;
  compression: Compression;
  /** Identifies this process in client ids and its control-channel consumer group. */
  instanceId: string;
  /** Consumer group of the sink processes (whose members confirm tier changes). */
  sinkGroup: string;
}

export function kafkaSettings(s: Settings, role: 'collector' | 'sink'): KafkaSettings {
  return {
    brokers: s.kafkaBrokers,
    topics: topicNames(s.kafkaTopicPrefix),
    partitions: s.kafkaPartitions,
    replicationFactor: s.kafkaReplicationFactor,
    retentionMs: s.kafkaRetentionHours * 3600_000,
    sendTimeoutMs: s.kafkaSendTimeoutMs,
    maxPendingBytes: s.kafkaMaxPendingBytes,
    compression: s.kafkaCompression,
    instanceId: `${role}-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    sinkGroup: s.sinkGroup,
  };
}

/** Producer compressions (CONSENTRY_KAFKA_COMPRESSION). */
export type Compression = 'zstd' | 'gzip' | 'none';

// kafkajs' own gzip uses zlib's default level 6, and it has no zstd. Levels by
// CPU per byte on this data (bench/kafka-codec.ts, spans with bodies): gzip 1
// costs a third of gzip 6 for 15% more bytes; zstd 3 (zstd's and Kafka's
// default) costs half of gzip 1 and compresses as well as gzip 6, and it
// decompresses in two thirds of gzip's time (on the sinks, and on the broker,
// which decompresses each batch to validate it). Both codecs are registered
// whatever the setting, so a sink reads what any collector wrote.
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const zstdAsync = promisify(zstdCompress);
const unzstdAsync = promisify(zstdDecompress);
const ZSTD_LEVEL = { params: { [constants.ZSTD_c_compressionLevel]: 3 } };
// (CommonJS: CompressionCodecs is reachable through the default export only.)
kafkajs.CompressionCodecs[CompressionTypes.GZIP] = () => ({
  compress: async (encoder: { buffer: Buffer }) => gzipAsync(encoder.buffer, { level: 1 }),
  decompress: async (buffer: Buffer) => gunzipAsync(buffer),
});
kafkajs.CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: async (encoder: { buffer: Buffer }) => zstdAsync(encoder.buffer, ZSTD_LEVEL),
  decompress: async (buffer: Buffer) => unzstdAsync(buffer),
});

const TYPES: Record<Compression, CompressionTypes> = { zstd: CompressionTypes.ZSTD, gzip: CompressionTypes.GZIP, none: CompressionTypes.None };

export function compressionType(c: Compression): CompressionTypes {
  return TYPES[c];
}

/** A kafkajs client whose log lines go to Consentry's logger (errors as warnings: kafkajs logs every retry as an error). */
export function createKafka(opts: { brokers: string[]; clientId: string; logger: Logger }): Kafka {
  const log = opts.logger.child({ component: 'kafka' });
  return new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    // Reconnect fast after a broker restart; callers bound their own waits.
    retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 8 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        if (level <= logLevel.ERROR) log.warn(rest, `kafkajs: ${message}`);
        else log.debug(rest, `kafkajs: ${message}`);
      },
  });
}

/** Creates the topics that do not exist yet (data: partitions + retention; control: compacted, one partition). */
export async function ensureTopics(admin: Admin, s: KafkaSettings): Promise<void> {
  const replicationFactor = s.replicationFactor === 0 ? -1 : s.replicationFactor;
  const data = (topic: string): ITopicConfig => ({
    topic,
    numPartitions: s.partitions,
    replicationFactor,
    configEntries: [
      { name: 'retention.ms', value: String(s.retentionMs) },
      { name: 'max.message.bytes', value: String(TOPIC_MAX_MESSAGE_BYTES) },
    ],
  });
  const compacted = (topic: string): ITopicConfig => ({
    topic,
    numPartitions: 1,
    replicationFactor,
    configEntries: [
      { name: 'cleanup.policy', value: 'compact' },
      { name: 'min.compaction.lag.ms', value: '0' },
    ],
  });
  // Tier confirmations matter for seconds: an hour of them.
  const acks: ITopicConfig = { topic: s.topics.tierAcks, numPartitions: 1, replicationFactor, configEntries: [{ name: 'retention.ms', value: String(3_600_000) }] };
  // The older layouts' data topics too: sinks subscribe to them (an upgraded deployment has them already).
  const wanted = [...s.topics.read.map(data), data(s.topics.deadletter), compacted(s.topics.tiers), compacted(s.topics.tenants), compacted(s.topics.operators), acks];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({ topics: missing, waitForLeaders: true });
  } catch (err) {
    // Another instance created them at the same moment.
    if (!/already exists/i.test((err as Error).message) && !String((err as { type?: string }).type).includes('TOPIC_ALREADY_EXISTS')) throw err;
  }
}

/** Rejects with `message` if `p` has not settled within `ms`. The promise itself goes on. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_r, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
      timer.unref();
    }),
  ]);
}
