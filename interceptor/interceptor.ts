// createInterceptor: what a Node.js API or LLM gateway adds to send each
// proxied request to Consentry as a span (DESIGN.md, Gateway conventions).
// It never slows or breaks the gateway: nothing on the request path awaits,
// the export queue is bounded (drops counted), capture errors are swallowed
// (counted), and when Consentry is down responses are unaffected.
import type { FastifyPluginCallback } from 'fastify';
import { resolveOptions, type InterceptorOptions } from './config.ts';
import { Core } from './core.ts';
import { createSpanExport } from './export.ts';
import { fastifyCapture } from './fastify.ts';
import { wrapFetch } from './fetch.ts';
import { PolicyClient, type CapturePolicy } from './policy.ts';
import { VERSION } from '../core/version.ts';


export interface InterceptorStats {
  /** Requests seen by the plugin, plus upstream calls outside any request seen by the fetch wrapper. */
  requests: number;
  /** Spans recorded and handed to the export queue. */
  captured: number;
  /** Spans Consentry accepted. */
  exported: number;
  /** Spans lost: queueFull + exportFailed + policyUnknown. */
  dropped: number;
  droppedBy: {
    /** maxQueueSize spans were already held (Consentry slow or down). */
    queueFull: number;
    /** The export failed after the exporter's retries (Consentry down, or it refused the data). */
    exportFailed: number;
    /** Not captured: the capture policy was unknown (never fetched, or too old), so nothing was captured (fail closed). */
    policyUnknown: number;
  };
  /** Requests not captured because the tenant's tier keeps nothing about requests (e.g. minimal). */
  skippedByTier: number;
  /** Capture failures swallowed; the request itself went on untouched. */
  captureErrors: number;
  /** Spans held in memory now (queued or being exported). */
  queued: number;
  /** The capture policy in force, or undefined when unknown. */
  policy: CapturePolicy | undefined;
  /** Why the last policy refresh failed; undefined after a success. */
  policyError: string | undefined;
}

export interface Interceptor {
  /** Fastify plugin: `await app.register(interceptor.fastify)`. Applies to the whole application. */
  readonly fastify: FastifyPluginCallback;
  /** A fetch of the same shape that captures upstream calls (see fetch.ts). Default: the global fetch. */
  wrapFetch<F extends typeof globalThis.fetch>(fetchImpl?: F): F;
  /** Resolves once the first capture-policy request finished: true when the policy is known. Never rejects. */
  ready(): Promise<boolean>;
  stats(): InterceptorStats;
  /** Exports what is queued now. */
  flush(): Promise<void>;
  /** Stops capturing, exports what is queued (at most `deadlineMs`, default 5000) and closes. Idempotent. */
  shutdown(deadlineMs?: number): Promise<void>;
}

/**
 * Validates the options (throws InterceptorConfigError listing every problem),
 * then starts learning the tenant's capture policy in the background.
 */
export function createInterceptor(options: InterceptorOptions): Interceptor {
  const opts = resolveOptions(options);
  const out = createSpanExport(opts, VERSION);
  const policy = new PolicyClient({ url: opts.url, ingestKey: opts.ingestKey, refreshMs: opts.policyRefreshMillis, maxAgeMs: opts.policyMaxAgeMillis });
  const core = new Core(opts, out.tracer, policy);
  policy.start();
  let stopping: Promise<void> | undefined;
  return {
    fastify: fastifyCapture(core),
    wrapFetch: <F extends typeof globalThis.fetch>(fetchImpl?: F) => wrapFetch(core, fetchImpl ?? (globalThis.fetch.bind(globalThis) as F)),
    ready: () => policy.ready(),
    stats() {
      const c = core.counters;
      const e = out.counters;
      return {
        requests: c.requests,
        captured: c.captured,
        exported: e.exported,
        dropped: e.queueFull + e.exportFailed + c.policyUnknown,
        droppedBy: { queueFull: e.queueFull, exportFailed: e.exportFailed, policyUnknown: c.policyUnknown },
        skippedByTier: c.skippedByTier,
        captureErrors: c.captureErrors,
        queued: e.inflight,
        policy: policy.current(),
        policyError: policy.lastError,
      };
    },
    flush: () => out.flush().catch(() => undefined),
    shutdown(deadlineMs = 5000) {
      stopping ??= (async () => {
        core.closed = true;
        policy.stop();
        await out.shutdown(deadlineMs);
      })();
      return stopping;
    },
  };
}
