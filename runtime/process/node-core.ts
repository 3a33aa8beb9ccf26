/**
 * One node's process system: the process table, registered names, aliases, refs,
 * timers and the run queue, and the local half of send. Distribution plugs in
 * through `RemoteOps`; until it does, remote pids behave as on an unreachable node.
 */
import type { Clock } from '../clock.js';
import { logger, type Logger } from '../log.js';
import { Pid, Ref, type Atom, type NodeName } from '../terms.js';
import { ExitError, formatTerm, type Dest, type Reason } from '../types.js';
import { Proc, type Ctx, type Driver } from './process.js';
import { AsyncDriver, type AsyncBody } from './receive.js';
import { current, Scheduler } from './scheduler.js';
import { DEAD, type Alias, type MonitorRec, type Watcher } from './shared.js';
import { addMonitor, link, receiveExitSignal } from './signals.js';
import { Timers, type TimerEntry } from './timers.js';

/** A plain callback process: state lives in the object; no promise per message. */
export interface Handler {
  init?(ctx: Ctx): void | PromiseLike<unknown>;
  handle(msg: unknown, ctx: Ctx): void | PromiseLike<unknown>;
  terminate?(reason: Reason, ctx: Ctx): void;
}

/** What `spawn` runs: an async function (selective receive) or a handler object. */
export type SpawnTarget = AsyncBody | Handler;

export interface SpawnOptions {
  /** Register the new process under this local name. */
  readonly name?: Atom;
  readonly trapExit?: boolean;
}

/** Who the new process is linked to or monitored by, set atomically with the spawn. */
export interface Linkage {
  readonly linkTo?: Proc;
  readonly monitorBy?: Watcher;
  readonly monitorRef?: Ref;
}

/** What the distribution layer provides for pids, names and refs on other nodes. */
export interface RemoteOps {
  send(to: Pid, msg: unknown, from: Pid | undefined): void;
  regSend(name: Atom, node: NodeName, msg: unknown, from: Pid | undefined): void;
  aliasSend(to: Ref, msg: unknown, from: Pid | undefined): void;
  link(from: Pid, to: Pid): void;
  unlink(from: Pid, to: Pid): void;
  /** A local process linked to remote `to` exited. */
  linkExit(from: Pid, to: Pid, reason: Reason): void;
  exit2(from: Pid, to: Pid, reason: Reason): void;
  monitor(watcher: Watcher, target: Pid | readonly [Atom, NodeName], ref: Ref): void;
  demonitor(m: MonitorRec): void;
}

class HandlerDriver implements Driver {
  constructor(private readonly h: Handler) {}
  start(p: Proc): void | PromiseLike<unknown> {
    return this.h.init?.(p);
  }
  handle(msg: unknown, p: Proc): void | PromiseLike<unknown> {
    return this.h.handle(msg, p);
  }
  exited(reason: Reason, p: Proc): void {
    this.h.terminate?.(reason, p);
  }
}

/**
 * A function a node exports by name, for rpc and remote spawn (functions are never
 * serialized). For rpc its (awaited) result is the answer; for a remote spawn it must
 * return what `spawn` takes (an async body or a handler object).
 */
export type ExportedFn = (...args: never[]) => unknown;

/** Pid ids stay below 2^28, as BEAM's; the serial counts wraps. */
const MAX_PID_ID = 2 ** 28;

/** What a sendAfter timer sends, and where (one record, not a closure with its context). */
interface SendTimer {
  readonly core: NodeCore;
  readonly dest: Dest;
  readonly msg: unknown;
  readonly id: number;
}

/** The alias kept under id 0 (see NodeCore.aliases): it takes nothing. */
const NO_ALIAS: Alias = { deliver: () => undefined };

export class NodeCore {
  readonly procs = new Map<number, Proc>();
  readonly names = new Map<Atom, Proc>();
  /**
   * Aliases by ref id: where a call's reply goes. Entry 0 (no ref has id 0) stays, so
   * the map never empties: V8 gives a Map that empties a new table (a runtime call and
   * its garbage), and calls made one at a time would empty this one at each reply.
   */
  readonly aliases = new Map<number, Alias>([[0, NO_ALIAS]]);
  /** Modules this node exports by name (rpc, remote spawn). */
  readonly modules = new Map<string, Readonly<Record<string, ExportedFn>>>();
  readonly timers: Timers;
  readonly scheduler = new Scheduler();
  readonly log: Logger;
  /** Exit signals waiting to be handled (see signals.ts). */
  readonly signalQueue: unknown[] = [];
  flushingSignals = false;
  remote: RemoteOps;
  private readonly timerRefs = new Map<number, TimerEntry>();
  private nextId = 1;
  private serial = 0;
  private nextRef = 1;

  constructor(
    readonly name: NodeName,
    readonly creation: number,
    readonly clock: Clock,
  ) {
    this.log = logger('runtime:process');
    this.timers = new Timers(clock, (err) => this.log.error('timer_callback_failed', { error: err }));
    this.remote = unreachable(this);
  }

  // --- identity ------------------------------------------------------------

  makeRef(): Ref {
    return new Ref(this.name, this.creation, this.nextRef++);
  }

  private newPid(): Pid {
    for (;;) {
      const id = this.nextId++;
      if (this.nextId >= MAX_PID_ID) {
        this.nextId = 1;
        this.serial++;
      }
      if (!this.procs.has(id)) return new Pid(this.name, id, this.serial, this.creation);
    }
  }

  /** The pid that stands for code outside any process (`<node.0.0>`), as the sender of signals. */
  get pseudoPid(): Pid {
    return (this.pseudo ??= new Pid(this.name, 0, 0, this.creation));
  }
  private pseudo: Pid | undefined;

  isLocal(pid: Pid): boolean {
    return pid.node === this.name;
  }

  /** The live local process `pid` names, if any (a pid of an older incarnation names none). */
  lookup(pid: Pid): Proc | undefined {
    const p = this.procs.get(pid.id);
    return p !== undefined && p.pid.serial === pid.serial && pid.creation === this.creation && pid.node === this.name
      ? p
      : undefined;
  }

  // --- spawn ---------------------------------------------------------------

  spawn(target: SpawnTarget, opts?: SpawnOptions, linkage?: Linkage): Proc {
    return this.spawnDriver(typeof target === 'function' ? new AsyncDriver(target) : new HandlerDriver(target), opts, linkage);
  }

  spawnDriver(driver: Driver, opts?: SpawnOptions, linkage?: Linkage): Proc {
    if (opts?.name !== undefined && this.names.has(opts.name)) {
      throw new ExitError('badarg', ['register', opts.name, 'already_registered']);
    }
    const p = new Proc(this.newPid(), this, driver);
    this.procs.set(p.pid.id, p);
    if (opts?.name !== undefined) {
      this.names.set(opts.name, p);
      p.name = opts.name;
    }
    if (opts?.trapExit === true) p.trap = true;
    if (linkage?.linkTo !== undefined) link(this, linkage.linkTo, p.pid);
    if (linkage?.monitorBy !== undefined) {
      addMonitor(this, linkage.monitorBy, p.pid, linkage.monitorRef ?? this.makeRef());
    }
    this.scheduler.enqueue(p);
    return p;
  }

  /** Drop an exited process from the tables. */
  forget(p: Proc): void {
    if (this.procs.get(p.pid.id) === p) this.procs.delete(p.pid.id);
    if (p.name !== undefined && this.names.get(p.name) === p) this.names.delete(p.name);
  }

  // --- send ----------------------------------------------------------------

  /** Send `msg` to `dest`. Sending to an unregistered local name throws badarg, as in Erlang. */
  send(dest: Dest, msg: unknown, from?: Proc): void {
    current.reds--;
    if (dest instanceof Pid) {
      if (dest.node === this.name) {
        const p = this.procs.get(dest.id);
        if (p !== undefined && p.pid.serial === dest.serial && dest.creation === this.creation) p.deliver(msg);
        return;
      }
      this.remote.send(dest, msg, from?.pid);
      return;
    }
    if (typeof dest === 'string') {
      const p = this.names.get(dest);
      if (p === undefined) throw new ExitError('badarg', ['send', dest]);
      p.deliver(msg);
      return;
    }
    if (dest instanceof Ref) {
      if (dest.node === this.name) {
        if (dest.creation === this.creation) this.aliases.get(dest.id)?.deliver(msg);
      } else this.remote.aliasSend(dest, msg, from?.pid);
      return;
    }
    const [name, node] = dest;
    // {Name, Node} ! Msg to a missing name is silently dropped.
    if (node === this.name) this.names.get(name)?.deliver(msg);
    else this.remote.regSend(name, node, msg, from?.pid);
  }

  // --- names ---------------------------------------------------------------

  register(name: Atom, pid: Pid): void {
    const p = this.lookup(pid);
    if (name === 'undefined' || p === undefined || p.name !== undefined || this.names.has(name)) {
      throw new ExitError('badarg', ['register', name, formatTerm(pid)]);
    }
    this.names.set(name, p);
    p.name = name;
  }

  unregister(name: Atom): void {
    const p = this.names.get(name);
    if (p === undefined) throw new ExitError('badarg', ['unregister', name]);
    this.names.delete(name);
    p.name = undefined;
  }

  whereis(name: Atom): Pid | undefined {
    return this.names.get(name)?.pid;
  }

  // --- timers --------------------------------------------------------------

  sendAfter(dest: Dest, msg: unknown, ms: number): Ref {
    const ref = this.makeRef();
    const t: SendTimer = { core: this, dest, msg, id: ref.id };
    this.timerRefs.set(ref.id, this.timers.after(ms, NodeCore.fireSendTimer, t));
    return ref;
  }

  private static fireSendTimer(this: void, t: SendTimer): void {
    t.core.timerRefs.delete(t.id);
    try {
      t.core.send(t.dest, t.msg);
    } catch {
      // A timer to a name that is gone is dropped, as erlang:send_after does.
    }
  }

  cancelTimer(ref: Ref): number | false {
    const e = this.timerRefs.get(ref.id);
    if (e === undefined || ref.node !== this.name) return false;
    this.timerRefs.delete(ref.id);
    return this.timers.cancel(e);
  }

  readTimer(ref: Ref): number | false {
    const e = this.timerRefs.get(ref.id);
    return e === undefined ? false : this.timers.remaining(e);
  }

  // --- exits ---------------------------------------------------------------

  /** Crash report for a process that ended because its own code threw. */
  reportExit(p: Proc, reason: Reason): void {
    if (Array.isArray(reason) && reason[0] === 'error' && reason[1] instanceof Error) {
      const err = reason[1];
      this.log.error('crash_report', {
        pid: p.pid.toString(),
        ...(p.name === undefined ? {} : { name: p.name }),
        error: err.stack ?? `${err.name}: ${err.message}`,
        ...p.driver.describe?.(p),
      });
    }
  }

  /** A watcher for code outside any process: resolves with the exit reason of `pid`. */
  waitExit(pid: Pid): Promise<Reason> {
    return new Promise((resolve) => {
      addMonitor(this, { pid: undefined, deliverDown: (_r, _w, reason) => resolve(reason) }, pid, this.makeRef());
    });
  }

  /** Is `pid` a live local process? */
  isAlive(pid: Pid): boolean {
    const p = this.lookup(pid);
    return p !== undefined && p.status !== DEAD;
  }
}

/** Before distribution: every other node is unreachable (noconnection), sends are dropped. */
function unreachable(core: NodeCore): RemoteOps {
  return {
    send: () => undefined,
    regSend: () => undefined,
    aliasSend: () => undefined,
    link: (from, to) => {
      const p = core.lookup(from);
      if (p !== undefined) receiveExitSignal(core, p, to, 'noconnection', true);
    },
    unlink: () => undefined,
    linkExit: () => undefined,
    exit2: () => undefined,
    monitor: (watcher, target, ref) => watcher.deliverDown(ref, target, 'noconnection'),
    demonitor: () => undefined,
  };
}
