// The control channel between instances: tier assignments and tenant notices
// on two compacted topics (key: tenant id), and operator notices on a third
// (key: operator name; collectors only). Every collector and sink reads them
// from the beginning with a consumer group of its own (kafkajs has no
// group-less assignment), so each instance sees every change; a fetch waits at
// most 50 ms on the broker, which answers as soon as a record arrives, so a
// switch reaches every instance in tens of milliseconds (DESIGN.md: within
// 250 ms; measured in test/kafka/pipeline.test.ts).
//
// Values are small JSON documents with a version field; tier assignments are
// applied only when newer than what the instance has (TierRegistry.applyRemote),
// so replays, reorderings across restarts and compaction are harmless. A null
// value (tombstone) on the tiers topic means the tenant was deleted. Tenant
// and operator notices carry no key, token or hash: receivers reload tenants
// or operators from ClickHouse (and operators every refresh too, so a lost
// notice delays a revocation by at most that long).
//
// Confirmations. A sink that applied a tier change, once none of its inserts
// of rows reduced under the older tier is left (its inserts check the tier
// first), says so on the tier-acks topic; a collector answers a downgrade only
// when every member of the sink consumer group has (awaitApplied).
import type { Admin, Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { Histogram, type Registry } from 'prom-client';
import type { Logger } from '../../core/logger.ts';
import type { Assignment, TierBroadcast, TierRegistry } from '../../control/tier-registry.ts';
import type { TenantBroadcast } from '../../control/shared-tenant-store.ts';
import type { OperatorBroadcast } from '../../control/operator-store.ts';
import { ensureTopics, withTimeout, type KafkaSettings } from './config.ts';

const INSTANCE_HEADER = 'consentry-instance';

interface TierMessage {
  v: 1;
  tenantId: string;
  tier: string;
  version: number;
  effectiveAt: number;
  until: number | null;
  priorTier: string;
  reason: string;
  actor: string;
  publishedAtMs: number;
}

interface TenantMessage {
  v: 1;
  tenantId: string;
  deleted: boolean;
  publishedAtMs: number;
}

interface OperatorMessage {
  v: 1;
  name: string;
  revoked: boolean;
  publishedAtMs: number;
}

interface AckMessage {
  v: 1;
  /** The sink's instance id, its Kafka client id. */
  instanceId: string;
  tenantId: string;
  version: number;
}

/** Confirmations older than this are forgotten (a PUT waits seconds). */
const ACK_MEMORY_MS = 10 * 60_000;

/** What the control channel applies changes to. */
export interface ControlTargets {
  registry: TierRegistry;
  /** Tenants to reload on a notice (collectors); none for a sink. */
  tenants?: ReloadTarget;
  /** Operators to reload on a notice and every refresh (collectors); none for a sink. */
  operators?: ReloadTarget;
  /**
   * Sinks: the registry holds this version (or a newer one) of a tenant's
   * tier, published moments ago; the sink confirms once it writes nothing
   * reduced under an older one (publishApplied).
   */
  onApplied?: (tenantId: string, version: number) => void;
}

export interface KafkaControlOptions {
  kafka: Kafka;
  settings: KafkaSettings;
  logger: Logger;
  registry?: Registry;
  /** Collectors wait for the sinks' confirmations; sinks publish them. */
  role: 'collector' | 'sink';
}

/** A store kept in memory and reloaded from ClickHouse. */
interface ReloadTarget {
  load(): Promise<void>;
  get(id: string): unknown;
}

/**
 * Reloads a store after change notices, a few notices at a time; retries a
 * few times while a created entry is not visible yet (replica lag).
 */
class Reloader {
  private timer: NodeJS.Timeout | undefined;
  private wanted = new Set<string>();
  private stopped = false;

  constructor(
    private readonly what: string,
    private readonly target: ReloadTarget,
    private readonly logger: Logger,
  ) {}

  /** `id` was created (reload until it is visible), or '' for any other change (reload once). */
  want(id: string): void {
    this.wanted.add(id);
    this.timer ??= setTimeout(() => void this.reload(0), 10);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async reload(attempt: number): Promise<void> {
    const wanted = this.wanted;
    this.wanted = new Set();
    try {
      if (this.stopped) return;
      await this.target.load();
      const missing = [...wanted].filter((id) => id !== '' && this.target.get(id) === undefined);
      if (missing.length > 0 && attempt < 10) {
        for (const id of missing) this.wanted.add(id);
        this.timer = setTimeout(() => void this.reload(attempt + 1), 200);
        return;
      }
    } catch (err) {
      this.logger.error({ err }, `reloading ${this.what} after a change notice failed; retrying`);
      for (const id of wanted) this.wanted.add(id);
      this.timer = setTimeout(() => void this.reload(attempt + 1), 1000);
      return;
    }
    this.timer = undefined;
    if (this.wanted.size > 0) this.timer = setTimeout(() => void this.reload(0), 10);
  }
}

export class KafkaControl implements TierBroadcast, TenantBroadcast, OperatorBroadcast {
  private readonly producer: Producer;
  private consumer: Consumer | undefined;
  private targets: ControlTargets | undefined;
  private stopped = false;
  private joined = false;
  private readonly reloaders: Reloader[] = [];
  private tenantReloader: Reloader | undefined;
  private operatorReloader: Reloader | undefined;
  private refresher: NodeJS.Timeout | undefined;
  private readonly propagation: Histogram<'kind'>;
  /** Collectors: tenant -> sink instance -> the newest version it confirmed, and when. */
  private readonly acks = new Map<string, Map<string, { version: number; at: number }>>();
  private readonly ackWaiters = new Set<() => void>();
  private admin: Promise<Admin> | undefined;

  constructor(private readonly opts: KafkaControlOptions) {
    // Not idempotent: control records are rare, small and applied by version.
    this.producer = opts.kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 } });
    this.propagation = new Histogram({
      name: 'consentry_control_propagation_seconds',
      help: 'Time from another instance publishing a tier or tenant change to this instance applying it',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: opts.registry === undefined ? [] : [opts.registry],
    });
  }

  /**
   * Connects, subscribes and waits until the consumer joined its group (changes
   * from then on are seen). Also re-reads tier assignments from ClickHouse every
   * `refreshMs` (default 10 s): the safety net for a broadcast that was lost.
   */
  async start(targets: ControlTargets, refreshMs = 10_000): Promise<void> {
    this.targets = targets;
    const reloader = (what: string, target: ReloadTarget | undefined) => {
      if (target === undefined) return undefined;
      const r = new Reloader(what, target, this.opts.logger);
      this.reloaders.push(r);
      return r;
    };
    this.tenantReloader = reloader('tenants', targets.tenants);
    this.operatorReloader = reloader('operators', targets.operators);
    const admin = this.opts.kafka.admin();
    try {
      await withTimeout(admin.connect(), 30_000, `Kafka brokers ${this.opts.settings.brokers.join(',')} unreachable`);
      await withTimeout(ensureTopics(admin, this.opts.settings), 30_000, 'creating Kafka topics timed out');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await withTimeout(this.producer.connect(), 30_000, 'Kafka control producer could not connect');
    await this.startConsumer();
    this.refresher = setInterval(() => {
      targets.registry.refresh().catch((err: unknown) => this.opts.logger.warn({ err }, 'refreshing tier assignments from ClickHouse failed'));
      targets.operators?.load().catch((err: unknown) => this.opts.logger.warn({ err }, 'refreshing operators from ClickHouse failed'));
    }, refreshMs);
    this.refresher.unref();
  }

  private async startConsumer(): Promise<void> {
    const s = this.opts.settings;
    const consumer = this.opts.kafka.consumer({
      groupId: `${s.topics.tiers}.${s.instanceId}`,
      maxWaitTimeInMs: 50,
      sessionTimeout: 10_000,
      heartbeatInterval: 2000,
      allowAutoTopicCreation: false,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    this.consumer = consumer;
    const joined = new Promise<void>((resolve) => {
      consumer.on(consumer.events.GROUP_JOIN, () => {
        this.joined = true;
        resolve();
      });
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.joined = false;
      const { error, restart } = e.payload;
      this.opts.logger.warn({ err: error, restart }, 'Kafka control consumer crashed');
      if (!restart && !this.stopped) {
        // kafkajs gave up on its own: start a new consumer after a pause.
        setTimeout(() => {
          if (this.stopped) return;
          void consumer.disconnect().catch(() => undefined);
          this.startConsumer().catch((err: unknown) => this.opts.logger.error({ err }, 'restarting the Kafka control consumer failed'));
        }, 1000).unref();
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.targets?.operators === undefined ? [s.topics.tiers, s.topics.tenants] : [s.topics.tiers, s.topics.tenants, s.topics.operators], fromBeginning: true });
    // Only confirmations of switches made from now on matter.
    if (this.opts.role === 'collector') await consumer.subscribe({ topics: [s.topics.tierAcks], fromBeginning: false });
    await consumer.run({
      // No commits: a fresh process reads everything again (compacted: one record per tenant).
      autoCommit: false,
      eachMessage: async ({ topic, message }) => this.apply(topic, message),
    });
    await withTimeout(joined, 30_000, 'Kafka control consumer did not join its group');
  }

  ready(): boolean {
    return this.joined && !this.stopped;
  }

  private apply(topic: string, message: KafkaMessage): void {
    const targets = this.targets;
    if (targets === undefined) return;
    const from = message.headers?.[INSTANCE_HEADER]?.toString();
    const self = from === this.opts.settings.instanceId;
    const key = message.key?.toString() ?? '';
    try {
      if (topic === this.opts.settings.topics.tiers) {
        if (message.value === null) {
          if (!self) targets.registry.forgetRemote(key);
          return;
        }
        const m = JSON.parse(message.value.toString()) as TierMessage;
        if (m.v !== 1 || self) return;
        const applied = targets.registry.applyRemote({
          tenantId: m.tenantId,
          tier: m.tier,
          version: m.version,
          effectiveAt: m.effectiveAt,
          until: m.until ?? undefined,
          priorTier: m.priorTier,
          reason: m.reason,
          actor: m.actor,
        });
        if (applied) this.propagation.observe({ kind: 'tier' }, Math.max(0, Date.now() - m.publishedAtMs) / 1000);
        // Also when a fresh start loaded it already; not for the history read at start.
        if (Date.now() - m.publishedAtMs < ACK_MEMORY_MS) targets.onApplied?.(m.tenantId, m.version);
      } else if (topic === this.opts.settings.topics.tierAcks) {
        if (message.value !== null) this.noteAck(JSON.parse(message.value.toString()) as AckMessage);
      } else if (topic === this.opts.settings.topics.tenants && !self) {
        const m = message.value === null ? undefined : (JSON.parse(message.value.toString()) as TenantMessage);
        this.tenantReloader?.want(m !== undefined && !m.deleted ? key : '');
      } else if (topic === this.opts.settings.topics.operators && !self) {
        const m = message.value === null ? undefined : (JSON.parse(message.value.toString()) as OperatorMessage);
        this.operatorReloader?.want(m !== undefined && !m.revoked ? key : '');
      }
    } catch (err) {
      this.opts.logger.warn({ err, topic, offset: message.offset }, 'unreadable control record skipped');
    }
  }

  private noteAck(m: AckMessage): void {
    if (m.v !== 1) return;
    const now = Date.now();
    let bySink = this.acks.get(m.tenantId);
    if (bySink === undefined) this.acks.set(m.tenantId, (bySink = new Map<string, { version: number; at: number }>()));
    for (const [sink, a] of bySink) if (now - a.at > ACK_MEMORY_MS) bySink.delete(sink);
    if ((bySink.get(m.instanceId)?.version ?? -1) < m.version) bySink.set(m.instanceId, { version: m.version, at: now });
    for (const wake of [...this.ackWaiters]) wake();
  }

  /** Sinks: this instance applied `version` of the tenant's tier and inserts nothing reduced under an older one. */
  async publishApplied(tenantId: string, version: number): Promise<void> {
    const m: AckMessage = { v: 1, instanceId: this.opts.settings.instanceId, tenantId, version };
    await this.publish(this.opts.settings.topics.tierAcks, tenantId, JSON.stringify(m));
  }

  /**
   * Collectors: resolves once every member of the sink consumer group
   * confirmed `version` (or a newer one) of the tenant's tier; none running:
   * nothing to wait for (a sink that starts loads the tiers first). Rejects
   * after `timeoutMs` naming the sinks that did not confirm.
   */
  async awaitApplied(tenantId: string, version: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let missing: string[] | undefined;
    for (;;) {
      try {
        const members = await withTimeout(this.sinkMembers(), Math.max(1, deadline - Date.now()), 'no answer from the broker in time');
        missing = members.filter((m) => (this.acks.get(tenantId)?.get(m)?.version ?? -1) < version);
        if (missing.length === 0) return;
      } catch (err) {
        if (missing === undefined) throw new Error(`the sink consumer group "${this.opts.settings.sinkGroup}" could not be read (${(err as Error).message})`, { cause: err });
      }
      if (Date.now() >= deadline) throw new Error(`sink${missing.length === 1 ? '' : 's'} ${missing.join(', ')} did not confirm within ${timeoutMs} ms (CONSENTRY_TIER_SWITCH_TIMEOUT_MS)`);
      // The next confirmation, or a fresh look at the group (members leave and join).
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.ackWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(250, Math.max(1, deadline - Date.now())));
        this.ackWaiters.add(wake);
      });
    }
  }

  /** Client ids (= instance ids) of the sink group's members now. */
  private async sinkMembers(): Promise<string[]> {
    this.admin ??= (async () => {
      const admin = this.opts.kafka.admin();
      await admin.connect();
      return admin;
    })();
    this.admin.catch(() => (this.admin = undefined)); // try again next time
    const { groups } = await (await this.admin).describeGroups([this.opts.settings.sinkGroup]);
    return (groups[0]?.members ?? []).map((m) => m.clientId);
  }

  async publishAssignment(a: Assignment): Promise<void> {
    const m: TierMessage = { v: 1, ...a, until: a.until ?? null, publishedAtMs: Date.now() };
    await this.publish(this.opts.settings.topics.tiers, a.tenantId, JSON.stringify(m));
  }

  async publishForget(tenantId: string): Promise<void> {
    await this.publish(this.opts.settings.topics.tiers, tenantId, null);
  }

  async publishTenant(tenantId: string, deleted: boolean): Promise<void> {
    const m: TenantMessage = { v: 1, tenantId, deleted, publishedAtMs: Date.now() };
    await this.publish(this.opts.settings.topics.tenants, tenantId, JSON.stringify(m));
  }

  async publishOperator(name: string, revoked: boolean): Promise<void> {
    const m: OperatorMessage = { v: 1, name, revoked, publishedAtMs: Date.now() };
    await this.publish(this.opts.settings.topics.operators, name, JSON.stringify(m));
  }

  private async publish(topic: string, key: string, value: string | null): Promise<void> {
    await withTimeout(
      this.producer.send({ topic, acks: -1, messages: [{ key, value, headers: { [INSTANCE_HEADER]: this.opts.settings.instanceId } }] }),
      this.opts.settings.sendTimeoutMs,
      `Kafka did not acknowledge the ${topic} record within ${this.opts.settings.sendTimeoutMs} ms`,
    );
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const r of this.reloaders) r.stop();
    clearInterval(this.refresher);
    await withTimeout(this.consumer?.disconnect() ?? Promise.resolve(), 10_000, 'control consumer disconnect timed out').catch(() => undefined);
    await withTimeout(this.producer.disconnect(), 5000, 'control producer disconnect timed out').catch(() => undefined);
    await withTimeout(this.admin?.then((a) => a.disconnect()) ?? Promise.resolve(), 5000, 'control admin disconnect timed out').catch(() => undefined);
  }
}
