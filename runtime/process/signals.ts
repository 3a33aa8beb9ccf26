/**
 * Exit signals, links and monitors, with OTP's semantics (FEATURES P2–P5):
 * `normal` does not kill a linked process; any other reason does unless it traps
 * exits, which turns the signal into `['EXIT', from, reason]`; `kill` from exit/2 is
 * untrappable and becomes `killed`; a monitor on a missing process answers `noproc`.
 * Signals are queued and flushed iteratively, so long link chains cannot overflow the stack.
 */
import type { Atom, NodeName, Pid, Ref } from '../terms.js';
import type { Reason } from '../types.js';
import type { NodeCore } from './node-core.js';
import type { Proc } from './process.js';
import { DEAD, type MonitorRec, type Watcher } from './shared.js';
import { SmallMap } from './small-map.js';

// ---------------------------------------------------------------------------
// Links

export function link(core: NodeCore, p: Proc, to: Pid): void {
  if (to.equals(p.pid) || p.status === DEAD) return;
  const key = to.key;
  if (p.links?.has(key) === true) return;
  if (!core.isLocal(to)) {
    (p.links ??= new SmallMap()).set(key, to);
    core.remote.link(p.pid, to);
    return;
  }
  const q = core.lookup(to);
  if (q === undefined) {
    // Linking to a process that is gone: the linker gets an exit signal `noproc`
    // (a message when trapping exits, death otherwise), as erlang:link/1 does.
    receiveExitSignal(core, p, to, 'noproc', false);
    return;
  }
  (p.links ??= new SmallMap()).set(key, to);
  (q.links ??= new SmallMap()).set(p.pid.key, p.pid);
}

export function unlink(core: NodeCore, p: Proc, to: Pid): void {
  if (p.links?.delete(to.key) !== true) return;
  if (!core.isLocal(to)) {
    core.remote.unlink(p.pid, to);
    return;
  }
  core.lookup(to)?.links?.delete(p.pid.key);
}

/** A remote process linked to local `pid` (called by the distribution layer). */
export function addRemoteLink(core: NodeCore, local: Pid, remote: Pid): boolean {
  const p = core.lookup(local);
  if (p === undefined) return false;
  (p.links ??= new SmallMap()).set(remote.key, remote);
  return true;
}

/** A remote process unlinked from local `pid` (called by the distribution layer). */
export function removeRemoteLink(core: NodeCore, local: Pid, remote: Pid): void {
  core.lookup(local)?.links?.delete(remote.key);
}

// ---------------------------------------------------------------------------
// Exit signals

type Signal = { to: Proc; from: Pid; reason: Reason; viaLink: boolean };

/** exit/2: send an exit signal to any pid. */
export function sendExit(core: NodeCore, to: Pid, from: Pid, reason: Reason): void {
  if (!core.isLocal(to)) {
    core.remote.exit2(from, to, reason);
    return;
  }
  const q = core.lookup(to);
  if (q !== undefined) receiveExitSignal(core, q, from, reason, false);
}

/** An exit signal arriving at local process `p` (from a local or a remote sender). */
export function receiveExitSignal(core: NodeCore, p: Proc, from: Pid, reason: Reason, viaLink: boolean): void {
  core.signalQueue.push({ to: p, from, reason, viaLink });
  if (!core.flushingSignals) flushSignals(core);
}

function flushSignals(core: NodeCore): void {
  core.flushingSignals = true;
  try {
    const q = core.signalQueue as Signal[];
    for (let i = 0; i < q.length; i++) {
      const s = q[i]!;
      handleExitSignal(core, s.to, s.from, s.reason, s.viaLink);
    }
    q.length = 0;
  } finally {
    core.flushingSignals = false;
  }
}

function handleExitSignal(core: NodeCore, p: Proc, from: Pid, reason: Reason, viaLink: boolean): void {
  if (p.status === DEAD) return;
  // A link signal only counts while the link exists (unlink wins a race).
  if (viaLink && p.links?.delete(from.key) !== true) return;
  if (reason === 'kill' && !viaLink) return exitProcess(core, p, 'killed');
  if (p.trap) {
    p.deliver(['EXIT', from, reason]);
    return;
  }
  if (reason === 'normal') {
    // exit(self(), normal) ends the caller; a normal signal from anyone else is ignored.
    if (!viaLink && from.equals(p.pid)) exitProcess(core, p, 'normal');
    return;
  }
  exitProcess(core, p, reason);
}

/**
 * End process `p` with `reason`: unregister it, signal its links, deliver DOWN to
 * its monitors, drop the monitors it held, and tell its driver. Idempotent.
 */
export function exitProcess(core: NodeCore, p: Proc, reason: Reason, crashed = false): void {
  if (p.status === DEAD) return;
  p.status = DEAD;
  p.exitReason = reason;
  core.forget(p);
  if (p.waiter !== undefined) p.waiter.abort(reason);
  const links = p.links;
  p.links = undefined;
  if (links !== undefined) {
    for (const to of links.values()) {
      if (core.isLocal(to)) {
        const q = core.lookup(to);
        if (q !== undefined) {
          core.signalQueue.push({ to: q, from: p.pid, reason, viaLink: true });
        }
      } else core.remote.linkExit(p.pid, to, reason);
    }
  }
  const held = p.monitors;
  p.monitors = undefined;
  if (held !== undefined) for (const m of held.values()) detachFromTarget(core, m);
  const on = p.monitoredBy;
  p.monitoredBy = undefined;
  if (on !== undefined) {
    for (const m of on.values()) {
      m.watcher.released?.(m.ref);
      m.watcher.deliverDown(m.ref, m.name ?? p.pid, reason);
    }
  }
  p.mailbox.clear();
  if (crashed) core.reportExit(p, reason);
  p.driver.exited?.(reason, p, crashed);
  if (!core.flushingSignals && core.signalQueue.length > 0) flushSignals(core);
}

// ---------------------------------------------------------------------------
// Monitors

export type MonitorTarget = Pid | Atom | readonly [Atom, NodeName];

/** Monitor `target` on behalf of process `p`; returns the monitor ref. */
export function monitor(core: NodeCore, p: Proc, target: MonitorTarget): Ref {
  const ref = core.makeRef();
  addMonitor(core, p, target, ref);
  return ref;
}

/**
 * Attach a monitor with a given ref for any watcher (a process, or a pending call).
 * A missing target answers at once with DOWN `noproc`.
 */
export function addMonitor(core: NodeCore, watcher: Watcher, target: MonitorTarget, ref: Ref): void {
  let name: readonly [Atom, NodeName] | undefined;
  let q: Proc | undefined;
  if (typeof target === 'string') {
    name = [target, core.name];
    q = core.names.get(target);
  } else if (Array.isArray(target)) {
    const [n, nodeName] = target as readonly [Atom, NodeName];
    name = [n, nodeName];
    if (nodeName !== core.name) return core.remote.monitor(watcher, name, ref);
    q = core.names.get(n);
  } else {
    const pid = target as Pid;
    if (!core.isLocal(pid)) return core.remote.monitor(watcher, pid, ref);
    q = core.lookup(pid);
    if (q === undefined) return watcher.deliverDown(ref, pid, 'noproc');
  }
  if (q === undefined) return watcher.deliverDown(ref, name ?? (target as Pid), 'noproc');
  const rec: MonitorRec = { ref, watcher, target: q.pid, name };
  attach(core, q, rec);
}

/** Record `rec` on its (local) target and on its watcher, if the watcher is a local process. */
export function attach(core: NodeCore, target: Proc, rec: MonitorRec): void {
  (target.monitoredBy ??= new SmallMap()).set(monitorKey(core, rec.ref), rec);
  rec.watcher.held?.(rec);
}

/** Remove the monitor `ref` held by process `p`. True if it was active. */
export function demonitor(core: NodeCore, p: Proc, ref: Ref): boolean {
  const m = p.monitors?.get(ref.id);
  if (m === undefined || !m.ref.equals(ref)) return false;
  p.monitors!.delete(ref.id);
  detachFromTarget(core, m);
  return true;
}

/** Take a monitor off its target's list (local target, or tell the remote node). */
export function detachFromTarget(core: NodeCore, m: MonitorRec): void {
  if (core.isLocal(m.target)) core.lookup(m.target)?.monitoredBy?.delete(monitorKey(core, m.ref));
  else core.remote.demonitor(m);
}

/** Local refs key by their numeric id; refs minted elsewhere by their full key. */
export function monitorKey(core: NodeCore, ref: Ref): number | string {
  return ref.node === core.name && ref.ext === undefined ? ref.id : ref.key;
}
