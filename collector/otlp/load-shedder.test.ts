// Admission by event-loop delay: with a stand-in clock and fake interval
// timers, a sample later than maxDelayMs refuses requests for holdMs, one at
// the limit does not; and once with the real clock, a blocked event loop is
// seen.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LoadShedder } from './load-shedder.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** A shedder on a clock the test moves; `sample(lateBy)` fires the next sample that many ms late. */
function withClock(opts: { maxDelayMs: number; intervalMs: number; holdMs: number }) {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  let now = 1000;
  const shedder = new LoadShedder({ ...opts, now: () => now });
  return {
    shedder,
    sample(lateBy: number) {
      now += opts.intervalMs + lateBy;
      vi.advanceTimersByTime(opts.intervalMs);
    },
    /** `n` samples on time. */
    onTime(n: number) {
      for (let i = 0; i < n; i++) this.sample(0);
    },
  };
}

describe('load shedder', () => {
  it.each([
    { name: 'on time', lateBy: 0, refused: undefined },
    { name: 'late by the limit exactly', lateBy: 100, refused: undefined },
    { name: 'late by more than the limit', lateBy: 101, refused: 101 },
    { name: 'late by far more', lateBy: 2500, refused: 2500 },
  ])('a sample $name: overloaded() is $refused', ({ lateBy, refused }) => {
    const c = withClock({ maxDelayMs: 100, intervalMs: 50, holdMs: 1000 });
    c.shedder.start();
    c.sample(lateBy);
    expect(c.shedder.overloaded()).toBe(refused);
    c.shedder.stop();
  });

  it('refuses for holdMs after a slow sample, then admits again; a later slow sample refuses again', () => {
    const c = withClock({ maxDelayMs: 100, intervalMs: 50, holdMs: 1000 });
    c.shedder.start();
    c.sample(300);
    c.onTime(19); // 950 ms later
    expect(c.shedder.overloaded()).toBe(300);
    c.onTime(1); // 1000 ms later
    expect(c.shedder.overloaded()).toBeUndefined();
    c.sample(150);
    expect(c.shedder.overloaded()).toBe(150);
    c.shedder.stop();
  });

  it('stop without start, stop twice: nothing happens', () => {
    const c = withClock({ maxDelayMs: 100, intervalMs: 50, holdMs: 1000 });
    c.shedder.stop();
    c.shedder.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(c.shedder.overloaded()).toBeUndefined();
  });

  it('start twice keeps one timer; after stop nothing is sampled', () => {
    const c = withClock({ maxDelayMs: 100, intervalMs: 50, holdMs: 1000 });
    c.shedder.start();
    c.shedder.start();
    expect(vi.getTimerCount()).toBe(1);
    c.shedder.stop();
    expect(vi.getTimerCount()).toBe(0);
    c.sample(5000);
    expect(c.shedder.overloaded()).toBeUndefined();
  });

  it('with the real clock: an event loop blocked well past the limit is refused', async () => {
    const shedder = new LoadShedder({ maxDelayMs: 100, intervalMs: 10, holdMs: 60_000 });
    shedder.start();
    try {
      await new Promise((r) => setTimeout(r, 30)); // the first samples are taken
      const until = performance.now() + 400;
      while (performance.now() < until) {
        // the event loop is blocked: no sample is taken
      }
      await expect.poll(() => shedder.overloaded()).toBeGreaterThan(100);
    } finally {
      shedder.stop();
    }
  });
});
