/**
 * Fast paths for the packets of the publish path: encoding an outgoing PUBLISH with
 * no properties (once per message for all its subscribers), and decoding the fixed
 * shapes of PUBLISH, PUBACK/PUBREC/PUBREL/PUBCOMP and PINGREQ. Anything else, or
 * anything odd, is left to mqtt-packet (the caller falls back on `undefined`), so the
 * bytes and the packet objects are exactly what mqtt-packet makes. Pure.
 */
import type { IPublishPacket, Packet } from 'mqtt-packet';

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
  return undefined;
}
