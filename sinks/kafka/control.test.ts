// The Kafka control channel on a real broker (scripts/kafka): tier
// assignments reach the other instances' registries in version order and
// never come back to their sender, tombstones forget a tenant, a new instance
// reads the compacted history, unreadable records are skipped, tenant notices
// reload tenants (again while a new one is not visible yet), sinks' confirmations
// release a collector's downgrade, and a missing one names the sink.
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaBroker } from '../../scripts/kafka/broker.ts';
import { testKafkaSettings } from '../../test/helpers/kafka.ts';
import { until } from '../../test/kafka/processes.ts';
import { createLogger } from '../../core/logger.ts';
import { TierRegistry, type Assignment } from '../../control/tier-registry.ts';
import { createKafka, topicNames } from './config.ts';
import { KafkaControl, type ControlTargets } from './control.ts';

let broker: KafkaBroker;
let producer: Producer;
const logger = createLogger({ level: 'silent', scrub: (s) => s });
const plain = () => new Kafka({ clientId: 'control-test', brokers: [broker.brokers], logLevel: logLevel.NOTHING });

beforeAll(async () => {
  broker = await startKafka({ onProgress: () => undefined });
  producer = plain().producer();
  await producer.connect();
}, 180_000);

afterAll(async () => {
  await producer?.disconnect();
  await broker?.stop();
}, 60_000);

const started: Array<{ shutdown(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.shutdown()));
});

/** Fresh topics per test; instances on them. */
function channel() {
  const prefix = `k${randomUUID().slice(0, 8)}.`;
  const settings = (instanceId: string) => testKafkaSettings(broker.brokers, instanceId, prefix);
  return {
    topics: topicNames(prefix),
    sinkGroup: `${prefix}sinks`,
    /** An instance's control channel, with a registry of its own (its ClickHouse client only counts refreshes). */
    async instance(instanceId: string, role: 'collector' | 'sink', extra: Partial<ControlTargets> = {}, refreshMs = 3_600_000) {
      let refreshes = 0;
      const client = {
        query: () => {
          refreshes++;
          return Promise.reject(new Error('no ClickHouse in this test'));
        },
      } as unknown as ClickHouseClient;
      const registry = new TierRegistry({ client });
      const control = new KafkaControl({ kafka: createKafka({ brokers: [broker.brokers], clientId: instanceId, logger }), settings: settings(instanceId), logger, role });
      started.push(control);
      await control.start({ registry, ...extra }, refreshMs);
      return { control, registry, refreshes: () => refreshes };
    },
    /** A control record as another (or a future) version would write it. */
    async raw(topic: string, key: string, value: string | null): Promise<void> {
      await producer.send({ topic, acks: -1, messages: [{ key, value }] });
    },
  };
}

const assignment = (tenantId: string, tier: string, version: number): Assignment => ({ tenantId, tier, version, effectiveAt: 1_700_000_000_000 + version, until: undefined, priorTier: 'minimal', reason: `to ${tier}`, actor: 'admin' });

describe('Kafka control channel', () => {
  it('shutdown without start resolves, twice', async () => {
    const control = new KafkaControl({ kafka: createKafka({ brokers: [broker.brokers], clientId: 'idle', logger }), settings: testKafkaSettings(broker.brokers, 'idle'), logger, role: 'collector' });
    await control.shutdown();
    await control.shutdown();
    expect(control.ready()).toBe(false);
  });

  it('start, publish, shutdown: an assignment reaches the other instances, newer versions only, never its sender', { timeout: 60_000 }, async () => {
    const ch = channel();
    const a = await ch.instance('collector-a', 'collector');
    const b = await ch.instance('collector-b', 'collector');
    expect([a.control.ready(), b.control.ready()]).toEqual([true, true]);
    await a.control.publishAssignment(assignment('t1', 'full', 20));
    await until('b applied v20', () => b.registry.current('t1')?.version === 20);
    expect(b.registry.get('t1')).toEqual(assignment('t1', 'full', 20));
    // Older versions (a replay, a reordering) change nothing.
    await a.control.publishAssignment(assignment('t1', 'summary', 10));
    await a.control.publishAssignment(assignment('t1', 'minimal', 30));
    await until('b applied v30', () => b.registry.current('t1')?.version === 30);
    expect(b.registry.current('t1')).toEqual({ tier: 'minimal', version: 30 });
    expect(a.registry.current('t1'), 'the sender applies its own change itself, not from the topic').toBeUndefined();
    await b.control.shutdown();
    expect(b.control.ready()).toBe(false);
    await b.control.shutdown();
  });

  it('a tombstone forgets the tenant; a new instance reads the latest state from the beginning', { timeout: 60_000 }, async () => {
    const ch = channel();
    const a = await ch.instance('collector-a', 'collector');
    const b = await ch.instance('collector-b', 'collector');
    await a.control.publishAssignment(assignment('gone', 'full', 1));
    await a.control.publishAssignment(assignment('kept', 'full', 1));
    await a.control.publishAssignment(assignment('kept', 'summary', 2));
    await until('b has both', () => b.registry.current('gone') !== undefined && b.registry.current('kept')?.version === 2);
    await a.control.publishForget('gone');
    await until('b forgot', () => b.registry.current('gone') === undefined);
    const c = await ch.instance('collector-c', 'collector');
    await until('c read the history', () => c.registry.current('kept')?.version === 2);
    expect(c.registry.current('gone')).toBeUndefined();
  });

  it('skips records it cannot read and goes on', { timeout: 60_000 }, async () => {
    const ch = channel();
    const b = await ch.instance('collector-b', 'collector');
    await ch.raw(ch.topics.tiers, 'x', 'not json');
    await ch.raw(ch.topics.tiers, 'y', JSON.stringify({ ...assignment('y', 'full', 5), v: 2, publishedAtMs: Date.now() }));
    await ch.raw(ch.topics.tiers, 'z', JSON.stringify({ ...assignment('z', 'full', 5), v: 1, until: null, publishedAtMs: Date.now() }));
    await until('z applied', () => b.registry.current('z') !== undefined);
    expect([b.registry.current('x'), b.registry.current('y')]).toEqual([undefined, undefined]);
  });

  it('tenant notices make the other collectors reload tenants, again while a new tenant is not visible yet', { timeout: 60_000 }, async () => {
    const ch = channel();
    const visible = new Set<string>();
    let loads = 0;
    const tenants = {
      load: () => {
        loads++;
        if (loads === 3) visible.add('new'); // replica lag: the third read sees it
        return Promise.resolve();
      },
      get: (id: string) => (visible.has(id) ? { id } : undefined),
    };
    let ownLoads = 0;
    const a = await ch.instance('collector-a', 'collector', { tenants: { load: () => (ownLoads++, Promise.resolve()), get: () => undefined } });
    await ch.instance('collector-b', 'collector', { tenants });
    await a.control.publishTenant('new', false);
    await until('reloaded until visible', () => visible.has('new'));
    await new Promise((r) => setTimeout(r, 300));
    expect(loads).toBe(3);
    expect(ownLoads, 'an instance ignores its own notices').toBe(0);
  });

  it("re-reads tier assignments from ClickHouse every refreshMs (the safety net for a lost broadcast)", { timeout: 60_000 }, async () => {
    const ch = channel();
    const a = await ch.instance('collector-a', 'collector', {}, 50);
    await until('two refreshes', () => a.refreshes() >= 2);
    await a.control.shutdown();
    const after = a.refreshes();
    await new Promise((r) => setTimeout(r, 200));
    expect(a.refreshes()).toBe(after);
  });

  describe('confirmations', () => {
    /** A member of the sink consumer group with this client id, as a sink process is. */
    async function sinkMember(ch: ReturnType<typeof channel>, clientId: string): Promise<Consumer> {
      const consumer = new Kafka({ clientId, brokers: [broker.brokers], logLevel: logLevel.NOTHING }).consumer({ groupId: ch.sinkGroup, maxWaitTimeInMs: 100 });
      let joined = false;
      consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
      await consumer.connect();
      await consumer.subscribe({ topic: ch.topics.spans, fromBeginning: true });
      await consumer.run({ eachMessage: () => Promise.resolve() });
      started.push({ shutdown: () => consumer.disconnect() });
      await until('sink member joined', () => joined);
      return consumer;
    }

    it('with no sink running there is nothing to wait for', { timeout: 60_000 }, async () => {
      const ch = channel();
      const collector = await ch.instance('collector-a', 'collector');
      await collector.control.awaitApplied('t', 7, 5000);
    });

    it("a collector's wait ends when every sink confirmed the version or a newer one; older confirmations do not count", { timeout: 90_000 }, async () => {
      const ch = channel();
      const applied: Array<[string, number]> = [];
      const collector = await ch.instance('collector-a', 'collector');
      const sink1 = await ch.instance('sink-1', 'sink', { onApplied: (t, v) => applied.push([t, v]) });
      const sink2 = await ch.instance('sink-2', 'sink');
      await sinkMember(ch, 'sink-1');
      await sinkMember(ch, 'sink-2');

      let done = false;
      const wait = collector.control.awaitApplied('t', 7, 20_000).then(() => (done = true));
      // The sink hears of the change and is asked to confirm it.
      await collector.control.publishAssignment(assignment('t', 'minimal', 7));
      await until('sink-1 told', () => applied.length > 0);
      expect(applied).toEqual([['t', 7]]);
      await sink1.control.publishApplied('t', 7);
      await sink2.control.publishApplied('t', 6);
      await new Promise((r) => setTimeout(r, 500));
      expect(done).toBe(false);
      await sink2.control.publishApplied('t', 8);
      await wait;
      // A confirmation of an older version arriving late does not undo the newer one.
      await sink2.control.publishApplied('t', 6);
      await sink1.control.publishApplied('t', 9);
      await collector.control.awaitApplied('t', 8, 10_000);
    });

    it('a sink that does not confirm in time is named', { timeout: 90_000 }, async () => {
      const ch = channel();
      const collector = await ch.instance('collector-a', 'collector');
      const sink1 = await ch.instance('sink-1', 'sink');
      await sinkMember(ch, 'sink-1');
      await sinkMember(ch, 'sink-2');
      await sink1.control.publishApplied('t', 3);
      await expect(collector.control.awaitApplied('t', 3, 1000)).rejects.toThrow('sink sink-2 did not confirm within 1000 ms (CONSENTRY_TIER_SWITCH_TIMEOUT_MS)');
    });

    it('old assignments read at start are not confirmed again', { timeout: 60_000 }, async () => {
      const ch = channel();
      await ch.instance('collector-a', 'collector'); // creates the topics
      await ch.raw(ch.topics.tiers, 'old', JSON.stringify({ ...assignment('old', 'full', 1), v: 1, until: null, publishedAtMs: Date.now() - 60 * 60_000 }));
      await ch.raw(ch.topics.tiers, 'fresh', JSON.stringify({ ...assignment('fresh', 'full', 1), v: 1, until: null, publishedAtMs: Date.now() }));
      const applied: string[] = [];
      const sink = await ch.instance('sink-1', 'sink', { onApplied: (t) => applied.push(t) });
      await until('both applied', () => sink.registry.current('old') !== undefined && sink.registry.current('fresh') !== undefined);
      expect(applied).toEqual(['fresh']);
    });
  });
});
