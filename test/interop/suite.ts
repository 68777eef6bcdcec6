// The checks every interop client goes through, per tier, as issue 13 states
// them: content only where the tier keeps it (in any column of any table),
// secrets never, per-call log rows only where the tier keeps requests, event
// names stored where content is kept, and one request per call with the right
// model, provider and tokens on the dashboard, the same in `summary` and
// `full`.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  locate,
  query,
  runAll,
  runProblem,
  startInterop,
  stored,
  telemetrygenDriver,
  type Interop,
  type Launch,
  type RunResult,
  type RunSpec,
  type Stored,
  type Tenant,
} from './harness.ts';
import { COMPLETION_MARK, EMAIL, MODEL, PROMPT_MARK, SECRET_MARKER, SECRET_PREFIX, SYSTEM_MARK, USAGE } from './traffic.ts';

/** Tiers that keep prompts and completions (policies 002 and 004, and `full`). */
const CONTENT_TIERS = new Set(['full', 'logorhythms', 'lunogen']);
/** Tiers that keep one row per request (spans); `summary` keeps aggregates, `minimal` nothing. */
const PER_REQUEST_TIERS = new Set(['full', 'logorhythms', 'lunogen', 'lunos']);

export const TIERS = ['full', 'summary', 'minimal', 'lunos'] as const;

export interface InteropCase {
  /** Names the tenants (`<name>-<tier>`) and the describe block. */
  name: string;
  launch: Launch;
  /** Toolchains the launch needs: the Python environment, telemetrygen. */
  needs: { python?: boolean; go?: boolean };
  /** One process each, per tier. */
  runs: RunSpec[];
  /** LLM calls (= requests) one run makes. */
  callsPerRun: number;
  /** Whether the client calls the mock (telemetrygen does not). */
  callsMock: boolean;
  /** Whether prompts and completions travel (with content capture on). */
  sendsContent: boolean;
  /** Provider the dashboard must show. */
  provider: string;
  /** Event names (LogRecord.event_name) a run sends, to be found in otel_logs.EventName in the tiers that keep content. */
  eventNames?: string[];
  /** Log records per run that are not per-call events (an application's own logs), kept by every tier that keeps logs. */
  appLogsPerRun?: number;
  /** Default TIERS. */
  tiers?: readonly string[];
}

/** A Python client making one chat call per run, with content capture on, against the mock. */
export function llmCase(c: Pick<InteropCase, 'name' | 'launch' | 'runs'> & Partial<InteropCase>): InteropCase {
  return { needs: { python: true }, callsPerRun: 1, callsMock: true, sendsContent: true, provider: 'openai', ...c };
}

/**
 * telemetrygen (the Go SDK, through the Collector's load generator), over
 * OTLP/HTTP or OTLP/gRPC: each trace a CLIENT root with a SERVER child, both
 * carrying the same GenAI attributes. One request per trace, its tokens once.
 */
export function telemetrygenCase(name: string, opts: { grpc?: boolean } = {}): InteropCase {
  const traces = 2;
  return {
    name,
    launch: telemetrygenDriver({
      traces,
      grpc: opts.grpc,
      attributes: { 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': MODEL, 'gen_ai.usage.input_tokens': USAGE.input, 'gen_ai.usage.output_tokens': USAGE.output },
    }),
    needs: { go: true },
    runs: [{ shape: 'bare' }],
    callsPerRun: traces,
    callsMock: false,
    sendsContent: false,
    provider: 'openai',
  };
}

interface TierState {
  tenant: Tenant;
  results: RunResult[];
  stored: Stored;
}

/**
 * The interop suite of one test file: one Consentry and one mock for all its
 * cases; beforeAll runs every case against every tier (client processes in
 * parallel), then each check is one `it`, per case and tier.
 */
export function interopSuite(cases: InteropCase[]): void {
  const state = new Map<string, TierState>();
  const key = (c: InteropCase, tier: string) => `${c.name}-${tier}`;
  let env: Interop | undefined;
  const needs = { python: cases.some((c) => c.needs.python === true), go: cases.some((c) => c.needs.go === true) };

  beforeAll(async () => {
    env = await startInterop(needs);
    const jobs: Array<{ c: InteropCase; tenant: Tenant; run: RunSpec }> = [];
    for (const c of cases) {
      for (const tier of c.tiers ?? TIERS) {
        const tenant = await createTenant(env, key(c, tier), tier);
        for (const run of c.runs) jobs.push({ c, tenant, run });
      }
    }
    const results = await runAll(env, jobs.map((j) => ({ launch: j.c.launch, tenant: j.tenant, run: j.run })));
    const tenants = new Map(jobs.map((j) => [j.tenant.id, { c: j.c, tenant: j.tenant }]));
    await Promise.all(
      [...tenants.values()].map(async ({ c, tenant }) => {
        const expected = tenant.tier === 'minimal' ? 0 : c.runs.length * c.callsPerRun;
        const s = { tenant, results: results.get(tenant.id) ?? [], stored: await stored(env!, tenant, expected) };
        state.set(tenant.id, s);
        // INTEROP_DUMP=<dir>: each tenant's runs (exit, time, output) and stored rows, one JSON file per client and tier.
        const dump = process.env['INTEROP_DUMP'];
        if (dump !== undefined && dump !== '') await writeFile(join(dump, `${tenant.id}.json`), JSON.stringify(s, null, 1));
      }),
    );
  }, 20 * 60_000); // a cold first run builds the Python environment (about a minute) and telemetrygen
  afterAll(async () => env?.close());

  const envOf = (): Interop => {
    if (env === undefined) throw new Error('the interop environment did not start: see the error of beforeAll above');
    return env;
  };
  const of = (c: InteropCase, tier: string): TierState => {
    const s = state.get(key(c, tier));
    if (s === undefined) throw new Error(`no data for ${key(c, tier)}: beforeAll failed (see its error above)`);
    return s;
  };

  for (const c of cases) describeCase(c, of, envOf);

  const mockCalls = cases.filter((c) => c.callsMock).reduce((n, c) => n + (c.tiers ?? TIERS).length * c.runs.length * c.callsPerRun, 0);
  if (mockCalls > 0) {
    it(`the OpenAI mock answered all ${mockCalls} calls`, () => {
      expect(envOf().mock.calls).toHaveLength(mockCalls);
    });
  }
}

function describeCase(c: InteropCase, of: (c: InteropCase, tier: string) => TierState, envOf: () => Interop): void {
  const tiers = c.tiers ?? TIERS;
  const calls = c.runs.length * c.callsPerRun;

  describe(c.name, () => {
    describe.each(tiers)('%s', (tier) => {
      const keepsContent = CONTENT_TIERS.has(tier);
      const perRequest = PER_REQUEST_TIERS.has(tier);

      it('the client ran and every export was accepted', () => {
        const s = of(c, tier);
        expect(s.results.map(runProblem).filter((p) => p !== undefined)).toEqual([]);
        expect(s.results).toHaveLength(c.runs.length);
      });

      it('stores no secret anywhere', () => {
        const s = of(c, tier).stored;
        const secret = envOf().secret;
        expect(locate(s, SECRET_PREFIX)).toEqual([]);
        expect(locate(s, secret.slice(SECRET_PREFIX.length, SECRET_PREFIX.length + 24))).toEqual([]);
      });

      if (c.sendsContent && keepsContent) {
        it('stores the prompt and the completion, with the secret replaced by its marker', () => {
          const s = of(c, tier).stored;
          expect(locate(s, PROMPT_MARK).length).toBeGreaterThan(0);
          expect(locate(s, COMPLETION_MARK).length).toBeGreaterThan(0);
          expect(locate(s, SECRET_MARKER).length).toBeGreaterThan(0);
        });
      }
      if (c.sendsContent && !keepsContent) {
        it('stores no prompt, completion, system instruction or email in any column of any table', () => {
          const s = of(c, tier).stored;
          expect({
            prompt: locate(s, PROMPT_MARK),
            system: locate(s, SYSTEM_MARK),
            completion: locate(s, COMPLETION_MARK),
            email: locate(s, EMAIL),
          }).toEqual({ prompt: [], system: [], completion: [], email: [] });
        });
      }

      if (!perRequest) {
        it('stores no spans and no per-call log rows', () => {
          const s = of(c, tier).stored;
          expect(s.traces).toEqual([]);
          // What may be left in otel_logs is the application's own logs, one set per run.
          const logs = s.logs.map((l) => ({ EventName: l['EventName'], Body: String(l['Body']).slice(0, 100) }));
          expect(logs.length, JSON.stringify(logs, null, 1)).toBe(c.runs.length * (c.appLogsPerRun ?? 0));
        });
      }

      if (!perRequest && (c.appLogsPerRun ?? 0) > 0) {
        it("keeps the application's own logs, with secrets replaced and emails masked", () => {
          const s = of(c, tier).stored;
          expect(s.logs.length).toBeGreaterThan(0);
          expect(locate(s, SECRET_MARKER)).toEqual(['otel_logs.Body']);
        });
      }

      if (tier === 'minimal') {
        it('keeps no request count: no summaries, and the dashboard says so', () => {
          const s = of(c, tier).stored;
          expect(s.summaries).toEqual([]);
          expect(s.dashboard.requestData).toBe('none-by-consent');
          expect(s.dashboard.totals?.requests ?? 0).toBe(0);
        });
      } else {
        it(`counts ${calls} requests: one per call, whatever the span tree`, () => {
          expect(of(c, tier).stored.dashboard.totals?.requests).toBe(calls);
        });

        it('counts the tokens of each call once', () => {
          const t = of(c, tier).stored.dashboard.totals;
          expect({ inputTokens: t?.inputTokens, outputTokens: t?.outputTokens }).toEqual({ inputTokens: calls * USAGE.input, outputTokens: calls * USAGE.output });
        });

        it(`puts every token under model ${MODEL} and provider ${c.provider}`, () => {
          const d = of(c, tier).stored.dashboard;
          const withTokens = <T extends { inputTokens: number; outputTokens: number }>(rows: T[] | undefined) => (rows ?? []).filter((r) => r.inputTokens > 0 || r.outputTokens > 0);
          expect({
            models: withTokens(d.byModel).map((m) => [m.model, m.inputTokens, m.outputTokens]),
            providers: withTokens(d.byProvider).map((p) => [p.provider, p.inputTokens, p.outputTokens]),
          }).toEqual({ models: [[MODEL, calls * USAGE.input, calls * USAGE.output]], providers: [[c.provider, calls * USAGE.input, calls * USAGE.output]] });
        });

        // Per model and provider the figure is the LLM call: a request may call several models
        // (a fallback), and an application's entry span names none (README, the counting rule).
        it(`shows every LLM call under model ${MODEL} and provider ${c.provider}, and no request twice`, () => {
          const d = of(c, tier).stored.dashboard;
          const called = <T extends { calls: number }>(rows: T[] | undefined) => (rows ?? []).filter((r) => r.calls > 0);
          const requests = (rows: Array<{ requests: number }> | undefined) => (rows ?? []).reduce((n, r) => n + r.requests, 0);
          expect({
            models: called(d.byModel).map((m) => [m.model, m.calls]),
            providers: called(d.byProvider).map((p) => [p.provider, p.calls]),
            requests: [requests(d.byModel), requests(d.byProvider)],
          }).toEqual({ models: [[MODEL, calls]], providers: [[c.provider, calls]], requests: [calls, calls] });
        });
      }

      if (c.eventNames !== undefined && keepsContent) {
        it(`stores the event names (${c.eventNames.join(', ')}) in otel_logs.EventName`, async () => {
          const rows = await query(envOf(), of(c, tier).tenant, 'SELECT DISTINCT EventName FROM otel_logs ORDER BY EventName');
          expect(rows.map((r) => r['EventName'])).toEqual(expect.arrayContaining(c.eventNames!));
        });
      }
    });

    if (tiers.includes('summary') && tiers.includes('full')) {
      it('summary and full dashboards give the same figures for the same traffic', () => {
        // Every figure but latency (each tier's tenant got its own runs) and the labels of the answer.
        const figures = (tier: string): unknown => {
          const { totals, byProvider, byEndpoint, byModel } = of(c, tier).stored.dashboard as unknown as Record<string, unknown>;
          return JSON.parse(JSON.stringify({ totals, byProvider, byEndpoint, byModel }, (k, v: unknown) => (/latency/i.test(k) ? undefined : v)));
        };
        expect(figures('summary')).toEqual(figures('full'));
      });
    }
  });
}
