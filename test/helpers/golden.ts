// Golden files of stored rows: a dump of every table of one tenant, with what
// changes from run to run (random ids, HMACs, receipt-relative expiry) made
// stable, compared with (or, with UPDATE_GOLDEN=1, written to) a JSON file
// (golden-file.ts). Regenerate on purpose and review the diff.
import { expect } from 'vitest';
import type { TestConsentry } from './consentry.ts';

export const TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata'] as const;
const ORDER: Record<(typeof TABLES)[number], string> = {
  otel_traces: 'Timestamp, SpanName',
  otel_logs: 'Timestamp, Body',
  request_summaries: 'Minute, Endpoint, StatusClass, Provider, Model',
  gateway_metadata: 'Timestamp',
};

export type Dump = Record<string, Record<string, unknown>[]>;

/** Every row of every table of `tenant`, in a stable order. */
export async function dump(c: TestConsentry, tenant: string): Promise<Dump> {
  const out: Dump = {};
  for (const t of TABLES) out[t] = await c.rows(`SELECT * FROM consentry.${t} WHERE TenantId = '${tenant}' ORDER BY ${ORDER[t]}`);
  return out;
}

/** Replaces what changes from run to run (random ids, HMACs, receipt-relative expiry) with stable tokens. */
export function normalise(d: Dump): Record<string, unknown[]> {
  const ids = new Map<string, string>();
  const id = (v: unknown, kind: string): unknown => {
    if (typeof v !== 'string' || v === '') return v;
    if (!ids.has(v)) ids.set(v, `${kind}#${[...ids.values()].filter((x) => x.startsWith(kind)).length + 1}`);
    return ids.get(v);
  };
  const nowSec = Date.now() / 1000;
  const out: Record<string, unknown[]> = {};
  for (const [table, rows] of Object.entries(d)) {
    out[table] = rows.map((row) => {
      const r: Record<string, unknown> = { ...row };
      delete r['TenantId'];
      for (const k of ['TraceId', 'Links.TraceId']) r[k] = Array.isArray(r[k]) ? (r[k] as unknown[]).map((v) => id(v, 'trace')) : id(r[k], 'trace');
      for (const k of ['SpanId', 'ParentSpanId', 'Links.SpanId']) r[k] = Array.isArray(r[k]) ? (r[k] as unknown[]).map((v) => id(v, 'span')) : id(r[k], 'span');
      for (const k of Object.keys(r)) if (r[k] === undefined) delete r[k];
      for (const attrs of ['SpanAttributes', 'LogAttributes'] as const) {
        const a = r[attrs] as Record<string, string> | undefined;
        if (a?.['gateway.api_key.hash'] !== undefined) {
          expect(a['gateway.api_key.hash']).toMatch(/^[0-9a-f]{32}$/);
          a['gateway.api_key.hash'] = '<hmac>';
        }
      }
      const seconds = (v: string) => Date.parse(`${v.replace(' ', 'T')}Z`) / 1000;
      if (typeof r['ContentExpireAt'] === 'string') {
        // 00:00 UTC of the day N days after receipt (processors/retention), unless it is the row's own expiry.
        const exp = seconds(r['ContentExpireAt']);
        if (r['ContentExpireAt'] === r['ExpireAt']) r['ContentExpireAt'] = 'ExpireAt';
        else {
          expect(exp % 86400, 'ContentExpireAt starts a UTC day').toBe(0);
          r['ContentExpireAt'] = `day of receipt+${Math.ceil((exp - nowSec) / 86400)}d`;
        }
      }
      if (typeof r['ExpireAt'] === 'string') {
        const exp = seconds(r['ExpireAt']);
        r['ExpireAt'] = exp >= 4102444800 ? 'never' : exp % 86400 === 0 ? `day of receipt+${Math.ceil((exp - nowSec) / 86400)}d` : `receipt+${Math.round((exp - nowSec) / 86400)}d`;
      }
      return r;
    });
  }
  return out;
}
