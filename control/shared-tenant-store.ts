// Tenants shared by several instances (Kafka mode). ClickHouse stays the one
// record of tenants and their key hashes; after a create or delete an instance
// publishes a notice (tenant id only: no key, no hash) and every other
// instance reloads its in-memory copy from ClickHouse. Keys stay shown once and
// stored hashed, in one place.
import type { ClickHouseClient } from '@clickhouse/client';
import { TenantStore, type Tenant } from './tenant-store.ts';

export interface TenantBroadcast {
  /** Resolves once the notice is on its way to every instance. */
  publishTenant(tenantId: string, deleted: boolean): Promise<void>;
}

export class SharedTenantStore extends TenantStore {
  constructor(
    client: ClickHouseClient,
    private readonly broadcast: TenantBroadcast,
  ) {
    super(client);
  }

  override async create(id: string): Promise<{ tenant: Tenant; ingestKey: string; queryKey: string }> {
    const created = await super.create(id);
    await this.broadcast.publishTenant(id, false);
    return created;
  }

  override async delete(id: string): Promise<boolean> {
    const deleted = await super.delete(id);
    if (deleted) await this.broadcast.publishTenant(id, true);
    return deleted;
  }
}
