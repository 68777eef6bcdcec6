// Rights of end users and tenants (admin token):
//   DELETE /api/tenants/:id/subjects/:subject   erase one end user (user.id)
//   DELETE /api/tenants/:id                     erase a tenant: keys, tier, every row
//   GET    /api/tenants/:id/subjects/:subject/export   NDJSON of the end user's rows
//   GET    /api/tenants/:id/export              NDJSON of every row of the tenant
//   GET    /api/tenants/:id/erasures            the erasure audit of the tenant
// Optional query parameters of the DELETEs: actor (who asked, default "admin"),
// reason. See collector/analytics/{erasure,export,tombstones}.ts, docs/privacy.md.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ClickHouseClient } from '@clickhouse/client';
import type { TenantStore } from '../../control/tenant-store.ts';
import { Eraser } from '../analytics/erasure.ts';
import { exportLines } from '../analytics/export.ts';
import type { ErasureTombstones } from '../../control/tombstones.ts';
import { ApiError } from './errors.ts';
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
type Audit = { Querystring: { actor?: string; reason?: string } };

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
  const auditOf = (q: Audit['Querystring']) => ({ actor: (q.actor ?? 'admin').slice(0, 200), reason: (q.reason ?? '').slice(0, 1000) });
  const ndjson = (reply: import('fastify').FastifyReply, name: string, lines: AsyncGenerator<string>) =>
    reply
      .type('application/x-ndjson; charset=utf-8')
      .header('content-disposition', `attachment; filename="${name}.ndjson"`)
      .send(Readable.from(lines, { objectMode: false }));

  return (app: FastifyInstance): void => {
    app.delete<{ Params: { id: string; subject: string } } & Audit>('/tenants/:id/subjects/:subject', async (req) => {
      const { id, subject } = req.params;
      tenantOr404(id);
      subjectOk(subject);
      return eraser.eraseSubject(id, subject, auditOf(req.query));
    });

    app.delete<{ Params: { id: string } } & Audit>('/tenants/:id', async (req) => {
      const { id } = req.params;
      tenantOr404(id);
      const report = await eraser.eraseTenant(id, auditOf(req.query), async () => {
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

    app.get<{ Params: { id: string; subject: string } }>('/tenants/:id/subjects/:subject/export', async (req, reply) => {
      const { id, subject } = req.params;
      tenantOr404(id);
      subjectOk(subject);
      return ndjson(reply, `${id}-subject-export`, exportLines({ client: deps.client, tenantId: id, subject, trailer: trailerOf(id) }));
    });

    app.get<{ Params: { id: string } }>('/tenants/:id/export', async (req, reply) => {
      tenantOr404(req.params.id);
      return ndjson(reply, `${req.params.id}-export`, exportLines({ client: deps.client, tenantId: req.params.id, trailer: trailerOf(req.params.id) }));
    });

    app.get<{ Params: { id: string } }>('/tenants/:id/erasures', async (req) => {
      return { erasures: await eraser.auditOf(req.params.id) };
    });
  };
}
