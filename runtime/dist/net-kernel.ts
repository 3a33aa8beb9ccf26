/**
 * The connection table (OTP's net_kernel): one entry per peer node, pending while the
 * handshake runs (messages queue) and up once a `Connection` exists. It settles
 * simultaneous connects by name, connects on demand when something is sent to an
 * unknown node, meshes transitively, ticks every connection, and tells watchers about
 * nodeup/nodedown. It is the only writer of the table; the remote ops read it.
 */
import type net from 'node:net';
import { logger } from '../log.js';
import type { NodeName } from '../terms.js';
import type { NodeCore } from '../process/node-core.js';
import { Connection, type DownReason, type PeerInfo } from './connection.js';
import { CTRL, type Control } from './etf-dist.js';
import { hasFlag, DFLAG } from './flags.js';
import { HandshakeError, type HandshakeStatus } from './handshake.js';
import { compatible, parseNodeName } from './node-name.js';
import { NodeWatchers, type NodeType } from './node-watchers.js';
import { DistRemote, type Outbound, type Router } from './remote.js';
import { acceptFrom, connectTo, type Established, type SetupParams } from './setup.js';

const log = logger('runtime:net_kernel');

export interface KernelConfig extends SetupParams {
  /** net_ticktime: a peer silent this long is dropped (ticks go every quarter of it). */
  readonly tickTimeMs: number;
  /** Connect to the nodes our peers know (OTP global's connect_all). */
  readonly connectAll: boolean;
}

/** One peer node: pending (messages queue) until its connection is up. */
class Peer implements Outbound {
  conn: Connection | undefined = undefined;
  queue: [Control, unknown][] = [];
  waiters: ((ok: boolean) => void)[] = [];
  /** Our own setup attempt, if one runs; `aborted` once the peer's attempt won. */
  outgoing: { aborted: boolean } | undefined = undefined;
  /** A handshake from the peer is running. */
  incoming = false;
  /** A lost simultaneous connect: wait this long for the peer's connection. */
  waitTimer: NodeJS.Timeout | undefined = undefined;

  constructor(readonly node: NodeName) {}

  get beam(): boolean {
    return this.conn?.info.beamq === false;
  }

  send(ctl: Control, msg?: unknown): void {
    if (this.conn !== undefined) this.conn.send(ctl, msg);
    else this.queue.push([ctl, msg]);
  }
}

export class NetKernel implements Router {
  readonly remote: DistRemote;
  readonly watchers: NodeWatchers;
  private readonly peers = new Map<NodeName, Peer>();
  private readonly ticker: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly core: NodeCore,
    readonly cfg: KernelConfig,
    private readonly server: net.Server,
  ) {
    this.remote = new DistRemote(core, this);
    this.watchers = new NodeWatchers(core);
    core.remote = this.remote;
    server.on('connection', (s: net.Socket) => this.onAccept(s));
    this.ticker = setInterval(() => this.tick(), Math.max(10, cfg.tickTimeMs / 4));
    this.ticker.unref();
  }

  get name(): NodeName {
    return this.core.name;
  }

  /** The port peers connect to. */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  // --- Router ------------------------------------------------------------------

  /** The way to `node`, connecting on demand (auto-connect); undefined if it can never be reached. */
  to(node: NodeName): Outbound | undefined {
    const peer = this.peers.get(node);
    if (peer !== undefined) return peer;
    if (this.stopped || node === this.name || !this.reachable(node)) return undefined;
    return this.startSetup(node);
  }

  isBeam(node: NodeName): boolean {
    return this.peers.get(node)?.conn?.info.beamq === false;
  }

  // --- API -------------------------------------------------------------------------

  /** net_kernel:connect_node/1: true once connected, false if it cannot be. */
  connect(node: NodeName): Promise<boolean> {
    if (node === this.name) return Promise.resolve(true);
    const peer = this.to(node) as Peer | undefined;
    if (peer === undefined) return Promise.resolve(false);
    if (peer.conn !== undefined) return Promise.resolve(true);
    return new Promise((resolve) => peer.waiters.push(resolve));
  }

  /** erlang:disconnect_node/1. */
  disconnect(node: NodeName): boolean {
    const peer = this.peers.get(node);
    if (peer?.conn === undefined) return false;
    peer.conn.close('disconnect');
    return true;
  }

  /** Connected nodes: visible ones (nodes()), hidden ones, or both. */
  nodes(which: 'visible' | 'hidden' | 'connected' = 'visible'): NodeName[] {
    const out: NodeName[] = [];
    for (const p of this.peers.values()) {
      const c = p.conn;
      if (c === undefined) continue;
      if (which === 'connected' || (which === 'hidden') === c.info.hidden) out.push(p.node);
    }
    return out;
  }

  isConnected(node: NodeName): boolean {
    return this.peers.get(node)?.conn !== undefined;
  }

  monitorNode(pid: Parameters<NodeWatchers['monitorNode']>[0], node: NodeName, flag: boolean): void {
    this.watchers.monitorNode(pid, node, flag);
    // erlang:monitor_node on a node we cannot reach answers nodedown at once.
    if (flag && !this.isConnected(node)) {
      void this.connect(node).then((ok) => {
        if (!ok) this.watchers.down(node, false, false);
      });
    }
  }

  monitorNodes(pid: Parameters<NodeWatchers['monitorNodes']>[0], flag: boolean, type: NodeType = 'visible'): void {
    this.watchers.monitorNodes(pid, flag, type);
  }

  /** Close the listener and every connection (the node is stopping). */
  shutdown(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.ticker);
    this.server.close();
    for (const p of [...this.peers.values()]) {
      if (p.conn !== undefined) p.conn.close('shutdown');
      else this.fail(p.node, 'shutdown');
    }
  }

  // --- setup -------------------------------------------------------------------

  private reachable(node: NodeName): boolean {
    try {
      return compatible(this.name, parseNodeName(node));
    } catch {
      return false;
    }
  }

  private startSetup(node: NodeName): Peer {
    const peer = new Peer(node);
    this.peers.set(node, peer);
    const attempt = { aborted: false };
    peer.outgoing = attempt;
    // Status 'alive': the peer holds a connection from a node of our name. If we have
    // none and still want this one, that connection is our previous incarnation's and
    // must go (true). If our attempt lost a simultaneous connect, the peer's connection
    // from us is the good one: answer false and keep it.
    connectTo(node, this.cfg, () => !attempt.aborted && this.peers.get(node)?.conn === undefined).then(
      (est) => {
        if (attempt.aborted || this.stopped) return void est.socket.destroy();
        this.up(est);
      },
      (err: unknown) => {
        if (attempt.aborted) return;
        peer.outgoing = undefined;
        if (err instanceof HandshakeError && err.code === 'nok' && !this.stopped) {
          // Simultaneous connect that the peer won: its connection is on the way.
          peer.waitTimer = setTimeout(() => this.fail(node, 'setup_timeout'), this.cfg.setupTimeMs);
          return;
        }
        if (!peer.incoming) this.fail(node, err instanceof Error ? err.message : String(err));
      },
    );
    return peer;
  }

  private onAccept(socket: net.Socket): void {
    let peerName: NodeName | undefined;
    acceptFrom(socket, this.cfg, (peer, flags) => {
      peerName = peer;
      return this.decideStatus(peer, flags);
    }).then(
      (est) => {
        if (this.stopped) return void est.socket.destroy();
        this.up(est);
      },
      (err: unknown) => {
        // The handshake logged the refusal; a peer whose handshake failed after we let
        // it in must not stay pending.
        if (peerName === undefined) return;
        const peer = this.peers.get(peerName);
        if (peer === undefined || peer.conn !== undefined || !peer.incoming) return;
        peer.incoming = false;
        if (peer.outgoing === undefined || peer.outgoing.aborted) this.fail(peerName, err instanceof Error ? err.message : String(err));
      },
    );
  }

  /** OTP net_kernel's accept_pending: may this peer's handshake go on? */
  private decideStatus(node: NodeName, flags: bigint): HandshakeStatus {
    if (this.stopped) return 'not_allowed';
    if (!this.reachable(node)) return 'not_allowed';
    void flags; // hidden or visible, a peer is let in; up() reads PUBLISHED from the result
    let peer = this.peers.get(node);
    if (peer?.conn !== undefined) return 'alive';
    if (peer?.outgoing !== undefined && !peer.outgoing.aborted) {
      // Simultaneous connect: the node with the greater name wins.
      if (this.name > node) return 'nok';
      peer.outgoing.aborted = true;
      peer.outgoing = undefined;
      peer.incoming = true;
      return 'ok_simultaneous';
    }
    if (peer === undefined) this.peers.set(node, (peer = new Peer(node)));
    peer.incoming = true;
    return 'ok';
  }

  // --- up and down -----------------------------------------------------------------

  private up(est: Established): void {
    const r = est.result;
    const node = r.peerName;
    let peer = this.peers.get(node);
    if (peer?.conn !== undefined) {
      // The peer restarted (status 'alive'): the old connection belongs to its past.
      peer.conn.close('replaced');
      peer = this.peers.get(node);
    }
    if (peer === undefined) this.peers.set(node, (peer = new Peer(node)));
    if (peer.waitTimer !== undefined) clearTimeout(peer.waitTimer);
    const info: PeerInfo = {
      node,
      flags: r.peerFlags,
      creation: r.peerCreation,
      beamq: r.beamqPeer,
      hidden: !hasFlag(r.peerFlags, DFLAG.PUBLISHED),
    };
    const conn = new Connection(info, est.socket, est.buffered, {
      beforeFrames: () => this.core.scheduler.hold(),
      onFrame: (c, ctl, msg) => this.remote.handle(c.node, ctl, msg),
      onDown: (c, reason) => this.down(c, reason),
      afterFrames: () => this.core.scheduler.runNow(),
    }, { name: this.core.name, creation: this.core.creation });
    peer.conn = conn;
    peer.outgoing = undefined;
    peer.incoming = false;
    const queued = peer.queue;
    peer.queue = [];
    for (const [ctl, msg] of queued) conn.send(ctl, msg);
    for (const w of peer.waiters.splice(0)) w(true);
    log.info('nodeup', { node, hidden: info.hidden, beam: !info.beamq });
    this.watchers.up(node, info.hidden);
    if (this.cfg.connectAll && info.beamq && !info.hidden && !this.cfg.hidden) this.shareNodes(conn);
  }

  /** Transitive mesh: tell a new peer which visible nodes we are connected to. */
  private shareNodes(conn: Connection): void {
    const known = this.nodes('visible').filter((n) => n !== conn.node);
    conn.send([CTRL.REG_SEND, this.core.pseudoPid, '', 'net_kernel'], ['$gen_cast', ['connect_all', known]]);
    for (const p of this.peers.values()) {
      if (p.conn !== undefined && p.conn !== conn && p.conn.info.beamq && !p.conn.info.hidden) {
        p.conn.send([CTRL.REG_SEND, this.core.pseudoPid, '', 'net_kernel'], ['$gen_cast', ['connect_all', [conn.node]]]);
      }
    }
  }

  private down(conn: Connection, reason: DownReason): void {
    const node = conn.node;
    const peer = this.peers.get(node);
    if (peer === undefined || peer.conn !== conn) return;
    this.peers.delete(node);
    if (reason === 'net_tick_timeout') log.warn('node_not_responding', { node, reason: 'net_tick_timeout' });
    log.info('nodedown', { node, reason });
    this.remote.nodeDown(node);
    this.watchers.down(node, conn.info.hidden);
  }

  /** A peer that never came up: signals to it fail with noconnection. */
  private fail(node: NodeName, why: string): void {
    const peer = this.peers.get(node);
    if (peer === undefined || peer.conn !== undefined) return;
    this.peers.delete(node);
    if (peer.waitTimer !== undefined) clearTimeout(peer.waitTimer);
    log.debug('connect_failed', { node, reason: why });
    this.remote.nodeDown(node);
    for (const w of peer.waiters.splice(0)) w(false);
  }

  private tick(): void {
    for (const p of this.peers.values()) {
      if (p.conn !== undefined && p.conn.tick() === 'timeout') p.conn.close('net_tick_timeout');
    }
  }
}
