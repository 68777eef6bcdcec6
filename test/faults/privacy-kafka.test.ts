// Faults of the privacy operations through Kafka, every process real (a
// broker, the chdb HTTP server, a collector and a sink as processes):
// an erasure while the subject's split traces are still in Kafka, and a
// downgrade while records received under `full` are in Kafka or being
// inserted by the sink.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, until, type Proc } from '../kafka/processes.ts';
import { createTenant, post as postJson, startDeployment, type Deployment } from '../kafka/deployment.ts';
import { chunks, logsRequest, post, promptOf, splitTraces, tracesRequest, type SplitTrace } from './split-traces.ts';

let d: Deployment;
let collector: Proc & { otlpUrl: string; apiUrl: string };
let sink: Proc & { url: string };

beforeAll(async () => {
  d = await startDeployment({ prefix: 'privacy.', env: { CONSENTRY_TIER_SWITCH_TIMEOUT_MS: '3000' } });
  [collector, sink] = await Promise.all([d.collector(), d.sink()]);
}, 180_000);

afterAll(async () => {
  await d?.stop();
}, 120_000);

const count = async (sql: string): Promise<number> => Number((await d.rows<{ n: string }>(sql))[0]?.n ?? 0);
const caughtUp = () =>
  until('the sink caught up', async () => {
    const o = await d.offsets();
    return o.committed === o.end;
  }, 60_000);

async function rowsOf(tenant: string, traces: SplitTrace[]): Promise<{ spans: number; logs: number; prompts: number }> {
  const ids = traces.map((t) => `'${t.traceId}'`).join(',');
  return {
    spans: await count(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}' AND TraceId IN (${ids})`),
    logs: await count(`SELECT count() AS n FROM consentry.otel_logs WHERE TenantId = '${tenant}' AND TraceId IN (${ids})`),
    prompts: await count(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}' AND SpanAttributes['gateway.request.body'] IN (${traces.map((t) => `'${promptOf(t)}'`).join(',')})`),
  };
}

describe('erasure through Kafka', () => {
  it('removes whole traces whose pieces were still in Kafka, and drops later pieces', { timeout: 180_000 }, async () => {
    const tenant = 'kacme';
    const key = await createTenant(collector.apiUrl, tenant, 'full');
    const send = async (parts: { servers?: SplitTrace[]; children?: SplitTrace[] }) => {
      await post(collector.otlpUrl, key, 'traces', tracesRequest(parts));
      if (parts.children !== undefined) await post(collector.otlpUrl, key, 'logs', logsRequest(parts.children));
    };
    const all = splitTraces({ users: ['alice', 'bob'], perUser: 40, children: 2 });
    const alice = all.filter((t) => t.user === 'alice');
    const bob = all.filter((t) => t.user === 'bob');
    const stored = alice.slice(0, 10); // everything stored before the erasure
    const childrenQueued = alice.slice(10, 20); // SERVER span stored, children still in Kafka at the erasure
    const parentQueued = alice.slice(20, 30); // children and then the SERVER span still in Kafka at the erasure
    const late = alice.slice(30, 40); // SERVER span stored, children sent after the erasure

    for (const part of chunks([...stored, ...childrenQueued, ...late, ...bob], 10)) await send({ servers: part });
    for (const part of chunks([...stored, ...bob.slice(0, 20)], 10)) await send({ children: part });
    await caughtUp();
    expect(await rowsOf(tenant, stored)).toEqual({ spans: 30, logs: 10, prompts: 20 });

    // The sink stops: what is sent now waits in Kafka, received before the erasure.
    expect(await sink.stop()).toBe(0);
    for (const part of chunks([...childrenQueued, ...parentQueued, ...bob.slice(20)], 10)) await send({ children: part });
    for (const part of chunks(parentQueued, 5)) await send({ servers: part });
    const erased = await api(collector.apiUrl, 'DELETE', `/api/tenants/${tenant}/subjects/alice?reason=art.%2017`);
    expect(erased.status, JSON.stringify(erased.body)).toBe(200);

    sink = await d.sink();
    for (const part of chunks(late, 5)) await send({ children: part });
    await caughtUp();
    await new Promise((r) => setTimeout(r, 1500)); // the sink's deletes of traces it learned of

    const left = await rowsOf(tenant, alice);
     
    console.log(`Kafka: rows of erased traces left: ${JSON.stringify(left)}`);
    expect(left).toEqual({ spans: 0, logs: 0, prompts: 0 });
    expect(await rowsOf(tenant, bob)).toEqual({ spans: 120, logs: 40, prompts: 80 });
  });
});

describe('downgrade through Kafka', () => {
  /** Full spans with bodies from `senders` loops until stop(). */
  function generator(key: string, senders: number) {
    let running = true;
    let sent = 0;
    const loops = Array.from({ length: senders }, async () => {
      while (running) {
        const traces = splitTraces({ users: ['u'], perUser: 40, children: 2 });
        const r = await postJson(`${collector.otlpUrl}/v1/traces`, key, tracesRequest({ servers: traces, children: traces }));
        if (r.status === 200) sent++;
      }
    });
    return {
      sent: () => sent,
      async stop() {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  it('answers 200 only once the sinks write nothing more under full', { timeout: 240_000 }, async () => {
    const rounds: Array<{ atSwitch: number; after: number }> = [];
    // A flush in flight at the switch is a matter of timing: several rounds.
    for (let round = 0; round < 5; round++) {
      const tenant = `kdg${round}`;
      const key = await createTenant(collector.apiUrl, tenant, 'full');
      const gen = generator(key, 4);
      await new Promise((r) => setTimeout(r, 2000));
      const res = await api(collector.apiUrl, 'PUT', `/api/tenants/${tenant}/tier`, { tier: 'minimal', reason: 'consent withdrawn' });
      const atSwitch = await count(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}' AND Tier = 'full'`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      await new Promise((r) => setTimeout(r, 500));
      await gen.stop();
      expect(gen.sent()).toBeGreaterThan(0);
      await caughtUp();
      rounds.push({ atSwitch, after: await count(`SELECT count() AS n FROM consentry.otel_traces WHERE TenantId = '${tenant}' AND Tier = 'full'`) });
    }
     
    console.log(`Kafka: full spans at the 200 of full -> minimal, and once the sink caught up: ${JSON.stringify(rounds)}`);
    for (const r of rounds) expect(r.after - r.atSwitch, 'full spans written after the 200').toBe(0);
  });

  it('answers 503 TIER_SWITCH_PENDING naming a sink that does not confirm; the switch is in force', { timeout: 60_000 }, async () => {
    const tenant = 'kstuck';
    await createTenant(collector.apiUrl, tenant, 'full');
    // Still a member of the group (its session outlives the wait), but not answering.
    sink.child.kill('SIGSTOP');
    try {
      const res = await api(collector.apiUrl, 'PUT', `/api/tenants/${tenant}/tier`, { tier: 'minimal', reason: 'consent withdrawn' });
      expect([res.status, res.body.error]).toEqual([503, 'TIER_SWITCH_PENDING']);
      expect(res.body.message).toMatch(/^tier "minimal" is in force for data received from now on and audited, but sink sink-\S+ did not confirm within 3000 ms \(CONSENTRY_TIER_SWITCH_TIMEOUT_MS\)/);
      expect((await api(collector.apiUrl, 'GET', `/api/tenants/${tenant}/tier`)).body.tier).toBe('minimal');
    } finally {
      sink.child.kill('SIGCONT');
    }
    // Once the sink answers again, a switch is confirmed.
    await until('a switch confirmed again', async () => (await api(collector.apiUrl, 'PUT', `/api/tenants/${tenant}/tier`, { tier: 'lunar-oss', reason: 'again' })).status === 200, 30_000, 500);
  });
});
