// The request explorer's routes (any role may read; collector/analytics/explorer.ts):
//   GET /api/tenants/:id/requests?from&to&model&status&route&user&limit&cursor
//       a page of requests, newest first; `next` is the cursor of the older page
//   GET /api/tenants/:id/requests/:traceId/:spanId
//       one request as stored, the other spans of its trace, the trace's logs
//   GET /api/tenants/:id/end-users?from&to&limit
//       requests, LLM calls and tokens per end user (`user.id`)
//
// `requestData` says what the tenant's tier keeps, as the dashboard does:
// a tier that keeps no individual requests answers why (by consent) instead of
// an empty list that would read as "no traffic"; requests stored under an
// earlier tier are still listed. `userData` says whether the tier keeps
// `user.id`.
import type { FastifyInstance } from 'fastify';
import type { ClickHouseClient } from '@clickhouse/client';
import { Type, type Static } from '@sinclair/typebox';
import type { TierEngine } from '../../processors/tiers/engine.ts';
import type { TenantStore } from '../../control/tenant-store.ts';
import { parseTimeMs } from '../analytics/dashboard.ts';
import { decodeCursor, endUserUsage, listRequests, MAX_RANGE_DAYS, MAX_USERS, openRequest, PAGE_SIZE, STATUS_FILTERS, type CostSql } from '../analytics/explorer.ts';
import { fromStorage, requestDataOf } from './dashboard.ts';
import { ApiError } from './errors.ts';

export interface ExplorerDeps {
  client: ClickHouseClient;
  tenants: TenantStore;
  engine: TierEngine;
  tierOf(tenantId: string): string;
  /** Whether a tier stores `user.id` on requests. */
  keepsUserId(tier: string): boolean;
  /** Cost of LLM calls, once issue 17's price table provides it. */
  cost?: CostSql;
  now?: () => number;
}

const text = (maxLength: number) => Type.Optional(Type.String({ minLength: 1, maxLength }));
const Range = { from: Type.Optional(Type.String()), to: Type.Optional(Type.String()) };
const ListQuery = Type.Object(
  {
    ...Range,
    model: text(1024),
    route: text(1024),
    user: text(1024),
    status: Type.Optional(Type.Union(STATUS_FILTERS.map((s) => Type.Literal(s)))),
    limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
    cursor: text(200),
  },
  { additionalProperties: false },
);
const UsersQuery = Type.Object({ ...Range, limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })) }, { additionalProperties: false });
const OpenParams = Type.Object({ id: Type.String(), traceId: Type.String({ pattern: '^[0-9a-f]{32}$' }), spanId: Type.String({ pattern: '^[0-9a-f]{16}$' }) });

const DAY_MS = 86_400_000;

export function explorerRoutes(deps: ExplorerDeps) {
  const now = deps.now ?? Date.now;
  const tenantOr404 = (id: string) => {
    if (deps.tenants.get(id) === undefined) throw new ApiError('TENANT_NOT_FOUND', `no tenant "${id}": list tenants with GET /api/tenants`);
  };
  /** [from, to) in Unix ns; default the last 24 hours. */
  const rangeOf = (q: { from?: string; to?: string }) => {
    const to = parseTimeMs(q.to, 'to', now());
    if (typeof to === 'string') throw new ApiError('BAD_REQUEST', to);
    const from = parseTimeMs(q.from, 'from', to - DAY_MS);
    if (typeof from === 'string') throw new ApiError('BAD_REQUEST', from);
    if (from >= to) throw new ApiError('BAD_REQUEST', 'from must be before to');
    if (to - from > MAX_RANGE_DAYS * DAY_MS) throw new ApiError('BAD_REQUEST', `the range is longer than ${MAX_RANGE_DAYS} days: narrow from and to`);
    return { from, to, fromNs: BigInt(from) * 1_000_000n, toNs: BigInt(to) * 1_000_000n };
  };
  const limitOf = (v: string | undefined, dflt: number, max: number) => {
    const n = v === undefined ? dflt : Number(v);
    if (n < 1 || n > max) throw new ApiError('BAD_REQUEST', `limit: ${v} is not between 1 and ${max}`);
    return n;
  };
  /** What the tenant's tier keeps, and why not when it keeps nothing per request. */
  const headOf = (id: string, range: { from: number; to: number }) => {
    const tier = deps.tierOf(id);
    const requestData = requestDataOf(deps.engine.get(tier)?.config.level);
    const userData = requestData === 'per-request' && deps.keepsUserId(tier) ? 'kept' : 'none-by-consent';
    return { tenant: id, tier, requestData, userData, from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() };
  };
  const consentMessage = (head: ReturnType<typeof headOf>, found: number) => {
    if (head.requestData === 'per-request') return {};
    const what = head.requestData === 'aggregates' ? 'per-minute aggregates only' : 'no request data';
    const message = `tier "${head.tier}" keeps ${what}, no individual requests, by consent: an empty list here is not the same as no traffic`;
    return { message: found === 0 ? message : `${message}; the requests below were stored under an earlier tier` };
  };

  return (app: FastifyInstance): void => {
    app.get<{ Params: { id: string }; Querystring: Static<typeof ListQuery> }>('/tenants/:id/requests', { config: { access: 'read' }, schema: { querystring: ListQuery } }, async (req) => {
      const id = req.params.id;
      tenantOr404(id);
      const q = req.query;
      const range = rangeOf(q);
      const cursor = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
      if (q.cursor !== undefined && cursor === undefined) throw new ApiError('BAD_REQUEST', 'cursor: not a cursor of this API: pass the `next` of the previous page as it is');
      const limit = limitOf(q.limit, PAGE_SIZE.default, PAGE_SIZE.max);
      const page = await fromStorage(() =>
        listRequests({
          client: deps.client,
          tenantId: id,
          filter: { fromNs: range.fromNs, toNs: range.toNs, model: q.model, status: q.status, route: q.route, user: q.user },
          cursor,
          limit,
          cost: deps.cost,
        }),
      );
      const head = headOf(id, range);
      return { ...head, ...consentMessage(head, page.requests.length), ...page };
    });

    app.get<{ Params: Static<typeof OpenParams> }>('/tenants/:id/requests/:traceId/:spanId', { config: { access: 'read' }, schema: { params: OpenParams } }, async (req) => {
      const { id, traceId, spanId } = req.params;
      tenantOr404(id);
      const opened = await fromStorage(() => openRequest(deps.client, id, traceId, spanId));
      if (opened === undefined) throw new ApiError('REQUEST_NOT_FOUND', `tenant "${id}" has no stored span ${spanId} in trace ${traceId}: it may have expired or been erased`);
      return { tenant: id, ...opened };
    });

    app.get<{ Params: { id: string }; Querystring: Static<typeof UsersQuery> }>('/tenants/:id/end-users', { config: { access: 'read' }, schema: { querystring: UsersQuery } }, async (req) => {
      const id = req.params.id;
      tenantOr404(id);
      const range = rangeOf(req.query);
      const limit = limitOf(req.query.limit, 50, MAX_USERS);
      const usage = await fromStorage(() => endUserUsage({ client: deps.client, tenantId: id, fromNs: range.fromNs, toNs: range.toNs, limit, cost: deps.cost }));
      const head = headOf(id, range);
      const message =
        head.userData === 'kept'
          ? {}
          : { message: `tier "${head.tier}" keeps no end-user ids (user.id) by consent${usage.users.length > 0 ? '; the figures below were stored under an earlier tier' : ''}` };
      return { ...head, ...message, ...usage };
    });
  };
}
