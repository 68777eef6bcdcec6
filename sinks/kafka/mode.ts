// The collector's Kafka mode (CONSENTRY_KAFKA_BROKERS set): the transport that
// produces every request's records, and the control channel that shares tier
// switches and tenants with the other instances. Built here, started by
// app/collector.ts.
import type { Registry } from 'prom-client';
import type { Settings } from '../../core/settings.ts';
import type { Logger } from '../../core/logger.ts';
import { createKafka, kafkaSettings } from './config.ts';
import { KafkaControl } from './control.ts';
import { KafkaTransport } from './transport.ts';

export interface CollectorKafka {
  transport: KafkaTransport;
  control: KafkaControl;
}

/** Builds the collector's Kafka parts; no I/O until their start(). */
export function createCollectorKafka(settings: Settings, logger: Logger, registry: Registry): CollectorKafka {
  const ks = kafkaSettings(settings, 'collector');
  const kafka = createKafka({ brokers: ks.brokers, clientId: ks.instanceId, logger });
  return {
    transport: new KafkaTransport({ kafka, settings: ks, logger, registry }),
    control: new KafkaControl({ kafka, settings: ks, logger, registry, role: 'collector' }),
  };
}
