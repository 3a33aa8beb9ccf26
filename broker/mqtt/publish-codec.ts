/**
 * Fast paths for the packets every client exchanges: encoding an outgoing PUBLISH
 * with no properties (once per message for all its subscribers) and the acks,
 * CONNACK (3.1.1), SUBACK and PINGRESP; decoding PUBLISH, the 2-byte acks, PINGREQ,
 * SUBSCRIBE and a CONNECT without will or properties. Anything else, or anything odd, is left to mqtt-packet (the caller
 * falls back on `undefined`), so the bytes and the packet objects are exactly what
 * mqtt-packet makes. Pure.
 */
import type { IPublishPacket, ISubscribePacket, Packet } from 'mqtt-packet';

/** One encoding of a message, kept for the next subscriber that needs the same bytes. */
interface Encoded {
  readonly topic: string;
  /** Fixed-header flags: DUP, QoS, RETAIN. */
  readonly flags: number;
  readonly v5: boolean;
  readonly bytes: Buffer;
  /** Where the packet id goes (QoS 1/2). */
  readonly idAt: number;
}

/*
 * The encodings made last, in a small ring searched by payload identity: every
 * subscriber of a message gets a packet built from the same Message, hence the same
 * payload object, and a message's deliveries come close together (one turn of each
 * subscriber's session). A WeakMap costs ~1 µs per message in GC and hashing, more
 * than building the bytes again; a miss here costs RING comparisons. Entries are
 * checked against the topic and flags, so a payload shared by two messages can only
 * cost a rebuild.
 */
const RING = 32;
const ringKeys: (Buffer | undefined)[] = new Array<Buffer | undefined>(RING).fill(undefined);
const ringVals: (Encoded | undefined)[] = new Array<Encoded | undefined>(RING).fill(undefined);
let ringNext = 0;

function cached(payload: Buffer, topic: string, flags: number, v5: boolean): Encoded {
  for (let i = 0; i < RING; i++) {
    if (ringKeys[i] !== payload) continue;
    const e = ringVals[i]!;
    if (e.topic === topic && e.flags === flags && e.v5 === v5) return e;
  }
  const e = build(topic, flags, v5, payload);
  ringKeys[ringNext] = payload;
  ringVals[ringNext] = e;
  ringNext = (ringNext + 1) % RING;
  return e;
}

/**
 * The PUBLISH bytes for `p`, or undefined when mqtt-packet must make them (properties,
 * string payloads). QoS 0 returns the shared bytes (never to be modified); QoS 1/2 a
 * copy with the packet id written in.
 */
export function encodePublish(p: IPublishPacket, protocolVersion: number): Buffer | undefined {
  const payload = p.payload;
  if (p.properties !== undefined || typeof payload === 'string' || typeof p.topic !== 'string') return undefined;
  const qos = p.qos;
  if (qos > 0 && typeof p.messageId !== 'number') return undefined;
  const flags = (p.dup === true ? 8 : 0) | (qos << 1) | (p.retain === true ? 1 : 0);
  const e = cached(payload, p.topic, flags, protocolVersion === 5);
  if (qos === 0) return e.bytes;
  const out = Buffer.allocUnsafe(e.bytes.length);
  e.bytes.copy(out);
  out.writeUInt16BE(p.messageId!, e.idAt);
  return out;
}

function build(topic: string, flags: number, v5: boolean, payload: Buffer): Encoded {
  const topicLen = Buffer.byteLength(topic);
  const qos = (flags >> 1) & 3;
  // MQTT §3.3: topic (2 + n), packet id (QoS > 0), v5 property length (0), payload.
  const remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + (v5 ? 1 : 0) + payload.length;
  const lenBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  const bytes = Buffer.allocUnsafe(1 + lenBytes + remaining);
  bytes[0] = 0x30 | flags;
  let at = 1;
  let r = remaining;
  do {
    let b = r % 128;
    r = Math.floor(r / 128);
    if (r > 0) b |= 0x80;
    bytes[at++] = b;
  } while (r > 0);
  bytes.writeUInt16BE(topicLen, at);
  at += 2;
  at += bytes.write(topic, at, 'utf8');
  const idAt = at;
  if (qos > 0) {
    bytes.writeUInt16BE(0, at);
    at += 2;
  }
  if (v5) bytes[at++] = 0;
  payload.copy(bytes, at);
  return { topic, flags, v5, bytes, idAt };
}

const ACK_HEADER: Record<string, number> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 };

/** The accepting 3.1/3.1.1 CONNACKs, shared: written buffers are never changed after. */
const CONNACK_OK = Buffer.from([0x20, 2, 0, 0]);
const CONNACK_OK_PRESENT = Buffer.from([0x20, 2, 1, 0]);

/** The bytes of `p` for the packets with a fast path; undefined for the rest. */
export function encodeFast(p: Packet, protocolVersion: number): Buffer | undefined {
  const v5 = protocolVersion === 5;
  switch (p.cmd) {
    case 'publish':
      return encodePublish(p, protocolVersion);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp': {
      const id = p.messageId;
      if (typeof id !== 'number' || p.properties !== undefined) return undefined;
      const rc = (p as { reasonCode?: number }).reasonCode;
      // v5 (§3.4.2.1): the 2-byte form only for an explicit success code, as mqtt-packet.
      if (!v5 || rc === 0) return Buffer.from([ACK_HEADER[p.cmd]!, 2, id >> 8, id & 0xff]);
      return Buffer.from([ACK_HEADER[p.cmd]!, 4, id >> 8, id & 0xff, rc ?? 0, 0]);
    }
    case 'connack': {
      if (v5 || typeof p.returnCode !== 'number') return undefined; // v5 CONNACKs carry properties
      const rc = p.returnCode;
      if (rc === 0) return p.sessionPresent === true ? CONNACK_OK_PRESENT : CONNACK_OK;
      return Buffer.from([0x20, 2, p.sessionPresent ? 1 : 0, rc]);
    }
    case 'suback': {
      const g = p.granted;
      const id = p.messageId;
      if (p.properties !== undefined || typeof id !== 'number' || g.length === 0 || !g.every((x) => typeof x === 'number')) return undefined;
      const len = 2 + (v5 ? 1 : 0) + g.length;
      if (len > 127) return undefined;
      const b = Buffer.allocUnsafe(2 + len);
      b[0] = 0x90;
      b[1] = len;
      b[2] = id >> 8;
      b[3] = id & 0xff;
      let at = 4;
      if (v5) b[at++] = 0;
      for (const x of g as number[]) b[at++] = x;
      return b;
    }
    case 'pingresp':
      return Buffer.from([0xd0, 0]);
    default:
      return undefined;
  }
}

const ACKS: Record<number, 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'> = { 4: 'puback', 5: 'pubrec', 6: 'pubrel', 7: 'pubcomp' };

/**
 * Decode the packet at `buf[start..end)` (fixed header at `start`, body from `body`)
 * when it has one of the common plain shapes; undefined otherwise (mqtt-packet then
 * parses it, with its own checks and errors). The PUBLISH payload is a view of `buf`.
 */
export function decodeFast(buf: Buffer, start: number, body: number, end: number, protocolVersion: number): Packet | undefined {
  const b0 = buf[start]!;
  const type = b0 >> 4;
  const length = end - body;
  if (type === 3) {
    const qos = (b0 >> 1) & 3;
    if (qos === 3 || length < 2) return undefined;
    const topicLen = buf.readUInt16BE(body);
    let at = body + 2 + topicLen;
    if (at > end) return undefined;
    const topic = buf.toString('utf8', body + 2, at);
    let messageId: number | undefined;
    if (qos > 0) {
      if (at + 2 > end) return undefined;
      messageId = buf.readUInt16BE(at);
      at += 2;
    }
    if (protocolVersion === 5) {
      // Only a publish without properties (a property length of 0) is ours.
      if (at >= end || buf[at] !== 0) return undefined;
      at++;
    }
    const p: IPublishPacket = { cmd: 'publish', retain: (b0 & 1) !== 0, qos: qos as 0 | 1 | 2, dup: (b0 & 8) !== 0, length, topic, payload: buf.subarray(at, end) };
    if (messageId !== undefined) p.messageId = messageId;
    return p;
  }
  const ack = ACKS[type];
  if (ack !== undefined) {
    // PUBREL's reserved flags are 0b0010, the others' 0 [MQTT-2.2.2-1].
    if (length !== 2 || (b0 & 0xf) !== (type === 6 ? 2 : 0)) return undefined;
    // The header flags say QoS 1 for PUBREL, and mqtt-packet reports them as they are.
    const p = { cmd: ack, retain: false, qos: (b0 >> 1) & 3, dup: false, length, topic: null, payload: null, messageId: buf.readUInt16BE(body) };
    // mqtt-packet gives a v5 ack without a reason code the code 0 (success).
    return protocolVersion === 5 ? { ...p, reasonCode: 0 } : p;
  }
  if (type === 12 && b0 === 0xc0 && length === 0) return { cmd: 'pingreq', retain: false, qos: 0, dup: false, length: 0, topic: null, payload: null } as unknown as Packet;
  if (b0 === 0x82) return decodeSubscribe(buf, body, end, length, protocolVersion === 5);
  if (b0 === 0x10) return decodeConnect(buf, body, end, length);
  return undefined;
}

/**
 * CONNECT (§3.1) of MQTT 3.1.1, or 5 without properties, with no will: the usual
 * shape. It carries its own protocol level. A will, a property, MQTT 3.1 or any
 * flag mqtt-packet refuses is left to mqtt-packet.
 */
function decodeConnect(buf: Buffer, body: number, end: number, length: number): Packet | undefined {
  // "MQTT", the level, the flags, the keep alive: 10 bytes.
  if (length < 12 || buf.readUInt16BE(body) !== 4 || buf.toString('latin1', body + 2, body + 6) !== 'MQTT') return undefined;
  const level = buf[body + 6]!;
  const flags = buf[body + 7]!;
  // Reserved bit [MQTT-3.1.2-3], and no will (flag, QoS, retain all 0).
  if ((level !== 4 && level !== 5) || (flags & 0x3d) !== 0) return undefined;
  const keepalive = buf.readUInt16BE(body + 8);
  let at = body + 10;
  if (level === 5) {
    if (buf[at] !== 0) return undefined;
    at++;
  }
  const str = (): string | undefined => {
    if (at + 2 > end) return undefined;
    const n = buf.readUInt16BE(at);
    if (at + 2 + n > end) return undefined;
    const v = buf.toString('utf8', at + 2, at + 2 + n);
    at += 2 + n;
    return v;
  };
  const clientId = str();
  if (clientId === undefined) return undefined;
  const p: Record<string, unknown> = { cmd: 'connect', retain: false, qos: 0, dup: false, length, topic: null, payload: null, protocolId: 'MQTT', protocolVersion: level, clean: (flags & 2) !== 0, keepalive, clientId };
  if ((flags & 0x80) !== 0) {
    const username = str();
    if (username === undefined) return undefined;
    p['username'] = username;
  }
  if ((flags & 0x40) !== 0) {
    if (at + 2 > end) return undefined;
    const n = buf.readUInt16BE(at);
    if (at + 2 + n > end) return undefined;
    p['password'] = buf.subarray(at + 2, at + 2 + n);
  }
  return p as unknown as Packet;
}

/** SUBSCRIBE (§3.8) without properties; any check that fails is left to mqtt-packet, which reports it. */
function decodeSubscribe(buf: Buffer, body: number, end: number, length: number, v5: boolean): Packet | undefined {
  if (length < 2) return undefined;
  const messageId = buf.readUInt16BE(body);
  let at = body + 2;
  if (v5) {
    if (at >= end || buf[at] !== 0) return undefined;
    at++;
  }
  if (at >= end) return undefined; // no payload: a protocol error mqtt-packet names
  const subscriptions: ISubscribePacket['subscriptions'] = [];
  while (at < end) {
    if (at + 2 > end) return undefined;
    const n = buf.readUInt16BE(at);
    const topicEnd = at + 2 + n;
    if (topicEnd >= end) return undefined; // the options byte must follow
    const topic = buf.toString('utf8', at + 2, topicEnd);
    const o = buf[topicEnd]!;
    at = topicEnd + 1;
    const qos = o & 3;
    if (qos > 2 || (o & (v5 ? 0xc0 : 0xfc)) !== 0) return undefined;
    if (!v5) {
      subscriptions.push({ topic, qos: qos as 0 | 1 | 2 });
      continue;
    }
    const rh = (o >> 4) & 3;
    if (rh > 2) return undefined;
    subscriptions.push({ topic, qos: qos as 0 | 1 | 2, nl: (o & 4) !== 0, rap: (o & 8) !== 0, rh });
  }
  return { cmd: 'subscribe', retain: false, qos: 1, dup: false, length, topic: null, payload: null, subscriptions, messageId } as unknown as Packet;
}
