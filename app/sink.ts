// A whole sink instance from Settings: ClickHouse (migrated), the tier engine
// and registry (built as the collector builds them: app/pipeline.ts),
// the control channel that keeps the registry current, the consumer that
// writes Kafka to ClickHouse, and a small HTTP server with /healthz, /readyz
// and /metrics. app/sink-main.ts runs it as a process (`npm run sink`); tests
// may start it in-process.
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Settings } from '../core/settings.ts';
import { VERSION } from '../core/version.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { buildTierEngine, reduceToCurrent, secretRules } from './pipeline.ts';
import { TierRegistry } from '../control/tier-registry.ts';
import { ErasureTombstones } from '../control/tombstones.ts';
import { deleteTraces } from '../collector/analytics/erasure.ts';
import { createSecretScrubber } from '../processors/scrub-secrets/processor.ts';
import type { TierEngine } from '../processors/tiers/engine.ts';
import { engineBounds, openClickHouse, type ClickHouse } from '../storage/clickhouse.ts';
import { migrateAtStart } from '../storage/migrate.ts';
import { createKafka, kafkaSettings, withTimeout } from '../sinks/kafka/config.ts';
import { KafkaControl } from '../sinks/kafka/control.ts';
import { KafkaSinkConsumer } from '../sinks/kafka/consumer.ts';
import { UndoOnFailure } from '../core/lifecycle.ts';
import { Metrics, metricsRoute } from '../core/metrics.ts';
import { createHttpServer } from '../core/http-server.ts';
import { resolveAdminToken } from '../control/admin-token.ts';

export interface SinkService {
  settings: Settings;
  /** `http://host:port` of /healthz, /readyz, /metrics. */
  url: string;
  clickhouse: ClickHouse;
  engine: TierEngine;
  registry: TierRegistry;
  consumer: KafkaSinkConsumer;
  logger: Logger;
  metricsRegistry: Registry;
  /** Stops fetching, writes and commits what it holds, leaves the group, closes. Idempotent. */
  stop(): Promise<void>;
}

export async function startSinkService(settings: Settings): Promise<SinkService> {
  if (settings.kafkaBrokers.length === 0) throw new Error('CONSENTRY_KAFKA_BROKERS: required for the sink (it reads what collectors produce to Kafka)');
  // The operator's own secret formats are kept out of Consentry's logs too.
  const scrubber = createSecretScrubber(secretRules(settings));
  const logger = createLogger({ level: settings.logLevel, scrub: (s) => scrubber.scrubString(s) }).child({ role: 'sink' });
  // The collector's metric definitions: the sink's pipeline counters are the same series.
  const metrics = new Metrics();
  const metricsRegistry = metrics.registry;
  const engine = buildTierEngine(settings, {
    count: (name, n) => metrics.processorCounts.inc({ name }, n),
    onRedact: (kind, n) => metrics.secretsRedacted.inc({ kind }, n),
    onDrop: (signal, tier, n) => metrics.recordsDropped.inc({ signal, tier }, n),
  });

  const clickhouse = openClickHouse({ url: settings.clickhouseUrl, dataDir: settings.dataDir, engine: engineBounds(settings) });
  const started = new UndoOnFailure(logger);
  started.push(() => clickhouse.close());
  try {
    await migrateAtStart(clickhouse.client, logger);
    const registry = new TierRegistry({ client: clickhouse.client, onError: (err) => logger.error({ err }, 'tier registry error') });
    await registry.load();
    // Erased subjects, tenants and traces (control/tombstones.ts),
    // loaded before the first record is read: data received before an erasure
    // and still in Kafka is dropped, not written, and so are later pieces of
    // erased traces.
    let consumer: KafkaSinkConsumer | undefined;
    const tombstones = new ErasureTombstones({
      client: clickhouse.client,
      traceBlockMs: settings.erasureTraceHours * 3_600_000,
      maxTraces: settings.erasureMaxTraces,
      onError: (err) => logger.error({ err }, 'reading or recording erasure tombstones failed; will retry'),
      onFull: (skipped) => logger.warn({ skipped, max: settings.erasureMaxTraces }, 'CONSENTRY_ERASURE_MAX_TRACES reached: later pieces of these erased traces are not dropped; raise it'),
      // Pieces of the trace this sink inserted before it met the subject's span.
      onLearned: async (tenantId, traceIds) => {
        await consumer?.insertsSettled();
        await deleteTraces(clickhouse.client, tenantId, traceIds);
      },
    });
    await tombstones.load();
    tombstones.start();
    started.push(() => tombstones.stop());

    const ks = kafkaSettings(settings, 'sink');
    const kafka = createKafka({ brokers: ks.brokers, clientId: ks.instanceId, logger });
    const control = new KafkaControl({ kafka, settings: ks, logger, registry: metricsRegistry, role: 'sink' });
    consumer = new KafkaSinkConsumer({
      kafka,
      settings: ks,
      groupId: settings.sinkGroup,
      client: clickhouse.client,
      spoolDir: clickhouse.spoolDir,
      reduce: (batch, ctx) => reduceToCurrent(engine, registry)(tombstones.filter(batch, ctx), ctx),
      tierVersion: (tenantId) => registry.current(tenantId)?.version,
      erasedTraces: () => tombstones.learnedCount,
      refreshTiers: () => registry.refresh(),
      maxRows: settings.batchMaxRows,
      maxBytes: settings.sinkMaxBytes,
      maxDelayMs: settings.sinkMaxDelayMs,
      sessionTimeoutMs: settings.sinkSessionTimeoutMs,
      logger,
      registry: metricsRegistry,
    });
    await control.start({
      registry,
      // Every insert checks the tier first: once those running now are done, nothing reduced under the older tier is written.
      onApplied: (tenantId, version) => {
        consumer
          .insertsSettled()
          .then(() => control.publishApplied(tenantId, version))
          .catch((err: unknown) => logger.warn({ err, tenantId }, 'confirming a tier change failed; the switch answers 503 TIER_SWITCH_PENDING'));
      },
    });
    started.push(() => control.shutdown());
    await consumer.start();
    started.push(() => consumer.shutdown());

    const http: FastifyInstance = createHttpServer(settings);
    http.get('/healthz', async () => ({ status: 'ok' }));
    http.get('/readyz', async (_req, reply) => {
      const ping = await withTimeout(clickhouse.client.ping(), 2000, 'ping timed out').catch((err: unknown) => ({ success: false as const, error: err as Error }));
      const checks = {
        ...consumer.status(),
        clickhouse: ping.success ? consumer.status()['clickhouse']! : `unreachable: ${ping.error.message}`,
        control: control.ready() ? 'ok' : 'not subscribed',
      };
      const ok = consumer.ready() && consumer.insertsSucceed() && ping.success && control.ready();
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not ready', version: VERSION, checks });
    });
    // The collector's admin token (the same CONSENTRY_ADMIN_TOKEN, or the same data directory's file) or the metrics token.
    metricsRoute(http, { registry: metricsRegistry, tokens: [resolveAdminToken(settings.dataDir, settings.adminToken).token, settings.metricsToken] });
    const url = await http.listen({ host: settings.host, port: settings.sinkPort });
    started.push(() => http.close());

    let stopping: Promise<void> | undefined;
    return {
      settings,
      url,
      clickhouse,
      engine,
      registry,
      consumer,
      logger,
      metricsRegistry,
      stop: () =>
        (stopping ??= (async () => {
          // Drain first (the control channel stays up so downgrades still apply), then the rest.
          await consumer.shutdown();
          await control.shutdown();
          await tombstones.stop();
          await http.close().catch(() => undefined);
          await clickhouse.close();
        })()),
    };
  } catch (err) {
    await started.run();
    throw err;
  }
}
