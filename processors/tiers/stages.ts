// The stages every tier runs, whatever its steps, in this order: one list.
// A tier configures them through its own properties, never by naming them as
// steps (a tier file that does is refused with the file and line: a step
// would run in the wrong place, or be overridden by the stage, as a
// `retention` step was by the retention stage).
import type { ProcessorFactory } from '../processor.ts';
import { gatewayMetadata } from '../gateway-metadata/processor.ts';
import { hashApiKeys } from '../hash-api-keys/processor.ts';
import { retention } from '../retention/processor.ts';

export interface FixedStage {
  name: string;
  /** The tier property that configures it; undefined: it runs in every tier as it is. */
  setBy: string | undefined;
  /** Whether it runs before the tier's span and log steps, or after them. */
  at: 'before steps' | 'after steps';
  /** Its processor, where it is one of ours (the secret scrubber is given to the engine). */
  factory?: ProcessorFactory;
}

export const FIXED_STAGES: readonly FixedStage[] = [
  { name: 'gateway-metadata', setBy: 'environmentAllowList', at: 'before steps', factory: gatewayMetadata },
  // Must see the raw header, before the scrubber replaces it.
  { name: 'hash-api-keys', setBy: 'hashApiKeys', at: 'before steps', factory: hashApiKeys },
  { name: 'scrub-secrets', setBy: undefined, at: 'before steps' },
  // On the call spans a tier kept, from the price table (CONSENTRY_PRICES_FILE): the same in every tier.
  { name: 'cost', setBy: undefined, at: 'after steps' },
  { name: 'retention', setBy: 'retentionDays', at: 'after steps', factory: retention },
];

/** Why a tier may not name `name` as a step, or undefined when it may. */
export function fixedStageProblem(name: string): string | undefined {
  const stage = FIXED_STAGES.find((s) => s.name === name);
  if (stage === undefined) return undefined;
  return `"${name}" is a stage every tier runs, not a step: ${stage.setBy === undefined ? 'it cannot be configured away' : `set the tier's \`${stage.setBy}\` instead`}`;
}
