/**
 * The cluster-wide client-id registry (FEATURES M16/M22) without a cluster-wide lock:
 * each id has a home node (rendezvous hash over the running members, home.ts); the
 * home's `cm_registry` keeps the id's entry — which node and session actor hold it, and
 * the client's will — and a lock per id, so two connections with one id anywhere in the
 * cluster are handled one after the other. A new id costs one round trip to its home.
 * When a member dies, the node holding the entries of its clients publishes their wills
 * (after their Will Delay Interval, unless the client reconnects first).
 */
import { genServer, logger, serverName, type DownMsg, type From, type GenServer, type NodeMsg, type NodeName, type Pid, type Ref } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import type { Message } from '../mqtt/message.js';
import { publish } from '../routing/dispatch.js';
import { monitorNodes } from '../../runtime/index.js';
import { homeOf } from './home.js';

const log = logger('broker:registry');

/** Where a client's session is, and what to publish if its node dies. */
export interface Registration {
  readonly node: NodeName;
  readonly pid: Pid;
  readonly will: { readonly msg: Message; readonly delayS: number } | undefined;
  /** When the session took the id (ms, its node's clock): of two holding one id, the newer stays. */
  readonly since: number;
}

export type ClaimReply = readonly ['ok', existing: Registration | undefined];

export interface RegistryProtocol {
  calls: {
    /** Take the id's lock here (its home); answered when held, with the current entry. */
    claim: { args: [clientId: string]; reply: ClaimReply };
    lookup: { args: [clientId: string]; reply: Registration | undefined };
    entries: { args: []; reply: [string, Registration][] };
  };
  casts: {
    /** Release the id's lock, setting its entry (`undefined`: leave it as it is). */
    release: { args: [clientId: string, reg: Registration | undefined] };
    /** (Re-)register without the lock: a session telling its (new) home where it is. */
    register: { args: [clientId: string, reg: Registration] };
    /** The session ended: forget the entry if it still names `pid`. */
    unregister: { args: [clientId: string, pid: Pid] };
  };
  info: NodeMsg | DownMsg | readonly ['will_due', string];
}

export const REGISTRY = serverName<RegistryProtocol>('cm_registry');

interface Lock {
  readonly queue: From[];
  /** The monitor on the holder: a holder that dies (or whose node does) frees the lock. */
  holder: Ref | undefined;
}

/*
 * State
 *   ctx       the broker context
 *   entries   client id → registration (ids this node is home to, or backup for)
 *   locks     client id → waiters, the head holding the lock
 *   holders   monitor ref key → client id whose lock that monitor guards
 *   wills     client id → a dead node's client's will waiting for its delay
 */
interface State {
  readonly ctx: BrokerContext;
  readonly entries: Map<string, Registration>;
  readonly locks: Map<string, Lock>;
  readonly holders: Map<string, string>;
  readonly wills: Map<string, { msg: Message; timer: Ref }>;
}

export const registryServer: GenServer<RegistryProtocol, State, BrokerContext> = {
  init(ctx) {
    if (ctx.dist.alive) monitorNodes(true);
    return genServer.ok({ ctx, entries: new Map(), locks: new Map(), holders: new Map(), wills: new Map() });
  },

  handleCall(req, from, s, self) {
    switch (req[0]) {
      case 'claim': {
        const id = req[1];
        // The client is back before its dead node's will was due: no will [MQTT-3.1.3-9].
        const w = s.wills.get(id);
        if (w !== undefined) {
          self.cancelTimer(w.timer);
          s.wills.delete(id);
        }
        const lock = s.locks.get(id);
        if (lock === undefined) {
          const l: Lock = { queue: [from], holder: undefined };
          s.locks.set(id, l);
          hold(s, id, l, self);
          return genServer.reply(['ok', s.entries.get(id)] as const, s);
        }
        lock.queue.push(from); // answered when the holder releases
        return genServer.noreply(s);
      }
      case 'lookup':
        return genServer.reply(s.entries.get(req[1]), s);
      case 'entries':
        return genServer.reply([...s.entries], s);
    }
  },

  handleCast(msg, s, self) {
    switch (msg[0]) {
      case 'release': {
        const [, id, reg] = msg;
        if (reg !== undefined) put(s, id, reg, self);
        next(s, id, self);
        return genServer.noreply(s);
      }
      case 'register':
        put(s, msg[1], msg[2], self);
        return genServer.noreply(s);
      case 'unregister': {
        const e = s.entries.get(msg[1]);
        if (e !== undefined && e.pid.equals(msg[2])) s.entries.delete(msg[1]);
        return genServer.noreply(s);
      }
    }
  },

  handleInfo(msg, s, self) {
    switch (msg[0]) {
      case 'DOWN': {
        const id = s.holders.get(msg[1].key);
        if (id !== undefined) {
          s.holders.delete(msg[1].key);
          const l = s.locks.get(id);
          if (l !== undefined) l.holder = undefined;
          log.warn('lock_holder_died', { client: id, reason: String(msg[4]) });
          next(s, id, self);
        }
        return genServer.noreply(s);
      }
      case 'nodedown': {
        // The sessions that lived there are gone with it: their wills are published here.
        const dead = msg[1];
        // Exactly one survivor publishes each will: the id's home among the survivors
        // (its home before, or — when the dead node was its home — the backup).
        const alive = [s.ctx.node, ...[...s.ctx.members].filter((m) => m !== dead)];
        for (const [id, e] of s.entries) {
          if (e.node !== dead) continue;
          s.entries.delete(id);
          if (e.will === undefined || homeOf(id, alive) !== s.ctx.node) continue;
          log.info('will_of_dead_node', { client: id, node: dead, delay_s: e.will.delayS });
          if (e.will.delayS > 0) s.wills.set(id, { msg: e.will.msg, timer: self.sendAfter(self.self, ['will_due', id], e.will.delayS * 1000) });
          else publish(s.ctx, { ...e.will.msg, timestamp: Date.now() }, self);
        }
        return genServer.noreply(s);
      }
      case 'nodeup':
        return genServer.noreply(s);
      case 'will_due': {
        const w = s.wills.get(msg[1]);
        if (w !== undefined) {
          s.wills.delete(msg[1]);
          publish(s.ctx, { ...w.msg, timestamp: Date.now() }, self);
        }
        return genServer.noreply(s);
      }
      default:
        return genServer.unexpected(log, 'info', msg, s);
    }
  },
};

/**
 * Set an entry. Another live session already there means two took the id while the
 * members changed (each asked a different home): the newer stays, the older is ended.
 * A takeover's old session is usually gone already, and then this does nothing.
 */
function put(s: State, id: string, reg: Registration, self: Parameters<NonNullable<typeof registryServer.handleInfo>>[2]): void {
  const e = s.entries.get(id);
  if (e !== undefined && !e.pid.equals(reg.pid)) {
    const [keep, drop] = e.since > reg.since ? [e, reg] : [reg, e];
    log.debug('duplicate_registration', { client: id, keep: String(keep.pid), drop: String(drop.pid) });
    self.send(drop.pid, ['$kick', 'duplicate_client_id']);
    s.entries.set(id, keep);
    return;
  }
  s.entries.set(id, reg);
}

function hold(s: State, id: string, l: Lock, self: Parameters<NonNullable<typeof registryServer.handleInfo>>[2]): void {
  const pid = l.queue[0]?.[0];
  if (pid === undefined) return;
  l.holder = self.monitor(pid);
  s.holders.set(l.holder.key, id);
}

function next(s: State, id: string, self: Parameters<NonNullable<typeof registryServer.handleInfo>>[2]): void {
  const l = s.locks.get(id);
  if (l === undefined) return;
  if (l.holder !== undefined) {
    self.demonitor(l.holder, { flush: true });
    s.holders.delete(l.holder.key);
    l.holder = undefined;
  }
  l.queue.shift();
  const waiter = l.queue[0];
  if (waiter === undefined) {
    s.locks.delete(id);
    return;
  }
  hold(s, id, l, self);
  genServer.replyTo(waiter, ['ok', s.entries.get(id)]);
}
