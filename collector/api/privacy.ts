// Rights of end users and tenants (permission in brackets, access.ts):
//   DELETE /api/tenants/:id/subjects/:subject   erase one end user (user.id) [erasure]
//   DELETE /api/tenants/:id                     erase a tenant: keys, tier, every row [tenants:write]
//   GET    /api/tenants/:id/subjects/:subject/export   NDJSON of the end user's rows [export]
//   GET    /api/tenants/:id/export              NDJSON of every row of the tenant [export]
//   GET    /api/tenants/:id/erasures            the erasure audit of the tenant [read]
// The DELETEs take an optional `reason`; the audit names the signed-in
// operator. See collector/analytics/{erasure,export,tombstones}.ts, docs/privacy.md.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ClickHouseClient } from '@clickhouse/client';
import type { TenantStore } from '../../control/tenant-store.ts';
import { Eraser } from '../analytics/erasure.ts';
import { exportLines } from '../analytics/export.ts';
import type { ErasureTombstones } from '../../control/tombstones.ts';
import { ApiError } from './errors.ts';
import { principalOf } from './access.ts';
import type { RetentionView } from '../../processors/tiers/config.ts';

export interface PrivacyDeps {
  client: ClickHouseClient;
  tenants: TenantStore;
  tombstones: ErasureTombstones;
  /** Removes the tenant's tier assignment from memory (TierRegistry.forget). */
  forgetTier(tenantId: string): void;
  /** Waits for rows already past the writer's check to be inserted (the sink's drain). */
  drain?: () => Promise<void>;
  /** See ErasureOptions.settleMs. */
  settleMs?: number;
  /** How long the tenant's current tier keeps rows and content, for the export's end line. */
  retentionOf?(tenantId: string): RetentionView | undefined;
}

/** Characters (Unicode code points) of a user id; the API's router lets 2048 UTF-16 units through (app.ts), more get 414. */
const MAX_SUBJECT = 1024;
/** Query parameters of the DELETEs. Who asked is the signed-in operator, never a parameter. */
const AuditQuery = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false });
type Audit = { Querystring: Static<typeof AuditQuery> };

export function privacyRoutes(deps: PrivacyDeps) {
  const eraser = new Eraser({ client: deps.client, tombstones: deps.tombstones, drain: deps.drain, settleMs: deps.settleMs });
  const tenantOr404 = (id: string) => {
    if (deps.tenants.get(id) === undefined) throw new ApiError('TENANT_NOT_FOUND', `no tenant "${id}": list tenants with GET /api/tenants`);
  };
  const subjectOk = (s: string) => {
    if (s === '' || [...s].length > MAX_SUBJECT) throw new ApiError('BAD_REQUEST', `subject: must be the user.id, 1 to ${MAX_SUBJECT} characters (URL-encoded)`);
  };
  const trailerOf = (id: string) => {
    const retention = deps.retentionOf?.(id);
    return retention === undefined ? undefined : { retention };
  };
  const auditOf = (req: FastifyRequest<Audit>) => ({ actor: principalOf(req).name, reason: req.query.reason ?? '' });
  const ndjson = (reply: FastifyReply, name: string, lines: AsyncGenerator<string>) =>
    reply
      .type('application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="${name}.ndjson"`)
      .send(Readable.from(lines, { objectMode: false }));

  return (app: FastifyInstance): void => {
    app.delete<{ Params: { id: string; subject: string } } & Audit>('/tenants/:id/subjects/:subject', { config: { access: 'erasure' }, schema: { querystring: AuditQuery } }, async (req) => {
      const { id, subject } = req.params;
      tenantOr404(id);
      subjectOk(subject);
      return eraser.eraseSubject(id, subject, auditOf(req));
    });

    app.delete<{ Params: { id: string } } & Audit>('/tenants/:id', { config: { access: 'tenants:write' }, schema: { querystring: AuditQuery } }, async (req) => {
      const { id } = req.params;
      tenantOr404(id);
      const report = await eraser.eraseTenant(id, auditOf(req), async () => {
        await deps.tenants.delete(id);
        deps.forgetTier(id);
      });
      return {
        ...report,
        keysRevoked: true,
        remains: [
          'consentry.erasures: the audit of this erasure (who, when, rows per table)',
          'consentry.erasure_tombstones: the tenant id and erasure time, 90 days, to drop data still in flight',
          'Kafka topics (with CONSENTRY_KAFKA_BROKERS): records received before the erasure, until the topic retention; never written again',
        ],
      };
    });

    app.get<{ Params: { id: string; subject: string } }>('/tenants/:id/subjects/:subject/export', { config: { access: 'export' } }, async (req, reply) => {
      const { id, subject } = req.params;
      tenantOr404(id);
      subjectOk(subject);
      return ndjson(reply, `${id}-subject-export`, exportLines({ client: deps.client, tenantId: id, subject, trailer: trailerOf(id) }));
    });

    app.get<{ Params: { id: string } }>('/tenants/:id/export', { config: { access: 'export' } }, async (req, reply) => {
      tenantOr404(req.params.id);
      return ndjson(reply, `${req.params.id}-export`, exportLines({ client: deps.client, tenantId: req.params.id, trailer: trailerOf(req.params.id) }));
    });

    app.get<{ Params: { id: string } }>('/tenants/:id/erasures', { config: { access: 'read' } }, async (req) => {
      return { erasures: await eraser.auditOf(req.params.id) };
    });
  };
}
