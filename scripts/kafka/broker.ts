/**
 * Runs one real Apache Kafka broker (KRaft, combined broker+controller) on
 * 127.0.0.1 as a child JVM, for tests and benchmarks. No Docker, no ZooKeeper.
 *
 *   const kafka = await startKafka();          // fetches the jars on first use
 *   ... new Kafka({ brokers: [kafka.brokers] }) ...
 *   const again = await kafka.restart();       // same dataDir and ports
 *   await again.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaScriptError, KafkaScriptErrorCode } from './errors.ts';
import { fetchKafka, KAFKA_VERSION } from './fetch.ts';

export interface StartKafkaOptions {
  /**
   * Folder for server.properties, the broker log and the Kafka log dirs
   * (`kafka-logs/`). An already formatted folder is reused as is: that is a
   * restart. Default: a fresh temp folder, removed by `stop()`. A folder passed
   * in is never removed.
   */
  dataDir?: string;
  /**
   * Broker (PLAINTEXT) port on 127.0.0.1. Default: the port this dataDir used
   * last time, else a free port. 0 means a free port.
   */
  port?: number;
  /** KRaft controller port on 127.0.0.1; same defaults as `port`. */
  controllerPort?: number;
  /** The broker's stdout and stderr (its log4j output), appended. Default `<dataDir>/broker.log`. */
  logFile?: string;
  /** JVM max heap (-Xmx), e.g. '512m'. Default '512m'. */
  heap?: string;
  /** How long to wait for the broker to serve, ms. Default 60000. */
  startTimeoutMs?: number;
  /** Extra server.properties entries; they override the defaults below. */
  serverProperties?: Readonly<Record<string, string>>;
  /** Kafka version to fetch and run. Default KAFKA_VERSION (3.9.2). */
  version?: string;
  /** Jar cache root, see fetchKafka. Default `<repo>/.cache/kafka`. */
  cacheDir?: string;
  /** Progress lines (fetch, format, start). Default: stderr. `() => {}` silences. */
  onProgress?: (line: string) => void;
}

export interface StopKafkaOptions {
  /** SIGKILL at once, no clean shutdown: a crash, for recovery tests. Default false. */
  hard?: boolean;
  /** Time allowed for a clean shutdown before SIGKILL, ms. Default 30000. */
  timeoutMs?: number;
  /** Keep a temp dataDir that startKafka created (to start on it again). Default false. */
  keepData?: boolean;
}

export interface RestartKafkaOptions {
  /** Crash (SIGKILL) instead of a clean stop. Default false. */
  hard?: boolean;
  /** Time the broker stays down before starting again, ms. Default 0. */
  downMs?: number;
}

export interface KafkaExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface KafkaBroker {
  /** Bootstrap string for clients: `127.0.0.1:PORT`. */
  readonly brokers: string;
  readonly port: number;
  readonly controllerPort: number;
  readonly pid: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** Time from spawning the JVM to the broker serving, ms (no fetch, no format). */
  readonly startMs: number;
  /** Settles when the JVM exits, for whatever reason. Never rejects. */
  readonly exited: Promise<KafkaExit>;
  /** Stops the broker. Idempotent; safe after the JVM died on its own. */
  stop(opts?: StopKafkaOptions): Promise<void>;
  /** Stops, then starts on the same dataDir, ports and log file. Use the returned broker from then on. */
  restart(opts?: RestartKafkaOptions): Promise<KafkaBroker>;
}

const STATE_FILE = 'consentry-kafka.json';
/** The broker's log.dirs under dataDir: a partition's segments are in `<dataDir>/kafka-logs/<topic>-<partition>/`. */
export const LOG_DIRS = 'kafka-logs';

interface State {
  version: string;
  clusterId: string;
  port: number;
  controllerPort: number;
  pid: number;
}

/** JVMs started by this process: killed if the process exits without stopping them. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaBroker> {
  validate(opts);
  const progress = opts.onProgress ?? ((line: string) => process.stderr.write(`[kafka] ${line}\n`));
  const libs = await fetchKafka({ version: opts.version, cacheDir: opts.cacheDir, onProgress: progress });
  const owned = opts.dataDir === undefined;
  const dataDir = owned ? await mkdtemp(join(tmpdir(), 'consentry-kafka-')) : resolve(opts.dataDir ?? '');
  try {
    return await startIn({ ...opts, dataDir }, owned, libs.libsDir, progress);
  } catch (err) {
    if (owned) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

async function startIn(
  opts: StartKafkaOptions & { dataDir: string },
  ownsDataDir: boolean,
  libsDir: string,
  progress: (line: string) => void,
): Promise<KafkaBroker> {
  const { dataDir } = opts;
  await mkdir(dataDir, { recursive: true });
  const logFile = resolve(opts.logFile ?? join(dataDir, 'broker.log'));
  const previous = await readState(dataDir);
  if (previous !== undefined) await killStale(previous, dataDir, progress);

  const version = opts.version ?? KAFKA_VERSION;
  const clusterId = previous?.clusterId ?? newClusterId();
  const heap = opts.heap ?? '512m';
  const java = process.env['JAVA_HOME'] ? join(process.env['JAVA_HOME'], 'bin', 'java') : 'java';
  const configPath = join(dataDir, 'server.properties');
  const log4jPath = join(dataDir, 'log4j.properties');
  await writeFile(log4jPath, LOG4J);

  // Up to 3 tries when ports we picked ourselves were taken between probe and bind.
  for (let attempt = 1; ; attempt++) {
    const autoPort = (opts.port ?? previous?.port ?? 0) === 0;
    const autoController = (opts.controllerPort ?? previous?.controllerPort ?? 0) === 0;
    const port = autoPort ? await freePort() : (opts.port ?? previous?.port ?? 0);
    let controllerPort = autoController ? await freePort() : (opts.controllerPort ?? previous?.controllerPort ?? 0);
    while (controllerPort === port) controllerPort = await freePort();

    await writeFile(configPath, serverProperties({ dataDir, port, controllerPort, extra: opts.serverProperties }));
    if (!existsSync(join(dataDir, LOG_DIRS, 'meta.properties'))) {
      await format({ java, libsDir, configPath, log4jPath, clusterId, logFile, progress });
    }

    const logFd = openSync(logFile, 'a');
    writeSync(logFd, `\n===== ${new Date().toISOString()} starting Kafka ${version} on 127.0.0.1:${port} (controller ${controllerPort})\n`);
    const logOffset = statSync(logFile).size;
    const args = [
      `-Xmx${heap}`,
      '-Xms128m',
      // The flags of kafka-run-class.sh for the broker, minus GC logging and JMX.
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:InitiatingHeapOccupancyPercent=35',
      '-XX:+ExplicitGCInvokesConcurrent',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      `-Dlog4j.configuration=file:${log4jPath}`,
      '-cp',
      join(libsDir, '*'),
      'kafka.Kafka',
      configPath,
    ];
    const started = Date.now();
    let child: ChildProcess;
    try {
      child = spawnJava(java, args, logFd);
    } finally {
      closeSync(logFd); // the child holds its own copy
    }
    live.add(child);
    const exited = new Promise<KafkaExit>((resolveExit) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        resolveExit({ code, signal });
      });
      child.once('error', () => {
        live.delete(child);
        resolveExit({ code: null, signal: null });
      });
    });
    const spawnError = await new Promise<NodeJS.ErrnoException | undefined>((r) => {
      child.once('spawn', () => r(undefined));
      child.once('error', (err) => r(err));
    });
    if (spawnError !== undefined || child.pid === undefined) {
      const missing = spawnError?.code === 'ENOENT';
      throw new KafkaScriptError(
        missing ? KafkaScriptErrorCode.JavaMissing : KafkaScriptErrorCode.StartFailed,
        missing
          ? `${java} not found. Install Java 17 (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME.`
          : `could not start ${java}: ${spawnError?.message ?? 'no pid'}`,
        { cause: spawnError },
      );
    }
    const pid = child.pid;
    const brokers = `127.0.0.1:${port}`;
    // Recorded at once so that a broker orphaned during its start is found by the next start.
    await writeState(dataDir, { version, clusterId, port, controllerPort, pid });
    progress(`starting broker pid ${pid} on ${brokers}, log ${logFile}`);

    const outcome = await waitServing(brokers, exited, opts.startTimeoutMs ?? 60_000);
    if (outcome !== 'serving') {
      if (outcome === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
      // Ports that failed are not "the ports of this dataDir".
      if (previous !== undefined) await writeState(dataDir, previous);
      else await rm(join(dataDir, STATE_FILE), { force: true });
      const output = await logSince(logFile, logOffset);
      const portClash = output.includes('Address already in use');
      if (portClash && autoPort && autoController && attempt < 3) {
        progress(`port taken between probe and bind, retrying with other ports`);
        continue;
      }
      throw new KafkaScriptError(
        KafkaScriptErrorCode.StartFailed,
        (outcome === 'timeout'
          ? `broker on ${brokers} did not serve within ${opts.startTimeoutMs ?? 60_000} ms (killed it).`
          : `broker exited during start (code ${outcome.code}, signal ${outcome.signal}).`) +
          (portClash ? ` Port ${port} or ${controllerPort} is in use: pass other ports or free them.` : '') +
          `\n${summarizeLog(output, logFile)}`,
      );
    }
    const startMs = Date.now() - started;
    progress(`broker serving on ${brokers} after ${(startMs / 1000).toFixed(1)} s`);

    let stopping: Promise<void> | undefined;
    const broker: KafkaBroker = {
      brokers,
      port,
      controllerPort,
      pid,
      dataDir,
      logFile,
      startMs,
      exited,
      stop(stopOpts: StopKafkaOptions = {}) {
        stopping ??= (async () => {
          const code = child.exitCode;
          if (code === null && child.signalCode === null) {
            child.kill(stopOpts.hard ? 'SIGKILL' : 'SIGTERM');
            const timeoutMs = stopOpts.hard ? 10_000 : (stopOpts.timeoutMs ?? 30_000);
            let timer: NodeJS.Timeout | undefined;
            const timedOut = await Promise.race([
              exited.then(() => false),
              new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
            ]);
            clearTimeout(timer);
            if (timedOut) {
              progress(`broker pid ${pid} did not stop within ${timeoutMs} ms, sending SIGKILL`);
              child.kill('SIGKILL');
              await exited;
            }
          }
          if (ownsDataDir && !stopOpts.keepData) await rm(dataDir, { recursive: true, force: true });
        })();
        return stopping;
      },
      async restart(restartOpts: RestartKafkaOptions = {}) {
        await broker.stop({ hard: restartOpts.hard, keepData: true });
        if ((restartOpts.downMs ?? 0) > 0) await new Promise((r) => setTimeout(r, restartOpts.downMs));
        return startIn({ ...opts, port, controllerPort, logFile }, ownsDataDir, libsDir, progress);
      },
    };
    return broker;
  }
}

/**
 * Where available, `setpriv --pdeathsig SIGTERM` makes the kernel stop the JVM
 * when the Node thread that started it dies (a vitest worker killed on timeout,
 * SIGKILL), so no orphan broker keeps 500 MB and its ports. setpriv execs java,
 * so the pid is the JVM's.
 */
function spawnJava(java: string, args: string[], logFd: number): ChildProcess {
  const stdio: ['ignore', number, number] = ['ignore', logFd, logFd];
  if (existsSync('/usr/bin/setpriv') && process.platform === 'linux') {
    return spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGTERM', '--', java, ...args], { stdio });
  }
  return spawn(java, args, { stdio });
}

function serverProperties(p: {
  dataDir: string;
  port: number;
  controllerPort: number;
  extra: Readonly<Record<string, string>> | undefined;
}): string {
  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    // Static quorum (KIP-595). 3.9's dynamic quorum (KIP-853) would need
    // `format --standalone` instead; static is simpler for one node.
    'controller.quorum.voters': `1@127.0.0.1:${p.controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${p.port},CONTROLLER://127.0.0.1:${p.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${p.port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': join(p.dataDir, LOG_DIRS),
    // One node: every replication factor and ISR minimum is 1.
    'default.replication.factor': '1',
    'min.insync.replicas': '1',
    'offsets.topic.replication.factor': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    // Internal topics are created on first use; 50 partitions each (the
    // default) costs seconds on a test machine and buys nothing on one node.
    'offsets.topic.num.partitions': '10',
    'transaction.state.log.num.partitions': '10',
    // Topics are created on purpose, as in production.
    'auto.create.topics.enable': 'false',
    // No 3 s wait for more members before the first consumer group rebalance.
    'group.initial.rebalance.delay.ms': '0',
    // The log cleaner allocates this on heap at start (default 128 MiB of our 512).
    'log.cleaner.dedupe.buffer.size': String(32 * 1024 * 1024),
    'num.partitions': '1',
    // After a crash the restarted node cannot register until the session of
    // its previous incarnation expires (DUPLICATE_BROKER_REGISTRATION in the
    // log): the 9 s default made every crash restart take ~13 s.
    'broker.session.timeout.ms': '3000',
    'broker.heartbeat.interval.ms': '500',
  };
  Object.assign(props, p.extra);
  return (
    '# Written by scripts/kafka/broker.ts on every start; edits are overwritten.\n' +
    Object.entries(props)
      .map(([k, v]) => `${k}=${v.replace(/\\/g, '\\\\')}`)
      .join('\n') +
    '\n'
  );
}

/** Everything to stdout, which the parent sends to the log file. */
const LOG4J = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# The broker prints its whole config (hundreds of lines) on every start.
log4j.logger.kafka.server.KafkaConfig=WARN
log4j.logger.org.apache.kafka.common.config.AbstractConfig=WARN
log4j.logger.state.change.logger=WARN
`;

async function format(p: {
  java: string;
  libsDir: string;
  configPath: string;
  log4jPath: string;
  clusterId: string;
  logFile: string;
  progress: (line: string) => void;
}): Promise<void> {
  p.progress(`formatting storage (cluster id ${p.clusterId})`);
  // In 3.9 the formatter is still the Scala kafka.tools.StorageTool in kafka_2.13
  // (kafka-storage.sh); it moved to org.apache.kafka.tools in 4.x.
  const args = [
    '-Xmx256m',
    `-Dlog4j.configuration=file:${p.log4jPath}`,
    '-cp',
    join(p.libsDir, '*'),
    'kafka.tools.StorageTool',
    'format',
    '-t',
    p.clusterId,
    '-c',
    p.configPath,
  ];
  const logFd = openSync(p.logFile, 'a');
  writeSync(logFd, `\n===== ${new Date().toISOString()} kafka.tools.StorageTool format -t ${p.clusterId}\n`);
  const offset = statSync(p.logFile).size;
  let result: KafkaExit | Error;
  try {
    const child = spawn(p.java, args, { stdio: ['ignore', logFd, logFd] });
    result = await new Promise<KafkaExit | Error>((r) => {
      child.once('error', r);
      child.once('exit', (code, signal) => r({ code, signal }));
    });
  } finally {
    closeSync(logFd);
  }
  if (result instanceof Error) {
    const missing = (result as NodeJS.ErrnoException).code === 'ENOENT';
    throw new KafkaScriptError(
      missing ? KafkaScriptErrorCode.JavaMissing : KafkaScriptErrorCode.FormatFailed,
      missing
        ? `${p.java} not found. Install Java 17 (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME.`
        : `could not run the storage formatter: ${result.message}`,
      { cause: result },
    );
  }
  if (result.code !== 0) {
    throw new KafkaScriptError(
      KafkaScriptErrorCode.FormatFailed,
      `kafka.tools.StorageTool format exited with ${result.code ?? result.signal}. ` +
        `If the dataDir holds another cluster's data, delete it or use another dataDir.\n` +
        summarizeLog(await logSince(p.logFile, offset), p.logFile),
    );
  }
}

/** 'serving' once kafkajs can connect and describeCluster lists a broker. */
async function waitServing(
  brokers: string,
  exited: Promise<KafkaExit>,
  timeoutMs: number,
): Promise<'serving' | 'timeout' | KafkaExit> {
  let exit: KafkaExit | undefined;
  void exited.then((e) => (exit = e));
  const kafka = new Kafka({
    clientId: 'consentry-kafka-probe',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1000,
    requestTimeout: 3000,
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exit !== undefined) return exit;
    const admin = kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0) return 'serving';
    } catch {
      // not up yet
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 200))]);
  }
  return exit ?? 'timeout';
}

/** The broker's output since `fromOffset` (bounded to the last 1 MiB). */
async function logSince(logFile: string, fromOffset: number): Promise<string> {
  try {
    const fh = await open(logFile, 'r');
    try {
      const { size } = await fh.stat();
      const start = Math.max(fromOffset, size - 1024 * 1024);
      const buf = Buffer.alloc(Math.max(0, size - start));
      await fh.read(buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

/**
 * The first ERROR lines with the exception line after each (the cause; the
 * shutdown that follows logs hundreds of INFO lines), then the last lines.
 */
function summarizeLog(text: string, logFile: string): string {
  const lines = text.trimEnd().split('\n');
  const errors: string[] = [];
  lines.forEach((line, i) => {
    if (errors.length < 12 && /^\[[^\]]+\] (ERROR|FATAL) /.test(line)) {
      errors.push(line, ...(lines[i + 1] !== undefined && !lines[i + 1]?.startsWith('[') ? [`    ${lines[i + 1]}`] : []));
    }
  });
  const tail = lines.slice(-15).join('\n') || '(log is empty)';
  return (
    (errors.length > 0 ? `First errors in ${logFile}:\n${errors.join('\n')}\n` : '') + `Last lines of ${logFile}:\n${tail}`
  );
}

/** A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function readState(dataDir: string): Promise<State | undefined> {
  try {
    return JSON.parse(await readFile(join(dataDir, STATE_FILE), 'utf8')) as State;
  } catch {
    return undefined;
  }
}

async function writeState(dataDir: string, state: State): Promise<void> {
  await writeFile(join(dataDir, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
}

/**
 * A broker from an earlier run on this dataDir that is still alive (its parent
 * crashed) holds the log dir lock and the ports: stop it. Identified by its
 * command line naming this dataDir's server.properties, so a recycled pid is
 * left alone.
 */
async function killStale(state: State, dataDir: string, progress: (line: string) => void): Promise<void> {
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${state.pid}/cmdline`, 'utf8');
  } catch {
    return;
  }
  if (!cmdline.includes(join(dataDir, 'server.properties')) || !cmdline.includes('kafka.Kafka')) return;
  progress(`stopping leftover broker pid ${state.pid} that still runs on ${dataDir}`);
  process.kill(state.pid, 'SIGKILL');
  const deadline = Date.now() + 10_000;
  while (existsSync(`/proc/${state.pid}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

function validate(opts: StartKafkaOptions): void {
  const problems: string[] = [];
  for (const key of ['port', 'controllerPort'] as const) {
    const v = opts[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 65535)) problems.push(`${key}: must be an integer 0..65535, got ${v}`);
  }
  if (opts.port !== undefined && opts.port !== 0 && opts.port === opts.controllerPort) {
    problems.push('controllerPort: must differ from port');
  }
  if (opts.heap !== undefined && !/^\d+[kmg]$/i.test(opts.heap)) problems.push(`heap: must look like 512m or 1g, got "${opts.heap}"`);
  if (opts.startTimeoutMs !== undefined && !(opts.startTimeoutMs > 0)) {
    problems.push(`startTimeoutMs: must be > 0, got ${opts.startTimeoutMs}`);
  }
  if (opts.dataDir === '') problems.push('dataDir: must not be empty (omit it for a temp folder)');
  if (problems.length > 0) throw new KafkaScriptError(KafkaScriptErrorCode.InvalidOptions, problems.join('; '));
}
