/**
 * The process control block, and the `Ctx` it hands to the code it runs. A `Proc`
 * holds a pid, a mailbox, links, monitors, the trap-exit flag and a registered name;
 * a `Driver` (GenServer, plain handler, async function) gives it behaviour. The
 * methods here only delegate: semantics live in signals.ts, scheduling in scheduler.ts.
 */
import type { Logger } from '../log.js';
import type { Atom, NodeName, Pid, Ref } from '../terms.js';
import type { Dest, Reason } from '../types.js';
import { Mailbox } from './mailbox.js';
import type { NodeCore, SpawnTarget, SpawnOptions } from './node-core.js';
import { DEAD, RUNNABLE, WAITING, type MonitorRec, type Status, type Watcher } from './shared.js';
import { SmallMap } from './small-map.js';
import * as signals from './signals.js';
import { call, cast, DEFAULT_CALL_TIMEOUT_MS, type CallTarget } from './call.js';
import { receive, type Matcher, type ReceiveWait, type Self, type Timeout } from './receive.js';

/** What gives a process its behaviour; the scheduler calls it. */
export interface Driver {
  /** First step, run in the new process. A returned promise parks the process until it settles. */
  start(p: Proc): void | PromiseLike<unknown>;
  /** One message. A returned promise parks the process until it settles. */
  handle(msg: unknown, p: Proc): void | PromiseLike<unknown>;
  /**
   * Called once when the process ends, after links and monitors were signalled.
   * `crashed` is true when the process's own code threw (OTP then still runs terminate).
   */
  exited?(reason: Reason, p: Proc, crashed: boolean): void;
  /** Fields for crash reports (behaviour, last message, …). */
  describe?(p: Proc): Record<string, unknown>;
}

/**
 * What a process's own code sees (Erlang's BIFs on self): it is the process itself,
 * so no object is allocated per process for it.
 */
export interface Ctx {
  readonly self: Pid;
  readonly node: NodeName;
  readonly log: Logger;
  send(dest: Dest, msg: unknown): void;
  spawn(target: SpawnTarget, opts?: SpawnOptions): Pid;
  spawnLink(target: SpawnTarget, opts?: SpawnOptions): Pid;
  spawnMonitor(target: SpawnTarget, opts?: SpawnOptions): [Pid, Ref];
  link(pid: Pid): void;
  unlink(pid: Pid): void;
  monitor(target: Pid | Atom | readonly [Atom, NodeName]): Ref;
  /** Remove a monitor; with `flush`, also drop a DOWN for it already in the mailbox. */
  demonitor(ref: Ref, opts?: { flush?: boolean }): boolean;
  /** Send an exit signal to `pid` (Erlang's exit/2). */
  exit(pid: Pid, reason: Reason): void;
  /** Turn exit signals into `['EXIT', from, reason]` messages; returns the old flag. */
  trapExit(flag: boolean): boolean;
  sendAfter(dest: Dest, msg: unknown, ms: number): Ref;
  cancelTimer(ref: Ref): number | false;
  register(name: Atom): void;
  unregister(name: Atom): void;
  whereis(name: Atom): Pid | undefined;
  /** End this process with `reason` (default `normal`) once the current step returns. */
  stop(reason?: Reason): void;
  makeRef(): Ref;
  /**
   * A call from this process to a server (GenServer's call): prefer it to the free
   * `genServer.call` in code that runs after an `await`, where no process is current.
   */
  call(server: Dest, req: unknown, timeoutMs?: number): Promise<unknown>;
  /** A cast from this process. */
  cast(server: Dest, msg: unknown): void;
}

export class Proc implements Self, Watcher {
  status: Status = RUNNABLE;
  started = false;
  readonly mailbox = new Mailbox();
  trap = false;
  /** Linked pids by `pid.key`. Created on first link; small maps, as most processes have one or two. */
  links: SmallMap<string, Pid> | undefined = undefined;
  /** Monitors this process holds, by ref id. */
  monitors: SmallMap<number, MonitorRec> | undefined = undefined;
  /** Monitors others hold on this process, by ref id (local refs) or ref key. */
  monitoredBy: SmallMap<number | string, MonitorRec> | undefined = undefined;
  name: Atom | undefined = undefined;
  /** Pending selective receive of an async process. */
  waiter: ReceiveWait | undefined = undefined;
  exitReason: Reason | undefined = undefined;

  constructor(
    readonly pid: Pid,
    readonly core: NodeCore,
    public driver: Driver,
  ) {}

  /** Put a message in the mailbox (or straight into a waiting receive) and wake the process. */
  deliver(msg: unknown): void {
    const st = this.status;
    if (st === DEAD) return;
    if (this.waiter !== undefined && this.waiter.offer(msg)) return;
    this.mailbox.push(msg);
    if (st === WAITING) {
      this.status = RUNNABLE;
      this.core.scheduler.enqueue(this);
    }
  }

  deliverDown(ref: Ref, who: Pid | readonly [Atom, NodeName], reason: Reason): void {
    this.deliver(['DOWN', ref, 'process', who, reason]);
  }

  held(rec: MonitorRec): void {
    (this.monitors ??= new SmallMap()).set(rec.ref.id, rec);
  }

  released(ref: Ref): void {
    this.monitors?.delete(ref.id);
  }

  get alive(): boolean {
    return this.status !== DEAD;
  }

  // --- Ctx -----------------------------------------------------------------

  get self(): Pid {
    return this.pid;
  }
  get node(): NodeName {
    return this.core.name;
  }
  get log(): Logger {
    return this.core.log;
  }
  send(dest: Dest, msg: unknown): void {
    this.core.send(dest, msg, this);
  }
  spawn(target: SpawnTarget, opts?: SpawnOptions): Pid {
    return this.core.spawn(target, opts).pid;
  }
  spawnLink(target: SpawnTarget, opts?: SpawnOptions): Pid {
    return this.core.spawn(target, opts, { linkTo: this }).pid;
  }
  spawnMonitor(target: SpawnTarget, opts?: SpawnOptions): [Pid, Ref] {
    const ref = this.core.makeRef();
    const p = this.core.spawn(target, opts, { monitorBy: this, monitorRef: ref });
    return [p.pid, ref];
  }
  link(pid: Pid): void {
    signals.link(this.core, this, pid);
  }
  unlink(pid: Pid): void {
    signals.unlink(this.core, this, pid);
  }
  monitor(target: Pid | Atom | readonly [Atom, NodeName]): Ref {
    return signals.monitor(this.core, this, target);
  }
  demonitor(ref: Ref, opts?: { flush?: boolean }): boolean {
    const had = signals.demonitor(this.core, this, ref);
    // A DOWN is queued only for a monitor that fired, and firing releases it first:
    // an active monitor (`had`) has none to flush, and the mailbox need not be searched.
    if (opts?.flush === true && !had) {
      const i = this.mailbox.findIndex((m) => Array.isArray(m) && m[0] === 'DOWN' && ref.equals(m[1]));
      if (i >= 0) this.mailbox.removeAt(i);
    }
    return had;
  }
  exit(pid: Pid, reason: Reason): void {
    signals.sendExit(this.core, pid, this.pid, reason);
  }
  trapExit(flag: boolean): boolean {
    const old = this.trap;
    this.trap = flag;
    return old;
  }
  sendAfter(dest: Dest, msg: unknown, ms: number): Ref {
    return this.core.sendAfter(dest, msg, ms);
  }
  cancelTimer(ref: Ref): number | false {
    return this.core.cancelTimer(ref);
  }
  register(name: Atom): void {
    this.core.register(name, this.pid);
  }
  unregister(name: Atom): void {
    this.core.unregister(name);
  }
  whereis(name: Atom): Pid | undefined {
    return this.core.whereis(name);
  }
  stop(reason: Reason = 'normal'): void {
    signals.exitProcess(this.core, this, reason);
  }
  makeRef(): Ref {
    return this.core.makeRef();
  }
  call(server: Dest, req: unknown, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<unknown> {
    return call(this.core, server as CallTarget, req, timeoutMs, this);
  }
  cast(server: Dest, msg: unknown): void {
    cast(this.core, server as CallTarget, msg, this);
  }

  // --- Self (async processes) ----------------------------------------------

  receive<T>(match: Matcher<T>, timeoutMs?: number): Promise<T | Timeout>;
  receive(): Promise<unknown>;
  receive(match?: Matcher<unknown>, timeoutMs?: number): Promise<unknown> {
    return receive(this, match, timeoutMs);
  }

  get mailboxLength(): number {
    return this.mailbox.length;
  }
}
