// strip-trace-context: clears trace id, span id and trace flags on logs, so
// logs kept by the minimal and summary tiers cannot be joined to requests.
// Spans are left alone (a span without ids is no span; tiers drop them instead).
import { Type } from '@sinclair/typebox';
import type { LogRecord } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';

export const stripTraceContextSchema = Type.Object({}, { additionalProperties: false, description: 'No settings.' });

export const stripTraceContext = defineProcessor({
  name: 'strip-trace-context',
  description: 'clears trace and span ids on logs so they cannot be joined to requests',
  schema: stripTraceContextSchema,
  create(_config, env) {
    return (batch) => {
      let stripped = 0;
      const log = (l: LogRecord): LogRecord => {
        if (l.traceId === '' && l.spanId === '' && l.flags === 0) return l;
        stripped++;
        return { ...l, traceId: '', spanId: '', flags: 0 };
      };
      const out = { ...batch, logs: batch.logs.map(log) };
      if (stripped > 0) env.count('strip-trace-context.logs', stripped);
      return out;
    };
  },
});
