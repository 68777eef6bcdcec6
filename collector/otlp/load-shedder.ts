// Admission by event-loop delay. Decoding and the tier pipeline run on the main
// thread; when they fall behind, requests queue inside the process and memory
// grows with them. Measuring how late a periodic timer fires tells us that
// directly, so new requests get 429 + Retry-After instead of joining the queue.
export interface LoadShedderOptions {
  /** Above this delay new requests are refused, ms. */
  maxDelayMs: number;
  /** How often the delay is sampled, ms. */
  intervalMs?: number;
  /** How long requests are refused after a slow sample, ms: long enough for the backlog to drain. */
  holdMs?: number;
  /** The clock, ms (tests stand in for it). Default performance.now. */
  now?: () => number;
}

export class LoadShedder {
  private delayMs = 0;
  private refuseUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: LoadShedderOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  start(): void {
    const interval = this.opts.intervalMs ?? 50;
    let expected = this.now() + interval;
    this.timer ??= setInterval(() => {
      const now = this.now();
      const delay = Math.max(0, now - expected);
      expected = now + interval;
      if (delay > this.opts.maxDelayMs) {
        this.delayMs = delay;
        this.refuseUntil = now + (this.opts.holdMs ?? 1000);
      }
    }, interval);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The current event-loop delay when it is over the limit, else undefined. */
  overloaded(): number | undefined {
    return this.now() < this.refuseUntil ? this.delayMs : undefined;
  }
}
