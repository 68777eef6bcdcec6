// Every error the management API answers with: a stable code, an HTTP status
// and a message that says what to do. README's error table is checked against
// this list by a test.
export const API_ERRORS = {
  UNAUTHORIZED: { status: 401, message: 'missing, wrong or revoked token: send Authorization: Bearer <operator token or admin token>' },
  FORBIDDEN: { status: 403, message: "the operator's role does not allow this: ask an admin for a role that does" },
  BAD_REQUEST: { status: 400, message: 'invalid request' },
  TENANT_EXISTS: { status: 409, message: 'a tenant with this id exists already: pick another id' },
  TENANT_NOT_FOUND: { status: 404, message: 'no such tenant: list tenants with GET /api/tenants' },
  OPERATOR_EXISTS: { status: 409, message: 'an operator with this name exists or existed: names are never reused, pick another' },
  OPERATOR_NOT_FOUND: { status: 404, message: 'no such operator: list operators with GET /api/operators' },
  REQUEST_NOT_FOUND: { status: 404, message: 'no such request of this tenant: it may have expired or been erased' },
  UNKNOWN_TIER: { status: 400, message: 'unknown tier: list tiers with GET /api/tiers' },
  NOT_FOUND: { status: 404, message: 'no such endpoint' },
  UNAVAILABLE: { status: 503, message: 'storage unavailable, retry later' },
  TIER_SWITCH_PENDING: { status: 503, message: 'the new tier is in force, but data received before the switch may still be written under the old one: check the writers, then PUT again' },
  QUERY_REJECTED: { status: 400, message: 'the query is not allowed: send one SELECT over the tenant tables, without SETTINGS, FORMAT or table functions' },
  QUERY_FAILED: { status: 400, message: 'ClickHouse could not run the query: fix the SQL as the message says' },
  QUERY_LIMIT: { status: 422, message: 'the query exceeded a limit (time, result size or memory): filter, aggregate or add LIMIT' },
  QUERY_BUSY: { status: 429, message: 'too many queries are running (of this tenant, or in all): retry after the Retry-After seconds' },
  NOT_ACCEPTABLE: { status: 406, message: 'unsupported Accept: ask for application/json, application/x-ndjson or text/csv' },
} as const;

export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    detail?: string,
  ) {
    super(detail ?? API_ERRORS[code].message);
    this.status = API_ERRORS[code].status;
    this.name = 'ApiError';
  }
}
