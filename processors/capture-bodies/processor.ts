// capture-bodies: caps request/response body attributes at `maxBytes` UTF-8
// bytes. A longer body is cut at the last whole character that fits and
// flagged: `<attr>.truncated` = "true", `<attr>.size` = original size in bytes
// (a size is not content). maxBytes 0 removes the body attribute; a non-empty
// one is flagged the same way, as a body cut to nothing.
// Applies to span and log attributes; log bodies (LogRecord.body) are not touched.
import { Type } from '@sinclair/typebox';
import type { Attributes, LogRecord, SpanRecord } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';

export const DEFAULT_MAX_BYTES = 16384;
/** 64 MiB: larger than any body an OTLP request can carry here; a higher value is a typo. */
export const MAX_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_BODY_ATTRIBUTES = ['gateway.request.body', 'gateway.response.body'];

export const captureBodiesSchema = Type.Object(
  {
    maxBytes: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_MAX_BYTES,
        default: DEFAULT_MAX_BYTES,
        description: 'Largest body kept, in UTF-8 bytes (at most 64 MiB); longer ones are cut and flagged. 0 removes bodies entirely. Default 16384.',
      }),
    ),
    attributes: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        uniqueItems: true,
        description: 'Attribute keys holding bodies. Default: [gateway.request.body, gateway.response.body]; empty: none (no-op).',
      }),
    ),
  },
  { additionalProperties: false },
);

export const captureBodies = defineProcessor({
  name: 'capture-bodies',
  description: 'caps request and response bodies at a size, flagging truncation; 0 removes them',
  schema: captureBodiesSchema,
  create(config, env) {
    const maxBytes = config.maxBytes ?? DEFAULT_MAX_BYTES;
    const keys = [...new Set(config.attributes ?? DEFAULT_BODY_ATTRIBUTES)];
    const encoder = new TextEncoder();
    // Scratch for encodeInto, allocated at the first cut and reused: a processor
    // runs synchronously, so calls never overlap.
    let scratch: Uint8Array | undefined;

    return (batch) => {
      if (keys.length === 0) return batch;
      let truncated = 0;
      let removed = 0;
      let bytesRemoved = 0;

      const cap = (attrs: Attributes): Attributes => {
        let out: Attributes | undefined;
        for (const key of keys) {
          const value = attrs[key];
          if (value === undefined) continue;
          // A UTF-16 code unit is at most 3 UTF-8 bytes (a surrogate pair is 4 for 2 units).
          if (maxBytes > 0 && value.length * 3 <= maxBytes) continue;
          const size = Buffer.byteLength(value, 'utf8');
          if (maxBytes > 0 && size <= maxBytes) continue;
          out ??= { ...attrs };
          let kept = 0;
          if (maxBytes === 0) {
            delete out[key];
            removed++;
            if (size === 0) continue;
          } else {
            // encodeInto writes whole characters only: `read` ends on a character boundary.
            scratch ??= new Uint8Array(maxBytes);
            const { read, written } = encoder.encodeInto(value, scratch);
            out[key] = value.slice(0, read);
            kept = written;
            truncated++;
          }
          out[`${key}.truncated`] = 'true';
          out[`${key}.size`] = String(size);
          bytesRemoved += size - kept;
        }
        return out ?? attrs;
      };

      const span = (s: SpanRecord): SpanRecord => {
        const attributes = cap(s.attributes);
        return attributes === s.attributes ? s : { ...s, attributes };
      };
      const log = (l: LogRecord): LogRecord => {
        const attributes = cap(l.attributes);
        return attributes === l.attributes ? l : { ...l, attributes };
      };
      const out = { ...batch, spans: batch.spans.map(span), logs: batch.logs.map(log) };
      if (truncated > 0) env.count('capture-bodies.truncated', truncated);
      if (removed > 0) env.count('capture-bodies.removed', removed);
      if (bytesRemoved > 0) env.count('capture-bodies.bytes-removed', bytesRemoved);
      return out;
    };
  },
});
