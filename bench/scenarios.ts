// The bench scenarios: which deployment, which tenants on which tiers, how
// many spans per request, which generator, and what kind of run.
import type { DeploymentKind } from './deployments.ts';

export type ScenarioKind =
  /** Finds the highest sustainable rate (accepted ~ offered, no 429/503, p99 ack bounded). */
  | 'saturation'
  /** Offers twice the sustainable rate of the tier: memory must stay flat, the excess answered 429/503. */
  | 'overload'
  /** One step at a set rate. */
  | 'fixed'
  /** Two steps at a set rate for the last tenant (B), the first tenant (A) quiet, then running its maximum of heavy SQL queries: what B sees. */
  | 'neighbor'
  /** One long step (600 s) at twice the sustainable rate when known, else a fixed rate: RSS of every process every 10 s must not grow. */
  | 'soak';

export interface Scenario {
  name: string;
  deployment: DeploymentKind;
  /** Tier of each tenant (one tenant per entry; requests go round-robin). */
  tiers: string[];
  /** Spans per OTLP request. */
  batchSize: number;
  generator: 'preencoded' | 'sdk';
  /** OTLP/HTTP or OTLP/gRPC (the same pools either way). */
  protocol: 'http' | 'grpc';
  kind: ScenarioKind;
  /** First rate of the search, or the fixed rate (soak: when no baseline was measured), spans/s. */
  startRate: number;
  /** For overload and soak: the saturation scenario whose sustainable rate is doubled. */
  baseline?: string;
  /** CONSENTRY_* settings of this scenario's deployment (`--set` overrides them). */
  settings?: Record<string, string>;
  description: string;
}

const TIERS = ['minimal', 'summary', 'full'] as const;

/** Where a search starts, spans/s: below the DESIGN.md targets, so it climbs. */
const START: Record<string, number> = { minimal: 20_000, summary: 20_000, full: 8_000, mixed: 10_000 };

/** A soak's rate when its baseline did not run before it, spans/s: near the sustainable rates measured for `full` (README, Benchmarks). */
const SOAK_RATE: Record<DeploymentKind, number> = { embedded: 8_000, kafka: 4_000 };

/** Three tenants on `tier`, 1000 spans per request, pre-encoded over OTLP/HTTP: the load of the overload and soak scenarios, as their baseline's. */
function threeTenantsB1000(tier: string): Pick<Scenario, 'tiers' | 'batchSize' | 'generator' | 'protocol'> {
  return { tiers: [tier, tier, tier], batchSize: 1000, generator: 'preencoded', protocol: 'http' };
}

/** Every scenario, in run order. `quick` scales rates down. */
export function catalogue(quick: boolean): Scenario[] {
  const scale = (r: number): number => (quick ? Math.min(r, 2_000) : r);
  const out: Scenario[] = [];
  for (const deployment of ['embedded', 'kafka'] as const) {
    for (const tier of TIERS) {
      // OTLP/gRPC beside the HTTP b1000 scenario, with the same pool.
      for (const [batchSize, protocol] of [[100, 'http'], [1000, 'http'], [1000, 'grpc']] as const) {
        out.push({
          name: `${deployment}-${tier}-b${batchSize}${protocol === 'grpc' ? '-grpc' : ''}`,
          deployment,
          tiers: [tier, tier, tier],
          batchSize,
          generator: 'preencoded',
          protocol,
          kind: 'saturation',
          startRate: scale(START[tier]!),
          description: `3 tenants on ${tier}, ${batchSize} spans per request, pre-encoded open-loop${protocol === 'grpc' ? ', over OTLP/gRPC (unary calls over HTTP/2)' : ''}`,
        });
      }
    }
    out.push({
      name: `${deployment}-mixed-b1000`,
      deployment,
      tiers: ['minimal', 'summary', 'full'],
      batchSize: 1000,
      generator: 'preencoded',
      protocol: 'http',
      kind: 'saturation',
      startRate: scale(START['mixed']!),
      description: 'one tenant per tier (full with bodies), 1000 spans per request',
    });
    for (const tier of TIERS) {
      out.push({
        name: `${deployment}-${tier}-overload`,
        deployment,
        ...threeTenantsB1000(tier),
        kind: 'overload',
        startRate: scale(START[tier]!),
        baseline: `${deployment}-${tier}-b1000`,
        description: `twice the sustainable rate of ${deployment}-${tier}-b1000`,
      });
    }
    out.push({
      name: `${deployment}-mixed-sdk`,
      deployment,
      tiers: ['minimal', 'summary', 'full'],
      batchSize: 512,
      generator: 'sdk',
      protocol: 'http',
      kind: 'fixed',
      startRate: quick ? 500 : 5_000,
      description: 'the real OTel SDK (BatchSpanProcessor, OTLP/proto exporter with its retries), one tenant per tier',
    });
  }
  out.push({
    name: 'embedded-noisy-neighbor',
    deployment: 'embedded',
    tiers: ['full', 'full'],
    batchSize: 100,
    generator: 'preencoded',
    protocol: 'http',
    kind: 'neighbor',
    startRate: quick ? 500 : 2_000,
    settings: { CONSENTRY_QUERY_TIMEOUT_SECONDS: '10' },
    description: "tenant B sends spans and probes SELECT 1 every 200 ms; tenant A quiet, then running as many 5-way self-join queries as it is allowed (each up to the 10 s query limit)",
  });
  // Last: each is 10 minutes of load, and reads its baseline's rate from the searches above.
  for (const deployment of ['embedded', 'kafka'] as const) {
    out.push({
      name: `${deployment}-full-soak`,
      deployment,
      ...threeTenantsB1000('full'),
      kind: 'soak',
      startRate: scale(SOAK_RATE[deployment]),
      baseline: `${deployment}-full-b1000`,
      description: `3 tenants on full, 1000 spans per request, pre-encoded open loop for 10 minutes at twice the sustainable rate of ${deployment}-full-b1000 (${SOAK_RATE[deployment].toLocaleString('en-US')} spans/s when it did not run first); RSS of every process every 10 s`,
    });
  }
  return out;
}

/** What `--quick` runs unless --scenario says otherwise: seconds, small numbers, embedded. */
export const QUICK_DEFAULT = ['embedded-summary-b100', 'embedded-full-b100', 'embedded-full-overload'];

/**
 * Resolves `--scenario` names (exact, or a prefix such as `embedded-full`). A
 * prefix takes soak scenarios (10 minutes each) only when it says `soak`.
 */
export function selectScenarios(all: Scenario[], names: string[] | undefined, quick: boolean): Scenario[] | Error {
  const wanted = names ?? (quick ? QUICK_DEFAULT : all.map((s) => s.name));
  const picked: Scenario[] = [];
  for (const n of wanted) {
    const exact = all.filter((s) => s.name === n);
    const matches = exact.length > 0 ? exact : all.filter((s) => s.name.startsWith(n) && (s.kind !== 'soak' || n.includes('soak')));
    if (matches.length === 0) return new Error(`unknown scenario "${n}"; --list shows them`);
    for (const s of matches) if (!picked.includes(s)) picked.push(s);
  }
  return picked;
}
