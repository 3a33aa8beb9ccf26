/**
 * The data side of a session moving between nodes (EMQX takeover begin/end, FEATURES
 * §3.4): what the new session subscribes again, how a delivery is kept while nobody
 * can send it, and how the messages both sessions held are merged — old session's
 * first, each message once, by its id. Pure.
 */
import type { Message, QoS } from '../mqtt/message.js';
import { parseFilter } from '../mqtt/topic.js';
import type { SubscribeRequest } from '../routing/broker.js';
import type { Pending, SessionSnapshot, SubOpts } from './session.js';

/** A delivery kept for later, with the QoS and flags it will go out with. */
export function pendingOf(opts: SubOpts, msg: Message): Pending {
  return { msg, qos: Math.min(msg.qos, opts.qos) as QoS, topic: msg.topic, retain: opts.rap ? msg.flags.retain : false, subId: opts.subId };
}

/** The broker subscriptions that give a moved session its routes here. */
export function resubscribeRequests(snap: SessionSnapshot): SubscribeRequest[] {
  const out: SubscribeRequest[] = [];
  for (const [raw, opts] of snap.subscriptions) {
    const p = parseFilter(raw);
    if (p.type === 'invalid') continue; // it was accepted once; nothing valid to route now
    out.push({ raw, filter: p.filter, opts });
  }
  return out;
}

/**
 * What the new session still has to deliver after its own (restored) inflight and
 * queue: the old session's hand-over deliveries, then its own held deliveries — both
 * sessions were subscribed for a while, so a message may be in both. `seen` (the ids
 * restored from the snapshot) is extended.
 */
export function mergePendings(seen: Set<string>, fromOld: readonly Pending[], held: readonly Pending[]): Pending[] {
  const out: Pending[] = [];
  for (const list of [fromOld, held]) {
    for (const p of list) {
      if (seen.has(p.msg.id)) continue;
      seen.add(p.msg.id);
      out.push(p);
    }
  }
  return out;
}
