// The built-in tiers and presets, compiled as the collector compiles them, with
// a fixed HMAC key: for tests that apply tiers without starting Consentry.
import { BUILTIN_PROCESSORS } from '../../processors/builtin.ts';
import { scrubSecretsProcessor } from '../../processors/scrub-secrets/processor.ts';
import { loadTierFiles } from '../../processors/tiers/config.ts';
import { TierEngine } from '../../processors/tiers/engine.ts';
import { TIER_DIRS } from '../../app/pipeline.ts';

export function builtinTierEngine(): TierEngine {
  return new TierEngine({
    tiers: loadTierFiles(TIER_DIRS, BUILTIN_PROCESSORS),
    factories: BUILTIN_PROCESSORS,
    env: { hmacKey: Buffer.alloc(32, 7), count: () => undefined },
    scrub: scrubSecretsProcessor(),
  });
}
