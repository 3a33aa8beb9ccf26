/**
 * The broker's message record: what a publish becomes once accepted, and what the
 * router, broker, retainer and sessions pass around and forward between nodes.
 * Plain data only (strings, numbers, booleans, Buffers, plain objects) so it
 * encodes with CBOR unchanged. Pure: time comes in as arguments, nothing is logged.
 */
import { randomBytes } from 'node:crypto';
import type { IPublishPacket } from 'mqtt-packet';

export type QoS = 0 | 1 | 2;

/** MQTT 5 PUBLISH properties, as the parser gives them. */
export type PublishProperties = NonNullable<IPublishPacket['properties']>;

export interface MessageFlags {
  readonly retain: boolean;
  readonly dup: boolean;
}

/** Where a shared-subscription message goes back to if its member's session ends (FEATURES M12). */
export interface RedispatchTo {
  readonly group: string;
  readonly filter: string;
}

export interface MessageHeaders {
  /**
   * MQTT 5 PUBLISH properties as received, passed through untouched to subscribers
   * [MQTT-3.3.2-4], [MQTT-3.3.2-17], [MQTT-3.3.2-18]; the channel removes the Topic
   * Alias (it is per connection) before the message is built.
   */
  readonly properties?: PublishProperties;
  readonly redispatchTo?: RedispatchTo;
  readonly protocolVersion?: 3 | 4 | 5;
  readonly username?: string;
  readonly peerhost?: string;
}

export interface Message {
  /** 32 hex digits: ms timestamp (12), sequence (8), origin tag (12); sorts by creation. */
  readonly id: string;
  readonly qos: QoS;
  readonly topic: string;
  readonly payload: Buffer;
  /** The client id of the publisher ('' for messages the broker makes itself). */
  readonly from: string;
  readonly flags: MessageFlags;
  readonly headers: MessageHeaders;
  /** When the broker accepted it, ms since the epoch. */
  readonly timestamp: number;
  /** From the Message Expiry Interval: the message must not be delivered after this ms [MQTT-3.3.2-5]. */
  readonly expiryAt?: number;
}

/**
 * Unique, sortable message ids, as EMQX's `emqx_guid`: time first, then a per-origin
 * sequence that keeps ids strictly increasing even when the clock stalls or steps
 * back, then a random tag that tells origins (nodes, processes) apart.
 */
/** Two hex digits per byte value: the sequence is written from a table, not by toString/padStart (this runs once per message). */
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export class GuidGen {
  private lastMs = 0;
  private seq = 0;
  /** `lastMs` in 12 hex digits, made once per millisecond. */
  private msHex = '000000000000';
  private readonly tagHex: string;

  constructor(tag: Buffer = randomBytes(6)) {
    if (tag.length !== 6) throw new RangeError('guid tag must be 6 bytes');
    this.tagHex = tag.toString('hex');
  }

  next(nowMs: number): string {
    if (nowMs > this.lastMs) {
      this.lastMs = nowMs;
      this.seq = 0;
      this.msHex = nowMs.toString(16).padStart(12, '0');
    } else if (++this.seq > 0xffff_ffff) {
      // 2^32 ids in one millisecond: borrow the next millisecond.
      this.lastMs++;
      this.seq = 0;
      this.msHex = this.lastMs.toString(16).padStart(12, '0');
    }
    const q = this.seq;
    return this.msHex + HEX2[q >>> 24]! + HEX2[(q >>> 16) & 255]! + HEX2[(q >>> 8) & 255]! + HEX2[q & 255]! + this.tagHex;
  }
}

/** The ms timestamp a guid was made at. */
export function guidTimestamp(id: string): number {
  return parseInt(id.slice(0, 12), 16);
}

const defaultGuids = new GuidGen();

export interface NewMessage {
  readonly qos: QoS;
  readonly topic: string;
  readonly payload: Buffer | string;
  readonly from: string;
  readonly retain?: boolean;
  readonly dup?: boolean;
  readonly properties?: PublishProperties;
  readonly headers?: Omit<MessageHeaders, 'properties'>;
}

/**
 * Build a message accepted at `nowMs`. A Message Expiry Interval property sets
 * `expiryAt` [MQTT-3.3.2-5]; a string payload is taken as UTF-8.
 */
export function newMessage(m: NewMessage, nowMs: number, guids: GuidGen = defaultGuids): Message {
  const headers: MessageHeaders = m.properties === undefined ? { ...m.headers } : { ...m.headers, properties: m.properties };
  return withFinalHeaders(m, headers, nowMs, guids);
}

/**
 * `newMessage` with headers already made, and shared as they are: a connection's
 * messages without properties all carry the same (messages are never changed in
 * place), which saves two objects per message on the publish path.
 */
export function newMessageWithHeaders(m: Omit<NewMessage, 'properties' | 'headers'>, headers: MessageHeaders, nowMs: number): Message {
  return withFinalHeaders(m, headers, nowMs, defaultGuids);
}

/** The flags of most messages, shared (flags are replaced, never changed: withDup, withRetain). */
const PLAIN: MessageFlags = { retain: false, dup: false };
const RETAINED: MessageFlags = { retain: true, dup: false };

function withFinalHeaders(m: Omit<NewMessage, 'headers'>, headers: MessageHeaders, nowMs: number, guids: GuidGen): Message {
  const base = {
    id: guids.next(nowMs),
    qos: m.qos,
    topic: m.topic,
    payload: typeof m.payload === 'string' ? Buffer.from(m.payload, 'utf8') : m.payload,
    from: m.from,
    flags: m.dup === true ? { retain: m.retain ?? false, dup: true } : m.retain === true ? RETAINED : PLAIN,
    headers,
    timestamp: nowMs,
  };
  const interval = headers.properties?.messageExpiryInterval;
  return interval === undefined ? base : { ...base, expiryAt: nowMs + interval * 1000 };
}

/**
 * True once the Message Expiry Interval has passed; such a message is no longer
 * delivered [MQTT-3.3.2-5]. "Passed" is strict, as in EMQX: an interval of 0 still
 * lets the message go to the subscribers online when it arrives.
 */
export function isExpired(msg: Message, nowMs: number): boolean {
  return msg.expiryAt !== undefined && nowMs > msg.expiryAt;
}

/**
 * Seconds left before expiry, rounded up (so a message with time left never says 0),
 * 0 once the time is up, undefined when the message does not expire.
 */
export function remainingExpiryS(msg: Message, nowMs: number): number | undefined {
  if (msg.expiryAt === undefined) return undefined;
  const left = msg.expiryAt - nowMs;
  return left <= 0 ? 0 : Math.ceil(left / 1000);
}

/**
 * The message as it is sent to a subscriber at `nowMs`: the Message Expiry Interval
 * becomes the time it has left [MQTT-3.3.2-6]. Returns `msg` itself when it has no expiry.
 */
export function withRemainingExpiry(msg: Message, nowMs: number): Message {
  const left = remainingExpiryS(msg, nowMs);
  if (left === undefined) return msg;
  const properties = { ...msg.headers.properties, messageExpiryInterval: left };
  return { ...msg, headers: { ...msg.headers, properties } };
}

/**
 * The message at a QoS of at most `maxQos`: the granted QoS of a subscription or
 * the server's Maximum QoS [MQTT-3.8.4-8]. Returns `msg` itself when nothing changes.
 */
export function downgradeQos(msg: Message, maxQos: QoS): Message {
  return msg.qos <= maxQos ? msg : { ...msg, qos: maxQos };
}

/** The message with the DUP flag set, for a redelivered PUBLISH [MQTT-3.3.1-1]. */
export function withDup(msg: Message, dup = true): Message {
  return msg.flags.dup === dup ? msg : { ...msg, flags: { ...msg.flags, dup } };
}

/** The message with the RETAIN flag set or cleared (Retain As Published, [MQTT-3.3.1-12], [MQTT-3.3.1-13]). */
export function withRetain(msg: Message, retain: boolean): Message {
  return msg.flags.retain === retain ? msg : { ...msg, flags: { ...msg.flags, retain } };
}

/** The message with extra headers merged in (for example `redispatchTo`). */
export function withHeaders(msg: Message, headers: Partial<MessageHeaders>): Message {
  return { ...msg, headers: { ...msg.headers, ...headers } };
}
