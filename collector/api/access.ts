// Who may call what on the management API, decided in one place.
//
// Every route under /api declares what it needs in its options,
// `config: { access: 'tiers:write' }`: a permission, or `query-key` for a route
// that authenticates a tenant's query key itself (POST /api/query). A route
// without a declaration stops the start (onRoute), so nothing is reachable by
// accident. One onRequest hook, before any body is read, finds the operator of
// the bearer token (the bootstrap admin token acts as the admin `admin`) and
// answers 401 without a valid token, 403 when the operator's role lacks the
// permission. Handlers read the operator with principalOf(req): the audit names
// who did it, never a name the client sent.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerToken } from '../../core/keys.ts';
import { ROLES, type Principal, type Role } from '../../control/operator-store.ts';
import { ApiError } from './errors.ts';

export const PERMISSIONS = ['read', 'tenants:write', 'tiers:write', 'erasure', 'export', 'operators'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** What each permission allows, for messages and the README. */
export const PERMISSION_TEXT: Record<Permission, string> = {
  read: 'read tenants, tiers, dashboards, requests and audits',
  'tenants:write': 'create and delete tenants',
  'tiers:write': 'switch tiers',
  erasure: 'erase end users',
  export: 'export stored data',
  operators: 'create, list and revoke operators',
};

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  operator: ['read', 'tenants:write', 'tiers:write'],
  privacy: ['read', 'erasure', 'export'],
  viewer: ['read'],
};

/** What a route needs: a permission, or `query-key` (it checks a tenant's query key itself). */
export type Access = Permission | 'query-key';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}

export interface RouteAccess {
  method: string;
  url: string;
  access: Access;
}

const tables = new WeakMap<FastifyInstance, RouteAccess[]>();
const principals = new WeakMap<FastifyRequest, Principal>();

/** Every route under the prefix with its declared access (HEAD twins left out), in registration order. */
export function routeTable(app: FastifyInstance): RouteAccess[] {
  return [...(tables.get(app) ?? [])];
}

/** The operator of an authenticated request; only on routes that declare a permission. */
export function principalOf(req: FastifyRequest): Principal {
  const p = principals.get(req);
  if (p === undefined) throw new Error(`no operator on ${req.method} ${req.url}: the route does not declare a permission`);
  return p;
}

/** The permissions table of the README (test/docs/readme.test.ts checks it is there as printed). */
export function rolesMarkdown(): string {
  const lines = [`| permission | allows | ${ROLES.join(' | ')} |`, `|---|---|${ROLES.map(() => '---|').join('')}`];
  for (const p of PERMISSIONS) lines.push(`| \`${p}\` | ${PERMISSION_TEXT[p]} | ${ROLES.map((r) => (permitted(r, p) ? 'yes' : '')).join(' | ')} |`);
  return lines.join('\n');
}

export function permitted(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

export interface AccessOptions {
  /** Routes under it must declare access (`/api`). */
  prefix: string;
  /** The operator of a bearer token, or undefined. */
  authenticate(token: string): Principal | undefined;
}

/** Registers the declaration check and the hook on `app` (the root instance, before any route). */
export function enforceAccess(app: FastifyInstance, opts: AccessOptions): void {
  const table: RouteAccess[] = [];
  tables.set(app, table);
  const under = (url: string) => url === opts.prefix || url.startsWith(`${opts.prefix}/`);
  app.addHook('onRoute', (route) => {
    if (!under(route.url)) return;
    const access = route.config?.access;
    const methods = [route.method].flat();
    if (access === undefined) throw new Error(`${methods.join(',')} ${route.url}: declare who may call it (config.access: one of ${PERMISSIONS.join(', ')}, or query-key)`);
    for (const method of methods) if (method !== 'HEAD') table.push({ method, url: route.url, access });
  });
  app.addHook('onRequest', (req, _reply, done) => {
    const access = req.routeOptions.config.access;
    if (access === undefined || access === 'query-key') return done();
    const token = bearerToken(req.headers.authorization);
    const who = token === undefined ? undefined : opts.authenticate(token);
    if (who === undefined) return done(new ApiError('UNAUTHORIZED'));
    if (!permitted(who.role, access)) {
      const roles = ROLES.filter((r) => permitted(r, access)).join(', ');
      return done(new ApiError('FORBIDDEN', `operator "${who.name}" (role ${who.role}) may not ${PERMISSION_TEXT[access]}: that needs one of the roles ${roles}; ask an admin`));
    }
    principals.set(req, who);
    done();
  });
}
