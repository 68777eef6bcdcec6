// Named operators (admin only) and the signed-in operator:
//   POST   /api/operators {"name","role"}   201 with the token, shown once
//   GET    /api/operators                   the operators in force
//   DELETE /api/operators/:name             revokes one: its token is refused from then on
//   GET    /api/operators/audit             who created or revoked whom, when
//   GET    /api/session                     the operator of the token, its role and permissions (any role)
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { OPERATOR_NAME_PATTERN, ROLES, RESERVED_NAMES, type OperatorStore } from '../../control/operator-store.ts';
import { principalOf, ROLE_PERMISSIONS } from './access.ts';
import { ApiError } from './errors.ts';

const CreateOperator = Type.Object(
  {
    name: Type.String({ pattern: OPERATOR_NAME_PATTERN.source }),
    role: Type.Union(ROLES.map((r) => Type.Literal(r))),
  },
  { additionalProperties: false },
);

export function operatorRoutes(deps: { operators: OperatorStore }) {
  const { operators } = deps;
  return (app: FastifyInstance): void => {
    app.get('/session', { config: { access: 'read' } }, (req, reply) => {
      const who = principalOf(req);
      return reply.send({ name: who.name, role: who.role, permissions: ROLE_PERMISSIONS[who.role] });
    });

    app.get('/operators', { config: { access: 'operators' } }, (_req, reply) => reply.send({ operators: operators.list() }));

    app.get('/operators/audit', { config: { access: 'operators' } }, async () => ({ audit: await operators.audit() }));

    app.post<{ Body: Static<typeof CreateOperator> }>('/operators', { config: { access: 'operators' }, schema: { body: CreateOperator } }, async (req, reply) => {
      const { name, role } = req.body;
      const created = await operators.create(name, role, principalOf(req));
      if (!created.ok) {
        if (created.reason === 'reserved') throw new ApiError('OPERATOR_EXISTS', `"${name}" is reserved (${[...RESERVED_NAMES].join(', ')}): pick another name`);
        throw new ApiError('OPERATOR_EXISTS', `an operator named "${name}" exists or existed (names are never reused, so the audit stays unambiguous): pick another name`);
      }
      return reply.code(201).send({ ...created.operator, token: created.token });
    });

    app.delete<{ Params: { name: string } }>('/operators/:name', { config: { access: 'operators' } }, async (req) => {
      const { name } = req.params;
      if (name === 'admin') throw new ApiError('BAD_REQUEST', '"admin" is the bootstrap admin token, not an operator: replace CONSENTRY_ADMIN_TOKEN (or <data>/admin-token) and restart to change it');
      if (!(await operators.revoke(name, principalOf(req)))) throw new ApiError('OPERATOR_NOT_FOUND', `no operator "${name}": list operators with GET /api/operators`);
      return { name, revoked: true };
    });
  };
}
