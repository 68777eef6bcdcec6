// Builds and starts a whole Consentry instance from Settings: storage,
// tenants, tiers, pipeline, transport, the OTLP receiver and the management
// API. server.ts runs it as a process; tests start it in-process.
import type { FastifyInstance } from 'fastify';
import type { Settings } from '../core/settings.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { Metrics } from '../core/metrics.ts';
import { resolveAdminToken } from '../control/admin-token.ts';
import { TenantStore } from '../control/tenant-store.ts';
import { OperatorStore } from '../control/operator-store.ts';
import { TierRegistry } from '../control/tier-registry.ts';
import { otlpReceiver } from '../collector/otlp/receiver.ts';
import { OtlpService } from '../collector/otlp/service.ts';
import { GrpcReceiver } from '../collector/otlp/grpc-receiver.ts';
import { ingestInline } from '../collector/otlp/ingest.ts';
import { encodeRows } from '../sinks/clickhouse/encode.ts';
import { IngestPool } from '../collector/otlp/ingest-pool.ts';
import { LoadShedder } from '../collector/otlp/load-shedder.ts';
import { createHttpServer } from '../core/http-server.ts';
import { buildApiApp } from '../collector/api/app.ts';
import { routeTable, type RouteAccess } from '../collector/api/access.ts';
import { tierRoutes } from '../collector/api/tiers.ts';
import { analyticsRoutes } from '../collector/api/analytics.ts';
import { ErasureTombstones } from '../control/tombstones.ts';
import { deleteTraces } from '../collector/analytics/erasure.ts';
import { engineBounds, engineTrackedMemory, openClickHouse, type ClickHouse } from '../storage/clickhouse.ts';
import { migrateAtStart } from '../storage/migrate.ts';
import { ClickHouseBatcher } from '../sinks/clickhouse/batcher.ts';
import { ClickHouseSink } from '../sinks/clickhouse/sink.ts';
import { probeInsert } from '../sinks/clickhouse/insert.ts';
import { InProcessTransport } from '../sinks/memory/transport.ts';
import { createSecretScrubber } from '../processors/scrub-secrets/processor.ts';
import type { TierEngine } from '../processors/tiers/engine.ts';
import { buildTierEngine, reduceToCurrent, secretRules } from './pipeline.ts';
import { keepsSpanAttribute } from '../processors/tiers/probe.ts';
import type { EngineHooks } from '../processors/tiers/engine.ts';
import { SharedTenantStore } from '../control/shared-tenant-store.ts';
import { createCollectorKafka } from '../sinks/kafka/mode.ts';
import { withTimeout } from '../sinks/kafka/config.ts';
import { UndoOnFailure } from '../core/lifecycle.ts';
import { emptyBatch } from '../core/record.ts';
import type { QueryLimits } from '../collector/analytics/sql-guard.ts';

/** The ingest worker's entry: compiled JavaScript in production; from TypeScript sources, a wrapper that registers tsx in the thread. */
const INGEST_WORKER = new URL(import.meta.url.endsWith('.ts') ? './ingest-worker.mjs' : './ingest-worker.js', import.meta.url);

export interface Consentry {
  settings: Settings;
  otlpUrl: string;
  /** The OTLP/gRPC endpoint, `http://host:port`; undefined when CONSENTRY_OTLP_GRPC_PORT is `off`. */
  otlpGrpcUrl: string | undefined;
  apiUrl: string;
  adminToken: string;
  adminTokenFile: string | undefined;
  clickhouse: ClickHouse;
  engine: TierEngine;
  registry: TierRegistry;
  tenants: TenantStore;
  operators: OperatorStore;
  tombstones: ErasureTombstones;
  metrics: Metrics;
  logger: Logger;
  /** Every management API route with who may call it (collector/api/access.ts). */
  routes: RouteAccess[];
  /** Stops taking data, flushes what was accepted, closes everything. Idempotent. */
  stop(): Promise<void>;
}

export async function startConsentry(settings: Settings): Promise<Consentry> {
  // The operator's own secret formats are kept out of Consentry's logs too.
  const scrubber = createSecretScrubber(secretRules(settings));
  const logger = createLogger({ level: settings.logLevel, scrub: (s) => scrubber.scrubString(s) });
  const metrics = new Metrics();
  const admin = resolveAdminToken(settings.dataDir, settings.adminToken);

  // Built the same way by the sink process (app/pipeline.ts).
  const hooks: EngineHooks = {
    count: (name, n) => metrics.processorCounts.inc({ name }, n),
    onRedact: (kind, n) => metrics.secretsRedacted.inc({ kind }, n),
    onDrop: (signal, tier, n) => metrics.recordsDropped.inc({ signal, tier }, n),
  };
  const engine = buildTierEngine(settings, hooks);
  const stages = { engine, encodeRows };
  // What each tier keeps of end users, asked of the tiers themselves once, with hooks that count nothing (not traffic).
  const quiet = buildTierEngine(settings, { count: () => undefined, onRedact: () => undefined, onDrop: () => undefined });
  const keepsUserId = new Map(quiet.names().map((t) => [t, keepsSpanAttribute(quiet, t, 'user.id')]));

  const clickhouse = openClickHouse({ url: settings.clickhouseUrl, dataDir: settings.dataDir, engine: engineBounds(settings) });
  if (clickhouse.kind === 'embedded') metrics.watchEngineMemory(() => engineTrackedMemory(clickhouse.client));
  const started = new UndoOnFailure(logger);
  started.push(() => clickhouse.close());
  // Decoding and tiers on worker threads (their engines are built from the same
  // settings); they start while storage is opened and migrated.
  const startingPool = settings.ingestWorkers > 0 ? IngestPool.start({ size: settings.ingestWorkers, settings, stages, hooks, logger, entry: INGEST_WORKER }) : Promise.resolve(undefined);
  const poolOrNothing = startingPool.catch(() => undefined); // a start-up failure surfaces where it is awaited, below
  started.push(async () => (await poolOrNothing)?.close());
  try {
    await migrateAtStart(clickhouse.client, logger);

    // Kafka mode (CONSENTRY_KAFKA_BROKERS): records go to Kafka (a sink process
    // writes them), and tenants and tier switches are shared with the other
    // instances through the control channel. Otherwise the embedded path.
    const kafka = settings.kafkaBrokers.length > 0 ? createCollectorKafka(settings, logger, metrics.registry) : undefined;
    const tenants = kafka === undefined ? new TenantStore(clickhouse.client) : new SharedTenantStore(clickhouse.client, kafka.control);
    await tenants.load();
    const operators = new OperatorStore(clickhouse.client, kafka?.control);
    await operators.load();
    const registry = new TierRegistry({
      client: clickhouse.client,
      onError: (err) => logger.error({ err }, 'recording a tier revert failed; will retry'),
      broadcast: kafka?.control,
      // Instances write an expired switch's revert at different moments: the first broadcasts it.
      sweepDelayMs: kafka === undefined ? 0 : Math.floor(Math.random() * 2000),
    });
    await registry.load();
    registry.start();
    started.push(async () => registry.stop());
    if (kafka !== undefined) {
      await kafka.control.start({ registry, tenants, operators });
      started.push(() => kafka.control.shutdown());
    }
    // Erasures (control/tombstones.ts), loaded before either port takes a request.
    const tombstones = new ErasureTombstones({
      client: clickhouse.client,
      traceBlockMs: settings.erasureTraceHours * 3_600_000,
      // With Kafka the sinks write and filter; this process only records erasures.
      maxTraces: kafka === undefined ? settings.erasureMaxTraces : 0,
      onError: (err) => logger.error({ err }, 'reading or recording erasure tombstones failed; will retry'),
      onFull: (skipped) => logger.warn({ skipped, max: settings.erasureMaxTraces }, 'CONSENTRY_ERASURE_MAX_TRACES reached: later pieces of these erased traces are not dropped; raise it'),
      // Pieces of the trace written (or queued) before the writer met the subject's span.
      onLearned: async (tenantId, traceIds) => {
        await sink.drain();
        await deleteTraces(clickhouse.client, tenantId, traceIds);
      },
    });
    await tombstones.load();
    tombstones.start();
    started.push(() => tombstones.stop());

    const batcher = new ClickHouseBatcher({
      client: clickhouse.client,
      spoolDir: clickhouse.spoolDir,
      maxRows: settings.batchMaxRows,
      maxDelayMs: settings.batchMaxDelayMs,
      onInsert: metrics.onInsert,
    });
    const sink = new ClickHouseSink({
      batcher,
      // A tenant deleted while its data was in flight: nothing is written.
      // Erased subjects and tenants first (tombstones): data received before an erasure is never written.
      downgrade: (batch, ctx) => reduceToCurrent(engine, registry)(tombstones.filter(batch, ctx), ctx) ?? { batch: emptyBatch(), ctx },
      // Rows encoded by an ingest worker skip both checks above when they could change nothing.
      isCurrent: (ctx, traceIds) => registry.current(ctx.tenantId)?.tier === ctx.tier && !tombstones.affects(ctx.tenantId, ctx.receivedAtMs, traceIds),
    });
    const transport = kafka?.transport ?? new InProcessTransport({ sink, probe: () => probeInsert(clickhouse.client, clickhouse.spoolDir) });
    await transport.start();
    started.push(() => transport.shutdown());

    const pool = await startingPool;

    const otlp: FastifyInstance = createHttpServer(settings, { bodyLimit: settings.maxBodyBytes });
    const shedder = new LoadShedder({ maxDelayMs: settings.maxEventLoopDelayMs });
    shedder.start();
    started.push(async () => shedder.stop());
    // One service behind both OTLP ports: one in-flight budget, one transport.
    const service = new OtlpService({
      maxBodyBytes: settings.maxBodyBytes,
      maxDecompressedBytes: settings.maxDecompressedBytes,
      maxInflightBytes: settings.maxInflightBytes,
      overloaded: () => shedder.overloaded(),
      storageBehind: () => kafka?.transport.behind(),
      authenticate: (key: string) => tenants.tenantOfIngestKey(key),
      tierOf: (tenantId: string) => registry.current(tenantId) ?? { tier: '', version: 0 },
      readsSpans: (tier: string) => engine.spanProjection(tier).spans,
      ingest: pool?.ingest ?? ingestInline(stages),
      transport,
      metrics,
      logger,
    });
    await otlp.register(otlpReceiver, { service });
    const grpc = settings.otlpGrpcPort === undefined ? undefined : new GrpcReceiver({ service, limits: settings, maxConcurrentStreams: GRPC_MAX_CONCURRENT_STREAMS });
    // GET /v1/consentry/capture: what the tenant's tier keeps, for interceptors (minimisation at the source).
    await otlp.register((await import('../collector/otlp/capture-endpoint.ts')).captureEndpoint, {
      authenticate: (key: string) => tenants.tenantOfIngestKey(key),
      tierOf: (id: string) => registry.get(id),
      engine,
    });
    const api = buildApiApp({
      adminToken: admin.token,
      operators,
      metricsToken: settings.metricsToken,
      http: settings,
      tenants,
      metrics,
      logger,
      tierNames: () => engine.names(),
      defaultTier: settings.defaultTier,
      assignInitialTier: async (id, tier, actor) => {
        await registry.assign(id, { tier, reason: 'tenant created', actor, action: 'create' });
      },
      tierOf: (id) => registry.current(id)?.tier ?? '',
      ready: async () => {
        const ping = await clickhouse.client.ping();
        const checks = { clickhouse: ping.success ? 'ok' : `unreachable: ${ping.error.message}`, migrations: 'ok', transport: transport.status() };
        if (kafka !== undefined) {
          // Ingest depends on the broker, not on ClickHouse (the sink writes).
          return { ok: transport.ready(), checks: { ...checks, control: kafka.control.ready() ? 'ok' : 'not subscribed' } };
        }
        // Reachable is not enough: inserts may fail (a full disk) while queries work.
        return { ok: ping.success && transport.ready(), checks };
      },
      routes: [
        tierRoutes({
          engine,
          registry,
          tenants,
          // A downgrade answers once nothing received under the old tier can still be written under it.
          applied:
            kafka === undefined
              ? (id) => withTimeout(sink.settled(id), settings.tierSwitchTimeoutMs, `writes received before the switch were not inserted within ${settings.tierSwitchTimeoutMs} ms (CONSENTRY_TIER_SWITCH_TIMEOUT_MS)`)
              : (id, version) => kafka.control.awaitApplied(id, version, settings.tierSwitchTimeoutMs),
        }),
        ...analyticsRoutes({ settings, client: clickhouse.client, tenants, registry, engine, tombstones, drain: () => sink.drain(), queryConcurrency: { perTenant: settings.queryConcurrency, total: settings.queryConcurrencyTotal }, limits: queryLimits(settings), onQuery: metrics.onQuery, keepsUserId: (tier) => keepsUserId.get(tier) === true }),
      ],
    });

    // The control-plane page under /ui (static files only; its data calls go to /api with the operator's token).
    await api.register((await import('../collector/ui/plugin.ts')).consoleUi);
    const otlpAddress = await otlp.listen({ host: settings.host, port: settings.otlpPort });
    started.push(() => otlp.close());
    const grpcAddress = await grpc?.listen(settings.host, settings.otlpGrpcPort!);
    started.push(async () => {
      const closing = grpc?.close();
      grpc?.destroy();
      await closing;
    });
    const apiAddress = await api.listen({ host: settings.host, port: settings.apiPort });
    started.push(() => api.close());

    let stopping: Promise<void> | undefined;
    return {
      settings,
      otlpUrl: otlpAddress,
      otlpGrpcUrl: grpcAddress,
      apiUrl: apiAddress,
      adminToken: admin.token,
      adminTokenFile: admin.file,
      clickhouse,
      engine,
      registry,
      tenants,
      operators,
      tombstones,
      metrics,
      logger,
      routes: routeTable(api),
      stop: () => (stopping ??= stopInOrder()),
    };

    // Stop taking connections first, then drain what was accepted: requests
    // still waiting for their insert are answered as the last batches flush,
    // which lets the ingest server finish closing.
    async function stopInOrder(): Promise<void> {
      const closingOtlp = otlp.close().catch(() => undefined);
      // GOAWAY: no new gRPC calls; the open ones are answered as their data is stored.
      const closingGrpc = grpc?.close();
      // Requests inside an ingest worker reach the transport before it stops taking data.
      await pool?.drained();
      await transport.shutdown();
      // Every accepted request is answered now; keep-alive connections that
      // became idle after close() began would otherwise hold it open.
      otlp.server.closeIdleConnections();
      const grace = setTimeout(() => {
        otlp.server.closeAllConnections();
        grpc?.destroy();
      }, 5000);
      await closingOtlp;
      await closingGrpc;
      clearTimeout(grace);
      shedder.stop();
      await api.close().catch(() => undefined);
      await pool?.close();
      registry.stop();
      await kafka?.control.shutdown();
      await tombstones.stop();
      await clickhouse.close();
    }
  } catch (err) {
    await started.run();
    throw err;
  }
}

/** gRPC calls one connection may have open at once: enough for an exporter's parallel sends, and a bound on what one connection holds. */
const GRPC_MAX_CONCURRENT_STREAMS = 100;

/** The tenant query limits of the settings (the rest are sql-guard.ts DEFAULT_LIMITS). */
function queryLimits(s: Settings): Partial<QueryLimits> {
  return { maxExecutionSeconds: s.queryTimeoutSeconds, maxResultRows: s.queryMaxResultRows, maxMemoryBytes: s.queryMaxMemoryBytes, maxThreads: s.queryMaxThreads };
}
