/**
 * The MQTT protocol machine of one client (EMQX emqx_channel, FEATURES M15): what
 * each packet from the client means, what goes back, and what the broker must do.
 * Returns actions; the session actor carries them out. One section per packet type,
 * with the spec's clause ids. Pure: no sockets, no timers, no logging.
 */
import { generate, type IPublishPacket, type ISubscribePacket, type IUnsubscribePacket, type Packet } from 'mqtt-packet';
import type { Authorizer } from '../auth.js';
import type { Config } from '../config.js';
import { newMessage, newMessageWithHeaders, remainingExpiryS, type Message, type MessageHeaders, type QoS } from '../mqtt/message.js';
import { checkProperties, type PropertyContext } from '../mqtt/packet.js';
import {
  RC_MALFORMED_PACKET,
  RC_NO_MATCHING_SUBSCRIBERS,
  RC_NO_SUBSCRIPTION_EXISTED,
  RC_NOT_AUTHORIZED,
  RC_PACKET_IDENTIFIER_NOT_FOUND,
  RC_PROTOCOL_ERROR,
  RC_QOS_NOT_SUPPORTED,
  RC_RECEIVE_MAXIMUM_EXCEEDED,
  RC_RETAIN_NOT_SUPPORTED,
  RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
  RC_SUCCESS,
  RC_TOPIC_ALIAS_INVALID,
  RC_TOPIC_FILTER_INVALID,
  RC_TOPIC_NAME_INVALID,
  RC_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED,
  RC_UNSPECIFIED_ERROR,
  subackCompat,
} from '../mqtt/reason-codes.js';
import { isWildcard, parseFilter, validateTopicName } from '../mqtt/topic.js';
import type { Session, SubOpts, Work } from '../session/session.js';
import type { ClientInfo, Peer } from './connect.js';

export interface SubscribeItem {
  /** The filter as the client sent it (`$share/g/f` included). */
  readonly raw: string;
  /** The filter that is routed (without the share prefix). */
  readonly filter: string;
  readonly opts: SubOpts;
  /** Set when the item failed a check already: the SUBACK code for it. */
  readonly rc?: number;
  /** True when the client had no subscription to `raw` before (Retain Handling 1). */
  readonly isNew: boolean;
}

export type Action =
  | { readonly t: 'send'; readonly packet: Packet }
  | { readonly t: 'publish'; readonly msg: Message; readonly ack?: 'puback' | 'pubrec'; readonly packetId?: number }
  | { readonly t: 'subscribe'; readonly packetId: number; readonly items: readonly SubscribeItem[] }
  | { readonly t: 'unsubscribe'; readonly packetId: number; readonly filters: readonly string[] }
  /** The server ends the connection: DISCONNECT with the code for v5 (if any), then close. */
  | { readonly t: 'close'; readonly reasonCode: number | undefined; readonly why: string }
  /** The client said DISCONNECT: no will unless it asked for one (v5 0x04). */
  | { readonly t: 'client_disconnect'; readonly publishWill: boolean; readonly sessionExpiryS: number | undefined };

/** The property set each client packet is checked against (the acks share one). */
const PROPERTY_CONTEXT: Partial<Record<Packet['cmd'], PropertyContext>> = {
  publish: 'publish',
  subscribe: 'subscribe',
  unsubscribe: 'unsubscribe',
  disconnect: 'disconnect',
  auth: 'auth',
  connect: 'connect',
};

export class Channel {
  /** v5 Topic Alias → topic, as this client set them [MQTT-3.3.2-12]; made on first use. */
  private aliasesIn: Map<number, string> | undefined;
  /** The headers of this connection's messages without properties, made once (see newMessageWithHeaders). */
  private headers: MessageHeaders | undefined;
  /** Packets received on this connection (keepalive counts them). */
  recvCount = 0;

  constructor(
    readonly info: ClientInfo,
    readonly session: Session,
    private readonly cfg: Config,
    private readonly acl: Authorizer,
    /** The connection's peer, for its messages' headers: read at the first publish. */
    private readonly peer: Peer,
  ) {}

  get v5(): boolean {
    return this.info.protocolVersion === 5;
  }

  private publishHeaders(): MessageHeaders {
    const i = this.info;
    return (this.headers ??= { protocolVersion: i.protocolVersion, peerhost: this.peer.peerhost, ...(i.username === undefined ? {} : { username: i.username }) });
  }

  /** One packet from the client. */
  handleIn(p: Packet, nowMs: number): Action[] {
    this.recvCount++;
    // [MQTT-2.3.1-1] (v5 [MQTT-2.2.1-3]): these carry a non-zero packet identifier.
    if ((p.cmd === 'subscribe' || p.cmd === 'unsubscribe' || (p.cmd === 'publish' && p.qos > 0)) && !(p.messageId! > 0)) {
      return [this.close(RC_PROTOCOL_ERROR, `${p.cmd} without a packet identifier`)];
    }
    if (this.v5 && 'properties' in p && p.properties !== undefined) {
      const bad = checkProperties(PROPERTY_CONTEXT[p.cmd] ?? 'ack', p.properties);
      if (bad !== undefined) return [this.close(bad.reasonCode, bad.why)];
    }
    switch (p.cmd) {
      case 'publish':
        return this.publish(p, nowMs);
      case 'puback':
      case 'pubcomp':
        return this.work(this.session.acked(p.messageId ?? 0, nowMs).work, nowMs);
      case 'pubrec': {
        const id = p.messageId ?? 0;
        // A PUBREC with an error code ends that exchange: no PUBREL (v5 §4.3.3).
        if ((p.reasonCode ?? 0) >= 0x80) return this.work(this.session.acked(id, nowMs).work, nowMs);
        const known = this.session.received(id, nowMs);
        return [{ t: 'send', packet: { cmd: 'pubrel', messageId: id, ...(this.v5 && !known ? { reasonCode: RC_PACKET_IDENTIFIER_NOT_FOUND } : {}) } }];
      }
      case 'pubrel': {
        const id = p.messageId ?? 0;
        const known = this.session.released(id);
        return [{ t: 'send', packet: { cmd: 'pubcomp', messageId: id, ...(this.v5 && !known ? { reasonCode: RC_PACKET_IDENTIFIER_NOT_FOUND } : {}) } }];
      }
      case 'subscribe':
        return this.subscribe(p);
      case 'unsubscribe':
        return this.unsubscribe(p);
      case 'pingreq':
        return [{ t: 'send', packet: { cmd: 'pingresp' } }];
      case 'disconnect': {
        const se = p.properties?.sessionExpiryInterval;
        // [MQTT-3.14.2-2]: a session that was to end at disconnect cannot be made to last.
        if (se !== undefined && se > 0 && this.info.sessionExpiryS === 0) return [this.close(RC_PROTOCOL_ERROR, 'session expiry set on DISCONNECT after 0 at CONNECT')];
        // [MQTT-3.1.2-10] (v5): only Normal disconnection (0x00) removes the will; 0x04
        // asks for it, and any error code leaves it to be published, as EMQX does.
        return [{ t: 'client_disconnect', publishWill: (p.reasonCode ?? 0) !== 0, sessionExpiryS: se }];
      }
      case 'connect':
        return [this.close(RC_PROTOCOL_ERROR, 'second CONNECT')]; // [MQTT-3.1.0-2]
      case 'auth':
        return [this.close(RC_PROTOCOL_ERROR, 'AUTH without an authentication method')];
      default:
        return [this.close(RC_PROTOCOL_ERROR, `unexpected ${p.cmd} from a client`)];
    }
  }

  // --- PUBLISH (§3.3) -----------------------------------------------------------------

  private publish(p: IPublishPacket, nowMs: number): Action[] {
    let topic = p.topic;
    const props = p.properties;
    let properties = props;
    if (props?.topicAlias !== undefined) {
      const alias = props.topicAlias;
      if (!this.v5 || alias === 0 || alias > this.cfg.mqtt.max_topic_alias) return [this.close(RC_TOPIC_ALIAS_INVALID, `topic alias ${alias}`)];
      if (topic === '') {
        const known = this.aliasesIn?.get(alias);
        if (known === undefined) return [this.close(RC_PROTOCOL_ERROR, `unknown topic alias ${alias}`)]; // v5 §3.3.2.3.4
        topic = known;
      } else (this.aliasesIn ??= new Map()).set(alias, topic);
      const { topicAlias: _drop, ...rest } = props;
      properties = rest;
    }
    // v5 §3.3.4: an empty name is only valid with a Topic Alias; without one, a Protocol Error.
    if (topic === '' && this.v5) return [this.close(RC_PROTOCOL_ERROR, 'empty topic name without a topic alias')];
    if (validateTopicName(topic) !== undefined) return [this.close(RC_TOPIC_NAME_INVALID, `invalid topic name ${JSON.stringify(topic)}`)];
    // [MQTT-3.3.2-14]: a Response Topic is a topic name, so no wildcards.
    if (props?.responseTopic !== undefined && validateTopicName(props.responseTopic) !== undefined) return [this.close(RC_PROTOCOL_ERROR, 'invalid response topic')];
    if (p.retain && !this.cfg.mqtt.retain_available) return [this.close(RC_RETAIN_NOT_SUPPORTED, 'retain not available')];
    if (p.qos > 2) return [this.close(RC_QOS_NOT_SUPPORTED, `qos ${p.qos}`)];
    // [MQTT-3.3.1-2]: DUP is 0 at QoS 0; mosquitto treats it as a Malformed Packet too.
    if (p.qos === 0 && p.dup) return [this.close(RC_MALFORMED_PACKET, 'DUP set on a QoS 0 PUBLISH')];
    const id = p.messageId ?? 0;
    if (!this.acl.check(this.info.clientId, this.info.username, 'publish', topic)) {
      // Denied: v5 says so in the ack; 3.1.1 acknowledges and drops, as mosquitto does.
      if (p.qos === 0) return [];
      const rc = this.v5 ? RC_NOT_AUTHORIZED : undefined;
      return [{ t: 'send', packet: { cmd: p.qos === 1 ? 'puback' : 'pubrec', messageId: id, ...(rc === undefined ? {} : { reasonCode: rc }) } }];
    }
    if (p.qos === 2) {
      const st = this.session.incomingQos2(id, nowMs);
      if (st === 'dup') return [{ t: 'send', packet: { cmd: 'pubrec', messageId: id } }];
      if (st === 'full') return [this.close(RC_RECEIVE_MAXIMUM_EXCEEDED, 'too many QoS 2 messages awaiting PUBREL')];
    }
    const fields = { qos: p.qos, topic, payload: typeof p.payload === 'string' ? Buffer.from(p.payload) : p.payload, from: this.info.clientId, retain: p.retain };
    const msg =
      this.v5 && properties !== undefined
        ? newMessage({ ...fields, properties, headers: this.publishHeaders() }, nowMs)
        : newMessageWithHeaders(fields, this.publishHeaders(), nowMs);
    if (p.qos === 0) return [{ t: 'publish', msg }];
    return [{ t: 'publish', msg, ack: p.qos === 1 ? 'puback' : 'pubrec', packetId: id }];
  }

  /** The ack for a routed QoS 1/2 publish: v5 says when nobody was subscribed. */
  publishAck(ack: 'puback' | 'pubrec', packetId: number, delivered: number): Action {
    const rc = this.v5 && delivered === 0 ? RC_NO_MATCHING_SUBSCRIBERS : undefined;
    return { t: 'send', packet: { cmd: ack, messageId: packetId, ...(rc === undefined ? {} : { reasonCode: rc }) } };
  }

  // --- SUBSCRIBE / UNSUBSCRIBE (§3.8, §3.10) ------------------------------------------

  private subscribe(p: ISubscribePacket): Action[] {
    if (p.subscriptions.length === 0) return [this.close(RC_PROTOCOL_ERROR, 'SUBSCRIBE without a topic filter')]; // [MQTT-3.8.3-3]
    const subId = p.properties?.subscriptionIdentifier;
    // v5 §3.8.2.1.2: a Subscription Identifier of 0 is a Protocol Error.
    if (subId !== undefined && (typeof subId !== 'number' || subId === 0)) return [this.close(RC_PROTOCOL_ERROR, 'bad subscription identifier')];
    // Loops that push rather than map, here and in the session's runBroker: an array that
    // map or filter makes is PACKED while its maker runs in the interpreter and HOLEY once
    // TurboFan compiled it, and each function optimized on the one kind deoptimizes on the
    // other (a connect storm's first thousands of clients recompiled the subscribe path
    // that way, three times over). push always makes PACKED arrays.
    const items: SubscribeItem[] = [];
    for (const sub of p.subscriptions) items.push(this.subscribeItem(sub, subId));
    // [MQTT-3.8.3-4]: No Local on a shared subscription is a Protocol Error (mosquitto: DISCONNECT 0x82).
    if (this.v5 && items.some((it) => it.opts.share !== undefined && it.opts.nl)) return [this.close(RC_PROTOCOL_ERROR, 'no local on a shared subscription')];
    return [{ t: 'subscribe', packetId: p.messageId ?? 0, items }];
  }

  /** One topic filter of a SUBSCRIBE, checked (object literals, no spreads: a connect storm runs this per client). */
  private subscribeItem(s: ISubscribePacket['subscriptions'][number], subId: number | undefined): SubscribeItem {
    const raw = s.topic;
    const parsed = parseFilter(raw);
    const opts: { -readonly [K in keyof SubOpts]: SubOpts[K] } = { qos: Math.min(s.qos, 2) as QoS, nl: s.nl === true, rap: s.rap === true, rh: (s.rh ?? 0) as 0 | 1 | 2 };
    if (subId !== undefined) opts.subId = subId;
    if (parsed.type === 'shared') opts.share = parsed.group;
    const isNew = !this.session.subscriptions.has(raw);
    if (parsed.type === 'invalid') return { raw, filter: raw, opts, isNew, rc: RC_TOPIC_FILTER_INVALID };
    const filter = parsed.filter;
    let rc: number | undefined;
    if (parsed.type === 'shared' && !this.cfg.mqtt.shared_subscription) rc = RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED;
    else if (isWildcard(filter) && !this.cfg.mqtt.wildcard_subscription) rc = RC_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED;
    else if (!this.acl.check(this.info.clientId, this.info.username, 'subscribe', filter)) rc = RC_NOT_AUTHORIZED;
    return rc === undefined ? { raw, filter, opts, isNew } : { raw, filter, opts, isNew, rc };
  }

  /** The broker took the subscriptions: SUBACK with one code per item [MQTT-3.8.4-6]. */
  subscribed(packetId: number, items: readonly SubscribeItem[], results: readonly number[]): Action[] {
    for (const [i, it] of items.entries()) if (results[i]! < 0x80) this.session.subscribe(it.raw, it.opts);
    const granted: number[] = []; // push, not map: see subscribe
    for (const rc of results) granted.push(this.v5 ? rc : subackCompat(rc));
    return [{ t: 'send', packet: { cmd: 'suback', messageId: packetId, granted } }];
  }

  private unsubscribe(p: IUnsubscribePacket): Action[] {
    if (p.unsubscriptions.length === 0) return [this.close(RC_PROTOCOL_ERROR, 'UNSUBSCRIBE without a topic filter')]; // [MQTT-3.10.3-2]
    return [{ t: 'unsubscribe', packetId: p.messageId ?? 0, filters: p.unsubscriptions }];
  }

  unsubscribed(packetId: number, filters: readonly string[]): Action[] {
    const codes = filters.map((f) =>
      parseFilter(f).type === 'invalid' ? RC_TOPIC_FILTER_INVALID : this.session.unsubscribe(f) ? RC_SUCCESS : RC_NO_SUBSCRIPTION_EXISTED,
    );
    // 3.1.1's UNSUBACK has no payload [MQTT-3.11.3]; v5 gives a code per filter.
    return [{ t: 'send', packet: { cmd: 'unsuback', messageId: packetId, granted: this.v5 ? codes : [] } }];
  }

  // --- outgoing -------------------------------------------------------------------------

  /** Turn session work into PUBLISH / PUBREL packets for this client. */
  work(ws: readonly Work[], nowMs: number): Action[] {
    const out: Action[] = [];
    const todo = [...ws];
    for (let w = todo.shift(); w !== undefined; w = todo.shift()) {
      if (w.t === 'pubrel') {
        out.push({ t: 'send', packet: { cmd: 'pubrel', messageId: w.packetId } });
        continue;
      }
      const o = w.out;
      const packet: IPublishPacket = {
        cmd: 'publish',
        topic: o.msg.topic,
        payload: o.msg.payload,
        qos: o.qos,
        dup: o.dup,
        retain: o.retain,
        ...(o.packetId === undefined ? {} : { messageId: o.packetId }),
      };
      if (this.v5) {
        const props = this.publishProps(o.msg, o.subId, nowMs);
        if (props !== undefined) packet.properties = props;
      }
      if (this.tooLarge(packet)) {
        // [MQTT-3.1.2-25]: discard it and behave as if it had been sent and acknowledged,
        // so its inflight slot frees and what waits behind it goes on.
        if (o.packetId !== undefined) todo.push(...this.session.acked(o.packetId, nowMs).work);
        continue;
      }
      out.push({ t: 'send', packet });
    }
    return out;
  }

  /** Over the client's Maximum Packet Size [MQTT-3.1.2-24]? Measured exactly, only when it set one. */
  private tooLarge(p: IPublishPacket): boolean {
    const max = this.info.maxPacketSize;
    if (max === 0) return false;
    // The payload alone decides most cases without encoding the packet.
    if (p.payload.length > max) return true;
    return generate(p, { protocolVersion: this.info.protocolVersion }).length > max;
  }

  private publishProps(msg: Message, subId: number | undefined, nowMs: number): IPublishPacket['properties'] {
    const base = msg.headers.properties;
    const left = remainingExpiryS(msg, nowMs);
    if (base === undefined && subId === undefined && left === undefined) return undefined;
    return {
      ...base,
      ...(left === undefined ? {} : { messageExpiryInterval: left }),
      ...(subId === undefined ? {} : { subscriptionIdentifier: subId }),
    };
  }

  close(reasonCode: number | undefined, why: string): Action {
    return { t: 'close', reasonCode: this.v5 ? (reasonCode ?? RC_UNSPECIFIED_ERROR) : undefined, why };
  }
}
