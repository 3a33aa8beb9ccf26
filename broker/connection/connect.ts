/**
 * CONNECT: validation and the CONNACK a client gets, for MQTT 3.1, 3.1.1 and 5.0
 * (§3.1, §3.2). Pure: authentication comes in as a verdict, time as an argument.
 */
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import type { Config } from '../config.js';
import { newMessage, type Message } from '../mqtt/message.js';
import { checkProperties } from '../mqtt/packet.js';
import {
  connackCompat,
  RC_BAD_AUTHENTICATION_METHOD,
  RC_RETAIN_NOT_SUPPORTED,
  RC_CLIENT_IDENTIFIER_NOT_VALID,
  RC_MALFORMED_PACKET,
  RC_PROTOCOL_ERROR,
  RC_TOPIC_NAME_INVALID,
  RC_UNSUPPORTED_PROTOCOL_VERSION,
} from '../mqtt/reason-codes.js';
import { validateTopicName } from '../mqtt/topic.js';
import { negotiateKeepalive } from './keepalive.js';

export type ProtocolVersion = 3 | 4 | 5;

/** What the rest of the connection needs to know about the client. */
export interface ClientInfo {
  readonly clientId: string;
  /** True when the server chose the id (empty id in CONNECT). */
  readonly assignedId: boolean;
  readonly username: string | undefined;
  readonly protocolVersion: ProtocolVersion;
  readonly cleanStart: boolean;
  readonly keepaliveS: number;
  readonly serverKeepaliveS: number | undefined;
  /** Seconds the session outlives the connection; 0xFFFFFFFF means never expires. */
  readonly sessionExpiryS: number;
  /** True when the client asked for longer than the broker allows. */
  readonly sessionExpiryCapped: boolean;
  /** The client's Receive Maximum (how many QoS 1/2 we may have unacknowledged). */
  readonly receiveMaximum: number;
  /** The largest packet the client accepts (0 = no limit). */
  readonly maxPacketSize: number;
  readonly topicAliasMaximum: number;
  readonly will: Will | undefined;
}

/** Where a connection comes from: read only when needed (a transport finds it out with a syscall, about 10 µs in Node). */
export interface Peer {
  readonly peerhost: string;
}

export interface Will {
  readonly msg: Message;
  /** v5 Will Delay Interval in seconds. */
  readonly delayS: number;
}

export type ConnectVerdict =
  | { readonly ok: true; readonly info: ClientInfo }
  | { readonly ok: false; readonly reasonCode: number; readonly why: string };

/** The checks that need nothing but the packet and the config; auth comes after. */
export function checkConnect(p: IConnectPacket, cfg: Config, peer: Peer, nowMs: number, newId: () => string): ConnectVerdict {
  const v = (p.protocolVersion ?? 4) as number;
  if (v !== 3 && v !== 4 && v !== 5) return fail(RC_UNSUPPORTED_PROTOCOL_VERSION, `protocol version ${v}`);
  const version = v;
  const clean = p.clean !== false;
  let clientId = p.clientId ?? '';
  let assignedId = false;
  if (clientId === '') {
    // [MQTT-3.1.3-8]: 3.1.1 refuses an empty id that asks for a persistent session;
    // 3.1 needs 1..23 characters; v5 always assigns one [MQTT-3.1.3-6].
    if (version === 3 || (version === 4 && !clean)) return fail(RC_CLIENT_IDENTIFIER_NOT_VALID, 'empty client id');
    clientId = newId();
    assignedId = true;
  }
  if (clientId.length > cfg.mqtt.max_clientid_len || (version === 3 && clientId.length > 23)) {
    return fail(RC_CLIENT_IDENTIFIER_NOT_VALID, 'client id too long');
  }
  if (p.password !== undefined && p.username === undefined && version !== 5) {
    return fail(RC_MALFORMED_PACKET, 'password without user name'); // [MQTT-3.1.2-22]
  }
  if (version === 5) {
    // §2.2.2.2: properties not allowed in CONNECT (or the will), cut short, or repeated.
    const bad = checkProperties('connect', p.properties) ?? checkProperties('will', p.will?.properties);
    if (bad !== undefined) return fail(bad.reasonCode, bad.why);
  }
  const props = p.properties ?? {};
  // [MQTT-4.12.0-1]: no enhanced authentication here, so no method is supported.
  if (version === 5 && props.authenticationMethod !== undefined) return fail(RC_BAD_AUTHENTICATION_METHOD, `authentication method ${props.authenticationMethod}`);
  // [MQTT-3.2.2-13] (v5): a retained will is refused (0x9A) when retain is off.
  if (p.will?.retain === true && !cfg.mqtt.retain_available) return fail(RC_RETAIN_NOT_SUPPORTED, 'will retain not available');
  const ka = negotiateKeepalive(p.keepalive ?? 0, version, version === 5 && cfg.mqtt.server_keepalive_s > 0 ? cfg.mqtt.server_keepalive_s : undefined);
  const receiveMaximum = props.receiveMaximum ?? 65535;
  if (version === 5 && receiveMaximum === 0) return fail(RC_PROTOCOL_ERROR, 'receive maximum 0'); // §3.1.2.11.3
  if (version === 5 && props.maximumPacketSize === 0) return fail(RC_PROTOCOL_ERROR, 'maximum packet size 0'); // §3.1.2.11.4
  let will: Will | undefined;
  if (p.will !== undefined) {
    const bad = validateTopicName(p.will.topic);
    if (bad !== undefined) return fail(RC_TOPIC_NAME_INVALID, `will topic: ${bad.reason}`);
    const rt = p.will.properties?.responseTopic;
    if (rt !== undefined && validateTopicName(rt) !== undefined) return fail(RC_PROTOCOL_ERROR, 'will response topic'); // [MQTT-3.3.2-14], v5 §3.1.3.2.5
    const wp = p.will.properties;
    const { willDelayInterval, ...msgProps } = wp ?? {};
    will = {
      delayS: version === 5 ? (willDelayInterval ?? 0) : 0,
      msg: newMessage(
        {
          qos: p.will.qos ?? 0,
          topic: p.will.topic,
          payload: typeof p.will.payload === 'string' ? Buffer.from(p.will.payload) : p.will.payload,
          from: clientId,
          retain: p.will.retain ?? false,
          ...(version === 5 && wp !== undefined ? { properties: msgProps } : {}),
          headers: { protocolVersion: version, peerhost: peer.peerhost, ...(p.username === undefined ? {} : { username: p.username }) },
        },
        nowMs,
      ),
    };
  }
  // 3.1.1: a persistent session lasts until the broker's limit; v5 says how long.
  const asked = props.sessionExpiryInterval ?? 0;
  const sessionExpiryS = version === 5 ? Math.min(asked, cfg.mqtt.max_session_expiry_s) : clean ? 0 : cfg.mqtt.max_session_expiry_s;
  return {
    ok: true,
    info: {
      clientId,
      assignedId,
      username: p.username,
      protocolVersion: version,
      cleanStart: clean,
      keepaliveS: ka.keepaliveS,
      serverKeepaliveS: ka.serverKeepAliveS,
      sessionExpiryS,
      sessionExpiryCapped: version === 5 && asked > cfg.mqtt.max_session_expiry_s,
      receiveMaximum,
      maxPacketSize: props.maximumPacketSize ?? 0,
      topicAliasMaximum: props.topicAliasMaximum ?? 0,
      will,
    },
  };
}

function fail(reasonCode: number, why: string): ConnectVerdict {
  return { ok: false, reasonCode, why };
}

/** The CONNACK for an accepted connection (v5 properties describe what we allow). */
export function connack(info: ClientInfo, sessionPresent: boolean, cfg: Config): IConnackPacket {
  if (info.protocolVersion !== 5) return { cmd: 'connack', returnCode: 0, sessionPresent };
  const m = cfg.mqtt;
  return {
    cmd: 'connack',
    reasonCode: 0,
    sessionPresent,
    properties: {
      receiveMaximum: m.max_awaiting_rel > 0 ? Math.min(m.max_awaiting_rel, 65535) : 65535,
      maximumPacketSize: m.max_packet_size,
      topicAliasMaximum: Math.min(m.max_topic_alias, 65535),
      retainAvailable: m.retain_available,
      wildcardSubscriptionAvailable: m.wildcard_subscription,
      sharedSubscriptionAvailable: m.shared_subscription,
      subscriptionIdentifiersAvailable: true,
      ...(info.assignedId ? { assignedClientIdentifier: info.clientId } : {}),
      ...(info.serverKeepaliveS !== undefined ? { serverKeepAlive: info.serverKeepaliveS } : {}),
      // The server capped the Session Expiry Interval: say so (v5 §3.2.2.3.2).
      ...(info.sessionExpiryCapped ? { sessionExpiryInterval: info.sessionExpiryS } : {}),
    },
  };
}

/** The CONNACK refusing a connection, in the client's protocol version; undefined = close without one. */
export function connackRefused(version: number, reasonCode: number): IConnackPacket | undefined {
  if (version === 5) return { cmd: 'connack', reasonCode, sessionPresent: false };
  const rc = connackCompat(reasonCode);
  return rc === undefined ? undefined : { cmd: 'connack', returnCode: rc, sessionPresent: false };
}

