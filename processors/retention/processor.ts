// retention: sets how long a batch's rows are kept, counted from receipt
// (ctx.receivedAtMs, not the records' own timestamps, which a sender controls):
// batch.expireAt = floor(receivedAtMs / 1000) + days * 86400. Storage turns it
// into the row TTL on ExpireAt. null or absent keeps rows without expiry
// (expireAt unset, also when an earlier step had set it).
import { Type } from '@sinclair/typebox';
import type { RecordBatch } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';

export const MAX_RETENTION_DAYS = 36500;
const SECONDS_PER_DAY = 86400;

export const retentionSchema = Type.Object(
  {
    days: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1, maximum: MAX_RETENTION_DAYS }), Type.Null()], {
        description: 'Days rows are kept after receipt, a whole number from 1 to 36500. null or absent: kept without expiry.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const retention = defineProcessor({
  name: 'retention',
  description: 'sets when rows expire, counted in days from receipt; none keeps them',
  schema: retentionSchema,
  create(config) {
    const days = config.days ?? null;
    if (days === null) {
      return (batch) => {
        if (batch.expireAt === undefined) return batch;
        const { expireAt: _unset, ...rest } = batch;
        return rest satisfies RecordBatch;
      };
    }
    // Validation rejects anything else first; this keeps `create` safe without it.
    if (!Number.isInteger(days) || days < 1 || days > MAX_RETENTION_DAYS) {
      throw new Error(`retention: days must be a whole number from 1 to ${MAX_RETENTION_DAYS}`);
    }
    const ttl = days * SECONDS_PER_DAY;
    return (batch, ctx) => ({ ...batch, expireAt: Math.floor(ctx.receivedAtMs / 1000) + ttl });
  },
});
