// Span projection: what the decoder has to materialise of a span for a tier,
// compiled from the SpanReads its first span step declares (processor.ts).
import type { SpanReads } from './processor.ts';

export interface SpanProjection {
  /** False: the tier drops every span unread; a traces request is answered without decoding it. */
  readonly spans: boolean;
  /** Whether a span attribute is needed; undefined: all are. */
  readonly keepsAttribute: ((key: string) => boolean) | undefined;
  readonly events: boolean;
  readonly links: boolean;
}

export const DECODE_ALL: SpanProjection = { spans: true, keepsAttribute: undefined, events: true, links: true };
export const DECODE_NOTHING: SpanProjection = { spans: false, keepsAttribute: () => false, events: false, links: false };

/** Distinct keys whose answer is remembered; keys come from clients, so the memo starts over past this. */
const MEMO_SIZE = 4096;

export function compileSpanReads(reads: SpanReads | undefined): SpanProjection {
  if (reads === undefined) return DECODE_ALL;
  if (!reads.spans) return DECODE_NOTHING;
  const { events, links } = reads;
  if (reads.attributes === undefined) return { spans: true, keepsAttribute: undefined, events, links };
  const keys = new Set(reads.attributes.keys);
  const prefixes = [...reads.attributes.prefixes];
  // Keys repeat in every span: one Map lookup instead of a prefix scan each time.
  const memo = new Map<string, boolean>();
  const keepsAttribute = (key: string): boolean => {
    let keep = memo.get(key);
    if (keep === undefined) {
      keep = keys.has(key) || prefixes.some((p) => key.startsWith(p));
      if (memo.size >= MEMO_SIZE) memo.clear();
      memo.set(key, keep);
    }
    return keep;
  };
  return { spans: true, keepsAttribute, events, links };
}
