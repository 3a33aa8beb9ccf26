/**
 * The router server (EMQX emqx_router, FEATURES M3/M8): the only writer of the route
 * table while the node has members (alone, the broker writes its own: broker.ts). A node writes only its own routes (filter → this node) and tells every running
 * member in order on the existing distribution connection; changes arriving within one
 * turn go as one batch (the latest change per route wins), so a subscription storm costs
 * a few round trips. A caller's add/delete returns once every running member acked it,
 * so a message published anywhere after a SUBACK reaches the subscriber. A member that
 * comes up gets our full snapshot; one that goes down or leaves has its routes purged.
 */
import { CM } from '../cm/cm.js';
import { genServer, logger, serverName, type Ctx, type From, type GenServer, type NodeName } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { ROUTE_PROTO_VSN, type RouteOp, type RouterPeerMsg } from './route-proto.js';

const log = logger('broker:router');

export interface RouterProtocol {
  calls: {
    add_route: { args: [filter: string, group: string | undefined]; reply: 'ok' };
    delete_route: { args: [filter: string, group: string | undefined]; reply: 'ok' };
    routes: { args: []; reply: { filter: string; nodes: NodeName[] }[] };
  };
  casts: {
    /** From the cluster server: a member is running / stopped / gone for good. */
    member_up: { args: [node: NodeName] };
    member_down: { args: [node: NodeName] };
    member_left: { args: [node: NodeName] };
    /** Forget every route of other nodes (this node is joining another cluster). */
    reset_remote: { args: [] };
  };
  info: RouterPeerMsg | readonly ['$flush'];
}

export const ROUTER = serverName<RouterProtocol>('router');

interface Inflight {
  readonly waiting: Set<NodeName>;
  readonly waiters: From[];
}

/*
 * State
 *   ctx       its `routes` table is written only here (but on a node alone, where the
 *             broker writes its routes itself: broker.ts writeDirectly)
 *   batch     our own route changes not yet sent, by route key (latest wins)
 *   waiters   callers whose change is in `batch`
 *   seq       sequence number of our last batch
 *   inflight  sent batches by seq: who has not acked yet, who waits
 * (The running members we replicate to are `ctx.members`, which only this server writes.)
 * Invariant: a caller is answered only after every member that was running when its
 * batch went out has acked it (or stopped running).
 */
interface State {
  readonly ctx: BrokerContext;
  readonly batch: Map<string, RouteOp>;
  waiters: From[];
  flushQueued: boolean;
  seq: number;
  readonly inflight: Map<number, Inflight>;
}

const opKey = (filter: string, group: string | undefined): string => (group === undefined ? filter : `${group}\u0000${filter}`);

export const routerServer: GenServer<RouterProtocol, State, BrokerContext> = {
  init: (ctx) => genServer.ok({ ctx, batch: new Map(), waiters: [], flushQueued: false, seq: 0, inflight: new Map() }),

  handleCall(req, from, s, self) {
    switch (req[0]) {
      case 'add_route':
      case 'delete_route': {
        const [, filter, group] = req;
        const add = req[0] === 'add_route';
        const changed = add ? s.ctx.routes.add(filter, s.ctx.node, group) : s.ctx.routes.delete(filter, s.ctx.node, group);
        if (!changed) return genServer.reply('ok' as const, s);
        if (s.ctx.members.size === 0) return genServer.reply('ok' as const, s);
        s.batch.set(opKey(filter, group), [add ? 'add' : 'del', filter, group]);
        s.waiters.push(from);
        if (!s.flushQueued) {
          // Everything already in the mailbox joins this batch.
          s.flushQueued = true;
          self.send(self.self, ['$flush']);
        }
        return genServer.noreply(s);
      }
      case 'routes':
        return genServer.reply(s.ctx.routes.all(), s);
    }
  },

  handleCast(msg, s, self) {
    const node = msg[0] === 'reset_remote' ? undefined : msg[1];
    switch (msg[0]) {
      case 'member_up':
        s.ctx.members.add(node!);
        // Client ids' homes moved: their sessions register again (cm/home.ts).
        self.cast(CM, ['rehome']);
        // A member that (re)connects gets all of ours at once.
        self.send(['router', node!], ['route_snapshot', ROUTE_PROTO_VSN, s.ctx.node, s.ctx.routes.routesOf(s.ctx.node)]);
        return genServer.noreply(s);
      case 'member_down':
      case 'member_left': {
        s.ctx.members.delete(node!);
        self.cast(CM, ['rehome']);
        const n = s.ctx.routes.purge(node!);
        if (n > 0) log.info('routes_purged', { node, routes: n, why: msg[0] });
        for (const [seq, f] of s.inflight) if (f.waiting.delete(node!)) settle(s, seq);
        return genServer.noreply(s);
      }
      case 'reset_remote':
        for (const n of remoteNodes(s)) s.ctx.routes.purge(n);
        return genServer.noreply(s);
    }
  },

  handleInfo(msg, s, self) {
    switch (msg[0]) {
      case '$flush':
        flush(s, self);
        return genServer.noreply(s);
      case 'route_ops': {
        const [, , from, seq, ops] = msg;
        for (const [op, filter, group] of ops) {
          if (op === 'add') s.ctx.routes.add(filter, from, group);
          else s.ctx.routes.delete(filter, from, group);
        }
        self.send(['router', from], ['route_ack', ROUTE_PROTO_VSN, s.ctx.node, seq]);
        return genServer.noreply(s);
      }
      case 'route_snapshot': {
        const [, , from, routes] = msg;
        s.ctx.routes.purge(from);
        for (const [filter, group] of routes) s.ctx.routes.add(filter, from, group);
        log.debug('route_snapshot', { from, routes: routes.length });
        return genServer.noreply(s);
      }
      case 'route_ack': {
        const [, , from, seq] = msg;
        if (s.inflight.get(seq)?.waiting.delete(from) === true) settle(s, seq);
        return genServer.noreply(s);
      }
      default:
        return genServer.unexpected(log, 'info', msg, s);
    }
  },
};

function flush(s: State, self: Ctx): void {
  s.flushQueued = false;
  if (s.batch.size === 0) return;
  const ops = [...s.batch.values()];
  s.batch.clear();
  const waiters = s.waiters;
  s.waiters = [];
  const seq = ++s.seq;
  if (s.ctx.members.size === 0) {
    for (const w of waiters) genServer.replyTo(w, 'ok');
    return;
  }
  s.inflight.set(seq, { waiting: new Set(s.ctx.members), waiters });
  for (const m of s.ctx.members) self.send(['router', m], ['route_ops', ROUTE_PROTO_VSN, s.ctx.node, seq, ops]);
}

function settle(s: State, seq: number): void {
  const f = s.inflight.get(seq);
  if (f === undefined || f.waiting.size > 0) return;
  s.inflight.delete(seq);
  for (const w of f.waiters) genServer.replyTo(w, 'ok');
}

function remoteNodes(s: State): NodeName[] {
  const out = new Set<NodeName>();
  for (const r of s.ctx.routes.all()) for (const n of r.nodes) if (n !== s.ctx.node) out.add(n);
  return [...out];
}

export const addRoute = (via: Ctx, filter: string, group?: string): Promise<unknown> => via.call(ROUTER, ['add_route', filter, group], Infinity);
export const deleteRoute = (via: Ctx, filter: string, group?: string): Promise<unknown> => via.call(ROUTER, ['delete_route', filter, group], Infinity);
