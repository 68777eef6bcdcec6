// Tenants and the hashes of their keys. ClickHouse (consentry.tenants) is the
// record; every instance keeps the whole table in memory, so authenticating an
// ingest request is one hash and one map lookup.
import type { ClickHouseClient } from '@clickhouse/client';
import { DATABASE } from '../storage/clickhouse.ts';
import { hashKey, newKey } from '../core/keys.ts';

export interface Tenant {
  id: string;
  createdAt: string;
}

interface TenantRow {
  Id: string;
  IngestKeyHash: string;
  QueryKeyHash: string;
  CreatedAt: string;
  Deleted: number;
  Version: string | number;
}

export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export class TenantStore {
  private readonly byId = new Map<string, TenantRow>();
  private readonly byIngestHash = new Map<string, string>();
  private readonly byQueryHash = new Map<string, string>();

  constructor(private readonly client: ClickHouseClient) {}

  /** Reads every tenant from ClickHouse, replacing what is in memory. */
  async load(): Promise<void> {
    const res = await this.client.query({
      query: `SELECT Id, IngestKeyHash, QueryKeyHash, toString(CreatedAt) AS CreatedAt, Deleted, Version FROM ${DATABASE}.tenants FINAL`,
      format: 'JSONEachRow',
    });
    const rows = await res.json<TenantRow>();
    this.byId.clear();
    this.byIngestHash.clear();
    this.byQueryHash.clear();
    for (const row of rows) if (Number(row.Deleted) === 0) this.index(row);
  }

  private index(row: TenantRow): void {
    this.byId.set(row.Id, row);
    this.byIngestHash.set(row.IngestKeyHash, row.Id);
    this.byQueryHash.set(row.QueryKeyHash, row.Id);
  }

  /** Creates a tenant; the keys are returned here and never again. */
  async create(id: string): Promise<{ tenant: Tenant; ingestKey: string; queryKey: string }> {
    const ingestKey = newKey('ingest');
    const queryKey = newKey('query');
    const row: TenantRow = {
      Id: id,
      IngestKeyHash: hashKey(ingestKey),
      QueryKeyHash: hashKey(queryKey),
      CreatedAt: new Date().toISOString().replace('T', ' ').replace('Z', ''),
      Deleted: 0,
      Version: Date.now(),
    };
    await this.client.insert({ table: `${DATABASE}.tenants`, values: [row], format: 'JSONEachRow' });
    this.index(row);
    return { tenant: this.toTenant(row), ingestKey, queryKey };
  }

  async delete(id: string): Promise<boolean> {
    const row = this.byId.get(id);
    if (row === undefined) return false;
    await this.client.insert({
      table: `${DATABASE}.tenants`,
      values: [{ ...row, Deleted: 1, Version: Math.max(Date.now(), Number(row.Version) + 1) }],
      format: 'JSONEachRow',
    });
    this.byId.delete(id);
    this.byIngestHash.delete(row.IngestKeyHash);
    this.byQueryHash.delete(row.QueryKeyHash);
    return true;
  }

  get(id: string): Tenant | undefined {
    const row = this.byId.get(id);
    return row === undefined ? undefined : this.toTenant(row);
  }

  list(): Tenant[] {
    return [...this.byId.values()].map((r) => this.toTenant(r)).sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Tenant id of an ingest key, or undefined. */
  tenantOfIngestKey(key: string): string | undefined {
    return this.byIngestHash.get(hashKey(key));
  }

  /** Tenant id of a query key, or undefined. */
  tenantOfQueryKey(key: string): string | undefined {
    return this.byQueryHash.get(hashKey(key));
  }

  private toTenant(row: TenantRow): Tenant {
    return { id: row.Id, createdAt: row.CreatedAt };
  }
}
