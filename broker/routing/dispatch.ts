/**
 * The publish path (EMQX emqx_broker:publish, FEATURES M9): keep it retained if asked,
 * match the routes, deliver to local subscribers (one member per shared group) and
 * forward once to each other node with a matching route. Runs on the publishing
 * process, reading the tables synchronously: no message hop before the subscribers.
 */
import type { Ctx } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import type { Message } from '../mqtt/message.js';
import type { SharedGroup, Subscriber } from './subscriptions.js';

/** What a session actor receives for each matching subscription. */
export type DeliverMsg = readonly ['deliver', sub: Subscriber, msg: Message];

/**
 * Publish `msg` from process `via`; returns how many subscriptions (and remote nodes)
 * it went to.
 */
export function publish(ctx: BrokerContext, msg: Message, via: Ctx): number {
  if (msg.flags.retain) {
    ctx.retained.put(msg);
    ctx.replicateRetained?.(msg);
  }
  let n = 0;
  for (const r of ctx.routes.match(msg.topic)) {
    for (const node of r.nodes) {
      if (node === ctx.node) n += dispatch(ctx, r.filter, msg, via);
      else if (ctx.forward !== undefined) {
        ctx.forward(node, r.filter, msg);
        n++;
      }
    }
  }
  if (n === 0) ctx.metrics.publishNoSubscribers++;
  return n;
}

/** Deliver `msg`, matched by `filter`, to this node's subscribers of that filter. */
export function dispatch(ctx: BrokerContext, filter: string, msg: Message, via: Ctx): number {
  let n = 0;
  const subs = ctx.subs.normal.get(filter);
  if (subs !== undefined) {
    for (const s of subs.values()) {
      // No Local [MQTT-3.8.3-3]: not back to the client that published it.
      if (s.opts.nl && s.clientId === msg.from) continue;
      via.send(s.pid, ['deliver', s, msg]);
      n++;
    }
  }
  const groups = ctx.subs.shared.get(filter);
  if (groups !== undefined) {
    for (const g of groups.values()) {
      const s = pick(g, ctx.cfg.mqtt.shared_subscription_strategy, msg);
      if (s === undefined) continue;
      via.send(s.pid, ['deliver', s, msg]);
      n++;
    }
  }
  return n;
}

function pick(g: SharedGroup, strategy: string, msg: Message): Subscriber | undefined {
  const m = g.members;
  if (m.length === 0) return undefined;
  switch (strategy) {
    case 'random':
      return m[Math.floor(Math.random() * m.length)];
    case 'hash_clientid':
      return m[hash(msg.from) % m.length];
    default:
      return m[g.next++ % m.length];
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
