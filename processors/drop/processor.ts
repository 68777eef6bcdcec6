// drop: removes whole record kinds from the batch (the minimal tier drops spans
// before anything counts them per tenant or endpoint). The tier engine counts
// the records removed per signal; this processor counts them too, by kind.
import { Type } from '@sinclair/typebox';
import { RECORD_KINDS } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';

export const dropSchema = Type.Object(
  {
    signals: Type.Array(Type.Union(RECORD_KINDS.map((s) => Type.Literal(s))), {
      minItems: 1,
      uniqueItems: true,
      description: 'Record kinds removed entirely: spans, logs, summaries, metadata. Required, not empty.',
    }),
  },
  { additionalProperties: false },
);

export const drop = defineProcessor({
  name: 'drop',
  description: 'removes whole record kinds (spans, logs, summaries, metadata)',
  schema: dropSchema,
  create(config, env) {
    const signals = [...new Set(config.signals)];
    return (batch) => {
      const out = { ...batch };
      for (const s of signals) {
        if (batch[s].length === 0) continue;
        env.count(`drop.${s}`, batch[s].length);
        out[s] = [];
      }
      return out;
    };
  },
  spanReads: (config) => (config.signals.includes('spans') ? { spans: false, events: false, links: false } : undefined),
});
