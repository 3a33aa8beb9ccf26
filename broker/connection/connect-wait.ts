/**
 * A new connection until its CONNECT has arrived whole: the bytes are gathered in the
 * socket's own callback, with no process yet, so a connect storm pays neither a process
 * wake-up per chunk nor a receive timer per connection. The idle timeout
 * (idle_timeout_ms) of every waiting connection is one FIFO with one clock timer: all
 * have the same length, so the oldest is always the first due.
 */
import type { Transport } from './transport.js';

/** What the wait ends with: the CONNECT's bytes and what followed, or why none came. */
export type WaitEnd = { readonly t: 'connect'; readonly bytes: Buffer; readonly rest: Buffer } | { readonly t: 'closed' } | { readonly t: 'timeout' };

interface Waiting {
  readonly transport: Transport;
  readonly deadline: number;
  readonly done: (end: WaitEnd) => void;
}

/**
 * The connections waiting for their CONNECT, in arrival order (so deadline order).
 * One per listener set; `timeoutMs` is fixed for its life.
 */
export class ConnectWaits {
  private readonly waiting = new Set<Waiting>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly timeoutMs: number) {}

  /**
   * Read `t` until one whole CONNECT is in (`split` says how long the first packet is,
   * 'more' to wait, or -1 to hand over what came as is, e.g. a first packet that is no
   * CONNECT); `done` is called exactly once, after which `t` is paused.
   */
  wait(t: Transport, split: (buf: Buffer) => number | 'more', done: (end: WaitEnd) => void): void {
    let buf: Buffer | undefined;
    const w: Waiting = {
      transport: t,
      deadline: Date.now() + this.timeoutMs,
      done: (end) => {
        if (!this.waiting.delete(w)) return;
        t.pause();
        done(end);
      },
    };
    this.waiting.add(w);
    this.arm();
    t.receive({
      data: (_t, c) => {
        buf = buf === undefined ? c : Buffer.concat([buf, c]);
        const n = split(buf);
        if (n === 'more') return;
        if (n < 0) w.done({ t: 'connect', bytes: buf, rest: Buffer.alloc(0) });
        else w.done({ t: 'connect', bytes: buf.subarray(0, n), rest: buf.subarray(n) });
      },
      closed: () => w.done({ t: 'closed' }),
      drain: () => undefined,
    });
  }

  /** Stop every wait (the listeners are closing): each is told 'closed'. */
  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    for (const w of [...this.waiting]) w.done({ t: 'closed' });
  }

  private arm(): void {
    if (this.timer !== undefined) return;
    const first = this.waiting.values().next();
    if (first.done === true) return;
    this.timer = setTimeout(() => this.expire(), Math.max(0, first.value.deadline - Date.now()));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    const now = Date.now();
    for (const w of this.waiting) {
      if (w.deadline > now) break;
      w.done({ t: 'timeout' });
    }
    this.arm();
  }
}
