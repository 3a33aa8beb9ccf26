/**
 * The cluster-wide client-id registry (FEATURES M16/M22) without a cluster-wide lock:
 * each id has a home node (rendezvous hash over the running members, home.ts); the
 * home's `cm_registry` keeps the id's entry — which node and session actor hold it, and
 * the client's will — and a lock per id, so two connections with one id anywhere in the
 * cluster are handled one after the other. A new id costs one round trip to its home.
 * When a member dies, the node holding the entries of its clients publishes their wills
 * (after their Will Delay Interval, unless the client reconnects first).
 */
import { genServer, logger, serverName, type Ctx, type DownMsg, type GenServer, type NodeMsg, type Pid } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { publish } from '../routing/dispatch.js';
import { monitorNodes } from '../../runtime/index.js';
import { homeOf } from './home.js';
import type { Lock, Registration, RegistryTable } from './registry-table.js';

export type { Registration } from './registry-table.js';

const log = logger('broker:registry');

export type ClaimReply = readonly ['ok', existing: Registration | undefined];

export interface RegistryProtocol {
  calls: {
    /** Take the id's lock here (its home); answered when held, with the current entry. */
    claim: { args: [clientId: string]; reply: ClaimReply };
    lookup: { args: [clientId: string]; reply: Registration | undefined };
    entries: { args: []; reply: [string, Registration][] };
  };
  casts: {
    /** `pid` took the id's free lock itself (RegistryTable.tryClaim): monitor it as a holder. */
    held: { args: [clientId: string, pid: Pid] };
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

/*
 * State
 *   ctx       the broker context
 *   t         its registry table: entries, locks, waiting wills (registry-table.ts)
 *   holders   monitor ref key → client id whose lock that monitor guards
 */
interface State {
  readonly ctx: BrokerContext;
  readonly t: RegistryTable;
  readonly holders: Map<string, string>;
}

export const registryServer: GenServer<RegistryProtocol, State, BrokerContext> = {
  init(ctx) {
    if (ctx.dist.alive) monitorNodes(true);
    ctx.registry.clear();
    return genServer.ok({ ctx, t: ctx.registry, holders: new Map() });
  },

  handleCall(req, from, s, self) {
    switch (req[0]) {
      case 'claim': {
        const id = req[1];
        // The client is back before its dead node's will was due: no will [MQTT-3.1.3-9].
        const w = s.t.wills.get(id);
        if (w !== undefined) {
          self.cancelTimer(w.timer);
          s.t.wills.delete(id);
        }
        const lock = s.t.locks.get(id);
        if (lock === undefined) {
          const l: Lock = { pid: from[0], monitor: undefined, waiters: [] };
          s.t.locks.set(id, l);
          hold(s, id, l, self);
          return genServer.reply(['ok', s.t.entries.get(id)] as const, s);
        }
        lock.waiters.push(from); // answered when the holder releases
        return genServer.noreply(s);
      }
      case 'lookup':
        return genServer.reply(s.t.entries.get(req[1]), s);
      case 'entries':
        return genServer.reply([...s.t.entries], s);
    }
  },

  handleCast(msg, s, self) {
    switch (msg[0]) {
      case 'held': {
        // Still its holder (not already released, and no monitor yet): guard it as any holder.
        const l = s.t.locks.get(msg[1]);
        if (l !== undefined && l.monitor === undefined && l.pid?.equals(msg[2]) === true) hold(s, msg[1], l, self);
        return genServer.noreply(s);
      }
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
        const e = s.t.entries.get(msg[1]);
        if (e !== undefined && e.pid.equals(msg[2])) s.t.entries.delete(msg[1]);
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
          const l = s.t.locks.get(id);
          if (l !== undefined) l.monitor = undefined;
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
        for (const [id, e] of s.t.entries) {
          if (e.node !== dead) continue;
          s.t.entries.delete(id);
          if (e.will === undefined || homeOf(id, alive) !== s.ctx.node) continue;
          log.info('will_of_dead_node', { client: id, node: dead, delay_s: e.will.delayS });
          if (e.will.delayS > 0) s.t.wills.set(id, { msg: e.will.msg, timer: self.sendAfter(self.self, ['will_due', id], e.will.delayS * 1000) });
          else publish(s.ctx, { ...e.will.msg, timestamp: Date.now() }, self);
        }
        return genServer.noreply(s);
      }
      case 'nodeup':
        return genServer.noreply(s);
      case 'will_due': {
        const w = s.t.wills.get(msg[1]);
        if (w !== undefined) {
          s.t.wills.delete(msg[1]);
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
function put(s: State, id: string, reg: Registration, self: Ctx): void {
  const e = s.t.entries.get(id);
  if (e !== undefined && !e.pid.equals(reg.pid)) {
    const [keep, drop] = e.since > reg.since ? [e, reg] : [reg, e];
    log.debug('duplicate_registration', { client: id, keep: String(keep.pid), drop: String(drop.pid) });
    self.send(drop.pid, ['$kick', 'duplicate_client_id']);
    s.t.entries.set(id, keep);
    return;
  }
  s.t.entries.set(id, reg);
}

/** Monitor the lock's holder (a caller outside any process has none to monitor). */
function hold(s: State, id: string, l: Lock, self: Ctx): void {
  if (l.pid === undefined) return;
  l.monitor = self.monitor(l.pid);
  s.holders.set(l.monitor.key, id);
}

/** The holder released the lock (or died): the next waiter holds it, or the lock goes. */
function next(s: State, id: string, self: Ctx): void {
  const l = s.t.locks.get(id);
  if (l === undefined) return;
  if (l.monitor !== undefined) {
    self.demonitor(l.monitor, { flush: true });
    s.holders.delete(l.monitor.key);
    l.monitor = undefined;
  }
  const waiter = l.waiters.shift();
  if (waiter === undefined) {
    s.t.locks.delete(id);
    return;
  }
  l.pid = waiter[0];
  hold(s, id, l, self);
  genServer.replyTo(waiter, ['ok', s.t.entries.get(id)]);
}
