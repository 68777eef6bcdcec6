// Ingest, query and operator keys: 192 random bits, shown once, stored as SHA-256. A
// salted slow hash buys nothing for keys of this entropy and would cost every
// ingest request a hash far slower than the lookup itself.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type KeyKind = 'ingest' | 'query' | 'operator';

const PREFIX: Record<KeyKind, string> = { ingest: 'csk_ingest_', query: 'csk_query_', operator: 'csk_op_' };

export function newKey(kind: KeyKind): string {
  return PREFIX[kind] + randomBytes(24).toString('base64url');
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Constant-time comparison of a presented secret with the expected one. */
export function secretEquals(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * The token of an `Authorization: Bearer <token>` header, or undefined. Also
 * `Bearer%20<token>`: OTEL_EXPORTER_OTLP_HEADERS is a list of URL-encoded
 * values (`Authorization=Bearer%20<key>`), and some senders (LiteLLM's otel
 * callback) send the value without decoding it. Keys never contain `%`.
 */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer(?:[ \t]+|%20)(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}
