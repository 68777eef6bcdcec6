// KafkaSettings for the unit tests of the Kafka components (sinks/kafka/*.test.ts):
// topics under a prefix of their own, one partition, no compression; and the
// clients a test writes records and reads offsets with.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Admin, type Producer, type ProducerConfig } from 'kafkajs';
import { topicNames, type KafkaSettings } from '../../sinks/kafka/config.ts';

/**
 * A test's own Kafka clients on `brokers`, connected: an admin and an
 * idempotent producer (a produce retried on a busy machine never puts a
 * record in twice, so what a sink writes can be counted exactly).
 */
export async function connectTestClients(brokers: string, clientId: string, producerConfig: ProducerConfig = {}): Promise<{ kafka: Kafka; admin: Admin; producer: Producer }> {
  const kafka = new Kafka({ clientId, brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ ...producerConfig, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return { kafka, admin, producer };
}

/** Settings on `brokers`; `prefix` defaults to a fresh one, so each caller has topics and a sink group of its own. */
export function testKafkaSettings(brokers: string, instanceId: string, prefix = `t${randomUUID().slice(0, 8)}.`): KafkaSettings {
  return {
    brokers: [brokers],
    topics: topicNames(prefix),
    partitions: 1,
    replicationFactor: 0,
    retentionMs: 3_600_000,
    sendTimeoutMs: 5000,
    maxPendingBytes: 1 << 20,
    compression: 'none',
    instanceId,
    sinkGroup: `${prefix}sinks`,
  };
}
