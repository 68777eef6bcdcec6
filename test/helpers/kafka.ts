// KafkaSettings for the unit tests of the Kafka components (sinks/kafka/*.test.ts):
// topics under a prefix of their own, one partition, no compression.
import { randomUUID } from 'node:crypto';
import { topicNames, type KafkaSettings } from '../../sinks/kafka/config.ts';

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
