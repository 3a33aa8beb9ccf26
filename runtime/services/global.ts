/**
 * global: cluster-wide unique names (OTP's global). Every named node runs
 * `global_name_server`, which holds the replicated table that `whereisName` reads
 * synchronously, and a registrar (global-registrar.ts) that makes registrations under
 * a cluster lock. Names go when their process dies or their node goes down; a clash
 * after a partition heals is resolved as OTP's default `random_exit_name` does.
 */
import { logger } from '../log.js';
import type { Atom, NodeName, Pid, Ref } from '../terms.js';
import { ExitError, formatTerm, type CallOf } from '../types.js';
import * as gen from '../behaviours/gen-server.js';
import { worker, type ChildSpec } from '../behaviours/child-spec.js';
import { call as rawCall, reply as rawReply, type From } from '../process/call.js';
import { currentCore } from '../process/current-core.js';
import type { NodeCore } from '../process/node-core.js';
import type { Ctx, Proc } from '../process/process.js';
import { current } from '../process/scheduler.js';
import { kernelOf } from '../dist/distribution.js';
import { GLOBAL_NAME_SERVER, PROTO_VSN, type Entry, type GlobalProtocol, type PeerMsg } from './global-proto.js';
import { registrar } from './global-registrar.js';
import { NameTable, tables } from './global-table.js';
import { isServicePeer, servicePeers } from './peers.js';

const log = logger('runtime:global');

// --- API -------------------------------------------------------------------------

/**
 * global:register_name/2: `'yes'` once every connected node knows `name` stands for
 * `pid`; `'no'` if the name is taken anywhere in the connected cluster (or `pid` is
 * dead). Two nodes registering one name at once get one `'yes'` between them.
 */
export function registerName(name: Atom, pid: Pid): Promise<'yes' | 'no'> {
  return callServer(['register_name', name, pid]);
}

/** global:unregister_name/1: remove `name` everywhere (no error if it is not there). */
export async function unregisterName(name: Atom): Promise<void> {
  await callServer<'ok'>(['unregister_name', name]);
}

/** global:re_register_name/2: point `name` at `pid`, whoever had it. */
export function reRegisterName(name: Atom, pid: Pid): Promise<'yes' | 'no'> {
  return callServer(['re_register_name', name, pid]);
}

/** global:whereis_name/1: a local, synchronous read of the replicated table. */
export function whereisName(name: Atom): Pid | undefined {
  return tables.get(currentCore())?.whereis(name);
}

/** global:registered_names/0, from the local table. */
export function registeredNames(): Atom[] {
  return tables.get(currentCore())?.names() ?? [];
}

/**
 * global:send/2: send `msg` to the process registered as `name` and return its pid.
 * Throws `ExitError` with reason `['badarg', [name, msg]]` if no process has that name.
 */
export function send(name: Atom, msg: unknown): Pid {
  const pid = whereisName(name);
  if (pid === undefined) throw new ExitError(['badarg', [name, msg]], ['global', 'send']);
  const caller = current.proc;
  (caller?.core ?? currentCore()).send(pid, msg, caller);
  return pid;
}

/** The `global_name_server` child spec: kernel_sup starts it on every named node. */
export function childSpec(): ChildSpec {
  return worker('global_name_server', () => gen.startLink(server, undefined, { name: GLOBAL_NAME_SERVER, trapExit: true }));
}

function callServer<R>(req: CallOf<GlobalProtocol>): Promise<R> {
  const caller = current.proc;
  // No timeout, as OTP: the registrar always answers, or its node's server dies (noproc).
  return rawCall(caller?.core ?? currentCore(), GLOBAL_NAME_SERVER, req, Infinity, caller) as Promise<R>;
}

// --- the server --------------------------------------------------------------------

/*
 * State
 *   core       the node served.
 *   table      the NameTable readers share. Invariant: slice N holds only pids of node N.
 *              Our own slice changes here only (insert_own, delete_own, a registered pid's
 *              DOWN, a lost clash); a peer's slice only from that peer's messages, in the
 *              order it sent them (sync replaces it, insert/delete edit it). A peer's slice
 *              exists only while its server is in `peers`.
 *   own        our registered pids: pid key → its names and the monitor that drops them.
 *   peers      other nodes' name servers we know: node → pid and monitor. Each got our
 *              slice (sync) when we learnt of it, and every change to it since.
 *   downs      monitor ref key → what that monitor watches.
 *   pending    changes to our slice made for a registrar, waiting for peers' acks:
 *              ack ref key → the registrar's call, the peers yet to ack, the answer.
 *   lock       the `global` lock: its holder and the FIFO queue of requesters, each
 *              monitored so that a dead requester (or its node going down) releases it.
 *   registrar  the linked process that runs this node's registrations.
 */
interface State {
  readonly core: NodeCore;
  readonly table: NameTable;
  readonly own: Map<string, { readonly pid: Pid; readonly ref: Ref; readonly names: Set<Atom> }>;
  readonly peers: Map<NodeName, { readonly pid: Pid; readonly ref: Ref }>;
  readonly downs: Map<string, readonly ['own', Pid] | readonly ['peer', NodeName] | readonly ['lock']>;
  readonly pending: Map<string, { readonly from: From; readonly waiting: Set<NodeName>; readonly answer: 'yes' | 'ok' }>;
  readonly lock: { holder: Waiter | undefined; readonly queue: Waiter[] };
  readonly registrar: Pid;
}

interface Waiter {
  readonly pid: Pid;
  readonly ref: Ref;
  readonly from: From;
}

const server: gen.GenServer<GlobalProtocol, State> = {
  init(_args, ctx) {
    const core = (ctx as Proc).core;
    const s: State = {
      core,
      table: new NameTable(core.name),
      own: new Map(),
      peers: new Map(),
      downs: new Map(),
      pending: new Map(),
      lock: { holder: undefined, queue: [] },
      registrar: ctx.spawnLink(registrar(core)),
    };
    tables.set(core, s.table);
    kernelOf(core)?.monitorNodes(ctx.self, true);
    // A server (re)starting on a running node asks the peers already there.
    for (const n of servicePeers(core)) ctx.send([GLOBAL_NAME_SERVER, n], ['discover', ctx.self, PROTO_VSN]);
    return gen.ok(s);
  },

  handleCall(req, from, s, ctx) {
    switch (req[0]) {
      case 'register_name':
      case 'unregister_name':
      case 're_register_name':
        ctx.send(s.registrar, ['run', from, req]);
        return gen.noreply(s);
      case 'lock': {
        const ref = ctx.monitor(req[1]);
        s.downs.set(ref.key, ['lock']);
        const w: Waiter = { pid: req[1], ref, from };
        if (s.lock.holder !== undefined) {
          s.lock.queue.push(w);
          return gen.noreply(s);
        }
        s.lock.holder = w;
        return gen.reply('ok' as const, s);
      }
      case 'owns':
        return gen.reply(s.table.own.has(req[1]), s);
      case 'insert_own':
        return insertOwn(s, req[1], req[2], from, ctx);
      case 'delete_own':
        deleteOwn(s, req[1], from, ctx);
        return gen.noreply(s);
    }
  },

  handleCast(msg, s, ctx) {
    const requester = msg[1];
    const l = s.lock;
    const w = l.holder?.pid.equals(requester) === true ? l.holder : l.queue.find((q) => q.pid.equals(requester));
    if (w === undefined) return gen.unexpected(ctx.log, 'cast', msg, s);
    ctx.demonitor(w.ref, { flush: true });
    release(s, w);
    return gen.noreply(s);
  },

  handleInfo(msg, s, ctx) {
    switch (msg[0]) {
      case 'discover':
        return gen.noreply(discover(s, msg[1], msg[2], ctx));
      case 'sync': {
        const peer = msg[1];
        if (s.peers.get(peer.node)?.pid.equals(peer) !== true) adopt(s, peer, ctx);
        s.table.slices.set(peer.node, new Map(msg[2]));
        for (const [name] of msg[2]) resolveClash(s, name, ctx);
        return gen.noreply(s);
      }
      case 'insert':
      case 'delete': {
        const [, peer, name] = msg;
        const slice = s.peers.get(peer.node)?.pid.equals(peer) === true ? s.table.slices.get(peer.node) : undefined;
        if (msg[0] === 'insert') {
          slice?.set(name, msg[3]);
          resolveClash(s, name, ctx);
        } else slice?.delete(name);
        // Ack even a change we ignore: the sender's registrar waits for every peer it sent to.
        const ack = msg[0] === 'insert' ? msg[4] : msg[3];
        if (ack !== undefined) ctx.send(peer, ['ack', ack, s.core.name]);
        return gen.noreply(s);
      }
      case 'ack': {
        const p = s.pending.get(msg[1].key);
        p?.waiting.delete(msg[2]);
        settle(s, msg[1].key);
        return gen.noreply(s);
      }
      case 'DOWN':
        return gen.noreply(down(s, msg[1], ctx));
      case 'nodeup':
        if (isServicePeer(s.core, msg[1])) ctx.send([GLOBAL_NAME_SERVER, msg[1]], ['discover', ctx.self, PROTO_VSN]);
        return gen.noreply(s);
      case 'nodedown':
        // The monitors on its server and on its lock requesters say it all.
        return gen.noreply(s);
      case 'EXIT':
        if (msg[1].equals(s.registrar)) return gen.stop(['registrar_exited', msg[2]], s);
        return gen.unexpected(ctx.log, 'info', msg, s);
      default:
        return gen.unexpected(ctx.log, 'info', msg, s);
    }
  },

  terminate(_reason, s) {
    if (tables.get(s.core) === s.table) tables.delete(s.core);
  },
};

// --- our own slice ----------------------------------------------------------------

function insertOwn(s: State, name: Atom, pid: Pid, from: From, ctx: Ctx): gen.Step<State, 'yes' | 'no'> {
  const cur = s.table.own.get(name);
  if (cur !== undefined) return gen.reply(cur.equals(pid) ? 'yes' : 'no', s);
  if (!s.core.isAlive(pid)) return gen.reply('no', s);
  s.table.own.set(name, pid);
  let o = s.own.get(pid.key);
  if (o === undefined) {
    const ref = ctx.monitor(pid);
    s.own.set(pid.key, (o = { pid, ref, names: new Set() }));
    s.downs.set(ref.key, ['own', pid]);
  }
  o.names.add(name);
  replicate(s, (ack) => ['insert', ctx.self, name, pid, ack], ctx, from, 'yes');
  return gen.noreply(s);
}

/** Drop `name` from our slice and tell the peers; answer `from` (if any) once they have it. */
function deleteOwn(s: State, name: Atom, from: From | undefined, ctx: Ctx): void {
  const pid = s.table.own.get(name);
  if (pid === undefined) {
    if (from !== undefined) rawReply(s.core, from, 'ok');
    return;
  }
  s.table.own.delete(name);
  const o = s.own.get(pid.key);
  o?.names.delete(name);
  if (o !== undefined && o.names.size === 0) {
    ctx.demonitor(o.ref, { flush: true });
    s.downs.delete(o.ref.key);
    s.own.delete(pid.key);
  }
  replicate(s, (ack) => ['delete', ctx.self, name, ack], ctx, from, 'ok');
}

/** Send a change of our slice to every peer; with `from`, answer it when all have acked. */
function replicate(s: State, make: (ack: Ref | undefined) => PeerMsg, ctx: Ctx, from: From | undefined, answer: 'yes' | 'ok'): void {
  const ack = from === undefined ? undefined : ctx.makeRef();
  const msg = make(ack);
  for (const p of s.peers.values()) ctx.send(p.pid, msg);
  if (from === undefined || ack === undefined) return;
  s.pending.set(ack.key, { from, waiting: new Set(s.peers.keys()), answer });
  settle(s, ack.key);
}

function settle(s: State, key: string): void {
  const p = s.pending.get(key);
  if (p === undefined || p.waiting.size > 0) return;
  s.pending.delete(key);
  rawReply(s.core, p.from, p.answer);
}

/**
 * A peer's slice now also holds `name`. If ours does too, OTP's default resolver
 * `random_exit_name` decides, and it is not random: the pid on the node whose name sorts
 * lower stays and the other is killed (FEATURES P7). Only the loser's node acts (as in
 * OTP's exchange_names, "the other node will solve the conflict"); readers already
 * answer the winner (NameTable.whereis).
 */
function resolveClash(s: State, name: Atom, ctx: Ctx): void {
  const mine = s.table.own.get(name);
  if (mine === undefined) return;
  for (const [node, slice] of s.table.slices) {
    const other = slice.get(name);
    if (node >= s.core.name || other === undefined) continue;
    log.info('name_conflict', { name, kept: formatTerm(other), killed: formatTerm(mine) });
    deleteOwn(s, name, undefined, ctx);
    ctx.exit(mine, 'kill');
    return;
  }
}

// --- peers and monitors -------------------------------------------------------------

/** A peer's server introduces itself: learn it (and introduce ourselves), then send our slice. */
function discover(s: State, peer: Pid, vsn: number, ctx: Ctx): State {
  if (vsn !== PROTO_VSN) {
    log.warn('peer_protocol_mismatch', { peer: formatTerm(peer), vsn, ours: PROTO_VSN });
    return s;
  }
  if (s.peers.get(peer.node)?.pid.equals(peer) !== true) {
    adopt(s, peer, ctx);
    ctx.send(peer, ['discover', ctx.self, PROTO_VSN]);
  }
  const entries: Entry[] = [...s.table.own];
  ctx.send(peer, ['sync', ctx.self, entries]);
  return s;
}

/** Know `peer` as its node's server (replacing an older one of that node) and watch it. */
function adopt(s: State, peer: Pid, ctx: Ctx): void {
  if (s.peers.has(peer.node)) forget(s, peer.node, ctx);
  const ref = ctx.monitor(peer);
  s.peers.set(peer.node, { pid: peer, ref });
  s.downs.set(ref.key, ['peer', peer.node]);
  s.table.slices.set(peer.node, new Map());
}

/** A peer's server is gone (or replaced): its names go, and nobody waits for its acks. */
function forget(s: State, node: NodeName, ctx: Ctx): void {
  const p = s.peers.get(node);
  if (p === undefined) return;
  s.peers.delete(node);
  ctx.demonitor(p.ref, { flush: true });
  s.downs.delete(p.ref.key);
  s.table.slices.delete(node);
  for (const [key, w] of s.pending) {
    w.waiting.delete(node);
    settle(s, key);
  }
}

function down(s: State, ref: Ref, ctx: Ctx): State {
  const d = s.downs.get(ref.key);
  if (d === undefined) return s;
  s.downs.delete(ref.key);
  switch (d[0]) {
    case 'own': {
      const o = s.own.get(d[1].key);
      s.own.delete(d[1].key);
      // Already unmonitored, so deleteOwn will not touch `own` for it again.
      for (const name of o?.names ?? []) {
        if (s.table.own.get(name)?.equals(d[1]) !== true) continue;
        s.table.own.delete(name);
        replicate(s, (ack) => ['delete', ctx.self, name, ack], ctx, undefined, 'ok');
      }
      return s;
    }
    case 'peer':
      forget(s, d[1], ctx);
      return s;
    case 'lock': {
      const l = s.lock;
      const w = l.holder?.ref.equals(ref) === true ? l.holder : l.queue.find((q) => q.ref.equals(ref));
      if (w !== undefined) release(s, w);
      return s;
    }
  }
}

/** `w` no longer holds or waits for the lock: the next in line gets it. */
function release(s: State, w: Waiter): void {
  const l = s.lock;
  s.downs.delete(w.ref.key);
  if (l.holder !== w) {
    l.queue.splice(l.queue.indexOf(w), 1);
    return;
  }
  l.holder = l.queue.shift();
  if (l.holder !== undefined) rawReply(s.core, l.holder.from, 'ok');
}
