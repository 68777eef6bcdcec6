// mask-pii: replaces personal data in free text with markers: e-mail addresses
// [EMAIL], phone numbers [PHONE], payment card numbers [CARD], IP addresses [IP].
//
// One combined regex pass per string, after a cheap pre-check (a digit or '@'):
// a string with no match comes back as the same instance, and a record with no
// change as the same record. Every alternative starts with a lookbehind boundary
// and uses bounded quantifiers only, so a long token (base64 in a body) is
// scanned once from its start, not from every position in it.
//
// Precision over recall where numbers are concerned: plain digit runs
// (timestamps, token counts, ids) never match a phone number (a phone needs a
// leading +, separators or parentheses); a card number needs 13-19 digits, a
// first digit 2-6 (the major networks' ranges, which excludes millisecond and
// nanosecond timestamps, starting with 1) and a valid Luhn check digit.
// IPv6 candidates are confirmed with node:net isIP; IPv6 text without any
// digit (`abcd::ef`) is not looked at (the pre-check).
//
// Applies to span attributes, span event attributes, log attributes and log
// bodies (`bodies`); not to resource or scope attributes (deployment identity,
// not end-user data), span names or status messages.
import { isIP } from 'node:net';
import { Type } from '@sinclair/typebox';
import type { Attributes, LogRecord, SpanEvent, SpanRecord } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';

export const PII_KINDS = ['email', 'phone', 'card', 'ip'] as const;
export type PiiKind = (typeof PII_KINDS)[number];
const MARKERS: Record<PiiKind, string> = { email: '[EMAIL]', phone: '[PHONE]', card: '[CARD]', ip: '[IP]' };
/** Body attributes (DESIGN.md, Gateway conventions), governed by `bodies`. */
export const BODY_ATTRIBUTES = ['gateway.request.body', 'gateway.response.body'];

export const maskPiiSchema = Type.Object(
  {
    kinds: Type.Optional(
      Type.Array(Type.Union(PII_KINDS.map((k) => Type.Literal(k))), {
        minItems: 1,
        uniqueItems: true,
        description: 'What to mask: email, phone, card, ip. Default: all.',
      }),
    ),
    attributes: Type.Optional(
      Type.Object(
        {
          keys: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Exact attribute keys. Default and empty: none.' })),
          prefixes: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Attribute key prefixes. Default and empty: none.' })),
        },
        {
          additionalProperties: false,
          description:
            'Attributes (span, span event and log) scanned. Absent: every attribute. Present: only the keys and prefixes named (none when both are empty).',
        },
      ),
    ),
    bodies: Type.Optional(
      Type.Boolean({
        default: true,
        description: 'Also scan log bodies and gateway.request.body / gateway.response.body, whatever `attributes` selects; false leaves them alone. Default true.',
      }),
    ),
  },
  { additionalProperties: false },
);

// Alternatives, each one capture group, in priority order at one position.
const PATTERNS: Record<PiiKind, string> = {
  email: String.raw`(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,63}(?![A-Za-z0-9-])`,
  // Candidates only (two or more colons); confirmed with isIP.
  ip: [
    String.raw`(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\d{1,3}(?:\.\d{1,3}){3})?(?![\w:]|\.\w)`,
    String.raw`(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)`,
  ].join('|'),
  card: String.raw`(?<![\w.+-])[2-6]\d{3}(?:[ -]?\d){9,15}(?![\w]|[.-]\d)`,
  phone: [
    // International: +CC then digits, unseparated (E.164) or in separated groups.
    String.raw`(?<![\w+])\+(?:\d{7,15}|\d{1,4}(?:[ .-]?\(\d{1,5}\)|[ .-]\d{1,5}){1,6})`,
    // North American: (555) 123-4567, 555-123-4567, 1 555.123.4567.
    String.raw`(?<![\w.+-])(?:1[ .-])?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}`,
    // National with trunk prefix 0: 020 7946 0958, (030) 12345678, 01 23 45 67 89.
    String.raw`(?<![\w.+-])(?:\(0\d{1,4}\)[ .-]?|0\d{1,4}[ .-])\d{2,8}(?:[ .-]\d{2,4}){0,3}`,
  ]
    .map((p) => `(?:${p})(?![\\w:]|[.-]\\d)`)
    .join('|'),
};
// Email first (its digits belong to it), IP before phone (192.168.100.200),
// card before phone (4111 1111 1111 1111).
const ORDER: readonly PiiKind[] = ['email', 'ip', 'card', 'phone'];

export const maskPii = defineProcessor({
  name: 'mask-pii',
  description: 'masks e-mail addresses, phone numbers, payment card numbers and IP addresses in attributes and bodies',
  schema: maskPiiSchema,
  create(config, env) {
    const enabled = new Set<PiiKind>(config.kinds ?? PII_KINDS);
    const kinds = ORDER.filter((k) => enabled.has(k));
    const re = new RegExp(kinds.map((k) => `(${PATTERNS[k]})`).join('|'), 'g');
    // Every kind's match contains a digit, except e-mail ('@').
    const precheck = enabled.size === 1 && enabled.has('email') ? /@/ : enabled.has('email') ? /[0-9@]/ : /[0-9]/;
    const selectAll = config.attributes === undefined;
    const keys = new Set(config.attributes?.keys ?? []);
    const prefixes = config.attributes?.prefixes ?? [];
    const bodies = config.bodies ?? true;
    const bodyKeys = new Set(BODY_ATTRIBUTES);

    const selected = (key: string): boolean => {
      if (bodyKeys.has(key)) return bodies;
      if (selectAll || keys.has(key)) return true;
      for (const p of prefixes) if (key.startsWith(p)) return true;
      return false;
    };

    return (batch) => {
      const counts: Record<PiiKind, number> = { email: 0, phone: 0, card: 0, ip: 0 };
      const replace = (match: string, ...groups: unknown[]): string => {
        let i = 0;
        while (i < kinds.length && groups[i] === undefined) i++;
        const kind = kinds[i];
        if (kind === undefined || !confirm(kind, match)) return match;
        counts[kind]++;
        return MARKERS[kind];
      };
      /** The same string instance when nothing was masked. */
      const mask = (s: string): string => {
        if (!precheck.test(s)) return s;
        const before = counts.email + counts.phone + counts.card + counts.ip;
        const out = s.replace(re, replace);
        return counts.email + counts.phone + counts.card + counts.ip === before ? s : out;
      };
      const decisions = new Map<string, boolean>();
      const isSelected = (key: string): boolean => {
        let d = decisions.get(key);
        if (d === undefined) {
          d = selected(key);
          decisions.set(key, d);
        }
        return d;
      };
      /** The same object when nothing was masked. */
      const maskAttributes = (attrs: Attributes): Attributes => {
        let out: Attributes | undefined;
        for (const key in attrs) {
          const value = attrs[key]!;
          if (!isSelected(key)) continue;
          const masked = mask(value);
          if (masked === value) continue;
          out ??= { ...attrs };
          out[key] = masked;
        }
        return out ?? attrs;
      };
      const event = (e: SpanEvent): SpanEvent => {
        const attributes = maskAttributes(e.attributes);
        return attributes === e.attributes ? e : { ...e, attributes };
      };
      const span = (s: SpanRecord): SpanRecord => {
        const attributes = maskAttributes(s.attributes);
        let events = s.events;
        for (let i = 0; i < s.events.length; i++) {
          const e = event(s.events[i]!);
          if (e === s.events[i]) continue;
          if (events === s.events) events = s.events.slice();
          events[i] = e;
        }
        return attributes === s.attributes && events === s.events ? s : { ...s, attributes, events };
      };
      const log = (l: LogRecord): LogRecord => {
        const attributes = maskAttributes(l.attributes);
        const body = bodies ? mask(l.body) : l.body;
        return attributes === l.attributes && body === l.body ? l : { ...l, attributes, body };
      };

      const out = { ...batch, spans: batch.spans.map(span), logs: batch.logs.map(log) };
      for (const k of kinds) if (counts[k] > 0) env.count(`mask-pii.${k}`, counts[k]);
      return out;
    };
  },
});

/** Checks a regex candidate can only make cheaply per match. */
function confirm(kind: PiiKind, match: string): boolean {
  switch (kind) {
    case 'email':
      return true;
    case 'ip':
      // `::` alone is valid IPv6 but in text it is an operator (`x :: Int`).
      return isIP(match) !== 0 && match !== '::';
    case 'card': {
      const digits = match.replace(/[ -]/g, '');
      return digits.length >= 13 && digits.length <= 19 && luhn(digits);
    }
    case 'phone': {
      // E.164 numbers have at most 15 digits. With a country code, 8 at least;
      // without, 9 (North American numbers have 10): `05.01.2024` has 8.
      const n = countDigits(match);
      return n >= (match.startsWith('+') ? 8 : 9) && n <= 15;
    }
  }
}

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

/** Luhn (mod 10) check over a string of digits. */
export function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}
