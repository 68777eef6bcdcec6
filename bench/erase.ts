// Measures the two ways ClickHouse deletes rows, for an erasure of one end user:
// a lightweight `DELETE FROM ... WHERE` and a mutation `ALTER TABLE ... DELETE
// WHERE ... SETTINGS mutations_sync = 2`. Embedded chdb, a temp directory.
//   npx tsx bench/erase.ts [rows=300000] [users=100]
// Reported, not asserted. docs/privacy.md has the numbers measured here.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openClickHouse } from '../storage/clickhouse.ts';
import { migrate } from '../storage/migrate.ts';

const rows = Number(process.argv[2] ?? 300_000);
const users = Number(process.argv[3] ?? 100);
const dir = mkdtempSync(join(tmpdir(), 'consentry-bench-erase-'));
const ch = openClickHouse({ url: '', dataDir: dir });
try {
  await migrate(ch.client);
  // Ten inserts (ten parts), like batches over time; every user in every part.
  for (let part = 0; part < 10; part++) {
    await ch.client.command({
      query:
        `INSERT INTO consentry.otel_traces (TenantId, Tier, Timestamp, TraceId, SpanId, SpanName, SpanAttributes, Duration, ExpireAt) ` +
        `SELECT 'bench', 'full', now64(9) - number, hex(cityHash64(number, ${part})), hex(number), 'proxy', ` +
        `map('user.id', concat('u', toString(number % ${users})), 'http.route', '/v1/chat/completions', 'gateway.request.body', repeat('x', 200)), ` +
        `number, toDateTime('2100-01-01 00:00:00') FROM numbers(${Math.floor(rows / 10)}) SETTINGS insert_deduplicate = 0`,
    });
  }
  const count = async (u: string) =>
    Number((await (await ch.client.query({ query: `SELECT count() AS n FROM consentry.otel_traces WHERE SpanAttributes['user.id'] = '${u}'`, format: 'JSONEachRow' })).json<{ n: number }>())[0]!.n);
  const time = async (sql: string) => {
    const t0 = performance.now();
    await ch.client.command({ query: sql });
    return performance.now() - t0;
  };
  const results: Record<string, number[]> = { lightweight: [], mutation: [] };
  for (let i = 0; i < 3; i++) {
    const a = `u${2 * i}`;
    const b = `u${2 * i + 1}`;
    const n = await count(a);
    results['lightweight']!.push(await time(`DELETE FROM consentry.otel_traces WHERE TenantId = 'bench' AND SpanAttributes['user.id'] = '${a}' SETTINGS lightweight_deletes_sync = 2`));
    results['mutation']!.push(await time(`ALTER TABLE consentry.otel_traces DELETE WHERE TenantId = 'bench' AND SpanAttributes['user.id'] = '${b}' SETTINGS mutations_sync = 2`));
    if ((await count(a)) !== 0 || (await count(b)) !== 0) throw new Error('rows left after delete');
    console.log(`round ${i + 1}: ${n} rows per user`);
  }
  const fmt = (xs: number[]) => xs.map((x) => `${x.toFixed(0)} ms`).join(', ');
  console.log(`${rows} spans in 10 parts, ${users} users; deleting one user's rows:`);
  console.log(`  lightweight DELETE FROM:            ${fmt(results['lightweight']!)}`);
  console.log(`  ALTER TABLE DELETE (mutations_sync=2): ${fmt(results['mutation']!)}`);
} finally {
  await ch.close();
  rmSync(dir, { recursive: true, force: true });
}
