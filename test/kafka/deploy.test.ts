// deploy/ cannot be run here (no container engine), so this checks that it
// stays true to the code: the YAML parses, every CONSENTRY_* variable it (or its
// README) names is a real setting, commands run files that exist, ports and
// probes match what the processes serve, and the committed cluster DDL is the
// generator's output from the current migrations.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../core/settings.ts';
import { clusterDdl, OUTPUT } from '../../deploy/clickhouse/generate-cluster-ddl.ts';
import { REPO } from './processes.ts';

const DEPLOY = join(REPO, 'deploy');
const KNOWN = new Set(SETTINGS.map((s) => s.env));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Every YAML document under deploy/, parsed strictly. */
function yamlDocs(): Array<{ file: string; doc: any }> {
  return files(DEPLOY)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(file, 'utf8'), { merge: true }).map((d) => {
        if (d.errors.length > 0) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
        return { file, doc: d.toJS({ maxAliasCount: 100 }) };
      }),
    )
    .filter((d) => d.doc !== null);
}

/** Every command an entry point names must exist: `node dist/<file>.js` (built from `<file>.ts`: npm test builds first), or `npm run <script>`. */
function checkCommand(cmd: string[]): void {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const js = cmd.find((a) => a.startsWith('dist/') && a.endsWith('.js'));
  if (js !== undefined) {
    expect(existsSync(join(REPO, js.slice('dist/'.length).replace(/\.js$/, '.ts'))), `source of ${js} exists`).toBe(true);
    expect(existsSync(join(REPO, js)), `${js} is built`).toBe(true);
  }
  const run = cmd.indexOf('run');
  if (cmd[0] === 'npm' && run >= 0) expect(pkg.scripts[cmd[run + 1]!], `npm script ${cmd[run + 1]}`).toBeDefined();
  expect(js !== undefined || cmd[0] === 'npm').toBe(true);
}

describe('deploy/', () => {
  it('names only real settings (compose, Kubernetes, README, Dockerfile)', () => {
    const used = new Set<string>();
    for (const f of files(DEPLOY)) for (const m of readFileSync(f, 'utf8').matchAll(/\bCONSENTRY_[A-Z0-9_]+\b/g)) used.add(m[0]);
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((v) => !KNOWN.has(v))).toEqual([]);
  });

  it('docker-compose: Kafka, ClickHouse, collector and sink with health checks, volumes, real commands and ports', () => {
    const [compose] = yamlDocs().filter((d) => d.file.endsWith('docker-compose.yml'));
    const services = compose!.doc.services as Record<string, any>;
    expect(Object.keys(services).sort()).toEqual(['clickhouse', 'collector', 'kafka', 'sink']);
    for (const [name, s] of Object.entries(services)) expect(s.healthcheck?.test, `${name} health check`).toBeDefined();
    expect(Object.keys(compose!.doc.volumes).length).toBeGreaterThanOrEqual(2);
    checkCommand(services['collector'].command);
    checkCommand(services['sink'].command);
    expect(services['collector'].command).toContain('dist/app/collector-main.js');
    expect(services['sink'].command).toContain('dist/app/sink-main.js');
    const env = services['collector'].environment as Record<string, string>;
    expect(env['CONSENTRY_KAFKA_BROKERS']).toBe('kafka:9092');
    expect(env['CONSENTRY_OTLP_PORT']).toBe('4318');
    expect(env['CONSENTRY_OTLP_GRPC_PORT']).toBe('4317');
    expect(services['collector'].ports).toEqual(['4317:4317', '4318:4318', '8080:8080']);
    expect(services['collector'].healthcheck.test.join(' ')).toContain(`:${env['CONSENTRY_API_PORT']}/readyz`);
    const sinkEnv = services['sink'].environment as Record<string, string>;
    expect(services['sink'].healthcheck.test.join(' ')).toContain(`:${sinkEnv['CONSENTRY_SINK_PORT']}/readyz`);
    expect(env['CONSENTRY_HOST']).toBe('0.0.0.0');
    const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
    expect(compose!.doc.services.collector.build.dockerfile).toBe('deploy/Dockerfile');
    for (const dir of dockerfile.matchAll(/^COPY (?!--from)(\S+) /gm)) expect(existsSync(join(REPO, dir[1]!)), dir[1]).toBe(true);
    // The current Node.js LTS, in both stages (issue 20).
    expect([...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1])).toEqual(['node:26-bookworm-slim', 'node:26-bookworm-slim']);
  });

  it('Kubernetes: collector Deployment + Service + HPA, sink Deployment, ConfigMap, Secret, probes on the served ports', () => {
    const docs = yamlDocs().filter((d) => d.file.includes('/kubernetes/')).map((d) => d.doc);
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(kinds).toEqual([
      'ConfigMap/consentry-config',
      'Deployment/consentry-collector',
      'Deployment/consentry-sink',
      'HorizontalPodAutoscaler/consentry-collector',
      'Secret/consentry-secrets',
      'Service/consentry-collector',
    ]);
    const config = docs.find((d) => d.kind === 'ConfigMap').data as Record<string, string>;
    const secret = docs.find((d) => d.kind === 'Secret').stringData as Record<string, string>;
    for (const key of [...Object.keys(config), ...Object.keys(secret)]) expect(KNOWN.has(key), key).toBe(true);
    expect(Object.keys(secret).sort()).toEqual(['CONSENTRY_ADMIN_TOKEN', 'CONSENTRY_CLICKHOUSE_URL', 'CONSENTRY_HMAC_KEY', 'CONSENTRY_METRICS_TOKEN']);
    expect(config['CONSENTRY_HOST']).toBe('0.0.0.0');

    const deployment = (name: string) => docs.find((d) => d.kind === 'Deployment' && d.metadata.name === name);
    for (const [name, portEnv, probePort] of [
      ['consentry-collector', 'CONSENTRY_API_PORT', 'api'],
      ['consentry-sink', 'CONSENTRY_SINK_PORT', 'health'],
    ] as const) {
      const c = deployment(name).spec.template.spec.containers[0];
      checkCommand(c.command);
      expect(c.envFrom.map((e: any) => e.configMapRef?.name ?? e.secretRef?.name).sort()).toEqual(['consentry-config', 'consentry-secrets']);
      const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value])) as Record<string, string>;
      const port = c.ports.find((p: any) => p.name === probePort);
      expect(String(port.containerPort)).toBe(env[portEnv]);
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: probePort });
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: probePort });
      expect(deployment(name).spec.selector.matchLabels).toEqual(Object.fromEntries(Object.entries(deployment(name).spec.template.metadata.labels).filter(([k]) => k in deployment(name).spec.selector.matchLabels)));
    }
    const collector = deployment('consentry-collector').spec.template.spec.containers[0];
    for (const [name, setting] of [
      ['otlp-http', 'CONSENTRY_OTLP_PORT'],
      ['otlp-grpc', 'CONSENTRY_OTLP_GRPC_PORT'],
    ]) {
      const otlp = collector.ports.find((p: any) => p.name === name);
      expect(String(otlp.containerPort)).toBe(collector.env.find((e: any) => e.name === setting).value);
    }
    const service = docs.find((d) => d.kind === 'Service');
    expect(service.spec.selector).toEqual(deployment('consentry-collector').spec.selector.matchLabels);
    expect(service.spec.ports.map((p: any) => p.targetPort).sort()).toEqual(['api', 'otlp-grpc', 'otlp-http']);
    const hpa = docs.find((d) => d.kind === 'HorizontalPodAutoscaler');
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'consentry-collector' });
    // More sinks than partitions would idle.
    expect(deployment('consentry-sink').spec.replicas).toBeLessThanOrEqual(Number(config['CONSENTRY_KAFKA_PARTITIONS']));
  });

  it('cluster DDL: the committed file is the generator output from the current migrations', () => {
    const sql = clusterDdl();
    expect(readFileSync(OUTPUT, 'utf8'), 'deploy/clickhouse/cluster.sql is stale: run npx tsx deploy/clickhouse/generate-cluster-ddl.ts --write').toBe(sql);
    // Every MergeTree table is replicated and has a Distributed table of the same name.
    const local = [...sql.matchAll(/CREATE TABLE IF NOT EXISTS consentry\.(\w+)_local ON CLUSTER/g)].map((m) => m[1]);
    const dist = [...sql.matchAll(/CREATE TABLE IF NOT EXISTS consentry\.(\w+) ON CLUSTER '\{cluster\}' AS consentry\.\1_local/g)].map((m) => m[1]);
    expect(dist).toEqual(local);
    expect(local).toEqual(expect.arrayContaining(['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata', 'tenants', 'tier_assignments', 'tier_audit']));
    expect(sql).not.toMatch(/ENGINE = (?:Replacing|Aggregating|Summing)?MergeTree\b/);
    expect(sql).not.toContain('non_replicated_deduplication_window');
  });

  it('cluster DDL generator refuses statements it cannot distribute', () => {
    expect(() => clusterDdl([{ version: 9, name: 'view', statements: ['CREATE MATERIALIZED VIEW consentry.v AS SELECT 1'] }])).toThrow(/does not know how/);
    expect(() => clusterDdl([{ version: 9, name: 'log', statements: ['CREATE TABLE IF NOT EXISTS consentry.t (a UInt8) ENGINE = Log'] }])).toThrow(/no MergeTree-family engine/);
  });
});
