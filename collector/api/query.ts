// POST /api/query {"sql"} with `Authorization: Bearer <tenant query key>`:
// the tenant's SQL over its own rows (collector/analytics/tenant-query.ts).
// Answer by Accept: application/json (default) {"columns":[{"name","type"}],"rows":[[...]]},
// application/x-ndjson one JSON object per row, text/csv with a header line.
// Queries are admitted by a QueryGate (per tenant and in total); more are
// answered 429 QUERY_BUSY + Retry-After at once. A query whose client goes
// away before the answer is cancelled in the engine. The route declares access
// `query-key` (access.ts): it checks the tenant's query key itself.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { bearerToken } from '../../core/keys.ts';
import type { TenantStore } from '../../control/tenant-store.ts';
import type { QueryFailure, QueryFormat, QueryResult, TenantQueryEngine } from '../analytics/tenant-query.ts';
import type { QueryGate } from '../analytics/query-gate.ts';
import { ApiError, type ApiErrorCode } from './errors.ts';

const QueryBody = Type.Object({ sql: Type.String({ minLength: 1, maxLength: 1 << 20 }) }, { additionalProperties: false });

/** The format asked for by an Accept header; undefined when none of ours is acceptable. */
export function formatOf(accept: string | undefined): QueryFormat | undefined {
  if (accept === undefined || accept.trim() === '') return 'json';
  const types = accept.split(',').map((p) => (p.split(';')[0] ?? '').trim().toLowerCase());
  for (const t of types) {
    if (t === 'application/x-ndjson' || t === 'application/jsonl' || t === 'application/ndjson') return 'ndjson';
    if (t === 'text/csv') return 'csv';
    if (t === 'application/json' || t === 'application/*' || t === '*/*') return 'json';
  }
  return undefined;
}

const FAILURE_CODES: Record<QueryFailure['kind'], ApiErrorCode> = {
  rejected: 'QUERY_REJECTED',
  invalid: 'QUERY_FAILED',
  limit: 'QUERY_LIMIT',
  unavailable: 'UNAVAILABLE',
  cancelled: 'QUERY_FAILED', // nobody reads it: the client is gone
};

export interface QueryRouteDeps {
  tenants: TenantStore;
  engine: Pick<TenantQueryEngine, 'run' | 'close'>;
  /** Queries running at once, per tenant and in all. */
  gate: QueryGate;
  /** Each query's outcome (`ok`, a failure kind, `busy`, or `error` when the engine threw) and duration, for metrics. */
  onQuery?: (tenantId: string, outcome: string, seconds: number) => void;
}

export function queryRoutes(deps: QueryRouteDeps) {
  const tenantOf = new WeakMap<FastifyRequest, string>();
  // The query key is checked before the body is read (an unauthenticated body is never read).
  const authenticate = async (req: FastifyRequest): Promise<void> => {
    const key = bearerToken(req.headers.authorization);
    const tenantId = key === undefined ? undefined : deps.tenants.tenantOfQueryKey(key);
    if (tenantId === undefined) throw new ApiError('UNAUTHORIZED', 'missing or wrong query key: send Authorization: Bearer <tenant query key>');
    tenantOf.set(req, tenantId);
  };
  return (app: FastifyInstance): void => {
    app.addHook('onClose', async () => deps.engine.close());
    app.post<{ Body: Static<typeof QueryBody> }>('/query', { config: { access: 'query-key' }, schema: { body: QueryBody }, onRequest: authenticate }, async (req, reply) => {
      const tenantId = tenantOf.get(req)!;
      const format = formatOf(req.headers.accept);
      if (format === undefined) throw new ApiError('NOT_ACCEPTABLE');
      const slot = deps.gate.admit(tenantId);
      if (!slot.ok) {
        deps.onQuery?.(tenantId, 'busy', 0);
        throw new ApiError('QUERY_BUSY', slot.message);
      }
      // The response closing before it was sent: the client went away.
      const gone = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) gone.abort();
      };
      reply.raw.once('close', onClose);
      const started = performance.now();
      let result: QueryResult;
      try {
        result = await deps.engine.run(tenantId, req.body.sql, format, { signal: gone.signal });
      } catch (err) {
        deps.onQuery?.(tenantId, 'error', (performance.now() - started) / 1000);
        throw err;
      } finally {
        slot.release();
        reply.raw.off('close', onClose);
      }
      deps.onQuery?.(tenantId, result.ok ? 'ok' : result.failure.kind, (performance.now() - started) / 1000);
      if (!result.ok) throw new ApiError(FAILURE_CODES[result.failure.kind], result.failure.message);
      return reply.type(result.contentType).header('x-consentry-rows', String(result.rows)).send(result.body);
    });
  };
}
