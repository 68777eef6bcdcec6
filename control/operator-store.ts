// Named operators of the management API: a name, a role and the hash of a
// token. ClickHouse (consentry.operators) is the record, every change is in
// consentry.operator_audit with who made it; every instance keeps the table in
// memory, so authenticating an API request is one hash and one map lookup.
// Tokens are shown once and stored as SHA-256, as tenant keys (core/keys.ts).
//
// The bootstrap admin token (control/admin-token.ts) is not an operator row:
// it acts as the admin named `admin`, which is why that name is reserved.
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { DATABASE } from '../storage/clickhouse.ts';
import { hashKey, newKey } from '../core/keys.ts';

/** Roles, from the most to the least permitted. What each may do: collector/api/access.ts. */
export const ROLES = ['admin', 'operator', 'privacy', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (v: string): v is Role => (ROLES as readonly string[]).includes(v);

/** Lower-case letters, digits, `.`, `_`, `-` and `@`, 1-64 characters, starting with a letter or digit. */
export const OPERATOR_NAME_PATTERN = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

/** Names that already mean someone in the audit: the bootstrap admin token, and tier reverts made by Consentry itself. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['admin', 'system']);

/** Who made a change: the audit records the name. */
export interface Principal {
  name: string;
  role: Role;
}

export interface Operator {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
}

export interface OperatorAuditEntry {
  at: string;
  actor: string;
  action: 'create' | 'revoke';
  operator: string;
  role: string;
}

interface OperatorRow {
  Id: string;
  Name: string;
  Role: string;
  TokenHash: string;
  CreatedAt: string;
  CreatedBy: string;
  Revoked: number;
  Version: string | number;
}

/** How a store tells the other instances that operators changed (with Kafka: sinks/kafka/control.ts); they reload. */
export interface OperatorBroadcast {
  /** Names are never reused, so the name identifies the operator. */
  publishOperator(name: string, revoked: boolean): Promise<void>;
}

export type CreateOutcome = { ok: true; operator: Operator; token: string } | { ok: false; reason: 'reserved' | 'exists' };

const now64 = () => new Date().toISOString().replace('T', ' ').replace('Z', '');

export class OperatorStore {
  private byName = new Map<string, OperatorRow>();
  private byTokenHash = new Map<string, OperatorRow>();
  /** Every name ever given, revoked ones too: names are never reused. */
  private used = new Set<string>();

  constructor(
    private readonly client: ClickHouseClient,
    private readonly broadcast?: OperatorBroadcast,
  ) {}

  /** Reads every operator from ClickHouse, replacing what is in memory. */
  async load(): Promise<void> {
    const res = await this.client.query({
      query: `SELECT Id, Name, Role, TokenHash, toString(CreatedAt) AS CreatedAt, CreatedBy, Revoked, Version FROM ${DATABASE}.operators FINAL`,
      format: 'JSONEachRow',
    });
    const byName = new Map<string, OperatorRow>();
    const byTokenHash = new Map<string, OperatorRow>();
    const used = new Set<string>();
    for (const row of await res.json<OperatorRow>()) {
      used.add(row.Name);
      // A role this version does not know (written by a newer one) grants nothing.
      if (Number(row.Revoked) !== 0 || !isRole(row.Role)) continue;
      byName.set(row.Name, row);
      byTokenHash.set(row.TokenHash, row);
    }
    this.byName = byName;
    this.byTokenHash = byTokenHash;
    this.used = used;
  }

  /** The operator a token belongs to, or undefined. */
  operatorOfToken(token: string): Principal | undefined {
    const row = this.byTokenHash.get(hashKey(token));
    return row === undefined ? undefined : { name: row.Name, role: row.Role as Role };
  }

  get(name: string): Operator | undefined {
    const row = this.byName.get(name);
    return row === undefined ? undefined : toOperator(row);
  }

  list(): Operator[] {
    return [...this.byName.values()].map(toOperator).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Creates an operator; the token is returned here and never again. */
  async create(name: string, role: Role, by: Principal): Promise<CreateOutcome> {
    if (RESERVED_NAMES.has(name)) return { ok: false, reason: 'reserved' };
    // Another instance may have created it since this one loaded: read again before refusing or writing.
    if (this.used.has(name)) return { ok: false, reason: 'exists' };
    await this.load();
    if (this.used.has(name)) return { ok: false, reason: 'exists' };
    const token = newKey('operator');
    const row: OperatorRow = {
      Id: `op_${randomBytes(9).toString('base64url')}`,
      Name: name,
      Role: role,
      TokenHash: hashKey(token),
      CreatedAt: now64(),
      CreatedBy: by.name,
      Revoked: 0,
      Version: Date.now(),
    };
    await this.write(row, 'create', by);
    this.byName.set(name, row);
    this.byTokenHash.set(row.TokenHash, row);
    this.used.add(name);
    await this.broadcast?.publishOperator(name, false);
    return { ok: true, operator: toOperator(row), token };
  }

  /** Revokes an operator: its token is refused from now on (on other instances once they reload). False when there is no such operator. */
  async revoke(name: string, by: Principal): Promise<boolean> {
    // Created on another instance moments ago: read again before answering "no such operator".
    if (!this.byName.has(name)) await this.load();
    const row = this.byName.get(name);
    if (row === undefined) return false;
    const revoked: OperatorRow = { ...row, Revoked: 1, Version: Math.max(Date.now(), Number(row.Version) + 1) };
    await this.write(revoked, 'revoke', by);
    this.byName.delete(name);
    this.byTokenHash.delete(row.TokenHash);
    await this.broadcast?.publishOperator(name, true);
    return true;
  }

  async audit(): Promise<OperatorAuditEntry[]> {
    const res = await this.client.query({
      query: `SELECT toString(At) AS at, Actor AS actor, Action AS action, Name AS operator, Role AS role FROM ${DATABASE}.operator_audit ORDER BY At`,
      format: 'JSONEachRow',
    });
    return res.json<OperatorAuditEntry>();
  }

  /** The audit row first: a change nobody can account for is never in force. */
  private async write(row: OperatorRow, action: 'create' | 'revoke', by: Principal): Promise<void> {
    await this.client.insert({
      table: `${DATABASE}.operator_audit`,
      values: [{ At: now64(), Actor: by.name, Action: action, OperatorId: row.Id, Name: row.Name, Role: row.Role }],
      format: 'JSONEachRow',
    });
    await this.client.insert({ table: `${DATABASE}.operators`, values: [row], format: 'JSONEachRow' });
  }
}

function toOperator(row: OperatorRow): Operator {
  return { id: row.Id, name: row.Name, role: row.Role as Role, createdAt: row.CreatedAt, createdBy: row.CreatedBy };
}
