// Gateway traffic whose traces reach Consentry in pieces, as an OTel SDK's
// batch processor sends them: only the SERVER span of a request carries
// `user.id`; its CLIENT children (the upstream calls) carry the prompt and no
// user id, and they travel in other export requests than their parent, some
// earlier, some later. A log per trace carries the trace context and no user id.
import { randomBytes } from 'node:crypto';

export interface SplitTrace {
  traceId: string;
  user: string;
  serverSpanId: string;
  childSpanIds: string[];
  startNs: bigint;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** `perUser` traces per user, each a SERVER span and `children` CLIENT spans. */
export function splitTraces(opts: { users: string[]; perUser: number; children: number }): SplitTrace[] {
  const now = BigInt(Date.now()) * 1_000_000n;
  const out: SplitTrace[] = [];
  for (const user of opts.users) {
    for (let i = 0; i < opts.perUser; i++) {
      out.push({ traceId: hex(16), user, serverSpanId: hex(8), childSpanIds: Array.from({ length: opts.children }, () => hex(8)), startNs: now - BigInt(out.length) * 1_000_000n });
    }
  }
  return out;
}

/** The prompt a trace's children carry: nothing of it may remain once its user is erased. */
export const promptOf = (t: SplitTrace) => `prompt of ${t.user} in ${t.traceId}`;

const str = (key: string, v: string) => ({ key, value: { stringValue: v } });

/** An OTLP/JSON traces request with the SERVER spans of `servers` and the CLIENT spans of `children`. */
export function tracesRequest(parts: { servers?: SplitTrace[]; children?: SplitTrace[] }): string {
  const spans: object[] = [];
  for (const t of parts.servers ?? []) {
    spans.push({
      traceId: t.traceId,
      spanId: t.serverSpanId,
      name: 'POST /v1/chat/completions',
      kind: 2,
      startTimeUnixNano: String(t.startNs),
      endTimeUnixNano: String(t.startNs + 900_000_000n),
      attributes: [str('http.route', '/v1/chat/completions'), str('user.id', t.user), str('gen_ai.request.model', 'gpt-4o')],
    });
  }
  for (const t of parts.children ?? []) {
    t.childSpanIds.forEach((id, i) =>
      spans.push({
        traceId: t.traceId,
        spanId: id,
        parentSpanId: t.serverSpanId,
        name: 'upstream',
        kind: 3,
        startTimeUnixNano: String(t.startNs + BigInt(i + 1) * 1000n),
        endTimeUnixNano: String(t.startNs + 800_000_000n),
        attributes: [str('gen_ai.provider.name', 'openai'), str('gateway.request.body', promptOf(t))],
      }),
    );
  }
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [str('service.name', 'gateway')] }, scopeSpans: [{ scope: { name: 'gw' }, spans }] }] });
}

/** An OTLP/JSON logs request: one log per trace, with its trace context, no user id. */
export function logsRequest(traces: SplitTrace[]): string {
  const logRecords = traces.map((t) => ({
    timeUnixNano: String(t.startNs + 900_000_000n),
    severityNumber: 9,
    body: { stringValue: `answered ${t.traceId}` },
    traceId: t.traceId,
    spanId: t.serverSpanId,
  }));
  return JSON.stringify({ resourceLogs: [{ resource: { attributes: [str('service.name', 'gateway')] }, scopeLogs: [{ scope: { name: 'gw' }, logRecords }] }] });
}

/** Splits `items` into groups of `size`. */
export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** POSTs one OTLP/JSON request; throws unless it is answered 200. */
export async function post(otlpUrl: string, key: string, signal: 'traces' | 'logs', body: string): Promise<void> {
  const res = await fetch(`${otlpUrl}/v1/${signal}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
  if (res.status !== 200) throw new Error(`POST /v1/${signal} answered ${res.status}: ${await res.text()}`);
}
