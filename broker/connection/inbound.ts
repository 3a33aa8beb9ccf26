/**
 * The bytes a client sends, cut into MQTT packets: a framer that checks each fixed
 * header as soon as it is complete (a malformed Remaining Length [MQTT-1.5.5-1] or
 * a packet over the Maximum Packet Size is refused before its body is buffered), the
 * fast decoder of publish-codec.ts for the common packets, and mqtt-packet for the
 * rest. mqtt-packet only ever gets one whole packet at a time, so one parser per
 * protocol version serves every connection (a parser is an EventEmitter and a
 * stream-backed buffer list: costly to make per connection). Pure.
 */
import { parser as mqttParser, type Packet, type Parser } from 'mqtt-packet';
import { decodeFast } from '../mqtt/publish-codec.js';

export type InboundResult =
  /** Whole packets so far; `error` is mqtt-packet's complaint about the next one, if any. */
  | { readonly t: 'ok'; readonly packets: readonly Packet[]; readonly error?: unknown }
  /** The stream is unacceptable: nothing of this chunk is to be processed. */
  | { readonly t: 'too_large' | 'malformed' };

const NONE: Packet[] = [];

export class Inbound {
  /** Bytes of an incomplete packet, and how many the packet needs when its header is known. */
  private held: Buffer[] = [];
  private heldLen = 0;
  private need = 0;

  constructor(
    private readonly protocolVersion: number,
    /** 0 = no limit. */
    private readonly maxPacketSize: number,
  ) {}

  push(chunk: Buffer): InboundResult {
    if (this.heldLen > 0) {
      this.held.push(chunk);
      this.heldLen += chunk.length;
      if (this.heldLen < this.need) return { t: 'ok', packets: NONE }; // the body is still coming
      chunk = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldLen);
      this.held = [];
      this.heldLen = 0;
      this.need = 0;
    }
    // First every packet boundary, so that a bad header anywhere refuses the whole chunk.
    const bounds: number[] = [];
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const h = this.header(chunk, i);
      if (h === 'too_large' || h === 'malformed') return { t: h };
      if (h === undefined || h.end > n) {
        // An incomplete packet: hold its bytes until it is whole.
        this.held = [chunk.subarray(i)];
        this.heldLen = n - i;
        this.need = h === undefined ? 0 : h.end - i;
        break;
      }
      bounds.push(i, h.body, h.end);
      i = h.end;
    }
    if (bounds.length === 0) return { t: 'ok', packets: NONE };
    const packets: Packet[] = [];
    for (let k = 0; k < bounds.length; k += 3) {
      const start = bounds[k]!;
      const end = bounds[k + 2]!;
      const p = decodeFast(chunk, start, bounds[k + 1]!, end, this.protocolVersion);
      if (p !== undefined) {
        packets.push(p);
        continue;
      }
      const err = parseWhole(chunk.subarray(start, end), this.protocolVersion, packets);
      // After a malformed packet nothing more is read: the connection is closed.
      if (err !== undefined) return { t: 'ok', packets, error: err };
    }
    return { t: 'ok', packets };
  }

  /** Fixed header at `i`, checked against the maximum size; undefined if incomplete. */
  private header(b: Buffer, i: number): { body: number; end: number } | 'too_large' | 'malformed' | undefined {
    const h = frame(b, i);
    if (h === undefined || h === 'malformed') return h;
    return this.maxPacketSize > 0 && h.end - i > this.maxPacketSize ? 'too_large' : h;
  }
}

/** Fixed header at `i`: where the body starts and the packet ends; undefined if incomplete. */
export function frame(b: Buffer, i: number): { body: number; end: number } | 'malformed' | undefined {
  let len = 0;
  let mult = 1;
  for (let k = 1; k <= 4; k++) {
    if (i + k >= b.length) return undefined;
    const x = b[i + k]!;
    len += (x & 0x7f) * mult;
    mult *= 128;
    if ((x & 0x80) === 0) return { body: i + 1 + k, end: i + 1 + k + len };
  }
  return 'malformed'; // [MQTT-1.5.5-1]: the Remaining Length has 4 bytes at most
}

const parsers = new Map<number, Parser>();
let out: Packet[] = NONE;
let error: unknown;

/**
 * Parse `bytes`, one or more whole packets, with the shared mqtt-packet parser of
 * `protocolVersion` (5 also reads a CONNECT of any level: it only enables
 * properties); the packets go to `packets`, and the first error is returned.
 */
export function parseWhole(bytes: Buffer, protocolVersion: number, packets: Packet[]): unknown {
  // A lone CONNECT (the acceptor's case) of the usual shape needs no parser.
  if (bytes[0] === 0x10) {
    const h = frame(bytes, 0);
    const fast = typeof h === 'object' && h.end === bytes.length ? decodeFast(bytes, 0, h.body, h.end, protocolVersion) : undefined;
    if (fast !== undefined) {
      packets.push(fast);
      return undefined;
    }
  }
  let p = parsers.get(protocolVersion);
  if (p === undefined) {
    p = mqttParser({ protocolVersion: protocolVersion as 3 | 4 | 5 });
    p.on('packet', (pk: Packet) => void out.push(pk));
    p.on('error', (e: unknown) => void (error ??= e));
    parsers.set(protocolVersion, p);
  }
  // A CONNECT replaces the parser's settings with itself (its protocol level then
  // rules the packets after it): set them back for every use of the shared parser.
  (p as unknown as { settings: object }).settings = { protocolVersion };
  out = packets;
  error = undefined;
  const left = p.parse(bytes);
  out = NONE;
  let e = error;
  error = undefined;
  // Whole packets leave nothing behind; bytes held back mean a length mqtt-packet read otherwise.
  if (e === undefined && left !== 0) e = new Error('packet shorter than its contents');
  // After an error mqtt-packet's state is not all reset (its read position survives
  // `_resetState`, so the next packet would be read from the wrong offset): the shared
  // parser is dropped and the next use makes a new one. Errors are rare; this is cheap.
  if (e !== undefined) parsers.delete(protocolVersion);
  return e;
}
