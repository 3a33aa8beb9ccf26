/**
 * The publish path (EMQX emqx_broker:publish, FEATURES M9): keep it retained if asked,
 * match the routes, deliver to local subscribers, pick one node (then one member) per
 * shared group, and forward once to each other running member with a matching route,
 * naming the filters it matched there. Runs on the publishing process, reading the
 * tables synchronously: no message hop before the local subscribers.
 */
import type { Ctx, NodeName } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import type { Message } from '../mqtt/message.js';
import { toWire, type WireMessage } from '../mqtt/message-wire.js';
import type { SharedGroup, Subscriber } from './subscriptions.js';

/** What a session actor receives for each matching subscription. */
export type DeliverMsg = readonly ['deliver', sub: Subscriber, msg: Message];

/**
 * Version of the forward messages (see dispatcher.ts): 2 carries the message as a
 * positional array (message-wire.ts); the dispatcher still takes 1 (a Message object).
 */
const VSN = 2;

/**
 * Publish `msg` from process `via`; returns how many subscriptions, shared groups and
 * remote nodes it went to (0: nobody was subscribed).
 */
export function publish(ctx: BrokerContext, msg: Message, via: Ctx): number {
  if (msg.flags.retain) {
    ctx.retained.put(msg);
    for (const m of ctx.members) via.cast(['retainer', m], ['retain', msg]);
  }
  let n = 0;
  let remote: Map<NodeName, string[]> | undefined;
  // Made once per publish, whatever number of nodes it goes to.
  let wire: WireMessage | undefined;
  for (const r of ctx.routes.match(msg.topic)) {
    for (const node of r.nodes) {
      if (node === ctx.node) n += dispatch(ctx, r.filter, msg, via);
      else if (ctx.members.has(node)) {
        // At most one forward per node, whatever number of its filters match.
        remote ??= new Map();
        const fs = remote.get(node);
        if (fs === undefined) remote.set(node, [r.filter]);
        else fs.push(r.filter);
      }
    }
    if (r.groups !== undefined) {
      for (const [group, gnodes] of r.groups) {
        const target = pickNode(ctx, r.filter, group, gnodes);
        if (target === ctx.node) n += dispatchShared(ctx, r.filter, group, msg, via);
        else if (target !== undefined) {
          via.send(['dispatcher', target], ['forward_shared', VSN, r.filter, group, (wire ??= toWire(msg))]);
          ctx.metrics.messagesForwarded++;
          n++;
        }
      }
    }
  }
  if (remote !== undefined) {
    for (const [node, filters] of remote) {
      via.send(['dispatcher', node], ['forward', VSN, filters, (wire ??= toWire(msg))]);
      ctx.metrics.messagesForwarded++;
      ctx.forwardedTo.set(node, (ctx.forwardedTo.get(node) ?? 0) + 1);
      n++;
    }
  }
  if (n === 0) ctx.metrics.publishNoSubscribers++;
  return n;
}

/** Deliver `msg`, matched by `filter`, to this node's ordinary subscribers of that filter. */
export function dispatch(ctx: BrokerContext, filter: string, msg: Message, via: Ctx): number {
  const subs = ctx.subs.normal.get(filter);
  if (subs === undefined) return 0;
  let n = 0;
  for (const s of subs.values()) {
    // No Local [MQTT-3.8.3-3]: not back to the client that published it.
    if (s.opts.nl && s.clientId === msg.from) continue;
    via.send(s.pid, ['deliver', s, msg]);
    n++;
  }
  return n;
}

/** Deliver `msg` to one local member of shared group `group` of `filter`. */
export function dispatchShared(ctx: BrokerContext, filter: string, group: string, msg: Message, via: Ctx): number {
  const g = ctx.subs.shared.get(filter)?.get(group);
  const s = g === undefined ? undefined : pickMember(g, ctx.cfg.mqtt.shared_subscription_strategy, msg);
  if (s === undefined) return 0;
  via.send(s.pid, ['deliver', s, msg]);
  return 1;
}

/** Which node gets this message of a shared group: round robin over the nodes with members. */
function pickNode(ctx: BrokerContext, filter: string, group: string, nodes: ReadonlySet<NodeName>): NodeName | undefined {
  if (nodes.size === 1) {
    const only = nodes.values().next().value as NodeName;
    return only === ctx.node || ctx.members.has(only) ? only : undefined;
  }
  const live = [...nodes].filter((x) => x === ctx.node || ctx.members.has(x)).sort();
  if (live.length === 0) return undefined;
  const key = `${group}\u0000${filter}`;
  const i = ctx.sharedRoundRobin.get(key) ?? 0;
  ctx.sharedRoundRobin.set(key, i + 1);
  return live[i % live.length];
}

function pickMember(g: SharedGroup, strategy: string, msg: Message): Subscriber | undefined {
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
