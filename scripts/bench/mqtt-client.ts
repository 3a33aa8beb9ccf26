/**
 * The load generator's MQTT 3.1.1 client: raw `net` sockets, packets made once with
 * mqtt-packet and copied (PUBLISH templates with the sequence number patched in), and
 * a hand-written splitter for what comes back, so that the load side costs far less
 * per message than any broker under test. Used by mqtt-load.ts only.
 */
import net from 'node:net';
import { generate } from 'mqtt-packet';

/** A PUBLISH the client received: its payload is `buf[payloadAt .. end)`. */
export type OnPublish = (buf: Buffer, payloadAt: number, end: number, qos: number) => void;

export interface ClientOpts {
  readonly port: number;
  readonly clientId: string;
  readonly keepaliveS?: number;
  readonly onPublish?: OnPublish;
  /** A PUBACK for one of our QoS 1 publishes. */
  readonly onPuback?: (packetId: number) => void;
  /** The socket closed before `close()` was called. */
  readonly onLost?: (err: Error | undefined) => void;
}

const PUBACK_LEN = 4;

export class BenchClient {
  readonly socket: net.Socket;
  private pending: Buffer | undefined;
  private closing = false;
  private connackWait: ((rc: number) => void) | undefined;
  private subackWait: ((granted: number[]) => void) | undefined;
  /** Packets received, by MQTT type (index = type 0..15). */
  readonly received = new Uint32Array(16);

  private constructor(private readonly opts: ClientOpts) {
    this.socket = net.connect({ host: '127.0.0.1', port: opts.port, noDelay: true });
    this.socket.on('data', (c: Buffer) => this.onData(c));
    this.socket.on('error', (err) => {
      if (!this.closing) opts.onLost?.(err);
    });
    this.socket.on('close', () => {
      if (!this.closing) opts.onLost?.(undefined);
      this.closing = true;
    });
  }

  /** Connect (clean session) and wait for the CONNACK; rejects on refusal or a closed socket. */
  static connect(opts: ClientOpts): Promise<BenchClient> {
    const c = new BenchClient(opts);
    return new Promise((resolve, reject) => {
      const fail = (err: Error): void => {
        c.socket.destroy();
        reject(err);
      };
      let ended = false;
      c.socket.once('end', () => (ended = true));
      const closed = (): void => fail(new Error(`${opts.clientId}: ${ended ? 'the broker closed the connection' : 'connection lost'} before CONNACK`));
      c.socket.once('error', fail);
      c.socket.once('close', closed);
      c.connackWait = (rc) => {
        c.socket.off('error', fail);
        c.socket.off('close', closed);
        if (rc === 0) resolve(c);
        else fail(new Error(`${opts.clientId}: CONNACK ${rc}`));
      };
      c.socket.write(
        generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: opts.clientId, keepalive: opts.keepaliveS ?? 0 }),
      );
    });
  }

  /** Subscribe and wait for the SUBACK's return codes (one SUBSCRIBE at a time). */
  subscribe(filter: string, qos: 0 | 1): Promise<number[]> {
    return new Promise((resolve) => {
      this.subackWait = resolve;
      this.socket.write(generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] }));
    });
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }

  /**
   * Close without DISCONNECT (what we count is already in), by a reset rather than a FIN.
   * A FIN from our side would leave the connection in TIME_WAIT here for 60 s, holding
   * its ephemeral port: a storm leaves thousands, and each broker run after another
   * then connects through a fuller port range (measured: the same server's storm rate
   * fell by up to a third with 17 000 to 35 000 left over), so the order of the brokers
   * would decide part of the result. A reset leaves nothing behind.
   */
  close(): void {
    this.closing = true;
    if (this.socket.readyState === 'open') this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let acks: Buffer | undefined;
    let nAcks = 0;
    let i = 0;
    const n = buf.length;
    while (i < n) {
      // Fixed header: type/flags, then the Remaining Length varint.
      if (n - i < 2) break;
      const b0 = buf[i]!;
      let len = 0;
      let mult = 1;
      let j = i + 1;
      let complete = false;
      for (; j < n && j < i + 5; j++) {
        const b = buf[j]!;
        len += (b & 0x7f) * mult;
        mult *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          j++;
          break;
        }
      }
      if (!complete || j + len > n) break;
      const end = j + len;
      const type = b0 >> 4;
      this.received[type]!++;
      switch (type) {
        case 3: {
          const qos = (b0 >> 1) & 3;
          const tl = buf.readUInt16BE(j);
          let at = j + 2 + tl;
          if (qos > 0) {
            // Acks of one read go out in one write.
            acks ??= Buffer.allocUnsafe(PUBACK_LEN * 256);
            if ((nAcks + 1) * PUBACK_LEN > acks.length) {
              this.socket.write(acks.subarray(0, nAcks * PUBACK_LEN));
              acks = Buffer.allocUnsafe(PUBACK_LEN * 256);
              nAcks = 0;
            }
            const o = nAcks++ * PUBACK_LEN;
            acks[o] = 0x40;
            acks[o + 1] = 2;
            acks[o + 2] = buf[at]!;
            acks[o + 3] = buf[at + 1]!;
            at += 2;
          }
          this.opts.onPublish?.(buf, at, end, qos);
          break;
        }
        case 2:
          this.connackWait?.(buf[j + 1]!);
          this.connackWait = undefined;
          break;
        case 4:
          this.opts.onPuback?.(buf.readUInt16BE(j));
          break;
        case 9:
          this.subackWait?.([...buf.subarray(j + 2, end)]);
          this.subackWait = undefined;
          break;
        default:
          break;
      }
      i = end;
    }
    if (i < n) this.pending = Buffer.from(buf.subarray(i));
    if (acks !== undefined && nAcks > 0) this.socket.write(acks.subarray(0, nAcks * PUBACK_LEN));
  }
}

/**
 * A PUBLISH made once and copied for each message: the payload starts with
 * [publisher u32][seq u32][sent-at µs f64], then zero padding up to `payloadBytes`.
 */
export class PublishTemplate {
  readonly bytes: Buffer;
  private readonly payloadAt: number;
  private readonly idAt: number;

  constructor(
    topic: string,
    readonly qos: 0 | 1,
    readonly publisher: number,
    payloadBytes: number,
  ) {
    const payload = Buffer.alloc(Math.max(16, payloadBytes));
    payload.writeUInt32BE(publisher, 0);
    this.bytes = generate({ cmd: 'publish', topic, payload, qos, dup: false, retain: false, ...(qos > 0 ? { messageId: 1 } : {}) });
    this.payloadAt = this.bytes.length - payload.length;
    this.idAt = this.payloadAt - 2;
  }

  get length(): number {
    return this.bytes.length;
  }

  /** Write message `seq` at `out[at..]`; returns the next offset. */
  put(out: Buffer, at: number, seq: number, sentAtUs: number): number {
    this.bytes.copy(out, at);
    if (this.qos > 0) out.writeUInt16BE((seq % 65535) + 1, at + this.idAt);
    out.writeUInt32BE(seq, at + this.payloadAt + 4);
    out.writeDoubleBE(sentAtUs, at + this.payloadAt + 8);
    return at + this.bytes.length;
  }

  /** `count` messages from `firstSeq` on, in one buffer (one write, one syscall). */
  batch(firstSeq: number, count: number, sentAtUs: number): Buffer {
    const out = Buffer.allocUnsafe(this.bytes.length * count);
    let at = 0;
    for (let k = 0; k < count; k++) at = this.put(out, at, firstSeq + k, sentAtUs);
    return out;
  }
}

/** The fields the load generator put in a payload. */
export function readPayload(buf: Buffer, at: number): { publisher: number; seq: number; sentAtUs: number } {
  return { publisher: buf.readUInt32BE(at), seq: buf.readUInt32BE(at + 4), sentAtUs: buf.readDoubleBE(at + 8) };
}

/** Microseconds on the load process's monotonic clock. */
export const nowUs = (): number => performance.now() * 1000;

/** Per-publisher sequence check: counts in-order, lost (gaps) and duplicated messages. */
export class SeqCheck {
  private readonly next: Uint32Array;
  received = 0;
  lost = 0;
  dup = 0;
  gaps = 0;

  constructor(publishers: number) {
    this.next = new Uint32Array(publishers);
  }

  /** Record `seq` from `publisher`: 'next' (in order), 'gap' (some missing) or 'dup'. */
  see(publisher: number, seq: number): 'next' | 'gap' | 'dup' {
    const want = this.next[publisher]!;
    if (seq === want) {
      this.next[publisher] = want + 1;
      this.received++;
      return 'next';
    }
    if (seq < want) {
      this.dup++;
      return 'dup';
    }
    // A gap: the messages in between are missing (MQTT keeps per-publisher order).
    this.lost += seq - want;
    this.gaps++;
    this.next[publisher] = seq + 1;
    this.received++;
    return 'gap';
  }

  /** How many in-sequence messages came from `publisher` (its next expected seq). */
  upTo(publisher: number): number {
    return this.next[publisher]!;
  }

  /** After the run: what was sent but never arrived. */
  finish(sent: ArrayLike<number>): void {
    for (let p = 0; p < this.next.length; p++) this.lost += Math.max(0, sent[p]! - this.next[p]!);
  }
}
