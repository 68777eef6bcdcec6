// retention: sets how long a batch's rows, and their content, are kept,
// counted from receipt (ctx.receivedAtMs, not the records' own timestamps,
// which a sender controls):
//   batch.expireAt = floor(receivedAtMs / 1000) + days * 86400
//   batch.contentExpireAt = the start (00:00 UTC) of the day contentDays after
//     receipt: content is kept at most contentDays days, and rows received on
//     one day lose their content at one instant, so ClickHouse rewrites each
//     day's parts once to remove it (a TTL merge), not every few hours.
// Storage turns them into the row TTL on ExpireAt and the column TTLs on
// ContentExpireAt (storage/sql/010_content_retention.sql). days null or
// absent keeps rows without expiry (expireAt unset, also when an earlier step
// had set it); contentDays null or absent keeps content as long as its row
// (contentExpireAt unset).
import { Type } from '@sinclair/typebox';
import type { RecordBatch } from '../../core/record.ts';
import { defineProcessor } from '../processor.ts';

export const MAX_RETENTION_DAYS = 36500;
const SECONDS_PER_DAY = 86400;

const days = (what: string) =>
  Type.Optional(
    Type.Union([Type.Integer({ minimum: 1, maximum: MAX_RETENTION_DAYS }), Type.Null()], {
      description: `Days ${what} after receipt, a whole number from 1 to ${MAX_RETENTION_DAYS}.`,
    }),
  );

export const retentionSchema = Type.Object(
  {
    days: days('rows are kept; null or absent: kept without expiry'),
    contentDays: days('content (bodies, prompts, completions, headers) is kept, at most days; null or absent: as long as the row'),
  },
  { additionalProperties: false },
);

/** What is wrong with a retention config, or undefined: days and contentDays in range, content no longer than rows. */
export function retentionProblem(config: { days?: number | null; contentDays?: number | null }, names = { days: 'days', contentDays: 'contentDays' }): string | undefined {
  for (const key of ['days', 'contentDays'] as const) {
    const v = config[key];
    if (v !== undefined && v !== null && (!Number.isInteger(v) || v < 1 || v > MAX_RETENTION_DAYS)) return `${names[key]} must be a whole number from 1 to ${MAX_RETENTION_DAYS}`;
  }
  const { days: rows, contentDays: content } = config;
  if (content !== undefined && content !== null && rows !== undefined && rows !== null && content > rows) {
    return `${names.contentDays} (${content}) is longer than ${names.days} (${rows}): content cannot outlive its row`;
  }
  return undefined;
}

/** When content received at `receivedAtMs` expires with `contentDays`: the start of the UTC day that many days later, Unix seconds. */
export function contentExpiry(receivedAtMs: number, contentDays: number): number {
  const end = Math.floor(receivedAtMs / 1000) + contentDays * SECONDS_PER_DAY;
  return end - (end % SECONDS_PER_DAY);
}

export const retention = defineProcessor({
  name: 'retention',
  description: 'sets when rows and their content expire, counted in days from receipt; none keeps them',
  schema: retentionSchema,
  create(config) {
    // Validation rejects these first; this keeps `create` safe without it.
    const problem = retentionProblem(config);
    if (problem !== undefined) throw new Error(`retention: ${problem}`);
    const rowSeconds = config.days === undefined || config.days === null ? undefined : config.days * SECONDS_PER_DAY;
    const contentDays = config.contentDays ?? undefined;
    return (batch, ctx) => {
      const { expireAt: _rows, contentExpireAt: _content, ...rest } = batch;
      const out: RecordBatch = rest;
      if (rowSeconds !== undefined) out.expireAt = Math.floor(ctx.receivedAtMs / 1000) + rowSeconds;
      if (contentDays !== undefined) out.contentExpireAt = contentExpiry(ctx.receivedAtMs, contentDays);
      return out;
    };
  },
});
