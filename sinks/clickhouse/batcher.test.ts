// The embedded writer's batcher with a stand-in insert function (the real
// insert against chdb: test/faults/bad-record.test.ts): batching by rows and
// by delay, a request never split across inserts unless ClickHouse refuses
// data, halves with their own deduplication tokens, failures rejecting only
// their own writers, drain.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TABLES, type JoinedRows, type Table, type TableRows } from '../../storage/tables.ts';
import { ClickHouseBatcher, type BatcherLimits } from './batcher.ts';

interface Insert {
  table: Table;
  lines: readonly string[];
  token: string;
}

/** A ClickHouse error as clickhouse-js reports it: the server's code as a string. */
const clickhouseError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

/**
 * A stand-in for ClickHouse: records every insert; `fail` decides an insert's
 * error (none: it succeeds); `hold` keeps the next inserts pending until released.
 */
function standIn(fail: (i: Insert) => Error | undefined = () => undefined) {
  const attempts: Insert[] = [];
  const held: Array<() => void> = [];
  let holding = false;
  const insert = async (table: Table, parts: readonly TableRows[], token: string): Promise<void> => {
    const i = { table, lines: parts.map((p) => p.body), token };
    attempts.push(i);
    if (holding) await new Promise<void>((r) => held.push(r));
    const err = fail(i);
    if (err !== undefined) throw err;
  };
  return {
    insert,
    attempts,
    /** Lines of the inserts that succeeded, in order. */
    stored: () => attempts.filter((i) => fail(i) === undefined).flatMap((i) => i.lines),
    hold: () => (holding = true),
    release: () => {
      holding = false;
      for (const r of held.splice(0)) r();
    },
  };
}

/** One request's rows: `lines` in `table`, one row per line (lines of a request are joined by '\n'). */
function request(table: Table, ...lines: string[]): JoinedRows {
  const rows = Object.fromEntries(TABLES.map((t) => [t, { body: '', rows: 0 }])) as JoinedRows;
  rows[table] = { body: lines.join('\n'), rows: lines.length };
  return rows;
}

const lines = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

function batcher(s: ReturnType<typeof standIn>, limits: Partial<BatcherLimits> = {}) {
  return new ClickHouseBatcher({ insert: s.insert, maxRows: 1000, maxDelayMs: 60_000, ...limits });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('batching', () => {
  it('inserts at once when the pending rows reach maxRows, the requests together, in order', async () => {
    const s = standIn();
    const b = batcher(s, { maxRows: 10 });
    const first = b.write(request('otel_logs', ...lines('a', 4)));
    await Promise.resolve();
    expect(s.attempts).toHaveLength(0);
    expect(b.pendingRows).toBe(4);
    await Promise.all([first, b.write(request('otel_logs', ...lines('b', 6)))]);
    expect(s.attempts).toHaveLength(1);
    expect(s.attempts[0]).toMatchObject({ table: 'otel_logs', lines: [lines('a', 4).join('\n'), lines('b', 6).join('\n')] });
    expect(b.pendingRows).toBe(0);
  });

  it('inserts what is pending after maxDelayMs when maxRows is not reached', async () => {
    vi.useFakeTimers();
    const s = standIn();
    const b = batcher(s, { maxRows: 1000, maxDelayMs: 200 });
    let done = false;
    const write = b.write(request('otel_traces', 'x')).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(199);
    expect([s.attempts.length, done]).toEqual([0, false]);
    await vi.advanceTimersByTimeAsync(1);
    await write;
    expect(s.attempts.map((i) => i.lines)).toEqual([['x']]);
  });

  it('never splits a request: one larger than maxRows is one insert, and the request that crosses maxRows joins the batch', async () => {
    const s = standIn();
    const b = batcher(s, { maxRows: 10 });
    await b.write(request('otel_logs', ...lines('big', 25)));
    expect(s.attempts.map((i) => i.lines.join('\n').split('\n').length)).toEqual([25]);
    const small = b.write(request('otel_logs', ...lines('c', 8)));
    await Promise.all([small, b.write(request('otel_logs', ...lines('d', 8)))]);
    expect(s.attempts.slice(1).map((i) => i.lines.length)).toEqual([2]);
    expect(s.stored().join('\n').split('\n')).toHaveLength(25 + 16);
  });

  it('gathers the requests that arrive during an insert into the next one, started when it ends', async () => {
    const s = standIn();
    const b = batcher(s, { maxRows: 2 });
    s.hold();
    const first = b.write(request('otel_logs', 'a1', 'a2'));
    await vi.waitFor(() => expect(s.attempts).toHaveLength(1));
    const later = [b.write(request('otel_logs', 'b1')), b.write(request('otel_logs', 'c1')), b.write(request('otel_logs', 'd1'))];
    await new Promise((r) => setTimeout(r, 20));
    expect(s.attempts).toHaveLength(1);
    s.release();
    await Promise.all([first, ...later]);
    expect(s.attempts.map((i) => i.lines)).toEqual([['a1\na2'], ['b1', 'c1', 'd1']]);
  });

  it('batches each table on its own: a request with rows in two tables waits for both inserts', async () => {
    const s = standIn();
    const b = batcher(s, { maxRows: 1 });
    const both = request('otel_traces', 'span');
    both.gateway_metadata = { body: 'meta', rows: 1 };
    await b.write(both);
    expect(s.attempts.map((i) => [i.table, i.lines])).toEqual([
      ['otel_traces', ['span']],
      ['gateway_metadata', ['meta']],
    ]);
  });
});

describe('failures', () => {
  it('when ClickHouse refuses the data, inserts halves with their own tokens down to the refused request; only its writer fails', async () => {
    const refused = clickhouseError('117', 'Cannot parse input: bad row');
    const s = standIn((i) => (i.lines.some((l) => l.includes('bad')) ? refused : undefined));
    const b = batcher(s, { maxRows: 8 });
    const writes = ['r0', 'r1', 'bad', 'r3'].map((id) => b.write(request('otel_logs', `${id}-x`, `${id}-y`)));
    const settled = await Promise.allSettled(writes);
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((settled[2] as PromiseRejectedResult).reason).toBe(refused);
    const token = s.attempts[0]!.token;
    expect(token).toMatch(/^[\w.:-]+$/); // what insertRows accepts as a deduplication token
    expect(s.attempts.map((i) => [i.token, i.lines.length])).toEqual([
      [token, 4],
      [`${token}.0`, 2],
      [`${token}.1`, 2],
      [`${token}.1.0`, 1],
      [`${token}.1.1`, 1],
    ]);
    // Every row of the other requests stored once, none of the refused one.
    expect(s.stored().sort()).toEqual(['r0-x\nr0-y', 'r1-x\nr1-y', 'r3-x\nr3-y']);
  });

  it('does not split on an error about the server (not the data): every writer of that insert fails, later inserts go on', async () => {
    const down = clickhouseError('210', 'Connection refused');
    let failing = true;
    const s = standIn(() => (failing ? down : undefined));
    const b = batcher(s, { maxRows: 3 });
    const first = await Promise.allSettled(['a', 'b', 'c'].map((id) => b.write(request('otel_traces', id))));
    expect(first.map((r) => (r.status === 'rejected' ? r.reason : 'ok'))).toEqual([down, down, down]);
    expect(s.attempts).toHaveLength(1);
    failing = false;
    await expect(Promise.all(['d', 'e', 'f'].map((id) => b.write(request('otel_traces', id))))).resolves.toEqual([undefined, undefined, undefined]);
    expect(s.attempts.map((i) => i.lines)).toEqual([['a', 'b', 'c'], ['d', 'e', 'f']]);
  });

  it('a refused request alone in its insert fails with the error, without another attempt', async () => {
    const refused = clickhouseError('53', 'Type mismatch');
    const s = standIn(() => refused);
    const b = batcher(s, { maxRows: 1 });
    await expect(b.write(request('request_summaries', 'bad'))).rejects.toBe(refused);
    expect(s.attempts).toHaveLength(1);
  });

  it('reports every insert, failed ones with their error', async () => {
    const refused = clickhouseError('117', 'bad');
    const s = standIn((i) => (i.lines.includes('bad') ? refused : undefined));
    const seen: Array<[string, number, unknown]> = [];
    const b = new ClickHouseBatcher({ insert: s.insert, maxRows: 2, maxDelayMs: 60_000, onInsert: (table, rows, seconds, err) => seen.push([table, rows, seconds >= 0 ? err : 'negative time']) });
    await Promise.allSettled([b.write(request('otel_logs', 'ok')), b.write(request('otel_logs', 'bad'))]);
    expect(seen).toEqual([
      ['otel_logs', 2, refused],
      ['otel_logs', 1, undefined],
      ['otel_logs', 1, refused],
    ]);
  });
});

describe('drain (the batcher has no start; drain is its shutdown)', () => {
  it('with nothing written: resolves without an insert, twice', async () => {
    const s = standIn();
    const b = batcher(s);
    await b.drain();
    await b.drain();
    expect(s.attempts).toEqual([]);
  });

  it('inserts what waits for its delay at once and resolves after it; a second drain has nothing to do', async () => {
    const s = standIn();
    const b = batcher(s, { maxRows: 1000, maxDelayMs: 60_000 });
    const writes = [b.write(request('otel_logs', 'a')), b.write(request('otel_traces', 'b'))];
    expect(b.pendingRows).toBe(2);
    await b.drain();
    expect(b.pendingRows).toBe(0);
    expect(s.attempts.map((i) => i.lines)).toEqual([['b'], ['a']]); // TABLES order
    await Promise.all(writes);
    await b.drain();
    expect(s.attempts).toHaveLength(2);
  });

  it('waits for the insert in flight and the requests queued behind it; failures reject their writers, not drain', async () => {
    const down = clickhouseError('210', 'Connection refused');
    const s = standIn((i) => (i.lines.includes('queued') ? down : undefined));
    // The insert of the queued request takes a while too: drain must wait for it.
    const slowly = async (table: Table, parts: readonly TableRows[], token: string) => {
      if (parts.some((p) => p.body === 'queued')) await new Promise((r) => setTimeout(r, 30));
      await s.insert(table, parts, token);
    };
    const b = new ClickHouseBatcher({ insert: slowly, maxRows: 1, maxDelayMs: 60_000 });
    s.hold();
    const inflight = b.write(request('otel_logs', 'inflight'));
    await vi.waitFor(() => expect(s.attempts).toHaveLength(1));
    const queued = b.write(request('otel_logs', 'queued'));
    let queuedSettled = false;
    queued.catch(() => undefined).finally(() => (queuedSettled = true));
    let drained = false;
    const drain = b.drain().then(() => (drained = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(drained).toBe(false);
    s.release();
    await drain;
    expect(queuedSettled, 'the request queued behind the insert in flight settled before drain resolved').toBe(true);
    await expect(inflight).resolves.toBeUndefined();
    await expect(queued).rejects.toBe(down);
    expect(s.attempts.map((i) => i.lines)).toEqual([['inflight'], ['queued']]);
  });
});
