// The free-text engine: every rule compiled once into a pre-filter and one
// combined regex, then one pass per string value.
//
// Why this shape: a regex per rule per value is what makes general secret
// scanners (secretlint's lintSource, about 1 ms per short text) unusable on the
// ingest path. Here a value costs one pre-filter test, and the combined regex runs
// only on the few values the pre-filter lets through.

import { ci, type SecretCheck, type SecretRule } from './rules.ts';

/** `[REDACTED:<kind>]`: names the kind, keeps nothing of the value. */
export function marker(kind: string): string {
  return `[REDACTED:${kind}]`;
}

const MARKER = /^\[REDACTED:[a-z0-9-]{1,64}\]$/;

/** True when the text is a redaction marker (scrubbing it again must change nothing). */
export function isMarker(text: string): boolean {
  return text.length > 11 && text.charCodeAt(0) === 0x5b && MARKER.test(text);
}

export const KIND_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** A problem with one rule, `path` relative to the rule (`pattern`, `kind`, ...). */
export interface RuleProblem {
  index: number;
  path: string;
  message: string;
}

/** Checks what the engine relies on; every problem is reported, none thrown. */
export function checkRules(rules: readonly SecretRule[]): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const ids = new Set<string>();
  rules.forEach((rule, index) => {
    const bad = (path: string, message: string): void => {
      problems.push({ index, path, message });
    };
    if (rule.id === '') bad('id', 'must not be empty');
    else if (ids.has(rule.id)) bad('id', `duplicate rule id "${rule.id}"`);
    ids.add(rule.id);
    if (!KIND_PATTERN.test(rule.kind)) bad('kind', `must match ${KIND_PATTERN.source}, got "${rule.kind}"`);
    let probe: RegExpExecArray | null = null;
    try {
      // The empty alternative always matches, so exec returns every group.
      probe = new RegExp(`(?:${rule.pattern})|`).exec('');
    } catch (err) {
      bad('pattern', `does not compile: ${(err as Error).message}`);
    }
    if (probe !== null) {
      const groupCount = probe.length - 1;
      const named = Object.keys(probe.groups ?? {});
      if (groupCount > 1 || (groupCount === 1 && named[0] !== 'secret') || named.some((n) => n !== 'secret')) {
        bad('pattern', 'may hold one capture group only, named "secret"; use (?:...) for the others');
      }
      if (new RegExp(`^(?:${rule.pattern})$`).test('')) bad('pattern', 'must not match the empty string');
    }
    if (rule.gate === undefined && rule.keywords.length === 0) bad('keywords', 'need at least one keyword (or a gate)');
    if (rule.keywords.some((k) => k === '')) bad('keywords', 'must not hold an empty keyword');
    if (rule.gate !== undefined) {
      try {
        new RegExp(rule.gate);
      } catch (err) {
        bad('gate', `does not compile: ${(err as Error).message}`);
      }
    }
  });
  return problems;
}

const escapeLiteral = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

function passes(check: SecretCheck | undefined, secret: string): boolean {
  if (check === undefined) return true;
  if (check === 'tokenish') return tokenish(secret);
  return basicCredentials(secret);
}

/** Random-looking: a digit and a letter, or both cases over 20+ characters. Words and prose fail. */
export function tokenish(s: string): boolean {
  let digit = false;
  let lower = false;
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) digit = true;
    else if (c >= 97 && c <= 122) lower = true;
    else if (c >= 65 && c <= 90) upper = true;
  }
  return (digit && (lower || upper)) || (s.length >= 20 && lower && upper);
}

/** `Basic <base64 of user:password>`: decodes to printable text with a colon. */
export function basicCredentials(s: string): boolean {
  const decoded = Buffer.from(s, 'base64').toString('latin1');
  if (decoded.length < 2 || !decoded.includes(':')) return false;
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

export interface Scanner {
  /**
   * Replaces every secret in `value`; returns `value` itself (same instance)
   * when nothing was replaced. `hit(kind)` is called once per replaced secret.
   */
  scan(value: string, hit: (kind: string) => void): string;
  /** The pre-filter alone: false means `scan` would return the value unchanged. */
  mayContain(value: string): boolean;
}

/** Compiles the rules (assumed checked with `checkRules`) into one pre-filter and one combined regex. */
export function compileScanner(rules: readonly SecretRule[]): Scanner {
  const gateParts = new Set<string>();
  for (const rule of rules) {
    if (rule.gate !== undefined) gateParts.add(rule.gate);
    else for (const k of rule.keywords) gateParts.add(rule.caseSensitive === true ? escapeLiteral(k) : ci(k));
  }
  const gate = new RegExp([...gateParts].join('|'));
  const combined = new RegExp(
    rules.map((r, i) => `(?<r${i}>${r.pattern.replace('(?<secret>', `(?<s${i}>`)})`).join('|'),
    'g',
  );
  const ruleGroup = rules.map((_, i) => `r${i}`);
  const secretGroup = rules.map((_, i) => `s${i}`);
  const markers = rules.map((r) => marker(r.kind));

  // State of the running scan, read by the replacer (scans never nest: replace is synchronous).
  let changed = false;
  let onHit: (kind: string) => void = () => {};

  const replacer = (match: string, ...args: unknown[]): string => {
    const groups = args[args.length - 1] as Record<string, string | undefined>;
    let i = 0;
    while (i < ruleGroup.length && groups[ruleGroup[i]!] === undefined) i++;
    const rule = rules[i];
    if (rule === undefined) return match;
    const secret = groups[secretGroup[i]!] ?? match;
    if (isMarker(secret) || !passes(rule.check, secret)) return match;
    // The secret ends the match (rules keep trailing context in lookaheads); if a
    // rule breaks that, the whole match goes rather than risk keeping a part.
    const keep = match.endsWith(secret) ? match.slice(0, match.length - secret.length) : '';
    changed = true;
    onHit(rule.kind);
    return keep + markers[i]!;
  };

  return {
    mayContain: (value) => gate.test(value),
    scan(value, hit) {
      if (!gate.test(value)) return value;
      changed = false;
      onHit = hit;
      combined.lastIndex = 0;
      const out = value.replace(combined, replacer);
      return changed ? out : value;
    },
  };
}
