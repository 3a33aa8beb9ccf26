/**
 * The broker server (EMQX emqx_broker): the only writer of the local subscription
 * table. A session subscribes through it; the first local subscriber of a filter adds
 * the node's route (and the SUBACK waits for that), the last one removes it. It
 * monitors every subscribed session, so a session that dies leaves nothing behind.
 */
import { genServer, serverName, type Ctx, type DownMsg, type GenServer, type Pid } from '../../runtime/index.js';
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
  info: DownMsg;
}

export const BROKER = serverName<BrokerProtocol>('broker');

/*
 * State: the broker context (its `subs` table is written only here) and the sessions
 * monitored, by pid key.
 */
interface State {
  readonly ctx: BrokerContext;
  readonly monitored: Set<string>;
}

export const brokerServer: GenServer<BrokerProtocol, State, BrokerContext> = {
  init: (ctx) => genServer.ok({ ctx, monitored: new Set() }),

  async handleCall(req, _from, s, self) {
    switch (req[0]) {
      case 'subscribe': {
        const [, pid, clientId, reqs] = req;
        if (!s.monitored.has(pid.key)) {
          s.monitored.add(pid.key);
          self.monitor(pid);
        }
        const out: number[] = [];
        for (const r of reqs) {
          const first = s.ctx.subs.add({ pid, clientId, raw: r.raw, filter: r.filter, opts: r.opts });
          if (first) await addRoute(self, r.filter, r.opts.share);
          out.push(r.opts.qos);
        }
        return genServer.reply(out, s);
      }
      case 'unsubscribe': {
        const [, pid, raws] = req;
        const out: boolean[] = [];
        for (const raw of raws) {
          const r = s.ctx.subs.remove(pid, raw);
          out.push(r !== undefined);
          if (r?.lastForRoute === true) await deleteRoute(self, r.sub.filter, r.sub.opts.share);
        }
        return genServer.reply(out, s);
      }
    }
  },

  async handleInfo(msg, s, self) {
    if (msg[0] === 'DOWN') {
      const pid = msg[3] as Pid;
      s.monitored.delete(pid.key);
      for (const [f, g] of s.ctx.subs.removeSession(pid)) await deleteRoute(self, f, g);
      return genServer.noreply(s);
    }
    return genServer.unexpected(self.log, 'info', msg, s);
  },
};

export const subscribe = (via: Ctx, clientId: string, reqs: readonly SubscribeRequest[]): Promise<number[]> =>
  via.call(BROKER, ['subscribe', via.self, clientId, reqs], Infinity) as Promise<number[]>;

export const unsubscribe = (via: Ctx, raws: readonly string[]): Promise<boolean[]> => via.call(BROKER, ['unsubscribe', via.self, raws], Infinity) as Promise<boolean[]>;
