// client-network: keeps, truncates or drops the client's network address and
// the proxy headers that carry it.
//
// truncate: IPv4 to its /24 (`a.b.c.0`), IPv6 to its /48 (first three hextets,
// then `::`, RFC 5952 form: `2001:db8:0::` is written `2001:db8::`); IPv4-mapped
// IPv6 (`::ffff:a.b.c.d`) as IPv4. Ports, zones and brackets are removed. Fails
// closed: a value that is not an IP address (a host name, garbage) is dropped,
// except the literal `unknown` that RFC 7239 and X-Forwarded-For use as a
// placeholder. A list whose entries are all dropped drops the attribute.
//
// Header attributes may be string arrays serialized as JSON (`["a, b"]`, OTel
// semantic conventions: http.request.header.<name> is string[]); each element
// is handled as a comma-separated list and the result stays a JSON array.
import { isIP } from 'node:net';
import { Type } from '@sinclair/typebox';
import type { Attributes, LogRecord, SpanRecord } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';

const mode = (options: { default?: string; description: string }) =>
  Type.Union([Type.Literal('keep'), Type.Literal('truncate'), Type.Literal('drop')], options);

/** Single addresses of the client (or of the immediate peer). */
export const CLIENT_ADDRESS_KEYS = ['client.address', 'network.peer.address', 'http.client_ip'];
/** Proxy headers: lists of addresses (X-Forwarded-For, X-Real-IP) and RFC 7239 Forwarded. */
export const FORWARDED_KEYS = [
  'http.request.header.x-forwarded-for',
  'http.request.header.x-real-ip',
  'http.request.header.forwarded',
];
const FORWARDED_HEADER = 'http.request.header.forwarded';

export const clientNetworkSchema = Type.Object(
  {
    clientAddress: Type.Optional(
      mode({
        default: 'drop',
        description: `keep | truncate (IPv4 /24, IPv6 /48) | drop, for ${CLIENT_ADDRESS_KEYS.join(', ')}. Default drop.`,
      }),
    ),
    forwardedFor: Type.Optional(
      mode({
        description: `keep | truncate | drop, for ${FORWARDED_KEYS.join(', ')} (every address in the list). Default: the clientAddress mode.`,
      }),
    ),
  },
  { additionalProperties: false },
);

type ModeName = 'keep' | 'truncate' | 'drop';

export const clientNetwork = defineProcessor({
  name: 'client-network',
  description: 'keeps, truncates (IPv4 /24, IPv6 /48) or drops client addresses and X-Forwarded-For',
  schema: clientNetworkSchema,
  create(config, env) {
    const clientMode: ModeName = config.clientAddress ?? 'drop';
    const forwardedMode: ModeName = config.forwardedFor ?? clientMode;
    // Per key: undefined drops; otherwise the truncating function.
    type Truncate = ((value: string, n: Counts) => string | undefined) | undefined;
    const rules: [key: string, truncate: Truncate][] = [];
    const truncateOf = (m: ModeName, f: NonNullable<Truncate>): Truncate => (m === 'truncate' ? f : undefined);
    if (clientMode !== 'keep') for (const k of CLIENT_ADDRESS_KEYS) rules.push([k, truncateOf(clientMode, truncateSingle)]);
    if (forwardedMode !== 'keep') {
      for (const k of FORWARDED_KEYS) {
        const f = k === FORWARDED_HEADER ? truncateForwarded : truncateList;
        rules.push([k, truncateOf(forwardedMode, (v, n) => mapHeaderValues(v, (e) => f(e, n)))]);
      }
    }

    return (batch) => {
      if (rules.length === 0) return batch;
      const n: Counts = { removed: 0, truncated: 0, invalid: 0 };

      const apply = (attrs: Attributes): Attributes => {
        let out: Attributes | undefined;
        for (const [key, truncate] of rules) {
          const value = attrs[key];
          if (value === undefined) continue;
          const next = truncate === undefined ? undefined : truncate(value, n);
          if (next === value) continue;
          out ??= { ...attrs };
          if (next === undefined) {
            delete out[key];
            n.removed++;
          } else {
            out[key] = next;
          }
        }
        return out ?? attrs;
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
      if (n.removed > 0) env.count('client-network.removed', n.removed);
      if (n.truncated > 0) env.count('client-network.truncated', n.truncated);
      if (n.invalid > 0) env.count('client-network.invalid', n.invalid);
      return out;
    };
  },
});

interface Counts {
  /** Attributes removed. */
  removed: number;
  /** Addresses truncated. */
  truncated: number;
  /** Entries dropped under truncate because they were not IP addresses. */
  invalid: number;
}

function truncateSingle(value: string, n: Counts): string | undefined {
  const t = truncateAddress(value);
  if (t === undefined) n.invalid++;
  else n.truncated++;
  return t;
}

/** X-Forwarded-For / X-Real-IP: comma-separated addresses. */
function truncateList(value: string, n: Counts): string | undefined {
  const out: string[] = [];
  for (const raw of value.split(',')) {
    const token = raw.trim();
    if (token.toLowerCase() === 'unknown') {
      out.push('unknown');
      continue;
    }
    const t = truncateSingle(token, n);
    if (t !== undefined) out.push(t);
  }
  return out.length === 0 ? undefined : out.join(', ');
}

/**
 * RFC 7239 Forwarded: `for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8::17]:4711"`.
 * Keeps `for` and `by` (truncated; `unknown` kept, obfuscated `_ids` dropped) and
 * `proto`; drops `host` and extensions (fail closed). Elements left empty are dropped.
 */
function truncateForwarded(value: string, n: Counts): string | undefined {
  const elements: string[] = [];
  for (const element of value.split(',')) {
    const pairs: string[] = [];
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      const name = pair.slice(0, eq).trim().toLowerCase();
      let v = pair.slice(eq + 1).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      if (name === 'for' || name === 'by') {
        if (v.toLowerCase() === 'unknown') {
          pairs.push(`${name}=unknown`);
          continue;
        }
        const t = truncateSingle(v, n);
        if (t !== undefined) pairs.push(t.includes(':') ? `${name}="[${t}]"` : `${name}=${t}`);
      } else if (name === 'proto' && /^[a-z][a-z0-9+.-]{0,15}$/i.test(v)) {
        pairs.push(`proto=${v.toLowerCase()}`);
      }
    }
    if (pairs.length > 0) elements.push(pairs.join(';'));
  }
  return elements.length === 0 ? undefined : elements.join(', ');
}

/**
 * Applies `f` to a header value, or to each element when the value is a JSON
 * array of strings; elements mapped to undefined are removed. Returns the input
 * string itself when nothing changed.
 */
function mapHeaderValues(value: string, f: (v: string) => string | undefined): string | undefined {
  if (value.startsWith('[') && value.endsWith(']')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined; // `[2001:db8::1]:443` and the like: a plain value
    }
    if (Array.isArray(parsed) && parsed.every((e): e is string => typeof e === 'string')) {
      const out: string[] = [];
      for (const e of parsed) {
        const t = f(e);
        if (t !== undefined) out.push(t);
      }
      return out.length === 0 ? undefined : JSON.stringify(out);
    }
  }
  return f(value);
}

/**
 * `a.b.c.0` for IPv4, `h0:h1:h2::` (RFC 5952) for IPv6, undefined when the
 * value is not an IP address. Accepts `[v6]`, `[v6]:port`, `v4:port`, `v6%zone`.
 */
export function truncateAddress(raw: string): string | undefined {
  let v = raw.trim();
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end < 0) return undefined;
    const rest = v.slice(end + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    v = v.slice(1, end);
    if (!v.includes(':')) return undefined; // brackets are for IPv6 only
  } else if (isIP(v) === 0) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(v);
    if (m !== null) v = m[1]!;
  }
  const zone = v.indexOf('%');
  if (zone >= 0 && v.includes(':')) v = v.slice(0, zone);
  switch (isIP(v)) {
    case 4:
      return `${v.slice(0, v.lastIndexOf('.'))}.0`;
    case 6: {
      const h = ipv6Hextets(v);
      if (h === undefined) return undefined;
      if (h[0] === 0 && h[1] === 0 && h[2] === 0 && h[3] === 0 && h[4] === 0 && h[5] === 0xffff) {
        return `${h[6]! >> 8}.${h[6]! & 0xff}.${h[7]! >> 8}.0`;
      }
      const head = h.slice(0, 3);
      while (head.length > 0 && head[head.length - 1] === 0) head.pop();
      return `${head.map((x) => x.toString(16)).join(':')}::`;
    }
    default:
      return undefined;
  }
}

/** The eight 16-bit groups of an IPv6 address already accepted by isIP. */
function ipv6Hextets(v: string): number[] | undefined {
  const parseGroups = (part: string): number[] => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a, b, c, d] = g.split('.').map(Number);
        groups.push(((a ?? 0) << 8) | (b ?? 0), ((c ?? 0) << 8) | (d ?? 0));
      } else {
        groups.push(parseInt(g, 16));
      }
    }
    return groups;
  };
  const gap = v.indexOf('::');
  let groups: number[];
  if (gap < 0) {
    groups = parseGroups(v);
  } else {
    const head = parseGroups(v.slice(0, gap));
    const tail = parseGroups(v.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}
