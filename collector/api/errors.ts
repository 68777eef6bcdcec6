// Every error the management API answers with: a stable code, an HTTP status
// and a message that says what to do. README's error table is checked against
// this list by a test.
export const API_ERRORS = {
  UNAUTHORIZED: { status: 401, message: 'missing or wrong token: send Authorization: Bearer <admin token>' },
  BAD_REQUEST: { status: 400, message: 'invalid request' },
  TENANT_EXISTS: { status: 409, message: 'a tenant with this id exists already: pick another id' },
  TENANT_NOT_FOUND: { status: 404, message: 'no such tenant: list tenants with GET /api/tenants' },
  UNKNOWN_TIER: { status: 400, message: 'unknown tier: list tiers with GET /api/tiers' },
  NOT_FOUND: { status: 404, message: 'no such endpoint' },
  UNAVAILABLE: { status: 503, message: 'storage unavailable, retry later' },
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
