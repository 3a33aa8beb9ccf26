/**
 * Signals to and from processes on other nodes: the runtime's `RemoteOps` turned into
 * control messages on the peer's connection, and incoming control messages carried out
 * on local processes. It keeps, per node, the links and monitors that cross to it, so
 * that losing the node gives every one of them `noconnection` (FEATURES P2, P4).
 */
import type { Ref} from '../terms.js';
import { Pid, type Atom, type NodeName } from '../terms.js';
import type { Reason } from '../types.js';
import type { NodeCore, RemoteOps } from '../process/node-core.js';
import type { MonitorRec, Watcher } from '../process/shared.js';
import { addRemoteLink, attach, monitorKey, receiveExitSignal, removeRemoteLink } from '../process/signals.js';
import { CTRL, type Control } from './etf-dist.js';
import { handleSpawnRequest, SpawnRequests } from './remote-spawn.js';
import { SmallMap } from '../process/small-map.js';

/** Where control messages for a node go: its connection, or a queue while it is being set up. */
export interface Outbound {
  send(ctl: Control, msg?: unknown): void;
  /** The peer is a BEAM (ETF, Erlang's control set); false while that is not known yet. */
  readonly beam: boolean;
}

/** What the net kernel gives the remote ops: a way out to any node (connecting on demand). */
export interface Router {
  /** The way to `node`; undefined when it cannot be reached (then signals fail with noconnection). */
  to(node: NodeName): Outbound | undefined;
  /** Is the peer a BEAM (ETF, Erlang's control set) rather than a beamq node? */
  isBeam(node: NodeName): boolean;
}

interface LinkEntry {
  readonly local: Pid;
  readonly remote: Pid;
}

/** A watcher on another node: a DOWN for it becomes MONITOR_P_EXIT on the wire. */
class RemoteWatcher implements Watcher {
  constructor(
    private readonly remote: DistRemote,
    readonly pid: Pid,
    private readonly node: NodeName,
  ) {}
  deliverDown(ref: Ref, who: Pid | readonly [Atom, NodeName], reason: Reason): void {
    this.remote.inMonitors.get(this.node)?.delete(ref.key);
    this.remote.router.to(this.node)?.send([CTRL.MONITOR_P_EXIT, who instanceof Pid ? who : who[0], this.pid, ref, reason]);
  }
}

export class DistRemote implements RemoteOps {
  /** Links between a local and a remote process, by node, keyed `local|remote`. */
  private readonly links = new Map<NodeName, Map<string, LinkEntry>>();
  /** Monitors held here on remote targets, by node and ref key. */
  private readonly outMonitors = new Map<NodeName, Map<string, MonitorRec>>();
  /** Monitors held by remote watchers on local targets, by node and ref key. */
  readonly inMonitors = new Map<NodeName, Map<string, MonitorRec>>();
  readonly spawns: SpawnRequests;
  private unlinkId = 1;

  constructor(
    private readonly core: NodeCore,
    readonly router: Router,
  ) {
    this.spawns = new SpawnRequests(core, this);
  }

  // --- outgoing (RemoteOps) ----------------------------------------------------

  send(to: Pid, msg: unknown, from: Pid | undefined): void {
    const out = this.router.to(to.node);
    if (out === undefined) return;
    if (from !== undefined && !out.beam) out.send([CTRL.SEND_SENDER, from, to], msg);
    else out.send([CTRL.SEND, '', to], msg);
  }

  regSend(name: Atom, node: NodeName, msg: unknown, from: Pid | undefined): void {
    this.router.to(node)?.send([CTRL.REG_SEND, from ?? this.core.pseudoPid, '', name], msg);
  }

  aliasSend(to: Ref, msg: unknown, from: Pid | undefined): void {
    this.router.to(to.node)?.send([CTRL.ALIAS_SEND, from ?? this.core.pseudoPid, to], msg);
  }

  link(from: Pid, to: Pid): void {
    this.index(this.links, to.node).set(`${from.key}|${to.key}`, { local: from, remote: to });
    const out = this.router.to(to.node);
    if (out === undefined) return this.linkLost(from, to);
    out.send([CTRL.LINK, from, to]);
  }

  unlink(from: Pid, to: Pid): void {
    this.links.get(to.node)?.delete(`${from.key}|${to.key}`);
    this.router.to(to.node)?.send([CTRL.UNLINK_ID, this.unlinkId++, from, to]);
  }

  linkExit(from: Pid, to: Pid, reason: Reason): void {
    this.links.get(to.node)?.delete(`${from.key}|${to.key}`);
    this.router.to(to.node)?.send([CTRL.EXIT, from, to, reason]);
  }

  exit2(from: Pid, to: Pid, reason: Reason): void {
    this.router.to(to.node)?.send([CTRL.EXIT2, from, to, reason]);
  }

  monitor(watcher: Watcher, target: Pid | readonly [Atom, NodeName], ref: Ref): void {
    const node = target instanceof Pid ? target.node : target[1];
    const rec: MonitorRec = {
      ref,
      watcher,
      // A name on another node has no pid here: a placeholder on that node stands in.
      target: target instanceof Pid ? target : new Pid(node, 0, 0, 0),
      name: target instanceof Pid ? undefined : [target[0], target[1]],
    };
    const out = this.router.to(node);
    if (out === undefined) return watcher.deliverDown(ref, target, 'noconnection');
    this.index(this.outMonitors, node).set(ref.key, rec);
    watcher.held?.(rec);
    out.send([CTRL.MONITOR_P, watcher.pid ?? this.core.pseudoPid, target instanceof Pid ? target : target[0], ref]);
  }

  demonitor(m: MonitorRec): void {
    const node = m.target.node;
    if (this.outMonitors.get(node)?.delete(m.ref.key) !== true) return;
    this.router.to(node)?.send([CTRL.DEMONITOR_P, m.watcher.pid ?? this.core.pseudoPid, m.name?.[0] ?? m.target, m.ref]);
  }

  // --- incoming ------------------------------------------------------------------

  /** Carry out one control message from `node`. */
  handle(node: NodeName, ctl: Control, msg: unknown): void {
    const core = this.core;
    switch (ctl[0]) {
      case CTRL.SEND:
      case CTRL.SEND_SENDER:
      case CTRL.SEND_TT:
      case CTRL.SEND_SENDER_TT:
        return this.deliverTo(ctl[2], msg);
      case CTRL.REG_SEND:
      case CTRL.REG_SEND_TT:
        core.names.get(ctl[3])?.deliver(msg);
        return;
      case CTRL.ALIAS_SEND:
      case CTRL.ALIAS_SEND_TT: {
        const a = ctl[2];
        if (a.node === core.name && a.creation === core.creation) core.aliases.get(a.id)?.deliver(msg);
        return;
      }
      case CTRL.LINK: {
        const [, from, to] = ctl;
        if (!this.acceptLink(node, to, from)) this.router.to(node)?.send([CTRL.EXIT, to, from, 'noproc']);
        return;
      }
      case CTRL.UNLINK_ID: {
        const [, id, from, to] = ctl;
        removeRemoteLink(core, to, from);
        this.links.get(node)?.delete(`${to.key}|${from.key}`);
        this.router.to(node)?.send([CTRL.UNLINK_ID_ACK, id, to, from]);
        return;
      }
      case CTRL.UNLINK_ID_ACK:
      case CTRL.UNLINK:
        return;
      case CTRL.EXIT:
      case CTRL.EXIT_TT: {
        const from = ctl[1];
        const to = ctl[2];
        this.links.get(node)?.delete(`${to.key}|${from.key}`);
        const p = core.lookup(to);
        if (p !== undefined) receiveExitSignal(core, p, from, ctl[0] === CTRL.EXIT ? ctl[3] as Reason : ctl[4] as Reason, true);
        return;
      }
      case CTRL.EXIT2:
      case CTRL.EXIT2_TT: {
        const p = core.lookup(ctl[2]);
        if (p !== undefined) receiveExitSignal(core, p, ctl[1], (ctl[0] === CTRL.EXIT2 ? ctl[3] : ctl[4]) as Reason, false);
        return;
      }
      case CTRL.PAYLOAD_EXIT:
      case CTRL.PAYLOAD_EXIT_TT: {
        const p = core.lookup(ctl[2]);
        this.links.get(node)?.delete(`${ctl[2].key}|${ctl[1].key}`);
        if (p !== undefined) receiveExitSignal(core, p, ctl[1], msg as Reason, true);
        return;
      }
      case CTRL.PAYLOAD_EXIT2:
      case CTRL.PAYLOAD_EXIT2_TT: {
        const p = core.lookup(ctl[2]);
        if (p !== undefined) receiveExitSignal(core, p, ctl[1], msg as Reason, false);
        return;
      }
      case CTRL.MONITOR_P:
        return this.monitorRequest(node, ctl[1], ctl[2], ctl[3]);
      case CTRL.DEMONITOR_P: {
        const rec = this.inMonitors.get(node)?.get(ctl[3].key);
        if (rec === undefined) return;
        this.inMonitors.get(node)!.delete(ctl[3].key);
        core.lookup(rec.target)?.monitoredBy?.delete(monitorKey(core, rec.ref));
        return;
      }
      case CTRL.MONITOR_P_EXIT:
        return this.monitorFired(node, ctl[3], ctl[4] as Reason);
      case CTRL.PAYLOAD_MONITOR_P_EXIT:
        return this.monitorFired(node, ctl[3], msg as Reason);
      case CTRL.SPAWN_REQUEST:
      case CTRL.SPAWN_REQUEST_TT:
        return handleSpawnRequest(core, this, node, ctl[1], ctl[2], ctl[4], ctl[5], msg);
      case CTRL.SPAWN_REPLY:
      case CTRL.SPAWN_REPLY_TT:
        return this.spawns.reply(ctl[1], ctl[2], ctl[3], ctl[4]);
      case CTRL.NODE_LINK:
      case CTRL.GROUP_LEADER:
        return;
    }
  }

  private deliverTo(to: Pid, msg: unknown): void {
    if (to.node !== this.core.name) return;
    this.core.send(to, msg);
  }

  /** A process on `node` linked to local `local`. False when `local` is gone. */
  acceptLink(node: NodeName, local: Pid, remote: Pid): boolean {
    if (!addRemoteLink(this.core, local, remote)) return false;
    this.index(this.links, node).set(`${local.key}|${remote.key}`, { local, remote });
    return true;
  }

  /** A link this node asked for was established by the peer (spawn with link). */
  linkEstablished(local: Pid, remote: Pid): void {
    const p = this.core.lookup(local);
    if (p === undefined) return;
    (p.links ??= new SmallMap()).set(remote.key, remote);
    this.index(this.links, remote.node).set(`${local.key}|${remote.key}`, { local, remote });
  }

  /** A monitor this node asked for was established by the peer (spawn with monitor). */
  monitorEstablished(watcher: Watcher, target: Pid, ref: Ref): void {
    const rec: MonitorRec = { ref, watcher, target, name: undefined };
    this.index(this.outMonitors, target.node).set(ref.key, rec);
    watcher.held?.(rec);
  }

  monitorRequest(node: NodeName, from: Pid, to: Pid | Atom, ref: Ref): void {
    const core = this.core;
    const name = typeof to === 'string' ? to : undefined;
    const target = name !== undefined ? core.names.get(name) : core.lookup(to as Pid);
    if (target === undefined) {
      this.router.to(node)?.send([CTRL.MONITOR_P_EXIT, to, from, ref, 'noproc']);
      return;
    }
    const rec: MonitorRec = { ref, watcher: new RemoteWatcher(this, from, node), target: target.pid, name: name === undefined ? undefined : [name, core.name] };
    this.index(this.inMonitors, node).set(ref.key, rec);
    attach(core, target, rec);
  }

  private monitorFired(node: NodeName, ref: Ref, reason: Reason): void {
    const rec = this.outMonitors.get(node)?.get(ref.key);
    if (rec === undefined) return;
    this.outMonitors.get(node)!.delete(ref.key);
    rec.watcher.released?.(ref);
    rec.watcher.deliverDown(ref, rec.name ?? rec.target, reason);
  }

  // --- node loss -------------------------------------------------------------

  /**
   * `node` is gone (or could not be reached): every link across gives `noconnection`,
   * every monitor on it fires `noconnection`, and its watchers' monitors are dropped.
   */
  nodeDown(node: NodeName): void {
    const links = this.links.get(node);
    this.links.delete(node);
    if (links !== undefined) for (const l of links.values()) this.linkLost(l.local, l.remote);
    const outs = this.outMonitors.get(node);
    this.outMonitors.delete(node);
    if (outs !== undefined) {
      for (const m of outs.values()) {
        m.watcher.released?.(m.ref);
        m.watcher.deliverDown(m.ref, m.name ?? m.target, 'noconnection');
      }
    }
    const ins = this.inMonitors.get(node);
    this.inMonitors.delete(node);
    if (ins !== undefined) for (const m of ins.values()) this.core.lookup(m.target)?.monitoredBy?.delete(monitorKey(this.core, m.ref));
    this.spawns.nodeDown(node);
  }

  private linkLost(local: Pid, remote: Pid): void {
    const p = this.core.lookup(local);
    if (p !== undefined) receiveExitSignal(this.core, p, remote, 'noconnection', true);
  }

  private index<V>(m: Map<NodeName, Map<string, V>>, node: NodeName): Map<string, V> {
    let x = m.get(node);
    if (x === undefined) m.set(node, (x = new Map<string, V>()));
    return x;
  }

  /** For logs and inspection. */
  describe(node: NodeName): Record<string, number> {
    return {
      links: this.links.get(node)?.size ?? 0,
      monitors_out: this.outMonitors.get(node)?.size ?? 0,
      monitors_in: this.inMonitors.get(node)?.size ?? 0,
    };
  }
}

