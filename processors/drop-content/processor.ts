// drop-content: removes LLM content wherever it arrives, as the content table
// (processors/conventions/content.ts) describes it, for tiers that promise no
// content (prompts, completions, messages, tool arguments, documents, bodies,
// captured headers):
//   spans      content attributes removed; GenAI events (gen_ai.content.prompt,
//              gen_ai.choice, ...) removed whole; other events lose their
//              content attributes
//   logs       GenAI event records (by event name: LogRecord.event_name, or an
//              `event.name` / `event_name` attribute) dropped whole; content
//              attributes removed; and the body of any other instrumentation
//              record (one with an event name, or with LLM attributes) cleared
//              unless its event name is in `keepBodies`: an event body nobody
//              described as content-free is treated as content (fail closed).
//              Plain log lines (no event name, no LLM attribute) keep their
//              body: the gateway's own logs, scrubbed and PII-masked by the
//              tier's other steps.
// Counts: drop-content.attributes, drop-content.span-events, drop-content.logs,
// drop-content.bodies (never the values).
import { Type } from '@sinclair/typebox';
import type { LogRecord, SpanEvent, SpanRecord } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';
import { eventNameOf, isContentBody, isLlmEvent, withoutContent } from '../conventions/classify.ts';

export const dropContentSchema = Type.Object(
  {
    keepBodies: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        uniqueItems: true,
        description:
          'Event names whose log body is known to hold no content, kept (an operational event such as proxy.started). Default and empty: none. GenAI events are dropped whatever this says.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const dropContent = defineProcessor({
  name: 'drop-content',
  description: 'removes LLM content (prompts, completions, messages, bodies, headers) from span attributes, span events and logs, by the content table',
  schema: dropContentSchema,
  create(config, env) {
    const keepBodies = new Set(config.keepBodies ?? []);
    return (batch) => {
      const removed = { n: 0 };
      let spanEvents = 0;
      let logs = 0;
      let bodies = 0;

      const event = (e: SpanEvent): SpanEvent => {
        const attributes = withoutContent(e.attributes, removed);
        return attributes === e.attributes ? e : { ...e, attributes };
      };
      const span = (s: SpanRecord): SpanRecord => {
        const attributes = withoutContent(s.attributes, removed);
        let events = s.events;
        if (events.length > 0) {
          const kept: SpanEvent[] = [];
          let changed = false;
          for (const e of events) {
            if (isLlmEvent(e.name)) {
              spanEvents++;
              changed = true;
              continue;
            }
            const after = event(e);
            if (after !== e) changed = true;
            kept.push(after);
          }
          if (changed) events = kept;
        }
        return attributes === s.attributes && events === s.events ? s : { ...s, attributes, events };
      };

      const outLogs: LogRecord[] = [];
      for (const l of batch.logs) {
        const name = eventNameOf(l);
        if (isLlmEvent(name)) {
          logs++;
          continue;
        }
        const clear = isContentBody(l, name) && !keepBodies.has(name);
        const attributes = withoutContent(l.attributes, removed);
        if (clear) bodies++;
        outLogs.push(attributes === l.attributes && !clear ? l : { ...l, attributes, body: clear ? '' : l.body });
      }

      const out = { ...batch, spans: batch.spans.map(span), logs: outLogs };
      if (removed.n > 0) env.count('drop-content.attributes', removed.n);
      if (spanEvents > 0) env.count('drop-content.span-events', spanEvents);
      if (logs > 0) env.count('drop-content.logs', logs);
      if (bodies > 0) env.count('drop-content.bodies', bodies);
      return out;
    };
  },
});
