// The OTLP receivers alone (the HTTP one on a fastify instance that never
// listens, for app.inject), for tenant `t` under `full`, storing through
// `transport`.
import Fastify, { type FastifyInstance } from 'fastify';
import { otlpReceiver } from '../../collector/otlp/receiver.ts';
import { OtlpService } from '../../collector/otlp/service.ts';
import { ingestInline } from '../../collector/otlp/ingest.ts';
import { encodeRows } from '../../sinks/clickhouse/encode.ts';
import { Metrics } from '../../core/metrics.ts';
import { createLogger } from '../../core/logger.ts';
import type { Transport } from '../../storage/transport.ts';
import { builtinTierEngine } from './tier-engine.ts';

/** The export service both receivers share, over `transport`. */
export function receiverService(transport: Transport, tierVersion = 1): OtlpService {
  return new OtlpService({
    maxBodyBytes: 8 << 20,
    maxDecompressedBytes: 32 << 20,
    maxInflightBytes: 64 << 20,
    authenticate: () => 't',
    tierOf: () => ({ tier: 'full', version: tierVersion }),
    readsSpans: () => true,
    ingest: ingestInline({ engine: builtinTierEngine(), encodeRows }),
    transport,
    metrics: new Metrics(),
    logger: createLogger({ level: 'silent', scrub: (s) => s }),
  });
}

export async function receiverApp(transport: Transport, tierVersion = 1): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(otlpReceiver, { service: receiverService(transport, tierVersion) });
  return app;
}
