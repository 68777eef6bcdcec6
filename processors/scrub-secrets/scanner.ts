// The free-text engine: every rule compiled once into a keyword automaton and one
// combined regex, then one pass per string value.
//
// Why this shape: a regex per rule per value is what makes general secret
// scanners (secretlint's lintSource, about 1 ms per short text) unusable on the
// ingest path, and even one combined regex run over a whole value is slow in V8
// (it tries every alternative at every position: about 25 ns per character with
// these rules). Here a value costs one pass of a table-driven automaton that
// finds where a rule's literal prefix starts (about 1-2 ns per character); the
// combined regex is tried, sticky, at those offsets only. Every rule's match
// starts with one of its keywords (rules.ts), so this finds what a leftmost
// global scan would.

import type { SecretCheck, SecretRule } from './rules.ts';

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
    if (rule.keywords.length === 0) bad('keywords', 'need at least one keyword');
    if (rule.keywords.some((k) => k === '' || !/^[\t\x20-\x7e]+$/.test(k))) bad('keywords', 'must be non-empty printable ASCII (or tab)');
  });
  return problems;
}

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

/**
 * Keyword search in one pass: an Aho-Corasick automaton over bytes with ASCII
 * upper case folded to lower case, as a dense transition table (a DFA), so a
 * character costs one table load and one comparison whatever the number of
 * keywords. (A
 * regex alternation of the same literals degrades sharply past about ten of
 * them in V8.) Characters are taken modulo 256, as a latin1 copy has them:
 * offsets stay those of the string, and a character above 255 can only cause a
 * false hit, which the combined regex then rejects, never hide a keyword (those
 * are ASCII).
 */
class KeywordAutomaton {
  /** state * 256 + byte -> next state. */
  private readonly delta: Uint16Array;
  /** States from this number on are those where a keyword ends (states are numbered so). */
  private readonly firstAccepting: number;
  /** For each state, the keywords ending there (index into `lengths`/`exact`). */
  private readonly outputs: (readonly number[])[];
  private readonly lengths: number[] = [];
  /** The keyword as written when it must match case-sensitively, else null. */
  private readonly exact: (string | null)[] = [];
  /** Shortest keyword: shorter values cannot hold one. */
  readonly minLength: number;
  /** latin1 copy of long values, reused (one scan at a time), and a plain Uint8Array view of it (monomorphic loads). */
  private buffer = Buffer.allocUnsafe(4096);
  private bytes = new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);

  constructor(keywords: readonly { text: string; caseSensitive: boolean }[]) {
    const fold = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c);
    const goto: Map<number, number>[] = [new Map<number, number>()];
    const outputs: number[][] = [[]];
    keywords.forEach((k, index) => {
      let state = 0;
      for (let i = 0; i < k.text.length; i++) {
        const c = fold(k.text.charCodeAt(i));
        let next = goto[state]!.get(c);
        if (next === undefined) {
          next = goto.length;
          goto.push(new Map());
          outputs.push([]);
          goto[state]!.set(c, next);
        }
        state = next;
      }
      outputs[state]!.push(index);
      this.lengths.push(k.text.length);
      this.exact.push(k.caseSensitive ? k.text : null);
    });
    this.minLength = keywords.reduce((m, k) => Math.min(m, k.text.length), Number.POSITIVE_INFINITY);
    const states = goto.length;
    // One array type only, so the scan loop stays monomorphic.
    if (states >= 65536) throw new RangeError(`keyword automaton too large: ${states} states (at most 65535)`);
    const delta = new Int32Array(states * 256);
    const fail = new Int32Array(states);
    // Breadth-first: a state's failure target is complete before the state itself.
    const queue: number[] = [];
    for (let b = 0; b < 256; b++) {
      const next = goto[0]!.get(fold(b)) ?? 0;
      delta[b] = next;
      if (next !== 0 && b === fold(b)) queue.push(next);
    }
    for (let q = 0; q < queue.length; q++) {
      const state = queue[q]!;
      const f = fail[state]!;
      if (outputs[f]!.length > 0) outputs[state] = [...outputs[state]!, ...outputs[f]!];
      for (let b = 0; b < 256; b++) {
        const c = fold(b);
        const next = goto[state]!.get(c);
        if (next === undefined) {
          delta[state * 256 + b] = delta[f * 256 + b]!;
        } else {
          if (b === c) {
            fail[next] = delta[f * 256 + b]!;
            queue.push(next);
          }
          delta[state * 256 + b] = next;
        }
      }
    }
    // Renumber: accepting states last, so the scan loop tests acceptance with one
    // comparison instead of a second table load. The root stays 0.
    const order = [...Array(states).keys()].sort((x, y) => Number(outputs[x]!.length > 0) - Number(outputs[y]!.length > 0) || x - y);
    const renumber = new Int32Array(states);
    order.forEach((old, fresh) => (renumber[old] = fresh));
    this.delta = new Uint16Array(states * 256);
    for (let old = 0; old < states; old++) {
      for (let b = 0; b < 256; b++) this.delta[renumber[old]! * 256 + b] = renumber[delta[old * 256 + b]!]!;
    }
    this.outputs = order.map((old) => outputs[old]!);
    this.firstAccepting = order.findIndex((old) => outputs[old]!.length > 0);
    if (this.firstAccepting < 0) this.firstAccepting = states;
  }

  /** True when `s` holds a keyword: the hot path, one tight loop, no allocation. */
  any(s: string): boolean {
    const n = s.length;
    if (n < this.minLength) return false;
    const delta = this.delta;
    const firstAccepting = this.firstAccepting;
    let state = 0;
    if (n <= 64) {
      for (let i = 0; i < n; i++) {
        state = delta[(state << 8) | (s.charCodeAt(i) & 255)]!;
        if (state >= firstAccepting && this.verified(s, state, i)) return true;
      }
      return false;
    }
    const buf = this.latin1(s);
    for (let i = 0; i < n; i++) {
      state = delta[(state << 8) | buf[i]!]!;
      if (state >= firstAccepting && this.verified(s, state, i)) return true;
    }
    return false;
  }

  /** `s` as bytes (characters modulo 256) in the reused buffer. */
  private latin1(s: string): Uint8Array {
    if (this.buffer.length < s.length) {
      this.buffer = Buffer.allocUnsafe(Math.max(s.length, this.buffer.length * 2));
      this.bytes = new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
    }
    this.buffer.write(s, 0, s.length, 'latin1');
    return this.bytes;
  }

  /** A keyword really ends at `end` (case-sensitive ones compared as written). */
  private verified(s: string, state: number, end: number): boolean {
    for (const k of this.outputs[state]!) {
      const exact = this.exact[k]!;
      if (exact === null || s.startsWith(exact, end + 1 - this.lengths[k]!)) return true;
    }
    return false;
  }

  /** Reused result of `find` (one scan at a time; no allocation per value). */
  private readonly starts: number[] = [];

  /**
   * Start offsets of keyword occurrences, ascending, deduplicated; empty when
   * none. The array is reused by the next call.
   */
  find(s: string): number[] {
    const starts = this.starts;
    starts.length = 0;
    const n = s.length;
    if (n < this.minLength) return starts;
    const delta = this.delta;
    const firstAccepting = this.firstAccepting;
    let state = 0;
    if (n <= 64) {
      for (let i = 0; i < n; i++) {
        state = delta[(state << 8) | (s.charCodeAt(i) & 255)]!;
        if (state >= firstAccepting) this.collect(s, state, i, starts);
      }
    } else {
      const buf = this.latin1(s);
      for (let i = 0; i < n; i++) {
        state = delta[(state << 8) | buf[i]!]!;
        if (state >= firstAccepting) this.collect(s, state, i, starts);
      }
    }
    if (starts.length > 1) {
      // Keywords ending later can start earlier (`set-cookie` after `cookie`).
      starts.sort((x, y) => x - y);
      let w = 1;
      for (let r = 1; r < starts.length; r++) if (starts[r] !== starts[w - 1]) starts[w++] = starts[r]!;
      starts.length = w;
    }
    return starts;
  }

  /** Records where the keywords ending at `end` start. */
  private collect(s: string, state: number, end: number, starts: number[]): void {
    for (const k of this.outputs[state]!) {
      const start = end + 1 - this.lengths[k]!;
      const exact = this.exact[k]!;
      if (exact === null || s.startsWith(exact, start)) starts.push(start);
    }
  }
}

/** Compiles the rules (assumed checked with `checkRules`) into one keyword automaton and one combined regex. */
export function compileScanner(rules: readonly SecretRule[]): Scanner {
  const keywords: { text: string; caseSensitive: boolean }[] = [];
  const seen = new Set<string>();
  for (const rule of rules) {
    for (const k of rule.keywords) {
      const caseSensitive = rule.caseSensitive === true;
      const key = `${caseSensitive ? 'cs' : 'ci'}:${caseSensitive ? k : k.toLowerCase()}`;
      if (seen.has(key)) continue;
      seen.add(key);
      keywords.push({ text: k, caseSensitive });
    }
  }
  const automaton = new KeywordAutomaton(keywords);
  // Sticky: tried only at keyword starts, never scans on by itself.
  const combined = new RegExp(
    rules.map((r, i) => `(?<r${i}>${r.pattern.replace('(?<secret>', `(?<s${i}>`)})`).join('|'),
    'y',
  );
  const ruleGroup = rules.map((_, i) => `r${i}`);
  const secretGroup = rules.map((_, i) => `s${i}`);
  const markers = rules.map((r) => marker(r.kind));

  // A whole-match rule (no context) matching at `at`: its index and end, or null.
  const formatAt = (value: string, at: number): { rule: number; end: number } | null => {
    combined.lastIndex = at;
    const m = combined.exec(value);
    if (m === null) return null;
    const groups = m.groups!;
    let i = 0;
    while (i < ruleGroup.length && groups[ruleGroup[i]!] === undefined) i++;
    const rule = rules[i];
    if (rule === undefined) return null;
    const secret = groups[secretGroup[i]!];
    if (secret !== undefined && secret.length !== m[0].length) return null;
    if (isMarker(m[0]) || !passes(rule.check, m[0])) return null;
    return { rule: i, end: at + m[0].length };
  };

  return {
    mayContain: (value) => automaton.any(value),
    scan(value, hit) {
      // Most values hold no keyword: one tight pass, then out. The offsets are
      // collected in a second pass only for the few that do.
      if (!automaton.any(value)) return value;
      const found = automaton.find(value);
      const starts = [...found]; // the automaton reuses its array; hits are rare, a copy is cheap
      let out = '';
      let copied = 0; // value[0, copied) is in `out`
      for (const start of starts) {
        if (start < copied) continue; // inside a secret already replaced
        combined.lastIndex = start;
        const m = combined.exec(value);
        if (m === null) continue;
        const groups = m.groups!;
        let i = 0;
        while (i < ruleGroup.length && groups[ruleGroup[i]!] === undefined) i++;
        const rule = rules[i];
        if (rule === undefined) continue;
        const match = m[0];
        const secret = groups[secretGroup[i]!] ?? match;
        if (isMarker(secret) || !passes(rule.check, secret)) continue;
        // The secret ends the match (rules keep trailing context in lookaheads); if a
        // rule breaks that, the whole match goes rather than risk keeping a part.
        const secretStart = match.endsWith(secret) ? start + match.length - secret.length : start;
        let end = start + match.length;
        let kind = i;
        if (secretStart > start) {
          // A value found by its context (`X-Api-Key: `, `token=`) may be a token of a
          // known format that runs past where the context rule stops (a PEM block
          // with spaces): the format wins, so no part of it stays.
          const inner = formatAt(value, secretStart);
          if (inner !== null) {
            end = Math.max(end, inner.end);
            kind = inner.rule;
          }
        }
        out += value.slice(copied, secretStart) + markers[kind]!;
        copied = end;
        hit(rules[kind]!.kind);
      }
      if (copied === 0) return value;
      return out + value.slice(copied);
    },
  };
}
