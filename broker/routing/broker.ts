/**
 * The broker server (EMQX emqx_broker): the only writer of the local subscription
 * table. A session subscribes through it; the first local subscriber of a filter adds
 * the node's route (and the SUBACK waits for that), the last one removes it. It
 * monitors every subscribed session, so a session that dies leaves nothing behind.
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
  info: DownMsg | readonly ['$subscribed', from: From, granted: number[]];
}

export const BROKER = serverName<BrokerProtocol>('broker');

/*
 * State: the broker context (its `subs` table is written only here), the sessions
 * monitored, by pid key, the routes (filter, shared group) asked of the router and
 * not yet confirmed, by `routeKey`, and how many route writes the router has not
 * answered yet (adds and deletes).
 * Invariant: a SUBACK is answered only once the routes of its filters are in the
 * table; the broker does not wait for the router itself (the router takes route
 * writes in the order sent), so one subscribe's route never delays another's.
 */
interface State {
  readonly ctx: BrokerContext;
  readonly monitored: Set<string>;
  readonly routing: Map<string, Promise<unknown>>;
  routerWrites: number;
}

export const brokerServer: GenServer<BrokerProtocol, State, BrokerContext> = {
  init: (ctx) => genServer.ok({ ctx, monitored: new Set(), routing: new Map(), routerWrites: 0 }),

  handleCall(req, from, s, self) {
    switch (req[0]) {
      case 'subscribe': {
        const [, pid, clientId, reqs] = req;
        if (!s.monitored.has(pid.key)) {
          s.monitored.add(pid.key);
          self.monitor(pid);
        }
        const out: number[] = [];
        let wait: Promise<unknown>[] | undefined;
        for (const r of reqs) {
          const first = s.ctx.subs.add({ pid, clientId, raw: r.raw, filter: r.filter, opts: r.opts });
          const key = routeKey(r.filter, r.opts.share);
          if (first) {
            if (writeDirectly(s)) s.ctx.routes.add(r.filter, s.ctx.node, r.opts.share);
            else routeAdded(s, key, viaRouter(s, addRoute(self, r.filter, r.opts.share)));
          }
          // Also a later subscriber of a route still on its way waits for it.
          const pending = s.routing.get(key);
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

  handleInfo(msg, s, self) {
    if (msg[0] === '$subscribed') {
      genServer.replyTo(msg[1], msg[2]);
      return genServer.noreply(s);
    }
    if (msg[0] === 'DOWN') {
      const pid = msg[3] as Pid;
      s.monitored.delete(pid.key);
      // Nobody waits for these: the router takes them in order, after any add before.
      for (const [f, g] of s.ctx.subs.removeSession(pid)) {
        if (writeDirectly(s)) s.ctx.routes.delete(f, s.ctx.node, g);
        else viaRouter(s, deleteRoute(self, f, g)).catch((err: unknown) => routerFailed(self, err));
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
    if (writeDirectly(s)) s.ctx.routes.delete(r.sub.filter, s.ctx.node, r.sub.opts.share);
    else await viaRouter(s, deleteRoute(self, r.sub.filter, r.sub.opts.share));
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
function writeDirectly(s: State): boolean {
  return s.ctx.members.size === 0 && s.routerWrites === 0;
}

/** Count a route write sent to the router until it answers. */
function viaRouter(s: State, answered: Promise<unknown>): Promise<unknown> {
  s.routerWrites++;
  return answered.finally(() => s.routerWrites--);
}

/** A route's key in `routing`: the filter, or the filter and its shared group (no filter holds U+0000). */
function routeKey(filter: string, group: string | undefined): string {
  return group === undefined ? filter : `${filter}\u0000${group}`;
}

/** Remember the route on its way until the router confirms it. */
function routeAdded(s: State, key: string, confirmed: Promise<unknown>): void {
  const p = confirmed.finally(() => {
    if (s.routing.get(key) === p) s.routing.delete(key);
  });
  s.routing.set(key, p);
}

export const subscribe = (via: Ctx, clientId: string, reqs: readonly SubscribeRequest[]): Promise<number[]> =>
  via.call(BROKER, ['subscribe', via.self, clientId, reqs], Infinity) as Promise<number[]>;

export const unsubscribe = (via: Ctx, raws: readonly string[]): Promise<boolean[]> => via.call(BROKER, ['unsubscribe', via.self, raws], Infinity) as Promise<boolean[]>;
