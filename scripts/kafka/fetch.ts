/**
 * Fetches the Apache Kafka broker jars from Maven Central with Maven into
 * `<repo>/.cache/kafka/<version>/libs` (git-ignored), so tests and benchmarks
 * can run a real broker without Docker or a tarball download.
 *
 * Idempotent: `libs/.complete` is written last, inside a staging folder that is
 * renamed into place, so a present marker means a complete set of jars. A lock
 * file makes concurrent callers (parallel vitest workers) wait for one download.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KafkaScriptError, KafkaScriptErrorCode } from './errors.ts';
import { withLock } from '../lock.ts';

/**
 * Kafka 3.9 is the last line that still accepts the old request versions
 * kafkajs 2.2.4 sends; Kafka 4.0 removed them (KIP-896). Latest 3.9 patch on
 * Maven Central when written.
 */
export const KAFKA_VERSION = '3.9.2';
/** Versions the Kafka 3.9 distribution ships for logging (libs/ of the tarball). */
const SLF4J_VERSION = '1.7.36';
const RELOAD4J_VERSION = '1.2.25';
/** Pinned so the fetch does not depend on Maven's default plugin version. */
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_CACHE_DIR = join(REPO_ROOT, '.cache', 'kafka');

const MARKER = '.complete';
/** A waiting caller gives up after this long without the marker appearing. */
const LOCK_WAIT_MS = 10 * 60_000;

export interface FetchKafkaOptions {
  /** Kafka version (org.apache.kafka:kafka_2.13). Default KAFKA_VERSION. */
  version?: string;
  /** Cache root; jars go to `<cacheDir>/<version>/libs`. Default `<repo>/.cache/kafka`. */
  cacheDir?: string;
  /** Receives progress lines. Default: written to stderr. `() => {}` silences it. */
  onProgress?: (line: string) => void;
}

export interface KafkaLibs {
  version: string;
  /** Folder of jars, for `java -cp '<libsDir>/*'`. */
  libsDir: string;
  /** True when this call ran Maven; false when the cache was already complete. */
  fetched: boolean;
  /** Wall time of this call, ms. */
  elapsedMs: number;
}

export function defaultProgress(line: string): void {
  process.stderr.write(`[kafka] ${line}\n`);
}

/** Where the jars of `version` live, fetched or not. */
export function kafkaLibsDir(opts: { version?: string; cacheDir?: string } = {}): string {
  return join(opts.cacheDir ?? DEFAULT_CACHE_DIR, opts.version ?? KAFKA_VERSION, 'libs');
}

export function isKafkaFetched(opts: { version?: string; cacheDir?: string } = {}): boolean {
  return existsSync(join(kafkaLibsDir(opts), MARKER));
}

export async function fetchKafka(opts: FetchKafkaOptions = {}): Promise<KafkaLibs> {
  const started = Date.now();
  const version = opts.version ?? KAFKA_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new KafkaScriptError(KafkaScriptErrorCode.InvalidOptions, `version must look like 3.9.2, got "${version}"`);
  }
  const progress = opts.onProgress ?? defaultProgress;
  const libsDir = kafkaLibsDir({ version, cacheDir: opts.cacheDir });
  const done = (fetched: boolean): KafkaLibs => ({ version, libsDir, fetched, elapsedMs: Date.now() - started });
  if (existsSync(join(libsDir, MARKER))) return done(false);

  const versionDir = dirname(libsDir);
  await mkdir(versionDir, { recursive: true });
  const timedOut = (message: string) => new KafkaScriptError(KafkaScriptErrorCode.FetchFailed, `${message}.`);
  return withLock({ path: join(versionDir, '.fetch.lock'), what: 'fetching the Kafka jars', progress, waitMs: LOCK_WAIT_MS, timedOut }, async () => {
    if (existsSync(join(libsDir, MARKER))) return done(false); // another process fetched it meanwhile
    await runMaven(version, versionDir, libsDir, progress);
    return done(true);
  });
}

async function runMaven(
  version: string,
  versionDir: string,
  libsDir: string,
  progress: (line: string) => void,
): Promise<void> {
  const staging = join(versionDir, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
  const stagingLibs = join(staging, 'libs');
  await mkdir(stagingLibs, { recursive: true });
  const pom = join(staging, 'pom.xml');
  await writeFile(pom, pomXml(version));
  const logPath = join(versionDir, 'fetch.log');
  const log = createWriteStream(logPath);
  const started = Date.now();
  progress(`fetching Kafka ${version} broker jars from Maven Central into ${libsDir} (about a minute on a cold ~/.m2)`);

  let downloads = 0;
  const errors: string[] = [];
  const ticker = setInterval(() => {
    progress(`  ... ${Math.round((Date.now() - started) / 1000)} s, ${downloads} files downloaded`);
  }, 5000);
  let exitCode: number | null;
  try {
    exitCode = await new Promise<number | null>((resolvePromise, reject) => {
      // -B: batch mode, no colours or progress bars, but one "Downloaded from" line per file.
      const child = spawn(
        'mvn',
        ['-B', '-f', pom, `${DEPENDENCY_PLUGIN}:copy-dependencies`, `-DoutputDirectory=${stagingLibs}`, '-DincludeScope=runtime'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const onData = (chunk: Buffer): void => {
        log.write(chunk);
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.includes('Downloaded from')) downloads++;
          if (line.startsWith('[ERROR]') && errors.length < 12) errors.push(line);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          reject(
            new KafkaScriptError(
              KafkaScriptErrorCode.MavenMissing,
              'Maven (mvn) is not on PATH. Install Maven 3.6+ (Debian: apt-get install maven) and Java 17, then run again.',
            ),
          );
        } else {
          reject(new KafkaScriptError(KafkaScriptErrorCode.FetchFailed, `could not run mvn: ${err.message}`, { cause: err }));
        }
      });
      child.on('close', (code) => resolvePromise(code));
    });
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  } finally {
    clearInterval(ticker);
    await new Promise<void>((r) => log.end(r));
  }

  if (exitCode !== 0) {
    await rm(staging, { recursive: true, force: true });
    throw new KafkaScriptError(
      KafkaScriptErrorCode.FetchFailed,
      `mvn exited with ${exitCode} while fetching org.apache.kafka:kafka_2.13:${version}.\n` +
        `${errors.join('\n') || '(no [ERROR] lines)'}\n` +
        `Check that Maven Central (or the mirror in ~/.m2/settings.xml) is reachable and that the version exists, ` +
        `then run \`npx tsx scripts/kafka/cli.ts fetch\` again. Full Maven output: ${logPath}`,
    );
  }

  const jars = (await readdir(stagingLibs)).filter((f) => f.endsWith('.jar'));
  if (!jars.includes(`kafka_2.13-${version}.jar`)) {
    await rm(staging, { recursive: true, force: true });
    throw new KafkaScriptError(
      KafkaScriptErrorCode.FetchFailed,
      `Maven succeeded but kafka_2.13-${version}.jar is missing from the copied jars; see ${logPath}.`,
    );
  }
  // Marker last, then one rename: a libs/ folder with a marker is always complete.
  await writeFile(
    join(stagingLibs, MARKER),
    JSON.stringify({ version, jars: jars.length, fetchedAt: new Date().toISOString() }) + '\n',
  );
  await rm(libsDir, { recursive: true, force: true }); // a libs/ without marker is a leftover
  await rename(stagingLibs, libsDir);
  await rename(pom, join(versionDir, 'pom.xml'));
  await rm(staging, { recursive: true, force: true });
  const size = await folderSize(libsDir);
  progress(
    `fetched ${jars.length} jars (${(size / 1048576).toFixed(0)} MiB, ${downloads} files downloaded) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}

function pomXml(version: string): string {
  // kafka_2.13 pulls kafka-server, -metadata, -raft, -storage, -group-coordinator
  // and the rest as runtime dependencies; StorageTool lives in kafka_2.13 itself in 3.9.
  // slf4j-reload4j is the binding the 3.9 distribution ships; without one the
  // broker logs nothing at all.
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/kafka/fetch.ts; only used to resolve the broker's runtime classpath. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.consentry</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${version}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>${SLF4J_VERSION}</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>${RELOAD4J_VERSION}</version></dependency>
  </dependencies>
</project>
`;
}

async function folderSize(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) total += (await stat(join(dir, f))).size;
  return total;
}
