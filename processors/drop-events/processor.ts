// drop-events: drops log records and span events by event name, for tiers
// that want an instrumentation's events gone whatever they carry. A log
// record's event name is LogRecord.event_name, else its `event.name` or
// `event_name` attribute (eventNameOf); a span event's is its name. A name in
// `names` matches exactly, or as a prefix when it ends with `*`
// (`gen_ai.*`). Counts: drop-events.logs, drop-events.span-events.
import { Type } from '@sinclair/typebox';
import type { SpanRecord } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';
import { eventNameOf } from '../conventions/classify.ts';

export const dropEventsSchema = Type.Object(
  {
    names: Type.Array(Type.String({ minLength: 1, pattern: '^[^*]+\\*?$' }), {
      minItems: 1,
      uniqueItems: true,
      description: 'Event names dropped: exact, or a prefix ending with * (gen_ai.*). Required, not empty.',
    }),
  },
  { additionalProperties: false },
);

export const dropEvents = defineProcessor({
  name: 'drop-events',
  description: 'drops log records and span events by event name (exact, or a prefix ending with *)',
  schema: dropEventsSchema,
  create(config, env) {
    const exact = new Set(config.names.filter((n) => !n.endsWith('*')));
    const prefixes = config.names.filter((n) => n.endsWith('*')).map((n) => n.slice(0, -1));
    const matches = (name: string): boolean => {
      if (name === '') return false;
      if (exact.has(name)) return true;
      for (const p of prefixes) if (name.startsWith(p)) return true;
      return false;
    };
    return (batch) => {
      let spanEvents = 0;
      const span = (s: SpanRecord): SpanRecord => {
        if (s.events.length === 0) return s;
        const events = s.events.filter((e) => !matches(e.name));
        if (events.length === s.events.length) return s;
        spanEvents += s.events.length - events.length;
        return { ...s, events };
      };
      const logs = batch.logs.filter((l) => !matches(eventNameOf(l)));
      const out = { ...batch, spans: batch.spans.map(span), logs };
      if (logs.length < batch.logs.length) env.count('drop-events.logs', batch.logs.length - logs.length);
      if (spanEvents > 0) env.count('drop-events.span-events', spanEvents);
      return out;
    };
  },
});
