// The runner's side of the load generator process (bench/generator.ts).
import { fileURLToPath } from 'node:url';
import type { Child, Processes } from './procs.ts';
import type { FromGenerator, GeneratorConfig, MarkerEvent, PoolStats, StepProgress, StepRequest, StepResult, ToGenerator } from './generator-protocol.ts';

const SCRIPT = fileURLToPath(new URL('./generator.ts', import.meta.url));

export interface StepHooks {
  /** A marker's batch was sent (ackAtMs 0) or answered. */
  onMarker?: (m: MarkerEvent) => void;
  /** The generator stopped sending (answers may still be pending). */
  onSent?: (atMs: number) => void;
  /** Answers so far, every `progressEveryMs` of the step's request. */
  onProgress?: (p: StepProgress) => void;
}

export class GeneratorClient {
  private waiting: { resolve: (m: FromGenerator) => void; reject: (e: Error) => void; accept: FromGenerator['type'] } | undefined;
  private hooks: StepHooks = {};

  private constructor(readonly child: Child) {
    const proc = child.proc!;
    proc.on('message', (msg: FromGenerator) => {
      if (msg.type === 'marker') return this.hooks.onMarker?.(msg.marker);
      if (msg.type === 'sent') return this.hooks.onSent?.(msg.atMs);
      if (msg.type === 'progress') return this.hooks.onProgress?.(msg.progress);
      const w = this.waiting;
      if (w === undefined) return;
      this.waiting = undefined;
      if (msg.type === 'error') w.reject(new Error(`generator: ${msg.message}`));
      else w.resolve(msg);
    });
    void child.exited.then((exit) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(new Error(`generator exited (code ${exit.code}, signal ${exit.signal})`));
    });
  }

  static start(procs: Processes, opts: { cwd: string; logFile: string }): GeneratorClient {
    return new GeneratorClient(procs.forkNode({ name: 'generator', script: SCRIPT, cwd: opts.cwd, logFile: opts.logFile }));
  }

  private request(msg: ToGenerator, accept: FromGenerator['type']): Promise<FromGenerator> {
    if (this.waiting !== undefined) throw new Error('generator busy');
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject, accept };
      this.child.proc!.send(msg);
    });
  }

  /** Builds the batch pool (or the SDK pipelines); resolves with pool statistics. */
  async prepare(config: GeneratorConfig): Promise<PoolStats> {
    const m = await this.request({ type: 'prepare', config }, 'ready');
    if (m.type !== 'ready') throw new Error(`generator answered ${m.type} to prepare`);
    return m.pool;
  }

  /** One step of load; resolves when every request of it was answered or timed out. */
  async step(step: StepRequest, hooks: StepHooks = {}): Promise<StepResult> {
    this.hooks = hooks;
    try {
      const m = await this.request({ type: 'step', step }, 'result');
      if (m.type !== 'result') throw new Error(`generator answered ${m.type} to step`);
      return m.result;
    } finally {
      this.hooks = {};
    }
  }

  async close(): Promise<void> {
    if (this.child.proc?.connected === true) this.child.proc.send({ type: 'exit' } satisfies ToGenerator);
    await Promise.race([this.child.exited, new Promise((r) => setTimeout(r, 3000))]);
    await this.child.stop(2000);
  }
}
