/**
 * The clock seam: every timer in the runtime goes through a `Clock`, so tests can
 * drive time with a simulated one. The real clock is Node's timers.
 */

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  // Timers keep the OS process alive, as Node's do: someone awaits what they end
  // (a call's timeout, a receive's). Node.stop() cancels every pending one.
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};
