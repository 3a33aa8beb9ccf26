/**
 * Erlang's process BIFs as free functions. Each acts on the current node (the node of
 * the running process, else the default node; see process/current-core.ts). Those that
 * need a calling process (`self`, `link`, `monitor`, `trapExit`, `spawnLink`, …) throw
 * when called outside one: inside async processes, use `self.link(…)` and friends.
 */
import type { Pid, Ref } from './terms.js';
import { ExitError, type Dest, type Reason } from './types.js';
import type { Atom, NodeName } from './terms.js';
import { currentCore } from './process/current-core.js';
import type { SpawnOptions, SpawnTarget } from './process/node-core.js';
import type { Ctx, Proc } from './process/process.js';
import { current } from './process/scheduler.js';
import { STATUS_NAMES } from './process/shared.js';
import { sendExit } from './process/signals.js';
import type { MonitorTarget } from './process/signals.js';

function caller(what: string): Proc {
  const p = current.proc;
  if (p === undefined) throw new ExitError('badarg', [what, 'called outside a process; use the ctx or self of your process']);
  return p;
}

/** The calling process's pid. */
export function self(): Pid {
  return caller('self').pid;
}

/**
 * The context of the process whose code is running now, or undefined outside a process
 * (and after an `await`). For code given no `ctx`, such as a function run by rpc.
 */
export function currentProcess(): Ctx | undefined {
  return current.proc;
}

/** This node's name (`nonode@nohost` before distribution). */
export function node(): NodeName {
  return currentCore().name;
}

export function spawn(target: SpawnTarget, opts?: SpawnOptions): Pid {
  return currentCore().spawn(target, opts).pid;
}

export function spawnLink(target: SpawnTarget, opts?: SpawnOptions): Pid {
  return caller('spawnLink').spawnLink(target, opts);
}

export function spawnMonitor(target: SpawnTarget, opts?: SpawnOptions): [Pid, Ref] {
  return caller('spawnMonitor').spawnMonitor(target, opts);
}

export function send(dest: Dest, msg: unknown): void {
  const p = current.proc;
  (p?.core ?? currentCore()).send(dest, msg, p);
}

/** exit/2. Outside a process the signal comes from the node's pseudo-pid `<node.0.0>`. */
export function exit(pid: Pid, reason: Reason): void {
  const core = currentCore();
  sendExit(core, pid, current.proc?.pid ?? core.pseudoPid, reason);
}

export function link(pid: Pid): void {
  caller('link').link(pid);
}

export function unlink(pid: Pid): void {
  caller('unlink').unlink(pid);
}

export function monitor(target: MonitorTarget): Ref {
  return caller('monitor').monitor(target);
}

export function demonitor(ref: Ref, opts?: { flush?: boolean }): boolean {
  return caller('demonitor').demonitor(ref, opts);
}

export function trapExit(flag: boolean): boolean {
  return caller('trapExit').trapExit(flag);
}

export function register(name: Atom, pid: Pid): void {
  currentCore().register(name, pid);
}

export function unregister(name: Atom): void {
  currentCore().unregister(name);
}

export function whereis(name: Atom): Pid | undefined {
  return currentCore().whereis(name);
}

export function registered(): Atom[] {
  return [...currentCore().names.keys()];
}

export function processes(): Pid[] {
  return [...currentCore().procs.values()].map((p) => p.pid);
}

export function isProcessAlive(pid: Pid): boolean {
  return currentCore().isAlive(pid);
}

export function makeRef(): Ref {
  return currentCore().makeRef();
}

export function sendAfter(dest: Dest, msg: unknown, ms: number): Ref {
  return currentCore().sendAfter(dest, msg, ms);
}

export function cancelTimer(ref: Ref): number | false {
  return currentCore().cancelTimer(ref);
}

export function readTimer(ref: Ref): number | false {
  return currentCore().readTimer(ref);
}

/** What erlang:process_info/1 tells, for a live local process; undefined otherwise. */
export interface ProcessInfo {
  readonly status: 'runnable' | 'running' | 'waiting' | 'parked' | 'exiting';
  readonly messageQueueLen: number;
  readonly links: Pid[];
  /** Processes (or names) this process monitors. */
  readonly monitors: (Pid | readonly [Atom, NodeName])[];
  /** Processes monitoring this one (undefined entries are non-process watchers such as pending calls). */
  readonly monitoredBy: (Pid | undefined)[];
  readonly registeredName: Atom | undefined;
  readonly trapExit: boolean;
}

export function processInfo(pid: Pid): ProcessInfo | undefined {
  const p = currentCore().lookup(pid);
  if (p === undefined) return undefined;
  return {
    status: STATUS_NAMES[p.status],
    messageQueueLen: p.mailbox.length,
    links: [...(p.links?.values() ?? [])],
    monitors: [...(p.monitors?.values() ?? [])].map((m) => m.name ?? m.target),
    monitoredBy: [...(p.monitoredBy?.values() ?? [])].map((m) => m.watcher.pid),
    registeredName: p.name,
    trapExit: p.trap,
  };
}

/** Resolves with the exit reason of `pid` (a monitor for code outside processes). */
export function waitExit(pid: Pid): Promise<Reason> {
  return currentCore().waitExit(pid);
}
