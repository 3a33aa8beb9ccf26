/**
 * The dispatcher: where other nodes' forwards arrive (EMQX's forward → dispatch). A
 * node forwards a publish at most once to each node with a matching route, naming the
 * filters it matched there; this server delivers it to the local subscribers of those
 * filters (and to one member of a named shared group). It never waits on anything.
 */
import { genServer, logger, serverName, type GenServer } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import type { Message } from '../mqtt/message.js';
import { dispatch, dispatchShared } from './dispatch.js';

const log = logger('broker:dispatcher');

export const BROKER_PROTO_VSN = 1;

/** A forward from another node (sent to `['dispatcher', node]`). */
export type ForwardMsg =
  | readonly ['forward', vsn: number, filters: readonly string[], msg: Message]
  | readonly ['forward_shared', vsn: number, filter: string, group: string, msg: Message];

interface DispatcherProtocol {
  info: ForwardMsg;
}

export const DISPATCHER = serverName<DispatcherProtocol>('dispatcher');

export const dispatcherServer: GenServer<DispatcherProtocol, BrokerContext, BrokerContext> = {
  init: (ctx) => genServer.ok(ctx),
  handleInfo(msg, ctx, self) {
    switch (msg[0]) {
      case 'forward':
        for (const f of msg[2]) dispatch(ctx, f, msg[3], self);
        return genServer.noreply(ctx);
      case 'forward_shared':
        dispatchShared(ctx, msg[2], msg[3], msg[4], self);
        return genServer.noreply(ctx);
      default:
        return genServer.unexpected(log, 'info', msg, ctx);
    }
  },
};
