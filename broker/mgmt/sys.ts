/**
 * The $SYS publisher (mosquitto's and EMQX's `$SYS/brokers/<node>/…`): version,
 * uptime, clients connected, messages received/sent/dropped, subscriptions and
 * retained counts, published (retained) every `sys.interval_ms`.
 */
import { genServer, type Ctx, type GenServer } from '../../runtime/index.js';
import { connectedCount } from '../cm/cm.js';
import type { BrokerContext } from '../context.js';
import { newMessage } from '../mqtt/message.js';
import { publish } from '../routing/dispatch.js';

export const VERSION = '0.1.0';

interface SysProtocol {
  calls: { publish_now: { args: []; reply: 'ok' } };
  info: readonly ['tick'];
}

export const sysServer: GenServer<SysProtocol, BrokerContext, BrokerContext> = {
  init(ctx, self) {
    if (ctx.cfg.sys.interval_ms > 0) self.sendAfter(self.self, ['tick'], 0);
    return genServer.ok(ctx);
  },
  async handleCall(_req, _from, ctx, self) {
    await publishSys(ctx, self);
    return genServer.reply('ok' as const, ctx);
  },
  async handleInfo(_msg, ctx, self) {
    await publishSys(ctx, self);
    self.sendAfter(self.self, ['tick'], ctx.cfg.sys.interval_ms);
    return genServer.noreply(ctx);
  },
};

async function publishSys(ctx: BrokerContext, via: Ctx): Promise<void> {
  // Connected clients, not sessions: a persistent session outlives its connection.
  const connected = await connectedCount(via);
  const now = Date.now();
  const base = `$SYS/brokers/${ctx.node}`;
  const m = ctx.metrics;
  const values: [string, string | number][] = [
    ['version', VERSION],
    ['uptime', Math.floor((now - ctx.startedAt) / 1000)],
    ['clients/connected', connected],
    ['sessions/count', ctx.sessions.size],
    ['messages/received', m.messagesReceived],
    ['messages/sent', m.messagesSent],
    ['messages/dropped', m.messagesDropped],
    ['subscriptions/count', ctx.subs.count],
    ['retained/count', ctx.retained.size],
    ['routes/count', ctx.routes.size],
  ];
  for (const [k, v] of values) {
    publish(ctx, newMessage({ qos: 0, topic: `${base}/${k}`, payload: String(v), from: '', retain: true }, now), via);
  }
}
