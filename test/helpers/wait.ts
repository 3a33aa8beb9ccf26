/**
 * Waiting without sleeping-and-hoping: every wait polls or listens with a deadline
 * and fails with a message naming what it waited for.
 */
import type { EventEmitter } from 'node:events';

export class WaitTimeout extends Error {
  override readonly name = 'WaitTimeout';
}

/** Poll `check` (sync or async) until it returns a value other than undefined/false. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 5_000,
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${what}` + (lastErr instanceof Error ? ` (last error: ${lastErr.message})` : ''));
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The next `event` from `emitter`, or a WaitTimeout. */
export function nextEvent<T = unknown>(emitter: EventEmitter, event: string, what: string, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const on = (v: T): void => {
      clearTimeout(timer);
      resolve(v);
    };
    emitter.once(event, on);
  });
}

/** Race a promise against a deadline. */
export function withTimeout<T>(p: Promise<T>, what: string, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** A countdown latch: `wait()` settles after `count()` has been called n times. */
export function latch(n: number): { count(): void; wait(what: string, timeoutMs?: number): Promise<void> } {
  let left = n;
  let release: () => void = () => undefined;
  const done = new Promise<void>((r) => (release = r));
  if (left <= 0) release();
  return {
    count() {
      if (--left === 0) release();
    },
    wait: (what, timeoutMs = 5_000) => withTimeout(done, `${what} (${left} of ${n} left)`, timeoutMs),
  };
}
