/**
 * Async processes: `spawn(async (self) => { … await self.receive(match, ms) … })`,
 * with Erlang's selective receive. A receive scans the mailbox oldest first and takes
 * the first message the matcher accepts; the rest stay where they are (the save
 * queue). An exit signal that kills the process rejects a pending receive with an
 * `ExitSignal`, so the function unwinds unless it catches it.
 */
import type { Reason } from '../types.js';
import type { TimerEntry } from './timers.js';
import type { Ctx, Driver, Proc } from './process.js';
import { DEAD, ExitSignal, PARKED } from './shared.js';
import { exitProcess } from './signals.js';
import { crash } from './scheduler.js';

/** What `receive` resolves with when its timeout passes first. */
export const TIMEOUT: unique symbol = Symbol('timeout');
export type Timeout = typeof TIMEOUT;

/** A matcher returns the (narrowed) value it accepts, or undefined to skip the message. */
export type Matcher<T> = (m: unknown) => T | undefined;

/** What an async process's function receives: its context plus selective receive. */
export interface Self extends Ctx {
  /** Wait for the first message `match` accepts; `TIMEOUT` after `timeoutMs` (default: forever). */
  receive<T>(match: Matcher<T>, timeoutMs?: number): Promise<T | Timeout>;
  /** Receive any message. */
  receive(): Promise<unknown>;
  /** Messages waiting in the mailbox. */
  readonly mailboxLength: number;
}

export type AsyncBody = (self: Self) => unknown;

const ANY: Matcher<unknown> = (m) => (m === undefined ? null : m);

/** A receive in progress: the process's one waiter. */
export class ReceiveWait {
  timer: TimerEntry | undefined = undefined;
  constructor(
    private readonly p: Proc,
    private readonly match: Matcher<unknown>,
    private readonly resolve: (v: unknown) => void,
    private readonly reject: (e: unknown) => void,
  ) {}

  /** A new message: take it if it matches. */
  offer(msg: unknown): boolean {
    let v: unknown;
    try {
      v = this.match(msg);
    } catch (err) {
      this.finish();
      this.reject(err);
      return true; // the faulty matcher consumed it; the process crashes
    }
    if (v === undefined) return false;
    this.finish();
    this.resolve(v);
    return true;
  }

  /** The process was killed while waiting. */
  abort(reason: Reason): void {
    this.finish();
    this.reject(new ExitSignal(reason));
  }

  timeout(): void {
    this.timer = undefined;
    this.finish();
    this.resolve(TIMEOUT);
  }

  private finish(): void {
    if (this.p.waiter === this) this.p.waiter = undefined;
    if (this.timer !== undefined) {
      this.p.core.timers.cancel(this.timer);
      this.timer = undefined;
    }
  }
}

/** Selective receive for process `p`. */
export function receive(p: Proc, match: Matcher<unknown> = ANY, timeoutMs = Infinity): Promise<unknown> {
  if (p.status === DEAD) return Promise.reject(new ExitSignal(p.exitReason ?? 'normal'));
  if (p.waiter !== undefined) return Promise.reject(new Error('receive: this process is already waiting in a receive'));
  const mb = p.mailbox;
  for (let i = 0; i < mb.length; i++) {
    const v = match(mb.at(i));
    if (v !== undefined) {
      if (i === 0) mb.shift();
      else mb.removeAt(i);
      return Promise.resolve(v);
    }
  }
  if (timeoutMs <= 0) return Promise.resolve(TIMEOUT);
  return new Promise((resolve, reject) => {
    const w = new ReceiveWait(p, match, resolve, reject);
    p.waiter = w;
    if (Number.isFinite(timeoutMs)) w.timer = p.core.timers.after(timeoutMs, receiveTimedOut, w);
  });
}

/** A receive's timer (shared, not a closure per receive). */
const receiveTimedOut = (w: ReceiveWait): void => w.timeout();

/** Drives an async function as a process. Messages never go through the run queue. */
export class AsyncDriver implements Driver {
  constructor(private readonly body: AsyncBody) {}

  start(p: Proc): void {
    // Parked for good: deliveries only queue or complete a receive.
    p.status = PARKED;
    let r: unknown;
    try {
      r = this.body(p);
    } catch (err) {
      return crash(p, err);
    }
    // A thenable, not `instanceof Promise`: a body compiled in another realm (the REPL's vm
    // context) returns that realm's promises.
    if (typeof (r as PromiseLike<unknown> | undefined)?.then === 'function') {
      (r as PromiseLike<unknown>).then(
        () => exitProcess(p.core, p, 'normal'),
        (err: unknown) => {
          // After a kill the body unwinds with the ExitSignal we threw: already dead.
          if (p.status !== DEAD) crash(p, err);
        },
      );
    } else exitProcess(p.core, p, 'normal');
  }

  handle(): void {
    // Unreachable: an async process is never runnable.
  }
}
