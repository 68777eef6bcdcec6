// drop-request-logs: for tiers that keep nothing per request (minimal, summary
// and the presets built on them). Instrumentation emits per-call log records
// (GenAI events such as gen_ai.user.message and gen_ai.choice: one or more
// rows per LLM call); stored one per call, they would be a per-request count
// these tiers promise not to keep, whatever their body. A log record is
// per-request instrumentation data, and dropped (counted as
// drop-request-logs.logs), when
//   - it has an event name (LogRecord.event_name, or an `event.name` /
//     `event_name` attribute) that is not in `keepEvents`; or
//   - it carries an LLM attribute of the conventions (content, or metadata
//     such as gen_ai.system, llm.model_name), whatever its event name.
// Plain log lines (no event name, no LLM attribute) stay: the gateway's own
// logs, errors and warnings, which these tiers keep (policy 000); their trace
// context is cleared by strip-trace-context and their body PII-masked.
import { Type } from '@sinclair/typebox';
import { defineProcessor } from '../processor.ts';
import { eventNameOf, hasLlmAttributes } from '../conventions/classify.ts';

export const dropRequestLogsSchema = Type.Object(
  {
    keepEvents: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        uniqueItems: true,
        description:
          'Names of operational events that are not per request (proxy.started, config.reloaded), kept. Default and empty: none; gateway.metadata is taken out before any tier step. A record with LLM attributes is dropped whatever its name.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const dropRequestLogs = defineProcessor({
  name: 'drop-request-logs',
  description: 'drops per-request instrumentation log records (events not listed as operational, records with LLM attributes)',
  schema: dropRequestLogsSchema,
  create(config, env) {
    const keep = new Set(config.keepEvents ?? []);
    return (batch) => {
      if (batch.logs.length === 0) return batch;
      const logs = batch.logs.filter((l) => {
        const name = eventNameOf(l);
        return (name === '' || keep.has(name)) && !hasLlmAttributes(l.attributes);
      });
      if (logs.length === batch.logs.length) return batch;
      env.count('drop-request-logs.logs', batch.logs.length - logs.length);
      return { ...batch, logs };
    };
  },
});
