/**
 * The run queue. Runnable processes are drained in slices: each process handles at
 * most REDUCTIONS messages per turn, and a slice (or a chain of microtask-started
 * slices) yields to the event loop with setImmediate after SLICE_MS, so timers and
 * sockets are never starved by a busy process. A driver step that returns a promise parks its process until it settles.
 * This is the only try/catch around user code: an exception ends the process.
 */
import { worked } from './busy-wait.js';
import { Mailbox } from './mailbox.js';
import { PARKED, RUNNABLE, RUNNING, WAITING, DEAD, ExitSignal } from './shared.js';
import type { Proc } from './process.js';
import { exitProcess } from './signals.js';
import type { Reason } from '../types.js';
import { microtask } from './microtask.js';

/** Messages a process may handle per turn before the next runnable process goes. */
export const REDUCTIONS = 500;
/** Longest time (ms) one slice runs before the event loop gets a turn. */
export const SLICE_MS = 4;

/**
 * The process whose step is executing right now, if any (for `self()` and friends), and
 * the reductions it has left in its turn: handling a message costs one, and so does each
 * send, so a process that floods another yields as often as its receiver does (BEAM
 * charges sends in reductions for the same reason).
 */
export const current: { proc: Proc | undefined; reds: number } = { proc: undefined, reds: 0 };

/**
 * Run the synchronous part of `fn` as process `p` (free functions and startLink see
 * `p` as the caller). For code that resumed after an await, such as a supervisor
 * starting its next child.
 */
export function runAs<T>(p: Proc, fn: () => T): T {
  const prev = current.proc;
  current.proc = p;
  try {
    return fn();
  } finally {
    current.proc = prev;
  }
}

export class Scheduler {
  private readonly queue = new Mailbox();
  private scheduled = false;
  private draining = false;
  /** An I/O callback is delivering messages and calls runNow() when done (see hold()). */
  private held = false;
  /**
   * When the current chain of microtask drains began. A process woken from outside a
   * drain (a resolved promise, a socket, a timer) is run on a microtask, so a caller
   * awaiting a call does not pay an event-loop turn per round trip; once a chain is
   * SLICE_MS old the next drain goes through setImmediate, so I/O still gets its turn.
   */
  private chainStart = -Infinity;
  /** Turns run since start (for inspection). */
  turns = 0;

  enqueue(p: Proc): void {
    this.queue.push(p);
    if (!this.scheduled && !this.draining && !this.held) {
      this.scheduled = true;
      if (performance.now() - this.chainStart < SLICE_MS) microtask(this.drain);
      else setImmediate(this.drainFromLoop);
    }
  }

  /**
   * An I/O callback is about to wake processes and promises to call runNow() right
   * after (in a finally): until then a wake-up schedules no drain of its own, which
   * would only find the queue empty (and cost a clock read and a microtask or an
   * event-loop turn per message round trip).
   */
  hold(): void {
    if (!this.draining) this.held = true;
  }

  /**
   * Run the queue at once: called by an I/O callback that has just woken processes
   * (a distribution connection's frames), so that they answer before Node's stream
   * bookkeeping and the microtask queue run. Counts as a new slice from the event loop.
   */
  runNow(): void {
    this.held = false;
    if (this.draining || this.queue.length === 0) return;
    this.chainStart = performance.now();
    this.drain();
  }

  private readonly drainFromLoop = (): void => {
    this.chainStart = performance.now();
    this.drain();
  };

  /** Number of processes waiting for a turn. */
  get runQueueLength(): number {
    return this.queue.length;
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    this.draining = true;
    const deadline = performance.now() + SLICE_MS;
    const q = this.queue;
    let n = 0;
    try {
      while (q.length > 0) {
        this.turn(q.shift() as Proc);
        // Reading the clock costs more than a short turn: look every 16 turns.
        if ((++n & 15) === 0 && performance.now() > deadline) break;
      }
    } finally {
      this.draining = false;
      this.turns += n;
    }
    if (q.length === 0) worked(); // idle now: poll a little before the loop may sleep (busy-wait.ts)
    else if (!this.scheduled) {
      // A full slice ran: give the event loop its turn before the next one.
      this.scheduled = true;
      setImmediate(this.drainFromLoop);
    }
  };

  private turn(p: Proc): void {
    if (p.status !== RUNNABLE) return; // exited while queued
    p.status = RUNNING;
    const prev = current.proc;
    current.proc = p;
    try {
      if (!p.started) {
        p.started = true;
        const r = p.driver.start(p);
        if (r !== undefined) return this.park(p, r);
        if (p.status !== RUNNING) return;
      }
      const mb = p.mailbox;
      const d = p.driver;
      current.reds = REDUCTIONS;
      while (mb.length > 0) {
        const r = d.handle(mb.shift(), p);
        if (r !== undefined) return this.park(p, r);
        if (p.status !== RUNNING) return;
        if (--current.reds <= 0) break;
      }
      this.stepped(p);
    } catch (err) {
      crash(p, err);
    } finally {
      current.proc = prev;
    }
  }

  /** Whether `p` would handle a message at once (handleNow): started, nothing queued, no step of its own under way, not in a receive. */
  waiting(p: Proc): boolean {
    return p.status === WAITING && p.started && p.waiter === undefined;
  }

  /**
   * Have process `p` handle `msg` now, inside whatever is running, when it is waiting
   * (started, nothing queued, no step of its own under way): the message would be the
   * first thing its next turn handles, so only the time changes, as if it had been
   * scheduled at once. Its own exception ends it alone; a step that returns a promise
   * parks it as a turn would. False, having done nothing, when `p` is not waiting.
   */
  handleNow(p: Proc, msg: unknown): boolean {
    if (!this.waiting(p)) return false;
    p.status = RUNNING;
    const prev = current.proc;
    const reds = current.reds;
    current.proc = p;
    current.reds = REDUCTIONS;
    try {
      const r = p.driver.handle(msg, p);
      if (r !== undefined) this.park(p, r);
      else if (p.status === RUNNING) this.stepped(p);
    } catch (err) {
      crash(p, err);
    } finally {
      current.proc = prev;
      current.reds = reds;
    }
    return true;
  }

  private park(p: Proc, r: PromiseLike<unknown>): void {
    if (p.status !== RUNNING) return; // exited inside the step; nothing to resume
    p.status = PARKED;
    r.then(
      () => this.resume(p),
      (err: unknown) => crash(p, err),
    );
  }

  /** A parked process's promise settled: it takes messages again. */
  resume(p: Proc): void {
    if (p.status === PARKED) this.stepped(p);
  }

  /** `p`'s step is over (a turn, a handleNow, a parked step settled): run again if messages wait, else wait. */
  private stepped(p: Proc): void {
    if (p.mailbox.length > 0) {
      p.status = RUNNABLE;
      this.enqueue(p);
    } else p.status = WAITING;
  }
}

/** An exception escaped a process's code: it exits with `['error', err]` (or the ExitSignal's reason). */
export function crash(p: Proc, err: unknown): void {
  if (p.status === DEAD) return;
  exitProcess(p.core, p, crashReason(err), !(err instanceof ExitSignal));
}

export function crashReason(err: unknown): Reason {
  if (err instanceof ExitSignal) return err.reason;
  return ['error', err instanceof Error ? err : new Error(String(err))];
}
