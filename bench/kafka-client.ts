// Which Node.js Kafka client: kafkajs 2.2.4, configured as the product does
// (sinks/kafka/config.ts and transport.ts), against @platformatic/kafka
// configured the same way, on the test broker (scripts/kafka, 127.0.0.1).
//
//   npx tsx bench/kafka-client.ts [--runs 2] [--large 600] [--small 60000] [--only produce|consume] [--fetch-mb 64]
//
// Messages are real Consentry Kafka messages (sinks/kafka/codec.ts
// encodeRequestMessages) of the bench traffic model (bench/otlp-batches.ts,
// with bodies): "large", one 500-span request per message (~0.6 MB), and
// "small", one 1-span request per message (~1.2 KB); keys are 8 tenant ids over
// 6 partitions (the default CONSENTRY_KAFKA_PARTITIONS).
//
// Each measurement is a child process of its own, so CPU (process.cpuUsage():
// every thread, libuv's gzip pool included; and the main thread's alone, where
// the event loop runs) and peak RSS are that client's.
// The parent builds the messages once and hands them to the children in a
// file; clients alternate (A B A B ...) so load from other work on the machine
// falls on both.
//
// produce: idempotent producer, acks=all, gzip level 1, one produce request in
// flight carrying what is queued up to 8 MiB (KafkaTransport: the queue is
// always full at saturation), until every message is acknowledged.
// consume: a fresh consumer group reads the topic the first kafkajs produce
// run wrote, from the beginning, fetching up to 64 MiB, 16 MiB per partition,
// as the sink does (--fetch-mb changes both), with manual commits as the sink
// does them (sinks/kafka/consumer.ts): messages gathered per partition up to
// 16 MiB (CONSENTRY_SINK_MAX_BYTES) or 400 ms, then a "plan" commit of the
// first offset and a "done" commit of last+1; the run ends when every
// message's offset is committed. Nothing is inserted: the client's cost alone.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzip, gzipSync } from 'node:zlib';
import type { CompressionAlgorithmSpecification } from '@platformatic/kafka';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';

type ClientName = 'kafkajs' | 'platformatic';
type Mode = 'produce' | 'consume';

interface ChildArgs {
  client: ClientName;
  mode: Mode;
  brokers: string;
  topic: string;
  /** produce: the messages file; consume: unused. */
  file: string;
  /** Messages to produce or to consume. */
  count: number;
  /** The consumer's fetch limit (maxBytes), MiB; a quarter of it per partition. The sink's: 64. */
  fetchMb: number;
}

interface ChildResult {
  messages: number;
  bytes: number;
  wallS: number;
  cpuS: number;
  /** CPU of the main thread (the event loop) alone: gzip on libuv's pool is not in it, a client's synchronous gunzip is. */
  mainCpuS: number;
  /** RSS after loading the client and the messages, before connecting, MB. */
  baseRssMb: number;
  /** Peak RSS of the process (getrusage maxrss), MB. */
  peakRssMb: number;
}

const MAX_REQUEST_BYTES = 8 << 20; // KafkaTransport's maxRequestBytes default
const SINK_MAX_BYTES = 16 << 20; // CONSENTRY_SINK_MAX_BYTES default
const SINK_MAX_DELAY_MS = 400; // CONSENTRY_SINK_MAX_DELAY_MS default
const PARTITIONS = 6; // CONSENTRY_KAFKA_PARTITIONS default
const TENANTS = 8;

// ---------------------------------------------------------------- child side

/** Messages file: [u32 key length][key][u32 value length][value]... */
function readMessages(buf: Buffer): Array<{ key: Buffer; value: Buffer }> {
  const out: Array<{ key: Buffer; value: Buffer }> = [];
  let at = 0;
  while (at < buf.length) {
    const k = buf.readUInt32BE(at);
    const key = buf.subarray(at + 4, at + 4 + k);
    at += 4 + k;
    const v = buf.readUInt32BE(at);
    const value = buf.subarray(at + 4, at + 4 + v);
    at += 4 + v;
    out.push({ key, value });
  }
  return out;
}

/** Round-robin over the pool, cut into produce requests of at most MAX_REQUEST_BYTES (at least one message each). */
function* requests(pool: Array<{ key: Buffer; value: Buffer }>, count: number): Generator<Array<{ key: Buffer; value: Buffer }>> {
  let i = 0;
  while (i < count) {
    const req: Array<{ key: Buffer; value: Buffer }> = [];
    let size = 0;
    while (i < count && (req.length === 0 || size + pool[i % pool.length]!.value.length <= MAX_REQUEST_BYTES)) {
      const m = pool[i % pool.length]!;
      req.push(m);
      size += m.value.length;
      i++;
    }
    yield req;
  }
}

interface Driver {
  produce(topic: string, pool: Array<{ key: Buffer; value: Buffer }>, count: number): Promise<void>;
  /** Consumes `count` messages as the sink does; resolves once all their offsets are committed. Returns the value bytes seen. */
  consume(topic: string, count: number, fetchMb: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * The sink's batching and commits, client-neutral: `add` per message, `commit`
 * is the client's (plan: first offset; done: last + 1).
 */
class SinkLike {
  private readonly parts = new Map<number, { first: number; last: number; bytes: number; since: number }>();
  private committedMessages = 0;
  private bytesSeen = 0;
  private readonly chains = new Map<number, Promise<void>>();
  private failure: Error | undefined;
  private readonly timer: NodeJS.Timeout;
  constructor(
    private readonly count: number,
    private readonly commit: (partition: number, offset: number, kind: 'plan' | 'done', last: number) => Promise<void>,
    private readonly done: (bytes: number) => void,
    private readonly fail: (err: Error) => void,
  ) {
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const [p, st] of this.parts) if (now - st.since >= SINK_MAX_DELAY_MS) this.cut(p);
    }, 100);
  }
  add(partition: number, offset: number, bytes: number): void {
    this.bytesSeen += bytes;
    let st = this.parts.get(partition);
    if (st === undefined) {
      st = { first: offset, last: offset, bytes: 0, since: Date.now() };
      this.parts.set(partition, st);
    }
    st.last = offset;
    st.bytes += bytes;
    if (st.bytes >= SINK_MAX_BYTES) this.cut(partition);
  }
  private cut(partition: number): void {
    const st = this.parts.get(partition);
    if (st === undefined) return;
    this.parts.delete(partition);
    const n = st.last - st.first + 1;
    // One partition's cuts commit in order, as the sink's drain loop does.
    const chain = (this.chains.get(partition) ?? Promise.resolve())
      .then(() => this.commit(partition, st.first, 'plan', st.last))
      .then(() => this.commit(partition, st.last + 1, 'done', st.last))
      .then(() => {
        this.committedMessages += n;
        if (this.committedMessages >= this.count) {
          clearInterval(this.timer);
          this.done(this.bytesSeen);
        }
      })
      .catch((err: unknown) => {
        this.failure ??= err as Error;
        clearInterval(this.timer);
        this.fail(this.failure);
      });
    this.chains.set(partition, chain);
  }
}

async function kafkajsDriver(brokers: string): Promise<Driver> {
  // The product's client: its gzip level 1 codec and its client options.
  const { createKafka } = await import('../sinks/kafka/config.ts');
  const { CompressionTypes, Partitioners } = await import('kafkajs');
  const { createLogger } = await import('../core/logger.ts');
  const logger = createLogger({ level: 'warn', scrub: (s) => s });
  const kafka = createKafka({ brokers: [brokers], clientId: `bench-kafkajs-${process.pid}`, logger });
  const closers: Array<() => Promise<void>> = [];
  return {
    async produce(topic, pool, count) {
      // As KafkaTransport builds it.
      const producer = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 1000 },
      });
      closers.push(() => producer.disconnect());
      await producer.connect();
      for (const req of requests(pool, count)) {
        await producer.sendBatch({ topicMessages: [{ topic, messages: req }], acks: -1, compression: CompressionTypes.GZIP, timeout: 30_000 });
      }
    },
    async consume(topic, count, fetchMb) {
      // As KafkaSinkConsumer builds and runs it.
      const sessionTimeout = 30_000;
      const consumer = kafka.consumer({
        groupId: `bench-${topic}-${process.pid}`,
        sessionTimeout,
        heartbeatInterval: 3000,
        maxWaitTimeInMs: 250,
        maxBytesPerPartition: (fetchMb << 20) / 4,
        maxBytes: fetchMb << 20,
        allowAutoTopicCreation: false,
        retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000 },
      });
      closers.push(() => consumer.disconnect());
      const committed = new Map<number, string>();
      consumer.on(consumer.events.COMMIT_OFFSETS, (e) => {
        for (const t of e.payload.topics) for (const p of t.partitions) committed.set(p.partition, String(p.offset));
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      return new Promise<number>((resolve, reject) => {
        const sink = new SinkLike(
          count,
          async (partition, offset, kind, last) => {
            await consumer.commitOffsets([{ topic, partition, offset: String(offset), metadata: kind === 'plan' ? `consentry-plan:v1:${last}` : '' }]);
            if (committed.get(partition) !== String(offset)) throw new Error(`kafkajs skipped the commit of ${topic}/${partition} at ${offset}`);
          },
          resolve,
          reject,
        );
        void consumer
          .run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: 3,
            eachBatch: async (payload) => {
              for (const m of payload.batch.messages) {
                if (!payload.isRunning() || payload.isStale()) break;
                sink.add(payload.batch.partition, Number(m.offset), m.value?.length ?? 0);
                payload.resolveOffset(m.offset);
              }
              await payload.heartbeat();
            },
          })
          .catch(reject);
      });
    },
    async close() {
      for (const c of closers) await c();
    },
  };
}

async function platformaticDriver(brokers: string): Promise<Driver> {
  const pk = await import('@platformatic/kafka');
  // The same gzip level 1 as the product's kafkajs codec (config.ts); the
  // client's own is zlib's default level 6. Reading is unchanged.
  const gzipAsync = promisify(gzip);
  // (Typed readonly, a plain object at run time; no client option sets the level.)
  const gz = pk.compressionsAlgorithms.gzip as CompressionAlgorithmSpecification;
  gz.compress = (data) => gzipAsync(data as Buffer, { level: 1 });
  gz.compressSync = (data) => gzipSync(data as Buffer, { level: 1 });
  const closers: Array<() => Promise<void>> = [];
  const base = { clientId: `bench-platformatic-${process.pid}`, bootstrapBrokers: [brokers], timeout: 30_000, connectTimeout: 3000 };
  return {
    async produce(topic, pool, count) {
      const producer = new pk.Producer({
        ...base,
        idempotent: true,
        acks: pk.ProduceAcks.ALL,
        compression: 'gzip',
        // kafkajs' DefaultPartitioner is Java's (murmur2 & 0x7fffffff): the same tenant -> partition map.
        partitioner: pk.compatibilityPartitioner,
        retries: 8,
        retryDelay: 100,
        autocreateTopics: false,
      });
      closers.push(() => producer.close());
      for (const req of requests(pool, count)) {
        await producer.send({ messages: req.map((m) => ({ topic, key: m.key, value: m.value })) });
      }
    },
    async consume(topic, count, fetchMb) {
      const consumer = new pk.Consumer({
        ...base,
        groupId: `bench-${topic}-${process.pid}`,
        sessionTimeout: 30_000,
        heartbeatInterval: 3000,
        maxWaitTime: 250,
        maxBytesPerPartition: (fetchMb << 20) / 4,
        maxBytes: fetchMb << 20,
        autocommit: false,
        autocreateTopics: false,
      });
      closers.push(() => consumer.close(true));
      const stream = await consumer.consume({ topics: [topic], mode: pk.MessagesStreamModes.COMMITTED, fallbackMode: pk.MessagesStreamFallbackModes.EARLIEST, autocommit: false });
      closers.unshift(() => stream.close());
      const epochs = new Map<number, number>();
      return new Promise<number>((resolve, reject) => {
        const sink = new SinkLike(
          count,
          // Consumer#commit sends no offset metadata (it always writes null): the plan commit carries none here.
          (partition, offset) => consumer.commit({ offsets: [{ topic, partition, offset: BigInt(offset), leaderEpoch: epochs.get(partition) ?? 0 }] }),
          resolve,
          reject,
        );
        stream.on('data', (m) => {
          epochs.set(m.partition, m.leaderEpoch);
          sink.add(m.partition, Number(m.offset), m.value?.length ?? 0);
        });
        stream.on('error', reject);
      });
    },
    async close() {
      for (const c of closers) await c().catch(() => undefined);
    },
  };
}

/** CPU seconds of this process's main thread so far (/proc/self/task/<pid>/stat utime + stime, in clock ticks of 10 ms). */
async function mainThreadCpuS(): Promise<number> {
  const stat = await readFile(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function child(a: ChildArgs): Promise<void> {
  const driver = a.client === 'kafkajs' ? await kafkajsDriver(a.brokers) : await platformaticDriver(a.brokers);
  const pool = a.mode === 'produce' ? readMessages(await readFile(a.file)) : [];
  let bytes = 0;
  if (a.mode === 'produce') for (let i = 0; i < a.count; i++) bytes += pool[i % pool.length]!.value.length;
  global.gc?.();
  const baseRssMb = process.memoryUsage.rss() / 2 ** 20;
  const main0 = await mainThreadCpuS();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (a.mode === 'produce') await driver.produce(a.topic, pool, a.count);
  else bytes = await driver.consume(a.topic, a.count, a.fetchMb);
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const mainCpuS = (await mainThreadCpuS()) - main0;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  await driver.close();
  const result: ChildResult = { messages: a.count, bytes, wallS, cpuS: (cpu.user + cpu.system) / 1e6, mainCpuS, baseRssMb, peakRssMb };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

// --------------------------------------------------------------- parent side

async function buildMessages(spansPerRequest: number, requests: number): Promise<Buffer> {
  const { buildPool } = await import('./otlp-batches.ts');
  const { decodeTracesProto } = await import('../collector/otlp/decode-proto.ts');
  const { encodeRequestMessages } = await import('../sinks/kafka/codec.ts');
  const pool = buildPool({ tenantId: 'acme', seed: 11, bodies: true, spansPerBatch: spansPerRequest, batches: requests, markerTemplates: 1, baseTimeMs: Date.now(), requestsPerSecond: 1000, secretRate: 0 });
  const parts: Buffer[] = [];
  pool.batches.forEach((otlp, i) => {
    const tenantId = `tenant-${i % TENANTS}`;
    const spans = decodeTracesProto(otlp).records;
    const messages = encodeRequestMessages({ spans, logs: [], summaries: [], metadata: [] }, { tenantId, tier: 'full', tierVersion: 1, receivedAtMs: Date.now() });
    for (const value of messages.spans) {
      const key = Buffer.from(tenantId);
      const head = Buffer.alloc(4);
      head.writeUInt32BE(key.length);
      const vhead = Buffer.alloc(4);
      vhead.writeUInt32BE(value.length);
      parts.push(head, key, vhead, value);
    }
  });
  return Buffer.concat(parts);
}

/** Bytes the broker stored for `topic` (its log segments): the compressed size, the same for both clients when their gzip levels match. */
async function storedBytes(dataDir: string, topic: string): Promise<number> {
  const logs = join(dataDir, 'kafka-logs');
  let total = 0;
  for (const d of await readdir(logs)) {
    if (!d.startsWith(`${topic}-`)) continue;
    for (const f of await readdir(join(logs, d))) if (f.endsWith('.log')) total += (await stat(join(logs, d, f))).size;
  }
  return total;
}

function runChild(a: ChildArgs): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', new URL(import.meta.url).pathname, '--child', JSON.stringify(a)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || line === undefined) reject(new Error(`${a.client} ${a.mode} child exited ${code}; output: ${out.slice(-2000)}`));
      else resolve(JSON.parse(line.slice(7)) as ChildResult);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '2' }, large: { type: 'string', default: '600' }, small: { type: 'string', default: '60000' }, only: { type: 'string' }, 'fetch-mb': { type: 'string', default: '64' } } });
  const fetchMb = Number(values['fetch-mb']);
  const runs = Number(values.runs);
  const { startKafka } = await import('../scripts/kafka/broker.ts');
  const { Kafka, logLevel } = await import('kafkajs');
  const dir = await mkdtemp(join(tmpdir(), 'consentry-kafka-client-'));
  const broker = await startKafka({ onProgress: () => undefined });
  const admin = new Kafka({ clientId: 'bench-admin', brokers: [broker.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  let topicSeq = 0;
  const newTopic = async (): Promise<string> => {
    const topic = `bench.client.${topicSeq++}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, configEntries: [{ name: 'max.message.bytes', value: String(16 << 20) }] }], waitForLeaders: true });
    return topic;
  };
  const rows: string[] = [];
  const print = (line: string) => {
    rows.push(line);
    console.log(line);
  };
  print('| scenario | mode | client | run | UTC start | loadavg | messages | MB | wall s | msg/s | MB/s | CPU-s | CPU-s/GB | main thread CPU-s/GB | base RSS MB | peak RSS MB | stored MB |');
  print('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  try {
    for (const [scenario, spans, distinct, count] of [
      ['large', 500, 16, Number(values.large)],
      ['small', 1, 512, Number(values.small)],
    ] as const) {
      const file = join(dir, `${scenario}.bin`);
      await writeFile(file, await buildMessages(spans, distinct));
      const consumeTopic: { name?: string } = {};
      const order: ClientName[] = [];
      for (let r = 0; r < runs; r++) order.push('kafkajs', 'platformatic');
      const modes: Mode[] = values.only === undefined ? ['produce', 'consume'] : [values.only as Mode];
      for (const mode of modes) {
        // Consume runs read what kafkajs wrote (the product's producer), once per group.
        if (mode === 'consume' && consumeTopic.name === undefined) {
          consumeTopic.name = await newTopic();
          await runChild({ client: 'kafkajs', mode: 'produce', brokers: broker.brokers, topic: consumeTopic.name, file, count, fetchMb });
        }
        const seen = new Map<ClientName, number>();
        for (const client of order) {
          const run = (seen.get(client) ?? 0) + 1;
          seen.set(client, run);
          const topic = mode === 'produce' ? await newTopic() : consumeTopic.name!;
          if (mode === 'produce' && consumeTopic.name === undefined && client === 'kafkajs') consumeTopic.name = topic;
          const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
          const at = new Date().toISOString().slice(11, 19);
          const res = await runChild({ client, mode, brokers: broker.brokers, topic, file, count, fetchMb });
          const mb = res.bytes / 1e6;
          print(
            `| ${scenario} | ${mode} | ${client} | ${run} | ${at} | ${load} | ${res.messages} | ${mb.toFixed(0)} | ${res.wallS.toFixed(2)} | ${(res.messages / res.wallS).toFixed(0)} | ${(mb / res.wallS).toFixed(1)} | ${res.cpuS.toFixed(2)} | ${(res.cpuS / (res.bytes / 1e9)).toFixed(1)} | ${(res.mainCpuS / (res.bytes / 1e9)).toFixed(1)} | ${res.baseRssMb.toFixed(0)} | ${res.peakRssMb.toFixed(0)} | ${mode === 'produce' ? ((await storedBytes(broker.dataDir, topic)) / 1e6).toFixed(0) : ''} |`,
          );
        }
      }
    }
  } finally {
    await admin.disconnect();
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) await child(JSON.parse(process.argv[childAt + 1]!) as ChildArgs);
else await main();
