/**
 * Vocabulary shared by the process modules: process states, the watcher and alias
 * shapes monitors and replies are delivered to, monitor records, and the exception
 * an exiting process unwinds with. Types and constants only.
 */
import type { Atom, NodeName, Pid, Ref } from '../terms.js';
import { formatTerm, type Reason } from '../types.js';

/** Process states. Numbers, since the scheduler tests them per message. */
export const RUNNABLE = 1; // in the run queue
export const RUNNING = 2; // its step is executing now
export const WAITING = 3; // mailbox empty; a message makes it runnable
export const PARKED = 4; // awaiting a promise (or an async process): messages only queue
export const DEAD = 5;

export type Status = typeof RUNNABLE | typeof RUNNING | typeof WAITING | typeof PARKED | typeof DEAD;

export const STATUS_NAMES: Record<Status, 'runnable' | 'running' | 'waiting' | 'parked' | 'exiting'> = {
  [RUNNABLE]: 'runnable',
  [RUNNING]: 'running',
  [WAITING]: 'waiting',
  [PARKED]: 'parked',
  [DEAD]: 'exiting',
};

/** Something a DOWN can be delivered to: a process, or an in-flight call. */
export interface Watcher {
  /** The watching process, when the watcher is one (local or remote). */
  readonly pid: Pid | undefined;
  deliverDown(ref: Ref, who: Pid | readonly [Atom, NodeName], reason: Reason): void;
  /** The monitor was attached: a watching process keeps it, to drop it when it exits. */
  held?(rec: MonitorRec): void;
  /** The monitor fired or was removed from the target side. */
  released?(ref: Ref): void;
}

/** A reply handle (OTP 24 alias): messages sent to its ref go to `deliver`. */
export interface Alias {
  deliver(msg: unknown): void;
}

/** One monitor, as both the watcher and the target side see it. */
export interface MonitorRec {
  readonly ref: Ref;
  readonly watcher: Watcher;
  readonly target: Pid;
  /** Set when the monitor was taken on a registered name: DOWN names it `[name, node]`. */
  readonly name: readonly [Atom, NodeName] | undefined;
}

/**
 * Thrown to end a process with `reason` (Erlang's `exit/1`), and thrown out of an
 * async process's `receive` when an exit signal kills it. The scheduler turns it into
 * the exit reason; it never reaches the logs as a crash.
 */
export class ExitSignal extends Error {
  override readonly name = 'ExitSignal';
  constructor(readonly reason: Reason) {
    super(`exit: ${formatTerm(reason)}`);
  }
}
