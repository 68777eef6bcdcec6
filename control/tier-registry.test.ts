// The tier registry against embedded ClickHouse (chdb), on a clock the test
// moves: assignments and their versions, temporary switches (until) and the
// sweep that writes their revert down, the audit trail, assignments from other
// instances (applyRemote, refresh) in version order, forgetting a tenant, and
// what it broadcasts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClickHouse, type ClickHouse } from '../storage/clickhouse.ts';
import { migrate } from '../storage/migrate.ts';
import { TierRegistry, type Assignment, type TierBroadcast, type TierRegistryOptions } from './tier-registry.ts';

let dir: string;
let ch: ClickHouse;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'consentry-tier-registry-'));
  ch = openClickHouse({ url: '', dataDir: dir });
  await migrate(ch.client);
});
afterAll(async () => {
  await ch?.close();
  await rm(dir, { recursive: true, force: true });
});

const T0 = Date.parse('2026-03-01T12:00:00Z');
const MINUTE = 60_000;

/** A registry on its own clock, recording what it broadcasts. */
function registry(opts: Partial<TierRegistryOptions> & { publishFails?: Error } = {}) {
  const clock = { now: T0 };
  const published: Array<Assignment | { forget: string }> = [];
  const errors: unknown[] = [];
  const broadcast: TierBroadcast = {
    publishAssignment: (a) => (opts.publishFails !== undefined ? Promise.reject(opts.publishFails) : (published.push(a), Promise.resolve())),
    publishForget: (tenantId) => (opts.publishFails !== undefined ? Promise.reject(opts.publishFails) : (published.push({ forget: tenantId }), Promise.resolve())),
  };
  const r = new TierRegistry({ client: ch.client, now: () => clock.now, broadcast, onError: (err) => errors.push(err), ...opts });
  return { r, clock, published, errors };
}

let tenants = 0;
/** A tenant id no other test uses (they share one database). */
const tenant = () => `tenant-${++tenants}`;
const change = (tier: string, action: 'create' | 'switch' | 'revert' = 'switch', until?: number) => ({ tier, action, reason: `to ${tier}`, actor: 'admin', ...(until === undefined ? {} : { until }) });
const remote = (tenantId: string, tier: string, version: number): Assignment => ({ tenantId, tier, version, effectiveAt: T0, until: undefined, priorTier: 'minimal', reason: 'remote', actor: 'other' });

describe('assign', () => {
  it('puts the tier in force at once, records it in ClickHouse and the audit, and broadcasts it', async () => {
    const { r, published } = registry();
    const id = tenant();
    const a = await r.assign(id, change('minimal', 'create'));
    expect(a).toEqual({ tenantId: id, tier: 'minimal', version: T0, effectiveAt: T0, until: undefined, priorTier: 'minimal', reason: 'to minimal', actor: 'admin' });
    expect(r.current(id)).toEqual({ tier: 'minimal', version: T0 });
    expect(published).toEqual([a]);
    // Another instance reading ClickHouse finds the same assignment.
    const other = registry().r;
    await other.load();
    expect(other.get(id)).toEqual(a);
    expect(await r.audit(id)).toEqual([{ tenantId: id, at: '2026-03-01 12:00:00.000', actor: 'admin', action: 'create', from: '', to: 'minimal', until: null, reason: 'to minimal' }]);
  });

  it('versions always increase: with the clock standing still, and with the clock going back', async () => {
    const { r, clock } = registry();
    const id = tenant();
    const v1 = (await r.assign(id, change('minimal', 'create'))).version;
    const v2 = (await r.assign(id, change('full'))).version;
    clock.now = T0 - 10 * MINUTE;
    const v3 = (await r.assign(id, change('summary'))).version;
    clock.now = T0 + MINUTE;
    const v4 = (await r.assign(id, change('minimal'))).version;
    expect([v1, v2, v3, v4]).toEqual([T0, T0 + 1, T0 + 2, T0 + MINUTE]);
    expect(r.current(id)).toEqual({ tier: 'minimal', version: T0 + MINUTE });
    // The audit is in time order (the clock's), each change from the tier before it.
    expect((await r.audit(id)).map((e) => [e.at, e.action, e.from, e.to])).toEqual([
      ['2026-03-01 11:50:00.000', 'switch', 'full', 'summary'],
      ['2026-03-01 12:00:00.000', 'create', '', 'minimal'],
      ['2026-03-01 12:00:00.000', 'switch', 'minimal', 'full'],
      ['2026-03-01 12:01:00.000', 'switch', 'summary', 'minimal'],
    ]);
  });

  it('a broadcast that fails rejects the assign; the change is recorded and in force here (the others catch up through refresh)', async () => {
    const down = new Error('broker down');
    const { r } = registry({ publishFails: down });
    const id = tenant();
    await expect(r.assign(id, change('full', 'create'))).rejects.toBe(down);
    expect(r.current(id)?.tier).toBe('full');
    const other = registry().r;
    await other.load();
    expect(other.current(id)?.tier).toBe('full');
  });
});

describe('temporary switches (until)', () => {
  it('returns to the prior tier at until, with a newer version, without anything written', async () => {
    const { r, clock } = registry();
    const id = tenant();
    await r.assign(id, change('minimal', 'create'));
    const temp = await r.assign(id, change('full', 'switch', T0 + 5 * MINUTE));
    expect(temp).toMatchObject({ tier: 'full', priorTier: 'minimal', until: T0 + 5 * MINUTE });
    clock.now = T0 + 5 * MINUTE - 1;
    expect(r.current(id)).toEqual({ tier: 'full', version: temp.version });
    clock.now = T0 + 5 * MINUTE;
    expect(r.current(id)).toEqual({ tier: 'minimal', version: temp.version + 1 });
    expect(r.get(id)).toEqual({ ...temp, tier: 'minimal', version: temp.version + 1, effectiveAt: T0 + 5 * MINUTE, until: undefined, reason: 'until reached', actor: 'system' });
  });

  it('extending a temporary switch keeps the tier it returns to; a permanent switch ends it', async () => {
    const { r, clock } = registry();
    const id = tenant();
    await r.assign(id, change('summary', 'create'));
    await r.assign(id, change('full', 'switch', T0 + MINUTE));
    clock.now = T0 + 1000;
    const extended = await r.assign(id, change('full', 'switch', T0 + 10 * MINUTE));
    expect(extended).toMatchObject({ tier: 'full', priorTier: 'summary', until: T0 + 10 * MINUTE });
    const permanent = await r.assign(id, change('minimal'));
    expect(permanent).toMatchObject({ tier: 'minimal', priorTier: 'full', until: undefined });
    clock.now = T0 + 20 * MINUTE;
    expect(r.current(id)?.tier).toBe('minimal');
  });

  it('the sweep writes the revert down (audit, ClickHouse, broadcast) once until plus sweepDelayMs has passed', async () => {
    const { r, clock, published } = registry({ sweepMs: 5, sweepDelayMs: MINUTE });
    const id = tenant();
    await r.assign(id, change('minimal', 'create'));
    const temp = await r.assign(id, change('full', 'switch', T0 + MINUTE));
    published.length = 0;
    r.start();
    try {
      clock.now = T0 + 2 * MINUTE - 1; // past until, not past the delay
      await new Promise((res) => setTimeout(res, 50));
      expect(published).toEqual([]);
      expect(r.current(id)?.tier, 'in force anyway').toBe('minimal');
      clock.now = T0 + 2 * MINUTE;
      await expect.poll(() => published.length).toBe(1);
      const revert = { ...temp, tier: 'minimal', version: temp.version + 1, effectiveAt: T0 + MINUTE, until: undefined, reason: `until ${new Date(T0 + MINUTE).toISOString()} reached`, actor: 'system' };
      expect(published).toEqual([revert]);
      expect(r.get(id)).toEqual(revert);
      expect((await r.audit(id)).map((e) => [e.action, e.actor, e.from, e.to, e.at])).toEqual([
        ['create', 'admin', '', 'minimal', '2026-03-01 12:00:00.000'],
        ['switch', 'admin', 'minimal', 'full', '2026-03-01 12:00:00.000'],
        ['revert', 'system', 'full', 'minimal', '2026-03-01 12:01:00.000'],
      ]);
      const other = registry().r;
      await other.load();
      expect(other.get(id)).toEqual(revert);
      await new Promise((res) => setTimeout(res, 30));
      expect(published, 'written down once').toHaveLength(1);
    } finally {
      r.stop();
    }
  });
});

describe('assignments from other instances', () => {
  it.each([
    { name: 'newer', version: 20, applied: true, tier: 'full' },
    { name: 'equal', version: 10, applied: false, tier: 'minimal' },
    { name: 'older', version: 5, applied: false, tier: 'minimal' },
  ])('applyRemote of a $name version: applied $applied', ({ version, applied, tier }) => {
    const { r } = registry();
    const id = tenant();
    expect(r.applyRemote(remote(id, 'minimal', 10))).toBe(true);
    expect(r.applyRemote(remote(id, 'full', version))).toBe(applied);
    expect(r.current(id)).toEqual({ tier, version: applied ? version : 10 });
  });

  it('refresh applies the newer assignments in ClickHouse and keeps what is newer in memory', async () => {
    const a = registry();
    const b = registry();
    const id = tenant();
    const mine = tenant();
    await b.r.assign(id, change('full', 'create'));
    await b.r.assign(mine, change('summary', 'create'));
    a.r.applyRemote(remote(mine, 'minimal', T0 + 999)); // newer than what b wrote
    await a.r.refresh();
    expect(a.r.current(id)).toEqual({ tier: 'full', version: T0 });
    expect(a.r.current(mine)).toEqual({ tier: 'minimal', version: T0 + 999 });
  });

  it('load replaces what is in memory with what ClickHouse holds', async () => {
    const { r } = registry();
    const id = tenant();
    r.applyRemote(remote(id, 'full', 1));
    await r.load();
    expect(r.current(id)).toBeUndefined();
  });
});

describe('forget', () => {
  it('the tenant is unknown at once, the change is broadcast, and a refresh does not bring it back; a new assignment does', async () => {
    const { r, published } = registry();
    const id = tenant();
    await r.assign(id, change('full', 'create'));
    r.forget(id);
    expect(r.current(id)).toBeUndefined();
    await expect.poll(() => published.at(-1)).toEqual({ forget: id });
    await r.refresh();
    expect(r.current(id)).toBeUndefined();
    await r.assign(id, change('minimal', 'create'));
    expect(r.current(id)?.tier).toBe('minimal');
  });

  it('forgetRemote: the same from another instance, without a broadcast; a newer assignment from it is applied', async () => {
    const { r, published } = registry();
    const id = tenant();
    await r.assign(id, change('full', 'create'));
    published.length = 0;
    r.forgetRemote(id);
    await r.refresh();
    expect(r.current(id)).toBeUndefined();
    expect(r.applyRemote(remote(id, 'summary', 1))).toBe(true);
    expect(r.current(id)?.tier).toBe('summary');
    expect(published).toEqual([]);
  });

  it('a broadcast of the forget that fails goes to onError', async () => {
    const down = new Error('broker down');
    const { r, errors } = registry({ publishFails: down });
    r.forget(tenant());
    await expect.poll(() => errors).toEqual([down]);
  });
});

describe('lifecycle', () => {
  it('stop without start, stop twice, start twice: no sweep runs after stop', async () => {
    const { r, clock, published } = registry({ sweepMs: 5 });
    r.stop();
    const id = tenant();
    r.applyRemote({ ...remote(id, 'full', 1), until: T0 + MINUTE });
    r.start();
    r.start();
    r.stop();
    r.stop();
    clock.now = T0 + 2 * MINUTE;
    await new Promise((res) => setTimeout(res, 40));
    expect(published).toEqual([]);
    expect(await r.audit(id)).toEqual([]);
  });
});
