/**
 * A Message as a positional array, for forwards between broker nodes (forward VSN 2,
 * dispatch.ts). As an object every message spelled out its field names on the wire,
 * and the dist codec handed it whole to cbor-x on both ends; as an array of strings,
 * numbers and a Buffer it takes the codec's hand-written fast path and decodes
 * without a key lookup per field. Only MQTT 5 properties (an object, when present)
 * still go through cbor-x. Pure.
 */
import type { Message, MessageFlags, MessageHeaders, PublishProperties, QoS } from './message.js';

/** Absent optional fields travel as null (CBOR has no "missing" slot in an array). */
export type WireMessage = readonly [
  id: string,
  qos: QoS,
  topic: string,
  payload: Buffer,
  from: string,
  /** Bit 0 retain, bit 1 dup. */
  flags: number,
  timestamp: number,
  expiryAt: number | null,
  protocolVersion: 3 | 4 | 5 | null,
  username: string | null,
  peerhost: string | null,
  properties: PublishProperties | null,
  /** [group, filter] */
  redispatchTo: readonly [string, string] | null,
];

const WIRE_LENGTH = 13;

/**
 * The four flag combinations, shared by every decoded message: messages are
 * immutable (withDup and friends copy), so there is no need for one object each.
 */
const FLAGS: readonly MessageFlags[] = [
  Object.freeze({ retain: false, dup: false }),
  Object.freeze({ retain: true, dup: false }),
  Object.freeze({ retain: false, dup: true }),
  Object.freeze({ retain: true, dup: true }),
];

export function toWire(m: Message): WireMessage {
  const h = m.headers;
  const r = h.redispatchTo;
  return [
    m.id,
    m.qos,
    m.topic,
    m.payload,
    m.from,
    (m.flags.retain ? 1 : 0) | (m.flags.dup ? 2 : 0),
    m.timestamp,
    m.expiryAt ?? null,
    h.protocolVersion ?? null,
    h.username ?? null,
    h.peerhost ?? null,
    h.properties ?? null,
    r === undefined ? null : [r.group, r.filter],
  ];
}

/** The message a wire array stands for; throws TypeError when it is not one. */
export function fromWire(w: unknown): Message {
  if (!Array.isArray(w) || w.length !== WIRE_LENGTH) throw new TypeError('not a wire message');
  const [id, qos, topic, payload, from, flags, timestamp, expiryAt, protocolVersion, username, peerhost, properties, redispatchTo] = w as unknown[];
  if (
    typeof id !== 'string' ||
    (qos !== 0 && qos !== 1 && qos !== 2) ||
    typeof topic !== 'string' ||
    !(payload instanceof Uint8Array) ||
    typeof from !== 'string' ||
    typeof flags !== 'number' ||
    typeof timestamp !== 'number'
  ) {
    throw new TypeError('malformed wire message');
  }
  // Built with only the keys that are set, as newMessage does.
  const headers: { -readonly [K in keyof MessageHeaders]: MessageHeaders[K] } = {};
  if (protocolVersion === 3 || protocolVersion === 4 || protocolVersion === 5) headers.protocolVersion = protocolVersion;
  if (typeof username === 'string') headers.username = username;
  if (typeof peerhost === 'string') headers.peerhost = peerhost;
  if (properties !== null && typeof properties === 'object') headers.properties = properties;
  if (Array.isArray(redispatchTo) && typeof redispatchTo[0] === 'string' && typeof redispatchTo[1] === 'string') {
    headers.redispatchTo = { group: redispatchTo[0], filter: redispatchTo[1] };
  }
  const msg: Message = {
    id,
    qos,
    topic,
    // The codec gives a Buffer for a byte string; a plain Uint8Array is wrapped without a copy.
    payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length),
    from,
    flags: FLAGS[flags & 3]!,
    headers,
    timestamp,
  };
  return typeof expiryAt === 'number' ? { ...msg, expiryAt } : msg;
}
