// The load generator, a process of its own (started by bench/generator-client.ts
// with child_process.fork), so that it never competes with the collector inside
// one event loop and its CPU is measured apart.
//
// `preencoded` mode: batches are encoded once (bench/otlp-batches.ts), then sent
// open-loop: request i is due at start + i * batchSize / rate whatever happened
// to earlier ones, over keep-alive connections (node:http Agent), or as
// OTLP/gRPC unary calls spread over a few HTTP/2 connections, without retries;
// 2xx, 429, 503 (gRPC: OK, RESOURCE_EXHAUSTED, UNAVAILABLE) and everything else
// are counted apart. Latency runs
// from the time a request was due, so a generator or connection backlog shows
// up in it rather than hiding (no coordinated omission).
//
// `sdk` mode: the real OTel SDK per tenant (tracer, BatchSpanProcessor,
// OTLP/protobuf exporter with its own retries on 429/503) creates and exports
// spans live at the target rate: realism, at a lower rate.
import http from 'node:http';
import http2, { type ClientHttp2Session } from 'node:http2';
import { randomBytes } from 'node:crypto';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { buildPool, markerBatch, markerName, markerRequest, MARKER_ID_LENGTH, MARKER_PREFIX, type BatchPool } from './otlp-batches.ts';
import { GatewayTraffic, gatewayResource, spanAttributes, spanName } from './traffic.ts';
import { percentiles } from './stats.ts';
import type { FromGenerator, GeneratorConfig, MarkerEvent, PoolStats, StatusCounts, StepProgress, StepRequest, StepResult, ToGenerator } from './generator-protocol.ts';

/** Hard bounds whatever the runner asks: load stays bounded in rate and time. */
const MAX_RATE = 2_000_000;
const MAX_DURATION_S = 600;

function send(msg: FromGenerator): void {
  process.send?.(msg);
}

function statusKey(status: number): keyof StatusCounts {
  if (status >= 200 && status < 300) return '2xx';
  if (status === 429) return '429';
  if (status === 503) return '503';
  return 'other';
}

const zeroCounts = (): StatusCounts => ({ '2xx': 0, '429': 0, '503': 0, other: 0 });

function checkLoopback(url: string): URL {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') throw new Error(`the generator only targets 127.0.0.1, not ${u.hostname}`);
  return u;
}

/** Marker ids: a per-process prefix and a counter, MARKER_ID_LENGTH characters of [0-9a-z]. */
function markerIds(): () => string {
  const prefix = BigInt('0x' + randomBytes(4).toString('hex')).toString(36).padStart(7, '0').slice(-6);
  let n = 0;
  return () => prefix + (n++).toString(36).padStart(MARKER_ID_LENGTH - prefix.length, '0');
}

interface Engine {
  pool: PoolStats;
  run(step: StepRequest): Promise<StepResult>;
  close(): Promise<void>;
}

function checkStep(step: StepRequest): void {
  if (!(step.rate > 0 && step.rate <= MAX_RATE)) throw new Error(`rate must be in (0, ${MAX_RATE}] spans/s, got ${step.rate}`);
  if (!(step.durationS > 0 && step.durationS <= MAX_DURATION_S)) throw new Error(`duration must be in (0, ${MAX_DURATION_S}] s, got ${step.durationS}`);
}

// ---------------------------------------------------------------- senders

/**
 * Sends one pre-encoded ExportTraceServiceRequest for a tenant; `done` gets the
 * answer as an HTTP status (0: none) and whether it carried Retry-After
 * (undefined: the transport does not say).
 */
interface Sender {
  send(body: Buffer, authorization: string, done: (status: number, retryAfter?: boolean) => void): void;
  close(): void;
}

function httpSender(config: GeneratorConfig, url: URL): Sender {
  const agent = new http.Agent({ keepAlive: true, maxSockets: config.connections, maxFreeSockets: config.connections, keepAliveMsecs: 30_000 });
  return {
    send(body, authorization, done) {
      const req = http.request({
        agent,
        host: url.hostname,
        port: url.port,
        path: '/v1/traces',
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length, authorization },
      });
      req.setTimeout(config.requestTimeoutMs, () => req.destroy(new Error('timeout')));
      req.on('response', (res) => {
        res.on('data', () => undefined);
        res.on('end', () => done(res.statusCode ?? 0, res.headers['retry-after'] !== undefined));
        res.on('error', () => done(0));
      });
      req.on('error', () => done(0));
      req.end(body);
    },
    close: () => agent.destroy(),
  };
}

/** gRPC statuses as the HTTP statuses OTLP pairs them with (the counters are HTTP classes). */
const GRPC_AS_HTTP: Record<string, number> = { '0': 200, '8': 429, '14': 503 };
/** Calls per HTTP/2 connection, about: the collector allows 100 at once on one. */
const CALLS_PER_CONNECTION = 64;

function grpcSender(config: GeneratorConfig, url: URL): Sender {
  const sessions: Array<ClientHttp2Session | undefined> = Array.from({ length: Math.max(1, Math.min(config.connections, Math.ceil(config.maxOutstanding / CALLS_PER_CONNECTION))) });
  let next = 0;
  const session = (): ClientHttp2Session => {
    const i = next++ % sessions.length;
    let s = sessions[i];
    if (s === undefined || s.closed || s.destroyed) {
      s = http2.connect(url.origin);
      s.on('error', () => undefined);
      sessions[i] = s;
    }
    return s;
  };
  return {
    send(body, authorization, done) {
      const stream = session().request({ ':method': 'POST', ':path': '/opentelemetry.proto.collector.trace.v1.TraceService/Export', 'content-type': 'application/grpc', te: 'trailers', authorization });
      let status: string | undefined;
      stream.setTimeout(config.requestTimeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      stream.on('response', (h) => (status = h['grpc-status'] === undefined ? status : String(h['grpc-status'])));
      stream.on('trailers', (t) => (status = t['grpc-status'] === undefined ? status : String(t['grpc-status'])));
      stream.on('data', () => undefined);
      stream.on('error', () => undefined);
      stream.on('close', () => done(status === undefined ? 0 : (GRPC_AS_HTTP[status] ?? 500)));
      // The 5-byte gRPC prefix, then the pool's bytes as they are (no copy).
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(body.length, 1);
      stream.write(prefix);
      stream.end(body);
    },
    close() {
      for (const s of sessions) s?.destroy();
    },
  };
}

// ---------------------------------------------------------------- pre-encoded

function preencoded(config: GeneratorConfig): Engine {
  const url = checkLoopback(config.otlpUrl);
  const started = performance.now();
  const perTenant = Math.max(config.batchSize, Math.floor(config.poolSpans / config.tenants.length));
  const pools: BatchPool[] = config.tenants.map((t, i) =>
    buildPool({
      tenantId: t.id,
      seed: config.seed + i * 1000,
      bodies: t.bodies,
      spansPerBatch: config.batchSize,
      batches: Math.max(1, Math.round(perTenant / config.batchSize)),
      markerTemplates: 2,
      baseTimeMs: Date.now(),
      requestsPerSecond: 20_000,
    }),
  );
  const pool: PoolStats = {
    buildSeconds: (performance.now() - started) / 1000,
    bytesPerSpan: pools.reduce((s, p) => s + p.bytesPerSpan, 0) / pools.length,
    poolSpans: pools.reduce((s, p) => s + p.batches.length * p.spansPerBatch, 0),
    plantedSecrets: pools.reduce((s, p) => s + p.plantedSecrets, 0),
  };
  const auth = config.tenants.map((t) => `Bearer ${t.ingestKey}`);
  const sender = config.protocol === 'grpc' ? grpcSender(config, url) : httpSender(config, url);
  const nextMarkerId = markerIds();
  const markerTenants = new Set(config.markerTenants);
  let requestNo = 0;
  let markerNo = 0;

  const run = (step: StepRequest): Promise<StepResult> =>
    new Promise((resolveStep) => {
      checkStep(step);
      const intervalMs = (config.batchSize / step.rate) * 1000;
      const durationMs = step.durationS * 1000;
      const requests = zeroCounts();
      const spans = zeroCounts();
      const latencies: number[] = [];
      const lateness: number[] = [];
      const markers: MarkerEvent[] = [];
      let offered = 0;
      let sent = 0;
      let skipped = 0;
      let outstanding = 0;
      let noRetryAfter = 0;
      let sendingDone = false;
      let sendingEndedAtMs = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const wall0 = performance.timeOrigin + t0;
      let nextMarkerAt = config.markerIntervalMs > 0 && markerTenants.size > 0 ? t0 + config.markerIntervalMs / 2 : Infinity;
      let i = 0;

      // Progress every progressEveryMs of sending, and once more when every request is answered.
      const every = step.progressEveryMs ?? 0;
      let progressAt = every > 0 ? every : Infinity;
      const progress = (elapsedMs: number): void => {
        const p: StepProgress = { elapsedMs, requests: { ...requests }, spans: { ...spans }, refusedWithoutRetryAfter: noRetryAfter };
        send({ type: 'progress', progress: p });
      };

      const finish = (): void => {
        if (!sendingDone || outstanding > 0) return;
        if (every > 0) progress(performance.now() - t0);
        const cpu = process.cpuUsage(cpu0);
        resolveStep({
          startedAtMs: wall0,
          sendingEndedAtMs,
          doneAtMs: Date.now(),
          durationS: step.durationS,
          offeredSpans: offered * config.batchSize,
          offeredRequests: offered,
          sentRequests: sent,
          skippedRequests: skipped,
          skippedSpans: skipped * config.batchSize,
          requests,
          spans,
          refusedWithoutRetryAfter: noRetryAfter,
          ackLatencyMs: percentiles(latencies),
          sendLatenessMs: percentiles(lateness),
          cpuUserS: cpu.user / 1e6,
          cpuSystemS: cpu.system / 1e6,
          maxRssMb: process.resourceUsage().maxRSS / 1024,
          markers,
        });
      };

      const issue = (dueAt: number, now: number): void => {
        const n = requestNo++;
        const tenant = n % pools.length;
        const p = pools[tenant]!;
        let body: Buffer;
        let marker: MarkerEvent | undefined;
        if (now >= nextMarkerAt && markerTenants.has(config.tenants[tenant]!.id)) {
          nextMarkerAt += config.markerIntervalMs;
          const id = nextMarkerId();
          body = markerBatch(p.markerTemplates[markerNo++ % p.markerTemplates.length]!, id);
          const t = config.tenants[tenant]!;
          marker = { id, tenantId: t.id, tier: t.tier, sentAtMs: performance.timeOrigin + dueAt, ackAtMs: 0, status: 0 };
          send({ type: 'marker', marker });
        } else {
          body = p.batches[Math.floor(n / pools.length) % p.batches.length]!;
        }
        outstanding++;
        sent++;
        lateness.push(now - dueAt);
        let settled = false;
        const done = (status: number, retryAfter?: boolean): void => {
          if (settled) return;
          settled = true;
          outstanding--;
          const key = statusKey(status);
          requests[key]++;
          if ((key === '429' || key === '503') && retryAfter === false) noRetryAfter++;
          spans[key] += config.batchSize;
          if (key === '2xx') latencies.push(performance.now() - dueAt);
          if (marker !== undefined) {
            marker.ackAtMs = Date.now();
            marker.status = status;
            markers.push(marker);
            send({ type: 'marker', marker });
          }
          finish();
        };
        sender.send(body, auth[tenant]!, done);
      };

      const tick = (): void => {
        const now = performance.now();
        const elapsed = now - t0;
        if (elapsed >= progressAt) {
          progress(elapsed);
          progressAt += every;
        }
        while (i * intervalMs < durationMs && i * intervalMs <= elapsed) {
          const dueAt = t0 + i * intervalMs;
          i++;
          offered++;
          if (outstanding >= config.maxOutstanding) {
            skipped++;
            continue;
          }
          issue(dueAt, now);
        }
        if (i * intervalMs >= durationMs) {
          sendingDone = true;
          sendingEndedAtMs = Date.now();
          send({ type: 'sent', atMs: sendingEndedAtMs });
          finish();
          return;
        }
        const wait = t0 + i * intervalMs - performance.now();
        setTimeout(tick, Math.max(0, Math.min(wait, 5)));
      };
      tick();
    });

  return {
    pool,
    run,
    close() {
      sender.close();
      return Promise.resolve();
    },
  };
}

// ---------------------------------------------------------------- OTel SDK

function sdk(config: GeneratorConfig): Engine {
  const url = checkLoopback(config.otlpUrl);
  const started = performance.now();
  interface StepStats {
    requests: StatusCounts;
    spans: StatusCounts;
    latencies: number[];
    markers: MarkerEvent[];
    exported: number;
    sent: number;
  }
  let stats: StepStats | undefined;
  const pendingMarkers = new Map<string, MarkerEvent>();

  const providers = config.tenants.map((t, i) => {
    const inner = new OTLPTraceExporter({ url: `${url.origin}/v1/traces`, headers: { Authorization: `Bearer ${t.ingestKey}` }, timeoutMillis: config.requestTimeoutMs });
    // Counts each export's outcome and latency; the SDK exporter's own retries (429/503) happen inside.
    const counting: SpanExporter = {
      export(batch: ReadableSpan[], resultCallback) {
        const t0 = performance.now();
        const s = stats;
        if (s !== undefined) {
          s.sent++;
          s.exported += batch.length;
        }
        inner.export(batch, (result) => {
          const code = (result.error as { code?: unknown } | undefined)?.code;
          const status = Number(result.code) === 0 ? 200 : typeof code === 'number' ? code : 0;
          if (s !== undefined) {
            const key = statusKey(status);
            s.requests[key]++;
            s.spans[key] += batch.length;
            if (key === '2xx') s.latencies.push(performance.now() - t0);
            for (const span of batch) {
              if (!span.name.startsWith(MARKER_PREFIX)) continue;
              const m = pendingMarkers.get(span.name);
              if (m === undefined) continue;
              pendingMarkers.delete(span.name);
              m.ackAtMs = Date.now();
              m.status = status;
              s.markers.push(m);
              send({ type: 'marker', marker: m });
            }
          }
          resultCallback(result);
        });
      },
      shutdown: () => inner.shutdown(),
      forceFlush: () => inner.forceFlush(),
    };
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes(gatewayResource(t.id, i)),
      spanProcessors: [
        new BatchSpanProcessor(counting, {
          maxExportBatchSize: config.batchSize,
          maxQueueSize: Math.max(2048, config.batchSize * 8),
          scheduledDelayMillis: 100,
          exportTimeoutMillis: config.requestTimeoutMs,
        }),
      ],
    });
    return { tenant: t, provider, tracer: provider.getTracer('consentry-bench-gateway', '1.0.0'), traffic: new GatewayTraffic({ seed: config.seed + i * 1000, bodies: t.bodies }) };
  });
  const pool: PoolStats = { buildSeconds: (performance.now() - started) / 1000, bytesPerSpan: 0, poolSpans: 0, plantedSecrets: 0 };
  const nextMarkerId = markerIds();

  const run = async (step: StepRequest): Promise<StepResult> => {
    checkStep(step);
    const s: StepStats = { requests: zeroCounts(), spans: zeroCounts(), latencies: [], markers: [], exported: 0, sent: 0 };
    stats = s;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const wall0 = performance.timeOrigin + t0;
    const durationMs = step.durationS * 1000;
    const lateness: number[] = [];
    let created = 0;
    let nextMarkerAt = config.markerIntervalMs > 0 && config.markerTenants.length > 0 ? t0 + config.markerIntervalMs / 2 : Infinity;
    await new Promise<void>((resolveSending) => {
      const tick = (): void => {
        const now = performance.now();
        const due = Math.min(Math.floor(((now - t0) / 1000) * step.rate), Math.floor(step.durationS * step.rate));
        if (due > created) lateness.push(now - (t0 + ((created + 1) / step.rate) * 1000));
        for (; created < due; created++) {
          const g = providers[created % providers.length]!;
          const r = g.traffic.next();
          const end = Date.now();
          let name = spanName(r);
          let attributes = spanAttributes(r);
          if (now >= nextMarkerAt && config.markerTenants.includes(g.tenant.id)) {
            nextMarkerAt += config.markerIntervalMs;
            name = markerName(nextMarkerId());
            attributes = markerRequest(r, name).attributes;
            const m: MarkerEvent = { id: name.slice(MARKER_PREFIX.length), tenantId: g.tenant.id, tier: g.tenant.tier, sentAtMs: end, ackAtMs: 0, status: 0 };
            pendingMarkers.set(name, m);
            send({ type: 'marker', marker: m });
          }
          const span = g.tracer.startSpan(name, { kind: SpanKind.SERVER, startTime: end - r.durationMs, attributes });
          if (r.status >= 500 && !name.startsWith(MARKER_PREFIX)) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end(end);
        }
        if (now - t0 >= durationMs) return resolveSending();
        setTimeout(tick, 5);
      };
      tick();
    });
    const sendingEndedAtMs = Date.now();
    send({ type: 'sent', atMs: sendingEndedAtMs });
    await Promise.all(providers.map((g) => g.provider.forceFlush()));
    stats = undefined;
    // Markers the SDK dropped (queue full) were never sent: report them as such, not as pending.
    for (const [name, m] of pendingMarkers) {
      pendingMarkers.delete(name);
      m.ackAtMs = Date.now();
      m.status = 0;
      send({ type: 'marker', marker: m });
    }
    const cpu = process.cpuUsage(cpu0);
    return {
      startedAtMs: wall0,
      sendingEndedAtMs,
      doneAtMs: Date.now(),
      durationS: step.durationS,
      offeredSpans: created,
      offeredRequests: s.sent,
      sentRequests: s.sent,
      skippedRequests: 0,
      skippedSpans: Math.max(0, created - s.exported),
      requests: s.requests,
      spans: s.spans,
      refusedWithoutRetryAfter: 0,
      ackLatencyMs: percentiles(s.latencies),
      sendLatenessMs: percentiles(lateness),
      cpuUserS: cpu.user / 1e6,
      cpuSystemS: cpu.system / 1e6,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      markers: s.markers,
    };
  };

  return {
    pool,
    run,
    async close() {
      await Promise.all(providers.map((g) => g.provider.shutdown().catch(() => undefined)));
    },
  };
}

// ---------------------------------------------------------------- process

function main(): void {
  if (process.send === undefined) {
    process.stderr.write('bench/generator.ts runs as a child of bench/run.ts (child_process.fork), not on its own.\n');
    process.exit(2);
  }
  let engine: Engine | undefined;
  // The runner going away (crash, Ctrl-C) ends the generator too.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (msg: ToGenerator) => {
    void (async () => {
      try {
        switch (msg.type) {
          case 'prepare':
            if (msg.config.mode === 'sdk' && msg.config.protocol !== 'http') throw new Error('the sdk generator sends OTLP/HTTP only');
            engine = msg.config.mode === 'sdk' ? sdk(msg.config) : preencoded(msg.config);
            send({ type: 'ready', pool: engine.pool });
            break;
          case 'step':
            if (engine === undefined) throw new Error('step before prepare');
            send({ type: 'result', result: await engine.run(msg.step) });
            break;
          case 'exit':
            await engine?.close();
            process.exit(0);
        }
      } catch (err) {
        send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    })();
  });
}

main();
