// The content table (content.ts) and the LLM metadata of the conventions
// mapping (genai.ts) compiled once into lookups: exact keys in Sets, prefixes
// and `a.*.c` patterns in short lists, and a bounded memo per key, since the
// same keys come in every record. No regex, nothing built per record.
//
// Order of the decision for an attribute key: NOT_CONTENT headers -> LLM
// metadata (exact key or prefix of the mapping) -> LLM content (key, prefix,
// pattern) -> gateway content (bodies, headers) -> other. Metadata first, so that `llm.token_count.prompt` is a
// token count and not LiteLLM's raw `llm.<provider>.prompt`.
import type { Attributes, LogRecord } from '../../core/record.ts';
import { CONTENT, NOT_CONTENT } from './content.ts';
import { FIELDS, type Field } from './genai.ts';

/** Not LLM data (or generic, such as error.type). */
export const OTHER = 0;
/** LLM content of an instrumentation (prompts, messages, ...): dropped by tiers that keep no content. */
export const CONTENT_ATTRIBUTE = 1;
/** LLM metadata of the mapping (provider, model, tokens, ...): per-request data, no content. */
export const LLM_METADATA_ATTRIBUTE = 2;
/**
 * Content of the gateway conventions (bodies, captured headers): dropped like
 * LLM content, but a plain log line carrying a header is still a log line,
 * not an LLM instrumentation record.
 */
export const GATEWAY_CONTENT_ATTRIBUTE = 3;
export type AttributeClass = typeof OTHER | typeof CONTENT_ATTRIBUTE | typeof LLM_METADATA_ATTRIBUTE | typeof GATEWAY_CONTENT_ATTRIBUTE;

/** Distinct keys whose class is remembered; keys come from clients, so the memo starts over past this. */
const MEMO_SIZE = 4096;

interface Matcher {
  keys: Set<string>;
  prefixes: string[];
  /** `a.*.c`: prefix `a.`, suffix `.c`, one segment between. */
  patterns: Array<{ prefix: string; suffix: string }>;
}

function matcher(matches: readonly string[]): Matcher {
  const m: Matcher = { keys: new Set(), prefixes: [], patterns: [] };
  for (const match of matches) {
    const star = match.indexOf('*');
    if (star === -1) m.keys.add(match);
    else if (star === match.length - 1) m.prefixes.push(match.slice(0, -1));
    else m.patterns.push({ prefix: match.slice(0, star), suffix: match.slice(star + 1) });
  }
  return m;
}

function matches(m: Matcher, key: string): boolean {
  if (m.keys.has(key)) return true;
  for (const p of m.prefixes) if (key.startsWith(p)) return true;
  for (const { prefix, suffix } of m.patterns) {
    if (key.length > prefix.length + suffix.length && key.startsWith(prefix) && key.endsWith(suffix)) {
      if (key.indexOf('.', prefix.length) === key.length - suffix.length) return true;
    }
  }
  return false;
}

const gatewayOnly = (r: (typeof CONTENT)[number]) => r.by.length === 1 && r.by[0] === 'Consentry gateway';
const contentAttributes = matcher(CONTENT.filter((r) => r.where === 'attribute' && !gatewayOnly(r)).map((r) => r.match));
const gatewayContent = matcher(CONTENT.filter((r) => r.where === 'attribute' && gatewayOnly(r)).map((r) => r.match));
const contentEvents = matcher(CONTENT.filter((r) => r.where === 'event').map((r) => r.match));
const notContent = new Set(NOT_CONTENT);
const metadata = matcher(
  Object.values(FIELDS)
    .filter((f: Field) => f.generic !== true)
    .flatMap((f: Field) => f.sources.map((s) => (s.prefix === true ? `${s.key}*` : s.key))),
);

const memo = new Map<string, AttributeClass>();

/** The class of an attribute key (span, span event or log attribute). */
export function classifyAttribute(key: string): AttributeClass {
  let c = memo.get(key);
  if (c === undefined) {
    c = notContent.has(key)
      ? OTHER
      : matches(metadata, key)
        ? LLM_METADATA_ATTRIBUTE
        : matches(contentAttributes, key)
          ? CONTENT_ATTRIBUTE
          : matches(gatewayContent, key)
            ? GATEWAY_CONTENT_ATTRIBUTE
            : OTHER;
    if (memo.size >= MEMO_SIZE) memo.clear();
    memo.set(key, c);
  }
  return c;
}

/** Whether a span event or log event of this name is an LLM event (content, or the call repeated): dropped whole where content is not kept. */
export function isLlmEvent(name: string): boolean {
  return name !== '' && matches(contentEvents, name);
}

/** Whether any attribute is LLM content or LLM metadata: the record comes from LLM instrumentation. */
export function hasLlmAttributes(a: Attributes): boolean {
  for (const k in a) {
    const c = classifyAttribute(k);
    if (c === CONTENT_ATTRIBUTE || c === LLM_METADATA_ATTRIBUTE) return true;
  }
  return false;
}

/**
 * The event name of a log record: LogRecord.event_name, else the `event.name`
 * attribute (the Events API before the field existed), else `event_name`
 * (LiteLLM's semantic logs); '' for a plain log line.
 */
export function eventNameOf(log: LogRecord): string {
  if (log.eventName !== '') return log.eventName;
  const a = log.attributes;
  return a['event.name'] ?? a['event_name'] ?? '';
}

/**
 * `attrs` without its content attributes; the same object when it has none,
 * `removed` counting what went.
 */
export function withoutContent(attrs: Attributes, removed: { n: number }): Attributes {
  const { kept, content } = part(attrs, false);
  removed.n += content;
  return kept;
}

/** Attributes parted into what stays and the content (what withoutContent removes); `content` undefined when there is none. */
export function splitContent(attrs: Attributes): { kept: Attributes; content: Attributes | undefined } {
  const { kept, apart } = part(attrs, true);
  return { kept, content: apart };
}

/** One pass: the attributes that are not content (`attrs` itself when none is), how many are, and (`collect`) those that are. */
function part(attrs: Attributes, collect: boolean): { kept: Attributes; content: number; apart: Attributes | undefined } {
  let out: Attributes | undefined;
  let apart: Attributes | undefined;
  let content = 0;
  const keys = Object.keys(attrs);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const c = classifyAttribute(k);
    if (c === CONTENT_ATTRIBUTE || c === GATEWAY_CONTENT_ATTRIBUTE) {
      content++;
      if (collect) (apart ??= {})[k] = attrs[k]!;
      if (out === undefined) {
        out = {};
        for (let j = 0; j < i; j++) out[keys[j]!] = attrs[keys[j]!]!;
      }
    } else if (out !== undefined) out[k] = attrs[k]!;
  }
  return { kept: out ?? attrs, content, apart };
}

/**
 * Whether a log record's body is content: it comes from instrumentation (an
 * event name, or LLM attributes) and is not empty. The rule drop-content
 * clears bodies by (less its keepBodies list).
 */
export function isContentBody(log: LogRecord, eventName: string): boolean {
  return log.body !== '' && (eventName !== '' || hasLlmAttributes(log.attributes));
}
