/**
 * The broker server (EMQX emqx_broker): the writer of the local subscription table. A
 * session subscribes through it; the first local subscriber of a filter adds the
 * node's route (and the SUBACK waits for that), the last one removes it. It monitors
 * every subscribed session, so a session that dies leaves nothing behind. Where the
 * broker would only write the tables and answer, a session subscribes in its own turn
 * instead (subscribeHere).
 */
import { genServer, serverName, type Ctx, type DownMsg, type From, type GenServer, type Pid, type Step } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import type { SubOpts } from '../session/session.js';
import { addRoute, deleteRoute } from './router.js';

export interface SubscribeRequest {
  readonly raw: string;
  readonly filter: string;
  readonly opts: SubOpts;
}

export interface BrokerProtocol {
  calls: {
    /** Reply: per request, the granted QoS (or a v5 reason code ≥ 0x80). */
    subscribe: { args: [pid: Pid, clientId: string, reqs: readonly SubscribeRequest[]]; reply: number[] };
    /** Reply: per raw filter, whether it was subscribed. */
    unsubscribe: { args: [pid: Pid, raws: readonly string[]]; reply: boolean[] };
  };
  casts: {
    /** Monitor this session: it subscribed in its own turn (subscribeHere). */
    watch: { args: [pid: Pid] };
  };
  info: DownMsg | readonly ['$subscribed', from: From, granted: number[]];
}

export const BROKER = serverName<BrokerProtocol>('broker');

/**
 * The broker's bookkeeping, in the context (`ctx.broker`) because a session's
 * subscribeHere reads and writes it too; each start of the broker makes a new one (the
 * monitors were the old process's). Invariant: a SUBACK is answered only once the
 * routes of its filters are in the table; the broker does not wait for the router
 * itself (the router takes route writes in the order sent), so one subscribe's route
 * never delays another's.
 */
export class BrokerLedger {
  /** Sessions monitored by the broker (or about to be: a `watch` on its way), by pid key. */
  readonly monitored = new Set<string>();
  /** Routes (filter, shared group) asked of the router and not yet confirmed, by `routeKey`. */
  readonly routing = new Map<string, Promise<unknown>>();
  /** Route writes (adds and deletes) the router has not answered yet. */
  routerWrites = 0;
}

interface State {
  /** The broker context: its `subs` table is written here and by subscribeHere. */
  readonly ctx: BrokerContext;
  readonly ledger: BrokerLedger;
}

export const brokerServer: GenServer<BrokerProtocol, State, BrokerContext> = {
  init: (ctx) => {
    ctx.broker = new BrokerLedger();
    return genServer.ok({ ctx, ledger: ctx.broker });
  },

  handleCall(req, from, s, self) {
    switch (req[0]) {
      case 'subscribe': {
        const [, pid, clientId, reqs] = req;
        if (!s.ledger.monitored.has(pid.key)) {
          s.ledger.monitored.add(pid.key);
          self.monitor(pid);
        }
        const out: number[] = [];
        let wait: Promise<unknown>[] | undefined;
        for (const r of reqs) {
          const first = s.ctx.subs.add({ pid, clientId, raw: r.raw, filter: r.filter, opts: r.opts });
          const key = routeKey(r.filter, r.opts.share);
          if (first) {
            if (writeDirectly(s.ctx, s.ledger)) s.ctx.routes.add(r.filter, s.ctx.node, r.opts.share);
            else routeAdded(s.ledger, key, viaRouter(s.ledger, addRoute(self, r.filter, r.opts.share)));
          }
          // Also a later subscriber of a route still on its way waits for it.
          const pending = s.ledger.routing.get(key);
          if (pending !== undefined) (wait ??= []).push(pending);
          out.push(r.opts.qos);
        }
        if (wait === undefined) return genServer.reply(out, s);
        // The answer goes out from the broker's own turn (a promise callback runs outside any process).
        // Mostly one route on its way (a new filter): no Promise.all for that.
        (wait.length === 1 ? wait[0]! : Promise.all(wait)).then(
          () => self.send(self.self, ['$subscribed', from, out]),
          (err: unknown) => routerFailed(self, err),
        );
        return genServer.noreply(s);
      }
      case 'unsubscribe':
        return unsubscribeAll(s, req[1], req[2], self);
    }
  },

  handleCast(msg, s, self) {
    // subscribeHere already counted the session as monitored.
    self.monitor(msg[1]);
    return genServer.noreply(s);
  },

  handleInfo(msg, s, self) {
    if (msg[0] === '$subscribed') {
      genServer.replyTo(msg[1], msg[2]);
      return genServer.noreply(s);
    }
    if (msg[0] === 'DOWN') {
      const pid = msg[3] as Pid;
      s.ledger.monitored.delete(pid.key);
      // Nobody waits for these: the router takes them in order, after any add before.
      for (const [f, g] of s.ctx.subs.removeSession(pid)) {
        if (writeDirectly(s.ctx, s.ledger)) s.ctx.routes.delete(f, s.ctx.node, g);
        else viaRouter(s.ledger, deleteRoute(self, f, g)).catch((err: unknown) => routerFailed(self, err));
      }
      return genServer.noreply(s);
    }
    return genServer.unexpected(self.log, 'info', msg, s);
  },
};

async function unsubscribeAll(s: State, pid: Pid, raws: readonly string[], self: Ctx): Promise<Step<State, boolean[]>> {
  const out: boolean[] = [];
  for (const raw of raws) {
    const r = s.ctx.subs.remove(pid, raw);
    out.push(r !== undefined);
    if (r?.lastForRoute !== true) continue;
    if (writeDirectly(s.ctx, s.ledger)) s.ctx.routes.delete(r.sub.filter, s.ctx.node, r.sub.opts.share);
    else await viaRouter(s.ledger, deleteRoute(self, r.sub.filter, r.sub.opts.share));
  }
  return genServer.reply(out, s);
}

/** A route write failed (the router is gone): the broker ends too, as if it had awaited it, and is restarted. */
function routerFailed(self: Ctx, err: unknown): void {
  self.exit(self.self, ['route_write_failed', err instanceof Error ? err.message : String(err)]);
}

/**
 * A node with no running members and none of our route writes still at the router:
 * the router would only write the table and answer (router.ts), so the broker writes
 * it itself, in order with everything it sent before — no round trip per new filter
 * in a subscribe storm. With members, writes go through the router, which tells them.
 */
function writeDirectly(ctx: BrokerContext, l: BrokerLedger): boolean {
  return ctx.members.size === 0 && l.routerWrites === 0;
}

/** Count a route write sent to the router until it answers. */
function viaRouter(l: BrokerLedger, answered: Promise<unknown>): Promise<unknown> {
  l.routerWrites++;
  return answered.finally(() => l.routerWrites--);
}

/** A route's key in `routing`: the filter, or the filter and its shared group (no filter holds U+0000). */
function routeKey(filter: string, group: string | undefined): string {
  return group === undefined ? filter : `${filter}\u0000${group}`;
}

/** Remember the route on its way until the router confirms it. */
function routeAdded(l: BrokerLedger, key: string, confirmed: Promise<unknown>): void {
  const p = confirmed.finally(() => {
    if (l.routing.get(key) === p) l.routing.delete(key);
  });
  l.routing.set(key, p);
}

/**
 * Subscribe `via` (a session) in its own turn, where the broker would only write the
 * tables and answer: a lone node with no route write at the router (writeDirectly) and
 * none on its way. EMQX's emqx_broker:subscribe writes its ETS tables from the
 * channel's process too; here the one thread already orders the writes, so a connect
 * storm's SUBACKs need no call (its promise, ref, monitor and reply) and no broker turn
 * each. The broker is told to monitor the session, once, by a cast: a session that
 * ends first is DOWN at once (noproc) and cleaned up all the same. The granted QoS per
 * request; undefined when the broker must do it (call `subscribe`).
 */
export function subscribeHere(via: Ctx, ctx: BrokerContext, clientId: string, reqs: readonly SubscribeRequest[]): number[] | undefined {
  const l = ctx.broker;
  if (!writeDirectly(ctx, l) || l.routing.size > 0) return undefined;
  const pid = via.self;
  if (!l.monitored.has(pid.key)) {
    // No broker (restarting): its call fails the same way as before.
    if (via.whereis(BROKER) === undefined) return undefined;
    l.monitored.add(pid.key);
    genServer.castHere(via, BROKER, ['watch', pid]);
  }
  const out: number[] = [];
  for (const r of reqs) {
    if (ctx.subs.add({ pid, clientId, raw: r.raw, filter: r.filter, opts: r.opts })) ctx.routes.add(r.filter, ctx.node, r.opts.share);
    out.push(r.opts.qos);
  }
  return out;
}

export const subscribe = (via: Ctx, clientId: string, reqs: readonly SubscribeRequest[]): Promise<number[]> =>
  via.call(BROKER, ['subscribe', via.self, clientId, reqs], Infinity) as Promise<number[]>;

export const unsubscribe = (via: Ctx, raws: readonly string[]): Promise<boolean[]> => via.call(BROKER, ['unsubscribe', via.self, raws], Infinity) as Promise<boolean[]>;
