// The counting rule: what a span counts as, decided from the span alone (its
// parent id, kind, flags and attributes), never by looking for other spans of
// its trace. The spans of one trace may arrive in different requests (SDK
// batch processors export a child before its parent) and at different
// collector instances; a rule that needs the tree would need state across
// requests, and would make the `summary` tier (folded at receipt) disagree
// with the `full` dashboard (computed from stored spans). The same rule in
// SQL: collector/analytics/request-sql.ts.
//
// A span is
//   a request (an entry span) when it is where a unit of work entered a
//     service: it has no parent; or the sender says its parent is remote (OTLP
//     Span.flags bits 8 and 9, set by the Python 1.45, Go and JS SDKs,
//     measured: 0x100 for a local parent or a root, 0x300 for a remote one);
//     or, when the sender does not say (flags bit 8 clear), its kind is SERVER
//     or CONSUMER.
//   an LLM call when its operation says so (openinference.span.kind LLM or
//     EMBEDDING; gen_ai.operation.name other than agent, tool, workflow and
//     retrieval steps; any llm.request.type: what LLM SDK instrumentations
//     set on every call span, nested or not) or, without an operation, when it
//     is an entry span that names a provider, a model or token counts (a
//     gateway's SERVER span, as the Consentry interceptor and the gateway
//     conventions make it; a root CLIENT call). A non-entry span without an
//     operation is not a call even with gen_ai attributes: it is a gateway's
//     upstream leg repeating what its SERVER span reports.
// A span can be both (a root LLM span; a gateway SERVER span with gen_ai
// attributes), one, or neither (an INTERNAL step, an HTTP client child of an
// LLM span). Tokens and models are read from call spans only, so a SERVER
// span around a CLIENT LLM span counts one request and one call, and a CLIENT
// root with a SERVER child (telemetrygen) one request. What a rule span by
// span cannot see: a gateway that puts token counts on its SERVER span and
// also sends instrumented upstream call spans (with an operation) reports each
// call twice, and is counted so.
import { SpanFlags, SpanKind, StatusCode, type Attributes, type SpanRecord } from '../../core/record.ts';
import { CALL_EVIDENCE, FIELDS, keysOf } from './genai.ts';

export function isEntrySpan(span: Pick<SpanRecord, 'parentSpanId' | 'flags' | 'kind'>): boolean {
  if (span.parentSpanId === '') return true;
  if ((span.flags & SpanFlags.HAS_IS_REMOTE) !== 0) return (span.flags & SpanFlags.IS_REMOTE) !== 0;
  return span.kind === SpanKind.SERVER || span.kind === SpanKind.CONSUMER;
}

interface OperationRule {
  key: string;
  calls: ReadonlySet<string> | undefined;
  notCalls: ReadonlySet<string> | undefined;
}

const OPERATION_RULES: readonly OperationRule[] = FIELDS.operation.sources.map((s: { key: string; calls?: readonly string[]; notCalls?: readonly string[] }) => ({
  key: s.key,
  calls: s.calls === undefined ? undefined : new Set(s.calls),
  notCalls: s.notCalls === undefined ? undefined : new Set(s.notCalls),
}));

/** Whether a span with these attributes is an LLM call; `entry`: isEntrySpan of the same span. */
export function isCallSpan(a: Attributes, entry: boolean): boolean {
  for (const r of OPERATION_RULES) {
    const v = a[r.key];
    if (v === undefined || v === '') continue;
    if (r.calls !== undefined) return r.calls.has(v);
    if (r.notCalls !== undefined) return !r.notCalls.has(v);
    return true;
  }
  if (!entry) return false;
  for (const k of CALL_EVIDENCE) {
    const v = a[k];
    if (v !== undefined && v !== '') return true;
  }
  return false;
}

const PROVIDER_KEYS = keysOf(FIELDS.provider);
const MODEL_KEYS = keysOf(FIELDS.model);
const INPUT_KEYS = keysOf(FIELDS.inputTokens);
const OUTPUT_KEYS = keysOf(FIELDS.outputTokens);
const ERROR_KEYS = keysOf(FIELDS.error);

/** The first non-empty value of `keys` in `a`, else ''. */
export function firstOf(a: Attributes, keys: readonly string[]): string {
  for (const k of keys) {
    const v = a[k];
    if (v !== undefined && v !== '') return v;
  }
  return '';
}

/** A non-negative integer from an attribute; absent, empty, non-numeric, negative or infinite: 0. */
export function parseCount(value: string | undefined): number {
  if (value === undefined || value === '') return 0;
  const n = Number(value);
  return n > 0 && n < Infinity ? Math.floor(n) : 0;
}

export const providerOf = (a: Attributes): string => firstOf(a, PROVIDER_KEYS);
export const modelOf = (a: Attributes): string => firstOf(a, MODEL_KEYS);
export const inputTokensOf = (a: Attributes): number => parseCount(firstOf(a, INPUT_KEYS));
export const outputTokensOf = (a: Attributes): number => parseCount(firstOf(a, OUTPUT_KEYS));

/** The span failed: status ERROR, or an error type recorded. Whether it is an error also depends on its HTTP status class (summarize). */
export function failedOf(span: Pick<SpanRecord, 'statusCode' | 'attributes'>): boolean {
  return span.statusCode === StatusCode.ERROR || firstOf(span.attributes, ERROR_KEYS) !== '';
}
