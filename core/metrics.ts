// Consentry's own metrics, Prometheus text on GET /metrics, for the admin
// token or the metrics token only. No series counts a tenant's OTLP requests
// or records: in the `minimal` tier a tenant's requests must not be counted at
// all. The one label that names tenants is on tenant SQL queries
// (POST /api/query: operators' reads of stored data, not gateway traffic),
// which is why the endpoint needs a token.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { bearerToken, secretEquals } from './keys.ts';
import { VERSION } from './version.ts';

export class Metrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'consentry_otlp_requests_total',
    help: 'OTLP/HTTP requests by signal and HTTP status',
    labelNames: ['signal', 'code'] as const,
    registers: [this.registry],
  });
  readonly grpcRequests = new Counter({
    name: 'consentry_otlp_grpc_requests_total',
    help: 'OTLP/gRPC calls by signal and gRPC status (or HTTP status, for requests that are not gRPC)',
    labelNames: ['signal', 'code'] as const,
    registers: [this.registry],
  });
  readonly recordsAccepted = new Counter({
    name: 'consentry_records_accepted_total',
    help: 'Records decoded and handed to the pipeline',
    labelNames: ['signal'] as const,
    registers: [this.registry],
  });
  readonly recordsRejected = new Counter({
    name: 'consentry_records_rejected_total',
    help: 'Records rejected as invalid (OTLP partial success)',
    labelNames: ['signal'] as const,
    registers: [this.registry],
  });
  readonly recordsDropped = new Counter({
    name: 'consentry_records_dropped_total',
    help: 'Records dropped on purpose by a tier pipeline',
    labelNames: ['signal', 'tier'] as const,
    registers: [this.registry],
  });
  readonly secretsRedacted = new Counter({
    name: 'consentry_secrets_redacted_total',
    help: 'Secret values replaced by a marker, by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly processorCounts = new Counter({
    name: 'consentry_processor_values_total',
    help: 'Values processors removed, truncated, hashed or masked on purpose, by processor and what',
    labelNames: ['name'] as const,
    registers: [this.registry],
  });
  readonly inflightBytes = new Gauge({
    name: 'consentry_inflight_bytes',
    help: 'Decompressed bytes of OTLP requests not yet answered',
    registers: [this.registry],
  });
  readonly insertRows = new Histogram({
    name: 'consentry_insert_rows',
    help: 'Rows per ClickHouse insert',
    labelNames: ['table'] as const,
    buckets: [1, 10, 100, 1000, 5000, 10000, 20000, 50000, 100000],
    registers: [this.registry],
  });
  readonly insertSeconds = new Histogram({
    name: 'consentry_insert_duration_seconds',
    help: 'ClickHouse insert latency',
    labelNames: ['table', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly tenantQueries = new Counter({
    name: 'consentry_tenant_queries_total',
    help: 'Tenant SQL queries (POST /api/query) by tenant and outcome (ok, rejected, invalid, limit, unavailable, busy, error)',
    labelNames: ['tenant', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly tenantQuerySeconds = new Histogram({
    name: 'consentry_tenant_query_duration_seconds',
    help: 'Tenant SQL query latency, guard included, by outcome',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'consentry_process_' });
    // What runs, as Prometheus build-info gauges do: always 1, the facts in the labels.
    new Gauge({ name: 'consentry_build_info', help: 'Consentry version and the Node.js it runs on (always 1)', labelNames: ['version', 'node'] as const, registers: [this.registry] }).set(
      { version: VERSION, node: process.versions.node },
      1,
    );
  }

  /** Adds `consentry_engine_memory_bytes`, read from the embedded engine at each scrape (a server has metrics of its own). */
  watchEngineMemory(read: () => Promise<number>): void {
    const gauge: Gauge = new Gauge({
      name: 'consentry_engine_memory_bytes',
      help: 'Memory the embedded ClickHouse engine tracks in this process (its MemoryTracking: queries, inserts, merges, caches)',
      registers: [this.registry],
      collect: async () => {
        // A failed read leaves the last value: the engine answers again once it can.
        const bytes = await read().catch(() => undefined);
        if (bytes !== undefined && Number.isFinite(bytes)) gauge.set(bytes);
      },
    });
  }

  onQuery = (tenant: string, outcome: string, seconds: number): void => {
    this.tenantQueries.inc({ tenant, outcome });
    if (outcome !== 'busy') this.tenantQuerySeconds.observe({ outcome }, seconds);
  };

  onInsert = (table: string, rows: number, seconds: number, error?: unknown): void => {
    this.insertRows.observe({ table }, rows);
    this.insertSeconds.observe({ table, outcome: error === undefined ? 'ok' : 'error' }, seconds);
  };
}

/**
 * GET /metrics on `app`, answered only with one of `tokens` (the admin token,
 * and the metrics token when one is set) as `Authorization: Bearer`: the series
 * name tenants. Without one: 401, naming nothing.
 */
export function metricsRoute(app: FastifyInstance, opts: { registry: Registry; tokens: readonly string[] }): void {
  const tokens = opts.tokens.filter((t) => t !== '');
  const authorized = async (req: FastifyRequest, reply: FastifyReply) => {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined || !tokens.some((t) => secretEquals(token, t))) {
      return reply.code(401).send({ error: 'UNAUTHORIZED', message: 'missing or wrong token: send Authorization: Bearer <admin token or CONSENTRY_METRICS_TOKEN>' });
    }
    return undefined;
  };
  // Checked on request, before any body is read.
  app.get('/metrics', { onRequest: authorized }, async (_req, reply) => reply.type(opts.registry.contentType).send(await opts.registry.metrics()));
}
