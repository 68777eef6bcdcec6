// Builds and starts a whole Consentry instance from Settings: storage,
// tenants, tiers, pipeline, transport, the OTLP receiver and the management
// API. server.ts runs it as a process; tests start it in-process.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Settings } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { Metrics } from './metrics.ts';
import { resolveAdminToken } from './admin-token.ts';
import { TenantStore } from './tenants/store.ts';
import { TierRegistry } from './tenants/tier-registry.ts';
import { otlpReceiver } from './otlp/receiver.ts';
import { buildApiApp } from './api/app.ts';
import { tierRoutes } from './api/tiers.ts';
import { openClickHouse, type ClickHouse } from '../sinks/clickhouse/client.ts';
import { migrate } from '../sinks/clickhouse/migrate.ts';
import { ClickHouseBatcher } from '../sinks/clickhouse/batcher.ts';
import { ClickHouseSink } from '../sinks/clickhouse/sink.ts';
import { InProcessTransport } from '../sinks/memory/transport.ts';
import type { Transport } from '../sinks/transport.ts';
import { BUILTIN_PROCESSORS } from '../processors/builtin.ts';
import { createSecretScrubber, scrubSecretsProcessor } from '../processors/scrub-secrets/processor.ts';
import { loadTierFiles } from '../processors/tiers/config.ts';
import { TierEngine } from '../processors/tiers/engine.ts';
import type { ProcessorEnv } from '../processors/processor.ts';
import type { BatchContext, RecordBatch } from '../processors/record.ts';

const TIER_DIRS = [fileURLToPath(new URL('../processors/tiers/builtin/', import.meta.url)), fileURLToPath(new URL('../processors/tiers/presets/', import.meta.url))];

export interface Consentry {
  settings: Settings;
  otlpUrl: string;
  apiUrl: string;
  adminToken: string;
  adminTokenFile: string | undefined;
  clickhouse: ClickHouse;
  engine: TierEngine;
  registry: TierRegistry;
  tenants: TenantStore;
  metrics: Metrics;
  logger: Logger;
  /** Stops taking data, flushes what was accepted, closes everything. Idempotent. */
  stop(): Promise<void>;
}

/** The per-deployment HMAC key (API-key hashes): generated once into <data>/hmac-key. */
function hmacKey(dataDir: string): Buffer {
  const file = join(dataDir, 'hmac-key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600 });
  return key;
}

export async function startConsentry(settings: Settings): Promise<Consentry> {
  const scrubber = createSecretScrubber();
  const logger = createLogger({ level: settings.logLevel, scrub: (s) => scrubber.scrubString(s) });
  const metrics = new Metrics();
  const admin = resolveAdminToken(settings.dataDir, settings.adminToken);

  const env: ProcessorEnv = { hmacKey: hmacKey(settings.dataDir), count: (name, n) => metrics.processorCounts.inc({ name }, n) };
  const engine = new TierEngine({
    tiers: loadTierFiles(settings.tiersDir === '' ? TIER_DIRS : [...TIER_DIRS, settings.tiersDir], BUILTIN_PROCESSORS),
    factories: BUILTIN_PROCESSORS,
    env,
    scrub: scrubSecretsProcessor({ onRedact: (kind, n) => metrics.secretsRedacted.inc({ kind }, n) }),
    onDrop: (signal, tier, n) => metrics.recordsDropped.inc({ signal, tier }, n),
  });
  if (engine.get(settings.defaultTier) === undefined) {
    throw new Error(`CONSENTRY_DEFAULT_TIER: unknown tier "${settings.defaultTier}"; one of ${engine.names().join(', ')}`);
  }

  const clickhouse = openClickHouse({ url: settings.clickhouseUrl, dataDir: settings.dataDir });
  // What to undo if starting fails half-way, in reverse order.
  const started: Array<() => Promise<unknown>> = [() => clickhouse.close()];
  const stopAll = async () => {
    for (const stop of started.reverse()) await stop().catch((err: unknown) => logger.error({ err }, 'error while stopping'));
  };
  try {
    const applied = await migrate(clickhouse.client);
    if (applied.length > 0) logger.info({ versions: applied }, 'schema migrations applied');

    const tenants = new TenantStore(clickhouse.client);
    await tenants.load();
    const registry = new TierRegistry({ client: clickhouse.client, onError: (err) => logger.error({ err }, 'recording a tier revert failed; will retry') });
    await registry.load();
    registry.start();
    started.push(async () => registry.stop());

    const batcher = new ClickHouseBatcher({
      client: clickhouse.client,
      maxRows: settings.batchMaxRows,
      maxDelayMs: settings.batchMaxDelayMs,
      onInsert: metrics.onInsert,
    });
    const sink = new ClickHouseSink({
      batcher,
      downgrade: (batch, ctx) => {
        const current = registry.current(ctx.tenantId);
        // A tenant deleted while its data was in flight: nothing is written.
        if (current === undefined) return { batch: { spans: [], logs: [], summaries: [], metadata: [] }, ctx };
        return engine.reduce(batch, ctx, current);
      },
    });
    const transport: Transport = new InProcessTransport(sink);
    await transport.start();
    started.push(() => transport.shutdown());

    const process = (tenantId: string, batch: RecordBatch, receivedAtMs: number): { batch: RecordBatch; ctx: BatchContext } => {
      const current = registry.current(tenantId) ?? { tier: '', version: 0 };
      const ctx: BatchContext = { tenantId, tier: current.tier, tierVersion: current.version, receivedAtMs };
      return { batch: engine.process(batch, ctx), ctx };
    };

    const otlp: FastifyInstance = Fastify({ logger: false, bodyLimit: settings.maxBodyBytes, keepAliveTimeout: 65_000 });
    await otlp.register(otlpReceiver, {
      maxBodyBytes: settings.maxBodyBytes,
      maxDecompressedBytes: settings.maxDecompressedBytes,
      maxInflightBytes: settings.maxInflightBytes,
      authenticate: (key: string) => tenants.tenantOfIngestKey(key),
      process,
      transport,
      metrics,
      logger,
    });
    // GET /v1/consentry/capture: what the tenant's tier keeps, for interceptors (minimisation at the source).
    await otlp.register((await import('./otlp/capture-endpoint.ts')).captureEndpoint, {
      authenticate: (key: string) => tenants.tenantOfIngestKey(key),
      tierOf: (id: string) => registry.get(id),
      engine,
    });
    const api = buildApiApp({
      adminToken: admin.token,
      tenants,
      metrics,
      logger,
      tierNames: () => engine.names(),
      defaultTier: settings.defaultTier,
      assignInitialTier: async (id, tier) => {
        await registry.assign(id, { tier, reason: 'tenant created', actor: 'admin', action: 'create' });
      },
      tierOf: (id) => registry.current(id)?.tier ?? '',
      ready: async () => {
        const ping = await clickhouse.client.ping();
        const checks = { clickhouse: ping.success ? 'ok' : `unreachable: ${ping.error.message}`, migrations: 'ok', transport: transport.ready() ? 'ok' : 'degraded' };
        return { ok: ping.success, checks };
      },
      routes: [tierRoutes({ engine, registry, tenants })],
    });

    const otlpAddress = await otlp.listen({ host: settings.host, port: settings.otlpPort });
    started.push(() => otlp.close());
    const apiAddress = await api.listen({ host: settings.host, port: settings.apiPort });
    started.push(() => api.close());

    let stopping: Promise<void> | undefined;
    return {
      settings,
      otlpUrl: otlpAddress,
      apiUrl: apiAddress,
      adminToken: admin.token,
      adminTokenFile: admin.file,
      clickhouse,
      engine,
      registry,
      tenants,
      metrics,
      logger,
      stop: () => (stopping ??= stopInOrder()),
    };

    // Stop taking connections first, then drain what was accepted: requests
    // still waiting for their insert are answered as the last batches flush,
    // which lets the ingest server finish closing.
    async function stopInOrder(): Promise<void> {
      const closingOtlp = otlp.close().catch(() => undefined);
      await transport.shutdown();
      // Every accepted request is answered now; keep-alive connections that
      // became idle after close() began would otherwise hold it open.
      otlp.server.closeIdleConnections();
      const grace = setTimeout(() => otlp.server.closeAllConnections(), 5000);
      await closingOtlp;
      clearTimeout(grace);
      await api.close().catch(() => undefined);
      registry.stop();
      await clickhouse.close();
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
}
