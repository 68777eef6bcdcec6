// hash-api-keys: keeps a keyed hash of the API key a request carried, so usage
// per key stays countable without storing the key (DESIGN.md, Tiers).
//
// For the first configured header present as `http.request.header.<name>`,
// sets `<attribute>` = the first 32 hex characters of
// HMAC-SHA256(env.hmacKey, token) and `<attribute>.header` = <name>. The token is
// the header value without a `Bearer ` / `Basic ` scheme prefix, so the same key
// sent either way hashes alike.
//
// It does NOT remove or alter the header: the secret scrubber, which the tier
// engine runs right after this processor, redacts it. This processor must
// therefore run before the scrubber (it needs the raw value); the tier engine
// orders it (processors/tiers/engine.ts).
import { createHmac } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { Attributes, LogRecord, SpanRecord } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';

/**
 * Request headers that carry API keys: Authorization (OpenAI, most providers),
 * x-api-key (Anthropic, AWS API Gateway), api-key (Azure OpenAI),
 * Proxy-Authorization, x-goog-api-key (Google Gemini).
 */
export const DEFAULT_API_KEY_HEADERS = ['authorization', 'x-api-key', 'api-key', 'proxy-authorization', 'x-goog-api-key'];
export const DEFAULT_HASH_ATTRIBUTE = 'gateway.api_key.hash';
const HEADER_PREFIX = 'http.request.header.';
const HEX_CHARS = 32;

export const hashApiKeysSchema = Type.Object(
  {
    headers: Type.Optional(
      Type.Array(Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" }), {
        uniqueItems: true,
        description:
          'Request header names (matched lower-cased), in priority order: the first present is hashed. Default: authorization, x-api-key, api-key, proxy-authorization, x-goog-api-key; empty: nothing is hashed.',
      }),
    ),
    attribute: Type.Optional(
      Type.String({
        minLength: 1,
        default: DEFAULT_HASH_ATTRIBUTE,
        description: 'Attribute receiving the hash (32 hex characters); `<attribute>.header` names the header. Default gateway.api_key.hash.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const hashApiKeys = defineProcessor({
  name: 'hash-api-keys',
  description: 'adds an HMAC of the API key found in request headers, so usage per key stays countable',
  schema: hashApiKeysSchema,
  create(config, env) {
    const headers = [...new Set((config.headers ?? DEFAULT_API_KEY_HEADERS).map((h) => h.toLowerCase()))].map((name) => ({
      name,
      key: HEADER_PREFIX + name,
    }));
    const attribute = config.attribute ?? DEFAULT_HASH_ATTRIBUTE;
    const headerAttribute = `${attribute}.header`;
    const hmacKey = env.hmacKey;
    // A missing or truncated <data>/hmac-key would make the hash a plain digest
    // that anyone can compute from a leaked key list: refuse to start.
    if (hmacKey.length < 16) throw new Error('hash-api-keys: the HMAC key must be at least 16 bytes; check <data>/hmac-key');

    return (batch) => {
      if (headers.length === 0) return batch;
      let hashed = 0;
      // One request batch usually repeats one key: hash each token once per call.
      const hashes = new Map<string, string>();
      const apply = (attrs: Attributes): Attributes => {
        for (const { name, key } of headers) {
          const value = attrs[key];
          if (value === undefined) continue;
          const token = tokenOf(value);
          if (token === '') continue;
          hashed++;
          let hash = hashes.get(token);
          if (hash === undefined) {
            hash = createHmac('sha256', hmacKey).update(token, 'utf8').digest('hex').slice(0, HEX_CHARS);
            hashes.set(token, hash);
          }
          return { ...attrs, [attribute]: hash, [headerAttribute]: name };
        }
        return attrs;
      };
      const span = (s: SpanRecord): SpanRecord => {
        const attributes = apply(s.attributes);
        return attributes === s.attributes ? s : { ...s, attributes };
      };
      const log = (l: LogRecord): LogRecord => {
        const attributes = apply(l.attributes);
        return attributes === l.attributes ? l : { ...l, attributes };
      };
      const out = { ...batch, spans: batch.spans.map(span), logs: batch.logs.map(log) };
      if (hashed > 0) env.count('hash-api-keys.hashed', hashed);
      return out;
    };
  },
});

/**
 * The credential in a header value: without a `Bearer`/`Basic` scheme (any
 * case) and surrounding spaces. A JSON array of strings (header attributes are
 * string[] in the OTel semantic conventions) yields its first element.
 */
export function tokenOf(value: string): string {
  let v = value.trim();
  if (v.startsWith('[') && v.endsWith(']')) {
    try {
      const parsed: unknown = JSON.parse(v);
      if (Array.isArray(parsed)) v = typeof parsed[0] === 'string' ? parsed[0].trim() : '';
    } catch {
      // not JSON: a plain value
    }
  }
  const m = /^(?:bearer|basic)(?:\s+|$)/i.exec(v);
  return m === null ? v : v.slice(m[0].length).trim();
}
