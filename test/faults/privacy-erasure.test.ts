// Fault: an erasure while the subject's traces are still arriving in pieces.
// Only the SERVER span of a request carries user.id; its CLIENT children carry
// the prompt and travel in other requests, before, during and after the
// erasure. Whole traces must go, later pieces of them must not be stored, and
// a later erasure of the same user must still find what an earlier one could
// not. Embedded mode (the Kafka path: privacy-kafka.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestConsentry, type TestConsentry } from '../helpers/consentry.ts';
import { chunks, logsRequest, post, promptOf, splitTraces, tracesRequest, type SplitTrace } from './split-traces.ts';

let c: TestConsentry;
let key: string;

beforeAll(async () => {
  // Batches wait a second before their insert: requests stay in flight long enough to erase under them.
  c = await startTestConsentry({ batchMaxDelayMs: 1000 });
  key = (await c.createTenant('acme', 'full')).ingestKey;
});
afterAll(async () => c?.close());

/** Spans and logs stored of these traces, and stored spans that carry one of their prompts. */
async function rowsOf(traces: SplitTrace[]): Promise<{ spans: number; logs: number; prompts: number }> {
  const ids = traces.map((t) => `'${t.traceId}'`).join(',');
  const prompts = traces.map((t) => `'${promptOf(t)}'`).join(',');
  const n = async (sql: string) => Number((await c.rows<{ n: number }>(sql))[0]!.n);
  return {
    spans: await n(`SELECT toUInt32(count()) AS n FROM consentry.otel_traces WHERE TenantId = 'acme' AND TraceId IN (${ids})`),
    logs: await n(`SELECT toUInt32(count()) AS n FROM consentry.otel_logs WHERE TenantId = 'acme' AND TraceId IN (${ids})`),
    prompts: await n(`SELECT toUInt32(count()) AS n FROM consentry.otel_traces WHERE TenantId = 'acme' AND SpanAttributes['gateway.request.body'] IN (${prompts})`),
  };
}

const send = async (parts: { servers?: SplitTrace[]; children?: SplitTrace[] }) => {
  const sends = [post(c.otlpUrl, key, 'traces', tracesRequest(parts))];
  if (parts.children !== undefined) sends.push(post(c.otlpUrl, key, 'logs', logsRequest(parts.children)));
  await Promise.all(sends);
};

describe('erasure during ingest of split traces', () => {
  it('removes whole traces, drops their later pieces, and a second erasure finds what is left', { timeout: 120_000 }, async () => {
    const all = splitTraces({ users: ['alice', 'bob'], perUser: 45, children: 2 });
    const alice = all.filter((t) => t.user === 'alice');
    const bob = all.filter((t) => t.user === 'bob');
    // alice's traces, by when their pieces arrive relative to the erasure:
    const done = alice.slice(0, 10); // everything stored before
    const parentInFlight = alice.slice(10, 20); // children stored before, SERVER span in flight
    const childrenInFlight = alice.slice(20, 30); // SERVER span stored before, children in flight
    const childrenLate = alice.slice(30, 40); // SERVER span stored before, children sent after the erasure
    const fresh = alice.slice(40); // sent whole after the erasure: new data

    // Before: requests mix pieces of different traces and both users.
    for (const part of chunks([...done, ...parentInFlight, ...bob.slice(0, 20)], 10)) await send({ children: part });
    for (const part of chunks([...done, ...childrenInFlight, ...childrenLate, ...bob.slice(0, 30)], 10)) await send({ servers: part });
    expect(await rowsOf(done)).toEqual({ spans: 30, logs: 10, prompts: 20 });

    // In flight: received, waiting for their batch, when the erasure starts.
    const inflight = [send({ servers: parentInFlight }), send({ children: childrenInFlight }), send({ servers: bob.slice(30, 40), children: bob.slice(20, 40) })];
    await new Promise((r) => setTimeout(r, 200));
    const erased = await c.api('DELETE', '/api/tenants/acme/subjects/alice?reason=art.%2017');
    await Promise.all(inflight);
    expect(erased.status, JSON.stringify(erased.body)).toBe(200);

    // After: the late children of erased traces, and alice's new traces.
    for (const part of chunks(childrenLate, 5)) await send({ children: part });
    await send({ servers: fresh, children: fresh });
    await send({ servers: bob.slice(40), children: bob.slice(40) });

    const left = await rowsOf(alice.slice(0, 40));
    const phases = { done, parentInFlight, childrenInFlight, childrenLate };
     
    console.log(`rows of erased traces left after the erasure: ${JSON.stringify(left)}; by phase: ${JSON.stringify(Object.fromEntries(await Promise.all(Object.entries(phases).map(async ([k, v]) => [k, await rowsOf(v)]))))}`);
    expect.soft(left).toEqual({ spans: 0, logs: 0, prompts: 0 });
    expect(await rowsOf(fresh)).toEqual({ spans: 15, logs: 5, prompts: 10 }); // received after the erasure: kept
    expect(await rowsOf(bob)).toEqual({ spans: 135, logs: 45, prompts: 90 }); // nobody else's data goes

    // A second erasure removes alice's new traces and still leaves nothing of the old ones.
    const again = await c.api('DELETE', '/api/tenants/acme/subjects/alice');
    expect(again.status).toBe(200);
    const leftAgain = await rowsOf(alice);
     
    console.log(`rows of alice's traces left after a second erasure: ${JSON.stringify(leftAgain)}`);
    expect(leftAgain).toEqual({ spans: 0, logs: 0, prompts: 0 });
    expect(await rowsOf(bob)).toEqual({ spans: 135, logs: 45, prompts: 90 });
  });

  it('a writer that meets an erased subject\'s span in flight removes the pieces of its trace it wrote before', async () => {
    // The erasure "happens" after these requests were received and before they are written:
    // a tombstone an hour ahead stands for it (as for records waiting in Kafka).
    await c.tombstones.add({ tenantId: 'acme', subject: 'carol', erasedAtMs: Date.now() + 3_600_000 });
    const [t] = splitTraces({ users: ['carol'], perUser: 1, children: 2 });
    await send({ children: [t!] }); // no user.id: written
    expect(await rowsOf([t!])).toEqual({ spans: 2, logs: 1, prompts: 2 });
    await post(c.otlpUrl, key, 'traces', tracesRequest({ servers: [t!] })); // carol's span: dropped, and its trace with it
    await c.tombstones.recorded();
    expect(await rowsOf([t!])).toEqual({ spans: 0, logs: 0, prompts: 0 });
    // Recorded for the next erasure of carol and for the other processes.
    const [r] = await c.rows<{ Subject: string }>(`SELECT Subject FROM consentry.erased_traces WHERE TenantId = 'acme' AND TraceId = '${t!.traceId}'`);
    expect(r?.Subject).toBe('carol');
    await send({ children: [t!] }); // a later piece: dropped
    expect(await rowsOf([t!])).toEqual({ spans: 0, logs: 0, prompts: 0 });
  });
});
