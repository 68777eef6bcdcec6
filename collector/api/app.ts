// The management API: its own fastify instance on its own port, never the
// ingest port. Every route under /api declares who may call it (access.ts):
// an operator's token or the bootstrap admin token, checked against the
// route's permission; /metrics needs the admin token or the metrics token;
// /healthz and /readyz are open (they name no tenant).
import type { FastifyError, FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { Logger } from '../../core/logger.ts';
import { metricsRoute, type Metrics } from '../../core/metrics.ts';
import { VERSION } from '../../core/version.ts';
import { createHttpServer, type HttpLimits } from '../../core/http-server.ts';
import { secretEquals } from '../../core/keys.ts';
import { TENANT_ID_PATTERN, type TenantStore } from '../../control/tenant-store.ts';
import type { OperatorStore, Principal } from '../../control/operator-store.ts';
import { ApiError } from './errors.ts';
import { enforceAccess, principalOf } from './access.ts';
import { operatorRoutes } from './operators.ts';

export interface ApiDeps {
  /** The bootstrap admin token: acts as the admin named `admin`. */
  adminToken: string;
  operators: OperatorStore;
  /** Also reads /metrics; empty: none. */
  metricsToken: string;
  /** Timeouts of the port. */
  http: HttpLimits;
  tenants: TenantStore;
  metrics: Metrics;
  logger: Logger;
  /** Tier names a tenant may be given. */
  tierNames(): string[];
  defaultTier: string;
  /** Sets a new tenant's first tier (audited as made by `actor`). */
  assignInitialTier(tenantId: string, tier: string, actor: string): Promise<void>;
  tierOf(tenantId: string): string;
  /** ClickHouse reachable and migrated, transport connected. */
  ready(): Promise<{ ok: boolean; checks: Record<string, string> }>;
  /** Extra routes (tiers, query, dashboard, ...) registered by later stages. */
  routes?: Array<(app: FastifyInstance) => void>;
}

const CreateTenant = Type.Object(
  {
    id: Type.String({ pattern: TENANT_ID_PATTERN.source, description: 'lower-case letters, digits, - and _, 1-63 characters' }),
    tier: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export function buildApiApp(deps: ApiDeps): FastifyInstance {
  const app = createHttpServer(deps.http, {
    bodyLimit: 1 << 20,
    // End-user ids in paths (privacy.ts): 1024 characters, astral ones count twice here (UTF-16, after decoding).
    routerOptions: { maxParamLength: 2048 },
    // Unknown fields are an error, not silently removed.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
  });

  const bootstrapAdmin: Principal = { name: 'admin', role: 'admin' };
  enforceAccess(app, {
    prefix: '/api',
    authenticate: (token) => (secretEquals(token, deps.adminToken) ? bootstrapAdmin : deps.operators.operatorOfToken(token)),
  });

  app.setErrorHandler((err: FastifyError | ApiError, _req, reply) => {
    if (err instanceof ApiError) {
      // Busy or unavailable: a client that backs off as told will get through.
      if (err.status === 429 || err.status === 503) reply.header('retry-after', '1');
      return reply.code(err.status).send({ error: err.code, message: err.message });
    }
    if (err.validation) {
      const message = err.validation
        .map((v) => {
          const where = `${err.validationContext ?? 'body'}${v.instancePath.replace(/\//g, '.')}`;
          if (v.keyword === 'additionalProperties') return `${where}: unknown field "${String(v.params['additionalProperty'])}"`;
          if (v.keyword === 'required') return `${where}: missing field "${String(v.params['missingProperty'])}"`;
          if (v.keyword === 'pattern' && where.endsWith('.id')) return `${where}: must be lower-case letters, digits, - and _, 1-63 characters, starting with a letter or digit`;
          return `${where}: ${v.message ?? 'invalid'}`;
        })
        .join('; ');
      return reply.code(400).send({ error: 'BAD_REQUEST', message });
    }
    if (err.statusCode !== undefined && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: 'BAD_REQUEST', message: err.message });
    }
    deps.logger.error({ err }, 'management API request failed');
    return reply.code(500).send({ error: 'INTERNAL', message: 'internal error; see the collector log' });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = await deps.ready();
    return reply.code(r.ok ? 200 : 503).send({ status: r.ok ? 'ready' : 'not ready', version: VERSION, checks: r.checks });
  });
  metricsRoute(app, { registry: deps.metrics.registry, tokens: [deps.adminToken, deps.metricsToken] });

  app.register(
    async (api) => {
      api.get('/tiers', { config: { access: 'read' } }, async () => ({ tiers: deps.tierNames() }));

      api.get('/tenants', { config: { access: 'read' } }, async () => ({
        tenants: deps.tenants.list().map((t) => ({ ...t, tier: deps.tierOf(t.id) })),
      }));

      api.post<{ Body: Static<typeof CreateTenant> }>('/tenants', { config: { access: 'tenants:write' }, schema: { body: CreateTenant } }, async (req, reply) => {
        const { id } = req.body;
        const tier = req.body.tier ?? deps.defaultTier;
        if (!deps.tierNames().includes(tier)) throw new ApiError('UNKNOWN_TIER', `unknown tier "${tier}": one of ${deps.tierNames().join(', ')}`);
        if (deps.tenants.get(id) !== undefined) throw new ApiError('TENANT_EXISTS', `tenant "${id}" exists already: pick another id`);
        const created = await deps.tenants.create(id);
        await deps.assignInitialTier(id, tier, principalOf(req).name);
        return reply.code(201).send({ id, tier, ingestKey: created.ingestKey, queryKey: created.queryKey });
      });

      api.get<{ Params: { id: string } }>('/tenants/:id', { config: { access: 'read' } }, async (req) => {
        const t = deps.tenants.get(req.params.id);
        if (t === undefined) throw new ApiError('TENANT_NOT_FOUND', `no tenant "${req.params.id}": list tenants with GET /api/tenants`);
        return { ...t, tier: deps.tierOf(t.id) };
      });

      operatorRoutes({ operators: deps.operators })(api);
      for (const add of deps.routes ?? []) add(api);
    },
    { prefix: '/api' },
  );

  return app;
}
