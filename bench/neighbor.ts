// The noisy-neighbour scenario (issue 12, item 2): tenant B sends spans at a
// fixed rate and probes `SELECT 1` while tenant A first stays quiet, then runs
// as many heavy queries as Consentry admits (each until the query time limit),
// retrying refused ones. What B sees in both steps is the measure: ingest ack
// latency, SELECT 1 latency and answers.
import { randomBytes } from 'node:crypto';
import type { Percentiles } from './generator-protocol.ts';
import type { TenantKeys } from './deployments.ts';
import { percentiles } from './stats.ts';

/** Runs until the time limit on a few hundred spans: a 5-way self join. */
export const HEAVY_QUERY =
  'SELECT count() FROM otel_traces a, otel_traces b, otel_traces c, otel_traces d, otel_traces e WHERE cityHash64(a.SpanId, b.SpanId, c.SpanId, d.SpanId, e.SpanId) % 7 = 3';

export interface NeighborFigures {
  /** `quiet`: A sends nothing; `querying`: A runs its heavy queries. */
  phase: 'quiet' | 'querying';
  /** B's `SELECT 1`, ms from sending to the whole answer; `answers` by HTTP status. */
  probe: Percentiles & { answers: Record<string, number> };
  /** A's heavy queries: admitted (started running), refused (429) and their answers when done. */
  heavy: { admitted: number; refused: number; answers: Record<string, number> };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function query(apiUrl: string, t: TenantKeys, sql: string, signal?: AbortSignal): Promise<number> {
  const res = await fetch(`${apiUrl}/api/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.queryKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sql }),
    signal,
  });
  await res.arrayBuffer();
  return res.status;
}

/** Gives tenant A a few hundred spans of its own to join, over OTLP/JSON. */
export async function seedSpans(otlpUrl: string, t: TenantKeys, n: number): Promise<void> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const spans = Array.from({ length: n }, (_, i) => ({
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    name: 'POST /v1/chat/completions',
    kind: 2,
    startTimeUnixNano: String(now - BigInt(i) * 1_000_000n),
    endTimeUnixNano: String(now - BigInt(i) * 1_000_000n + 250_000_000n),
  }));
  const res = await fetch(`${otlpUrl}/v1/traces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.ingestKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }),
  });
  if (res.status !== 200) throw new Error(`seeding tenant ${t.id}: OTLP answered ${res.status} ${await res.text()}`);
}

/** Background load of one phase: B's probe, and A's heavy queries when `querying`. Stop it to read the figures. */
export function startNeighborLoad(opts: { apiUrl: string; a: TenantKeys; b: TenantKeys; phase: NeighborFigures['phase']; probeEveryMs?: number; attempts?: number }): { stop(): Promise<NeighborFigures> } {
  let stopped = false;
  // Stopping cancels A's running queries: the client goes away, Consentry kills them in the engine.
  const cancel = new AbortController();
  const probeMs: number[] = [];
  const probeAnswers: Record<string, number> = {};
  const heavy = { admitted: 0, refused: 0, answers: {} as Record<string, number> };
  const count = (into: Record<string, number>, status: number | string) => (into[String(status)] = (into[String(status)] ?? 0) + 1);

  const probe = (async () => {
    while (!stopped) {
      const t0 = performance.now();
      const status = await query(opts.apiUrl, opts.b, 'SELECT 1').catch(() => 'error');
      probeMs.push(performance.now() - t0);
      count(probeAnswers, status);
      await sleep(opts.probeEveryMs ?? 200);
    }
  })();

  // More attempts than A may run: every slot A is allowed stays taken.
  const hogs =
    opts.phase === 'querying'
      ? Array.from({ length: opts.attempts ?? 6 }, async () => {
          while (!stopped) {
            const t0 = performance.now();
            const status = await query(opts.apiUrl, opts.a, HEAVY_QUERY, cancel.signal).catch(() => (stopped ? 'cancelled' : 'error'));
            if (status === 429 && performance.now() - t0 < 1000) {
              heavy.refused++;
              await sleep(250);
              continue;
            }
            heavy.admitted++;
            count(heavy.answers, status);
          }
        })
      : [];

  return {
    async stop(): Promise<NeighborFigures> {
      stopped = true;
      cancel.abort();
      await Promise.all([probe, ...hogs]);
      return { phase: opts.phase, probe: { ...percentiles(probeMs), answers: probeAnswers }, heavy };
    },
  };
}
