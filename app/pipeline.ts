// The parts of an instance that the collector (consentry.ts) and the sink
// process (app/sink.ts) build the same way: the tier engine with its
// processors, the deployment's HMAC key, and the downgrade check.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Settings } from '../core/settings.ts';
import type { TierRegistry } from '../control/tier-registry.ts';
import { BUILTIN_PROCESSORS } from '../processors/builtin.ts';
import { scrubSecretsProcessor } from '../processors/scrub-secrets/processor.ts';
import { loadSecretRulesFile, type SecretRules } from '../processors/scrub-secrets/rules-file.ts';
import { loadTierFiles } from '../processors/tiers/config.ts';
import { TierEngine, type EngineHooks } from '../processors/tiers/engine.ts';
import { loadPriceTable } from '../processors/cost/prices.ts';
import type { BatchContext, RecordBatch } from '../core/record.ts';

export const TIER_DIRS = [fileURLToPath(new URL('../processors/tiers/builtin/', import.meta.url)), fileURLToPath(new URL('../processors/tiers/presets/', import.meta.url))];

/**
 * The per-deployment HMAC key (API-key hashes): CONSENTRY_HMAC_KEY when set (the
 * same on every instance), otherwise generated once into <data>/hmac-key.
 */
export function hmacKey(settings: Pick<Settings, 'dataDir' | 'hmacKey'>): Buffer {
  if (settings.hmacKey !== '') return Buffer.from(settings.hmacKey, 'base64');
  const file = join(settings.dataDir, 'hmac-key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  mkdirSync(settings.dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600 });
  return key;
}

/** The scrubber's extensions from CONSENTRY_SECRET_RULES_FILE (none when unset); a ConfigError names the file and line of every problem. */
export function secretRules(settings: Pick<Settings, 'secretRulesFile'>): SecretRules {
  return settings.secretRulesFile === '' ? {} : loadSecretRulesFile(settings.secretRulesFile);
}

/** Loads every tier (built-in, presets, CONSENTRY_TIERS_DIR) and the price table, and compiles them; checks the default tier. */
export function buildTierEngine(settings: Settings, hooks: EngineHooks): TierEngine {
  const engine = new TierEngine({
    tiers: loadTierFiles(settings.tiersDir === '' ? TIER_DIRS : [...TIER_DIRS, settings.tiersDir], BUILTIN_PROCESSORS),
    factories: BUILTIN_PROCESSORS,
    env: { hmacKey: hmacKey(settings), count: (name, n) => hooks.count(name, n), prices: loadPriceTable(settings.pricesFile) },
    scrub: scrubSecretsProcessor({ ...secretRules(settings), onRedact: (kind, n) => hooks.onRedact(kind, n) }),
    onDrop: (signal, tier, n) => hooks.onDrop(signal, tier, n),
  });
  if (engine.get(settings.defaultTier) === undefined) {
    throw new Error(`CONSENTRY_DEFAULT_TIER: unknown tier "${settings.defaultTier}"; one of ${engine.names().join(', ')}`);
  }
  return engine;
}

/**
 * The downgrade check (DESIGN.md, Tiers): a batch processed under a tier more
 * permissive than the tenant's tier now is reduced to the current one before
 * it is written. Undefined when the tenant is unknown here (deleted, or not
 * heard of yet): the caller decides.
 */
export function reduceToCurrent(engine: TierEngine, registry: TierRegistry) {
  return (batch: RecordBatch, ctx: BatchContext): { batch: RecordBatch; ctx: BatchContext } | undefined => {
    const current = registry.current(ctx.tenantId);
    return current === undefined ? undefined : engine.reduce(batch, ctx, current);
  };
}
