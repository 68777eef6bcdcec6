// Gateway metadata, kept in every tier: a log record with attribute
// `event.name` = `gateway.metadata` is turned into a GatewayMetadataRecord
// (version, instance, uptime, unexpected restarts, allow-listed environment
// variables, policy config snapshot) and leaves the log stream.
//
// Convention (README, Gateway conventions): resource `service.name`,
// `service.version`, `service.instance.id`; log attributes
// `gateway.uptime_seconds`, `gateway.unexpected_restarts`,
// `gateway.env.<NAME>` (one per variable), `gateway.policy_config`.
import { Type } from '@sinclair/typebox';
import type { Attributes, GatewayMetadataRecord, LogRecord } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';

export const METADATA_EVENT = 'gateway.metadata';
const ENV_PREFIX = 'gateway.env.';

/** Variables a gateway commonly reports that carry no secret. */
export const DEFAULT_ENVIRONMENT_ALLOW_LIST = [
  'LUNAR_VERSION',
  'LUNAR_PROXY_HOST',
  'LUNAR_HEALTHCHECK_PORT',
  'LUNAR_PROXY_CONFIG_DIR',
  'GATEWAY_VERSION',
  'GATEWAY_REGION',
  'LOG_LEVEL',
  'NODE_ENV',
  'ENV',
  'ENVIRONMENT',
  'TZ',
  'HOSTNAME',
];

export const gatewayMetadata = defineProcessor({
  name: 'gateway-metadata',
  description: 'turns gateway metadata logs into gateway_metadata rows, keeping only allow-listed environment variables',
  schema: Type.Object(
    {
      /** Variable names to keep; empty keeps none (fail closed). Default: DEFAULT_ENVIRONMENT_ALLOW_LIST. */
      environmentAllowList: Type.Optional(Type.Array(Type.String())),
    },
    { additionalProperties: false },
  ),
  create(config, env) {
    const allow = new Set(config.environmentAllowList ?? DEFAULT_ENVIRONMENT_ALLOW_LIST);
    const toMetadata = (log: LogRecord): GatewayMetadataRecord => {
      const environment: Attributes = {};
      let dropped = 0;
      for (const [k, v] of Object.entries(log.attributes)) {
        if (!k.startsWith(ENV_PREFIX)) continue;
        const name = k.slice(ENV_PREFIX.length);
        if (allow.has(name)) environment[name] = v;
        else dropped++;
      }
      if (dropped > 0) env.count('environment-variable', dropped);
      const r = log.resource.attributes;
      return {
        timeUnixNano: log.timeUnixNano,
        serviceName: r['service.name'] ?? '',
        serviceVersion: r['service.version'] ?? '',
        instanceId: r['service.instance.id'] ?? '',
        uptimeSeconds: toNumber(log.attributes['gateway.uptime_seconds']),
        unexpectedRestarts: toNumber(log.attributes['gateway.unexpected_restarts']),
        environment,
        policyConfig: log.attributes['gateway.policy_config'] ?? '',
      };
    };
    return (batch) => {
      if (!batch.logs.some(isMetadata)) return batch;
      return {
        ...batch,
        logs: batch.logs.filter((l) => !isMetadata(l)),
        metadata: [...batch.metadata, ...batch.logs.filter(isMetadata).map(toMetadata)],
      };
    };
  },
});

function isMetadata(log: LogRecord): boolean {
  return log.attributes['event.name'] === METADATA_EVENT;
}

function toNumber(v: string | undefined): number {
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}
