// What the fastify plugin and the fetch wrapper share: options, the tracer,
// the capture policy, the request context and the counters.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Tracer } from '@opentelemetry/api';
import { Capture } from './capture.ts';
import type { ResolvedOptions } from './config.ts';
import type { PolicyClient } from './policy.ts';

/** The store of a request that is not captured: upstream calls inside it are not captured either. */
export const NO_CAPTURE = Symbol('consentry.no-capture');

export interface CoreCounters {
  /** Requests (and standalone upstream calls) seen. */
  requests: number;
  /** Spans recorded (handed to the export queue). */
  captured: number;
  /** Not captured because the capture policy was unknown (Consentry unreachable, bad key): fail closed. */
  policyUnknown: number;
  /** Not captured because the tenant's tier keeps nothing about requests (e.g. minimal): not a loss. */
  skippedByTier: number;
  /** Capture failures swallowed (the request itself went on untouched). */
  captureErrors: number;
}

export class Core {
  readonly als = new AsyncLocalStorage<Capture | typeof NO_CAPTURE>();
  readonly counters: CoreCounters = { requests: 0, captured: 0, policyUnknown: 0, skippedByTier: 0, captureErrors: 0 };
  closed = false;

  constructor(
    readonly opts: ResolvedOptions,
    readonly tracer: Tracer,
    readonly policy: PolicyClient,
  ) {}

  /** A new capture under the policy in force, or undefined (counted) when nothing may be captured. */
  begin(kind: 'server' | 'client'): Capture | undefined {
    if (this.closed) return undefined;
    this.counters.requests++;
    const policy = this.policy.current();
    if (policy === undefined) {
      this.counters.policyUnknown++;
      return undefined;
    }
    if (!policy.spans) {
      this.counters.skippedByTier++;
      return undefined;
    }
    return new Capture(kind, policy);
  }

  /** Records the capture's span; never throws. */
  finish(c: Capture, statusCode: number | undefined): void {
    try {
      if (c.end(this.tracer, this.opts, statusCode)) this.counters.captured++;
    } catch {
      this.counters.captureErrors++;
    }
  }
}
