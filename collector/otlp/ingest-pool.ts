// Ingest on worker threads (CONSENTRY_INGEST_WORKERS): decoding and the tier
// pipeline are most of the collector's CPU, and the event loop alone uses one
// core. Each worker has its own tier engine; the main thread keeps HTTP, the
// tier registry, the transport and the metrics. A request's body is copied
// into a transferable buffer (fastify's may share a pooled slab); the result
// comes back by structured clone, which keeps shared Resource/Scope objects
// shared.
//
// A worker that dies fails its requests with IngestUnavailable (503, the
// gateway retries) and is replaced; while none is alive, requests run on the
// main thread.
import { Worker } from 'node:worker_threads';
import type { Settings } from '../../core/settings.ts';
import type { Logger } from '../../core/logger.ts';
import type { EngineHooks } from '../../processors/tiers/engine.ts';
import type { BatchContext } from '../../core/record.ts';
import { OtlpDecodeError } from './errors.ts';
import { ingest, IngestUnavailable, type Encoding, type Format, type Ingest, type IngestJob, type IngestResult, type IngestStages, type Signal } from './ingest.ts';

/** What a worker's engine counted while running one job. */
export interface Tally {
  counts: Array<[string, number]>;
  redactions: Array<[string, number]>;
  drops: Array<[string, string, number]>;
}

export interface WorkerRequest {
  id: number;
  signal: Signal;
  format: Format;
  /** Transferred: the worker owns it. */
  body: ArrayBuffer;
  ctx: BatchContext;
  encode: Encoding;
}

export type WorkerReply =
  | { id: number; result: IngestResult; tally: Tally }
  | { id: number; decodeError: { path: string; reason: string }; tally: Tally }
  | { id: number; error: string; tally: Tally };

interface Pending {
  resolve(r: IngestResult): void;
  reject(err: unknown): void;
}

export interface IngestPoolOptions {
  size: number;
  settings: Settings;
  /** The main thread's stages: run requests while no worker is alive. */
  stages: IngestStages;
  hooks: EngineHooks;
  logger: Logger;
  /** The worker's entry module (the app's, which calls serveIngest; tests point it at one that fails on purpose). */
  entry: URL;
}

const RESPAWN_DELAY_MS = 1000;

class IngestThread {
  readonly pending = new Map<number, Pending>();
  constructor(readonly worker: Worker) {}
}

export class IngestPool {
  /** Workers that are ready for requests. */
  private readonly threads = new Set<IngestThread>();
  /** Every worker started and not yet exited, ready or not. */
  private readonly workers = new Set<Worker>();
  private nextId = 0;
  /** Requests handed to a worker and not back yet, each settling either way. */
  private readonly inflight = new Set<Promise<unknown>>();
  private closing = false;

  private constructor(private readonly opts: IngestPoolOptions) {}

  /** Starts `size` workers and waits until each has built its engine; rejects with the first start-up error. */
  static async start(opts: IngestPoolOptions): Promise<IngestPool> {
    const pool = new IngestPool(opts);
    try {
      await Promise.all(Array.from({ length: opts.size }, () => pool.spawn()));
    } catch (err) {
      await pool.close();
      throw new Error(`ingest worker failed to start: ${(err as Error).message}. Set CONSENTRY_INGEST_WORKERS=0 to ingest on the main thread.`, { cause: err });
    }
    return pool;
  }

  private spawn(): Promise<void> {
    const worker = new Worker(this.opts.entry, { workerData: { settings: this.opts.settings }, name: 'consentry-ingest' });
    const thread = new IngestThread(worker);
    this.workers.add(worker);
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: WorkerReply | { ready: true }) => {
        if ('ready' in m) {
          ready = true;
          this.threads.add(thread);
          resolve();
        } else this.settle(thread, m);
      });
      worker.on('error', (err) => {
        if (!ready) reject(err instanceof Error ? err : new Error(String(err)));
        else this.opts.logger.error({ err }, 'ingest worker failed');
      });
      worker.on('exit', (code) => {
        this.threads.delete(thread);
        this.workers.delete(worker);
        for (const p of thread.pending.values()) p.reject(new IngestUnavailable(`ingest worker exited (code ${code})`));
        thread.pending.clear();
        if (!ready) reject(new Error(`exited with code ${code} before it was ready`));
        else if (!this.closing) {
          this.opts.logger.error({ code }, 'ingest worker exited; starting another');
          setTimeout(() => {
            if (!this.closing) this.spawn().catch((err: unknown) => this.opts.logger.error({ err }, 'ingest worker failed to restart'));
          }, RESPAWN_DELAY_MS).unref();
        }
      });
    });
  }

  private settle(thread: IngestThread, m: WorkerReply): void {
    const p = thread.pending.get(m.id);
    if (p === undefined) return;
    thread.pending.delete(m.id);
    const { hooks } = this.opts;
    for (const [name, n] of m.tally.counts) hooks.count(name, n);
    for (const [kind, n] of m.tally.redactions) hooks.onRedact(kind, n);
    for (const [signal, tier, n] of m.tally.drops) hooks.onDrop(signal, tier, n);
    if ('result' in m) p.resolve(m.result);
    else if ('decodeError' in m) p.reject(new OtlpDecodeError(m.decodeError.path, m.decodeError.reason));
    else p.reject(new Error(`ingest worker: ${m.error}`));
  }

  /** The least busy worker's (requests are not all the same size); ties take turns. */
  readonly ingest: Ingest = (job: IngestJob) => {
    let best: IngestThread | undefined;
    const threads = [...this.threads];
    for (let i = 0; i < threads.length; i++) {
      const t = threads[(this.nextId + i) % threads.length]!;
      if (best === undefined || t.pending.size < best.pending.size) best = t;
    }
    if (best === undefined) return Promise.resolve().then(() => ingest(this.opts.stages, job));
    const thread = best;
    const id = this.nextId++;
    const body = new Uint8Array(job.body.length);
    body.set(job.body);
    const request: WorkerRequest = { id, signal: job.signal, format: job.format, body: body.buffer, ctx: job.ctx, encode: job.encode };
    const result = new Promise<IngestResult>((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      thread.worker.postMessage(request, [body.buffer]);
    });
    const settled: Promise<unknown> = result.then(
      () => this.inflight.delete(settled),
      () => this.inflight.delete(settled),
    );
    this.inflight.add(settled);
    return result;
  };

  /** Settles when every request handed to a worker so far has come back (or failed). */
  async drained(): Promise<void> {
    await Promise.all(this.inflight);
  }

  /** Stops the workers; requests still in them fail with IngestUnavailable (call after the receiver drained). */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.workers].map((w) => w.terminate()));
  }
}
