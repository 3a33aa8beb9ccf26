/**
 * The router server (EMQX emqx_router): the only writer of the route table. A node
 * writes only its own routes (filter → this node); on a lone node that is all there
 * is. The cluster layer replicates through it (see broker/cluster).
 */
import { genServer, logger, serverName, type Ctx, type GenServer, type NodeName } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';

const log = logger('broker:router');

export interface RouterProtocol {
  calls: {
    add_route: { args: [filter: string]; reply: 'ok' };
    delete_route: { args: [filter: string]; reply: 'ok' };
    routes: { args: []; reply: { filter: string; nodes: NodeName[] }[] };
  };
}

export const ROUTER = serverName<RouterProtocol>('router');

/*
 * State: the broker context (its `routes` table is written only here).
 */
export const routerServer: GenServer<RouterProtocol, BrokerContext, BrokerContext> = {
  init: (ctx) => genServer.ok(ctx),
  handleCall(req, _from, ctx) {
    switch (req[0]) {
      case 'add_route':
        if (ctx.routes.add(req[1], ctx.node)) log.debug('route_added', { filter: req[1] });
        return genServer.reply('ok' as const, ctx);
      case 'delete_route':
        if (ctx.routes.delete(req[1], ctx.node)) log.debug('route_deleted', { filter: req[1] });
        return genServer.reply('ok' as const, ctx);
      case 'routes':
        return genServer.reply(ctx.routes.all(), ctx);
    }
  },
};

export const addRoute = (via: Ctx, filter: string): Promise<unknown> => via.call(ROUTER, ['add_route', filter], Infinity);
export const deleteRoute = (via: Ctx, filter: string): Promise<unknown> => via.call(ROUTER, ['delete_route', filter], Infinity);
