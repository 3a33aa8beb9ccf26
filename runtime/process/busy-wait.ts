/**
 * Scheduler busy wait, the BEAM's `+sbwt`: once the run queue is empty, keep the event
 * loop turning (setImmediate, so libuv polls the sockets without blocking) for a short
 * while before letting it sleep in epoll. A message that arrives meanwhile is read at
 * once, without the OS having to wake the thread, which on a VM is most of a
 * loopback round trip: measured on the 2-vCPU machine this was written on, a
 * dist ping-pong went from a median of ~180 µs (Node's own TCP echo: ~150-220) down
 * to 30-50 µs. The price is CPU spent polling after each burst of work, at most the
 * threshold per burst: `none` turns it off (as `+sbwt none` is advised for BEAMs
 * sharing their cores).
 *
 * Process-wide, as the emulator flag is: one event loop serves every node in the
 * OS process, and the last setting made wins.
 */

export type BusyWait = 'none' | 'very_short' | 'short' | 'medium' | 'long' | 'very_long';

/** How long (ms) the loop keeps polling after the last drain, per level. */
const THRESHOLD_MS: Readonly<Record<BusyWait, number>> = {
  none: 0,
  very_short: 0.02,
  short: 0.05,
  medium: 0.2,
  long: 1,
  very_long: 5,
};

export const BUSY_WAIT_LEVELS = Object.keys(THRESHOLD_MS) as readonly BusyWait[];

/** The BEAM's default is medium too. */
export const DEFAULT_BUSY_WAIT: BusyWait = 'medium';

let level: BusyWait = DEFAULT_BUSY_WAIT;
let thresholdMs = THRESHOLD_MS[level];
/** Poll until this time (performance.now()); pushed forward by every drain. */
let until = 0;
let polling = false;

export function isBusyWait(s: string): s is BusyWait {
  return Object.hasOwn(THRESHOLD_MS, s);
}

export function setBusyWait(l: BusyWait): void {
  level = l;
  thresholdMs = THRESHOLD_MS[l];
}

export function busyWait(): BusyWait {
  return level;
}

/**
 * Processes ran (a drain just ended): keep polling for the threshold from now. Once per
 * drain, not per message: one clock read.
 */
export function worked(): void {
  if (thresholdMs === 0) return;
  until = performance.now() + thresholdMs;
  if (!polling) {
    polling = true;
    setImmediate(poll);
  }
}

function poll(): void {
  if (performance.now() < until) setImmediate(poll);
  else polling = false;
}
