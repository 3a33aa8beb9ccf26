/**
 * The retainer (EMQX emqx_retainer, FEATURES M13): retained messages cluster-wide. A
 * retained publish is stored on its node at once (the publish path writes the local
 * store) and cast to every running member's retainer; a joining node takes a snapshot.
 */
import { genServer, logger, serverName, type GenServer } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import type { Message } from '../mqtt/message.js';

const log = logger('broker:retainer');

export interface RetainerProtocol {
  calls: { snapshot: { args: []; reply: Message[] } };
  casts: { retain: { args: [msg: Message] } };
}

export const RETAINER = serverName<RetainerProtocol>('retainer');

/*
 * State: the broker context; its `retained` store is written by the local publish
 * path (a retained publish) and by this server (messages retained on other members).
 */
export const retainerServer: GenServer<RetainerProtocol, BrokerContext, BrokerContext> = {
  init: (ctx) => genServer.ok(ctx),
  handleCall: (_req, _from, ctx) => genServer.reply(ctx.retained.all(), ctx),
  handleCast(msg, ctx) {
    const m = msg[1];
    // Last writer wins by acceptance time, so members converge whatever the arrival order.
    const cur = ctx.retained.get(m.topic);
    if (cur === undefined || cur.timestamp <= m.timestamp) ctx.retained.put(m);
    else log.debug('retained_older_ignored', { topic: m.topic });
    return genServer.noreply(ctx);
  },
};
