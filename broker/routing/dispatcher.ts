/**
 * The dispatcher: where other nodes' forwards arrive (EMQX's forward → dispatch). A
 * node forwards a publish at most once to each node with a matching route, naming the
 * filters it matched there; this server delivers it to the local subscribers of those
 * filters (and to one member of a named shared group). It never waits on anything.
 *
 * It also runs the forward barrier a session takeover needs: "every forward that any
 * member sent here before now has been dispatched". A member answers a barrier ping
 * after every forward it sent here earlier (one connection per pair of nodes keeps
 * order), so when the last pong is handled here, those forwards have been delivered.
 */
import { genServer, logger, monitorNodes, serverName, type From, type GenServer, type NodeMsg, type NodeName, type Ref } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import type { Message } from '../mqtt/message.js';
import { fromWire, type WireMessage } from '../mqtt/message-wire.js';
import { dispatch, dispatchShared } from './dispatch.js';

const log = logger('broker:dispatcher');

export const BROKER_PROTO_VSN = 1;

/** How long a barrier waits for a member that neither answers nor goes down. */
const BARRIER_TIMEOUT_MS = 5_000;

/**
 * A forward from another node (sent to `['dispatcher', node]`): VSN 2 carries the
 * message as a WireMessage, VSN 1 (older senders) as a Message object.
 */
export type ForwardMsg =
  | readonly ['forward', vsn: number, filters: readonly string[], msg: Message | WireMessage]
  | readonly ['forward_shared', vsn: number, filter: string, group: string, msg: Message | WireMessage];

type BarrierMsg = readonly ['barrier_ping', id: number, from: NodeName] | readonly ['barrier_pong', id: number, from: NodeName] | readonly ['barrier_timeout', id: number];

interface DispatcherProtocol {
  calls: {
    /** Answered once every forward the members sent here before the call is dispatched. */
    barrier: { args: []; reply: 'ok' };
  };
  info: ForwardMsg | BarrierMsg | NodeMsg;
}

export const DISPATCHER = serverName<DispatcherProtocol>('dispatcher');

interface Barrier {
  readonly from: From;
  readonly waiting: Set<NodeName>;
  readonly timer: Ref;
}

/*
 * State: the broker context, and the barriers waiting for members' pongs, by id.
 */
interface State {
  readonly ctx: BrokerContext;
  readonly barriers: Map<number, Barrier>;
  nextId: number;
}

export const dispatcherServer: GenServer<DispatcherProtocol, State, BrokerContext> = {
  init(ctx) {
    if (ctx.dist.alive) monitorNodes(true);
    return genServer.ok({ ctx, barriers: new Map(), nextId: 1 });
  },

  handleCall(_req, from, s, self) {
    if (s.ctx.members.size === 0) return genServer.reply('ok' as const, s);
    const id = s.nextId++;
    const waiting = new Set(s.ctx.members);
    for (const m of waiting) self.send(['dispatcher', m], ['barrier_ping', id, s.ctx.node]);
    s.barriers.set(id, { from, waiting, timer: self.sendAfter(self.self, ['barrier_timeout', id], BARRIER_TIMEOUT_MS) });
    return genServer.noreply(s);
  },

  handleInfo(msg, s, self) {
    switch (msg[0]) {
      case 'forward': {
        const m = forwarded(msg[1], msg[3]);
        for (const f of msg[2]) dispatch(s.ctx, f, m, self);
        return genServer.noreply(s);
      }
      case 'forward_shared':
        dispatchShared(s.ctx, msg[2], msg[3], forwarded(msg[1], msg[4]), self);
        return genServer.noreply(s);
      case 'barrier_ping':
        self.send(['dispatcher', msg[2]], ['barrier_pong', msg[1], s.ctx.node]);
        return genServer.noreply(s);
      case 'barrier_pong':
        arrived(s, msg[1], msg[2], self);
        return genServer.noreply(s);
      case 'nodedown':
        for (const id of [...s.barriers.keys()]) arrived(s, id, msg[1], self);
        return genServer.noreply(s);
      case 'nodeup':
        return genServer.noreply(s);
      case 'barrier_timeout': {
        const b = s.barriers.get(msg[1]);
        if (b !== undefined) {
          log.warn('barrier_timeout', { waiting: [...b.waiting] });
          s.barriers.delete(msg[1]);
          genServer.replyTo(b.from, 'ok');
        }
        return genServer.noreply(s);
      }
      default:
        return genServer.unexpected(log, 'info', msg, s);
    }
  },
};

/** The message of a forward of version `vsn`. */
function forwarded(vsn: number, m: Message | WireMessage): Message {
  return vsn >= 2 ? fromWire(m) : (m as Message);
}

function arrived(s: State, id: number, node: NodeName, self: Parameters<NonNullable<typeof dispatcherServer.handleInfo>>[2]): void {
  const b = s.barriers.get(id);
  if (b === undefined || !b.waiting.delete(node) || b.waiting.size > 0) return;
  s.barriers.delete(id);
  self.cancelTimer(b.timer);
  genServer.replyTo(b.from, 'ok');
}
