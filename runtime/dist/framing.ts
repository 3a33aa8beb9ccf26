/**
 * Length framing of a distribution connection: 2-byte lengths during the handshake,
 * 4-byte lengths once connected, where an empty frame is a tick (ERTS dist protocol,
 * "Distribution Handshake" and "Protocol between Connected Nodes").
 * Owns `FrameReader` (pure reassembly), the `FrameIO` seam the handshake runs on, and
 * its two carriers: an in-memory pair for tests and one over a `net.Socket`.
 * No logging and no protocol decisions here: errors go to the caller.
 */
import type net from 'node:net';
import { DistProtocolError } from './errors.js';

/** `handshake`: 2-byte length prefix. `connected`: 4-byte length prefix. */
export type FrameMode = 'handshake' | 'connected';

export const HEADER_BYTES: Readonly<Record<FrameMode, 2 | 4>> = { handshake: 2, connected: 4 };
/** A 2-byte length cannot say more. */
export const MAX_HANDSHAKE_FRAME = 0xffff;
/**
 * Largest connected frame accepted by default: 64 MiB. Without DFLAG_FRAGMENTS a BEAM
 * peer sends each message as one frame, so this bounds the largest message too.
 */
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;

function limit(mode: FrameMode, maxFrame: number): number {
  return mode === 'handshake' ? Math.min(maxFrame, MAX_HANDSHAKE_FRAME) : maxFrame;
}

/** One frame with its length prefix. Throws `too_large` beyond the mode's limit. */
export function encodeFrame(payload: Uint8Array, mode: FrameMode, maxFrame = DEFAULT_MAX_FRAME): Buffer {
  const h = HEADER_BYTES[mode];
  if (payload.length > limit(mode, maxFrame)) {
    throw new DistProtocolError('too_large', `frame of ${payload.length} bytes exceeds the ${mode} limit of ${limit(mode, maxFrame)}`);
  }
  const out = Buffer.allocUnsafe(h + payload.length);
  if (h === 2) out.writeUInt16BE(payload.length, 0);
  else out.writeUInt32BE(payload.length, 0);
  out.set(payload, h);
  return out;
}

/** A tick: the empty connected frame (four zero bytes). */
export function encodeTick(): Buffer {
  return Buffer.alloc(4);
}

/**
 * Reassembles frames from chunks split anywhere. Parsing is lazy (one frame per
 * `next()`), so the mode can switch between two frames without losing the bytes of
 * the next one: a peer may send its first connected frame in the same TCP segment as
 * its last handshake message.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private off = 0; // read offset into chunks[0]
  private size = 0; // unread bytes in total

  constructor(
    private mode_: FrameMode = 'handshake',
    private readonly maxFrame = DEFAULT_MAX_FRAME,
  ) {}

  get mode(): FrameMode {
    return this.mode_;
  }

  setMode(mode: FrameMode): void {
    this.mode_ = mode;
  }

  /** Unread bytes (complete frames not yet taken, plus any partial one). */
  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The next complete frame's payload, or undefined while more bytes are needed. */
  next(): Buffer | undefined {
    const h = HEADER_BYTES[this.mode_];
    if (this.size < h) return undefined;
    let len = 0;
    for (let i = 0; i < h; i++) len = len * 256 + this.byteAt(i);
    const max = limit(this.mode_, this.maxFrame);
    if (len > max) throw new DistProtocolError('too_large', `${this.mode_} frame of ${len} bytes exceeds the limit of ${max}`);
    if (this.size < h + len) return undefined;
    this.take(h);
    return this.take(len);
  }

  /** Every unread byte, raw (no framing applied); the reader is empty afterwards. */
  takeBuffered(): Buffer {
    return this.take(this.size);
  }

  private byteAt(i: number): number {
    let pos = this.off + i;
    for (const c of this.chunks) {
      if (pos < c.length) return c[pos]!;
      pos -= c.length;
    }
    throw new RangeError('byteAt beyond the buffered bytes'); // unreachable: callers check size
  }

  private take(n: number): Buffer {
    this.size -= n;
    const first = this.chunks[0];
    if (n === 0 || first === undefined) return Buffer.alloc(0);
    if (first.length - this.off >= n) {
      // The common case: the frame lies within one chunk, no copy.
      const out = first.subarray(this.off, this.off + n);
      this.advance(first, n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let w = 0;
    while (w < n) {
      const c = this.chunks[0]!;
      const k = Math.min(n - w, c.length - this.off);
      c.copy(out, w, this.off, this.off + k);
      w += k;
      this.advance(c, k);
    }
    return out;
  }

  private advance(c: Buffer, k: number): void {
    this.off += k;
    if (this.off === c.length) {
      this.chunks.shift();
      this.off = 0;
    }
  }
}

// ---------------------------------------------------------------------------
// FrameIO: the seam the handshake runs on (OTP dist_util's #hs_data{f_send, f_recv})

export type FrameIOErrorCode = 'timeout' | 'closed';

/** `recv` found no frame in time, or the carrier is closed. */
export class FrameIOError extends Error {
  override readonly name = 'FrameIOError';
  constructor(
    readonly code: FrameIOErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A framed, ordered, bidirectional carrier. One `recv` may be pending at a time. */
export interface FrameIO {
  /** Who is at the other end (an address, or a name once known), for messages. */
  readonly peer: string;
  /** Queue one frame; throws `FrameIOError('closed')` after close. */
  send(frame: Uint8Array): void;
  /**
   * The next frame. Rejects with `FrameIOError` ('timeout' after `timeoutMs`, 'closed'
   * once the carrier is closed and every frame received before was taken) or with a
   * `DistProtocolError` for a frame over the limit.
   */
  recv(timeoutMs: number): Promise<Buffer>;
  /** Close both directions; a pending `recv` rejects with 'closed'. Idempotent. */
  close(): void;
}

interface Waiter {
  resolve(b: Buffer): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

function wait(peer: string, timeoutMs: number, set: (w: Waiter | undefined) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      set(undefined);
      reject(new FrameIOError('timeout', `no frame from ${peer} within ${timeoutMs} ms`));
    }, timeoutMs);
    set({ resolve, reject, timer });
  });
}

function busy(peer: string): Promise<never> {
  return Promise.reject(new Error(`recv from ${peer} called while another recv is pending`));
}

/** One end of an in-memory pair. Frames are copied on send, as a socket would. */
export class MemoryFrameIO implements FrameIO {
  private queue: Buffer[] = [];
  private waiter: Waiter | undefined;
  private closed_ = false; // we closed: nothing more in or out
  private remoteClosed = false; // the other end closed: drain, then 'closed'
  other!: MemoryFrameIO;

  constructor(
    readonly peer: string,
    private readonly maxFrame: number,
  ) {}

  get isClosed(): boolean {
    return this.closed_;
  }

  send(frame: Uint8Array): void {
    if (this.closed_ || this.remoteClosed) throw new FrameIOError('closed', `connection to ${this.peer} is closed`);
    if (frame.length > this.maxFrame) throw new DistProtocolError('too_large', `frame of ${frame.length} bytes exceeds ${this.maxFrame}`);
    this.other.deliver(Buffer.from(frame));
  }

  recv(timeoutMs: number): Promise<Buffer> {
    if (this.waiter !== undefined) return busy(this.peer);
    const f = this.queue.shift();
    if (f !== undefined) return Promise.resolve(f);
    if (this.closed_ || this.remoteClosed) return Promise.reject(new FrameIOError('closed', `connection to ${this.peer} is closed`));
    return wait(this.peer, timeoutMs, (w) => (this.waiter = w));
  }

  close(): void {
    if (this.closed_) return;
    this.closed_ = true;
    this.queue = [];
    this.fail();
    this.other.onRemoteClose();
  }

  private deliver(f: Buffer): void {
    if (this.closed_) return;
    const w = this.waiter;
    if (w === undefined) return void this.queue.push(f);
    this.waiter = undefined;
    clearTimeout(w.timer);
    w.resolve(f);
  }

  private onRemoteClose(): void {
    this.remoteClosed = true;
    if (this.queue.length === 0) this.fail();
  }

  private fail(): void {
    const w = this.waiter;
    if (w === undefined) return;
    this.waiter = undefined;
    clearTimeout(w.timer);
    w.reject(new FrameIOError('closed', `connection to ${this.peer} is closed`));
  }
}

/**
 * Two connected in-memory ends: what one sends, the other receives. `names` is what
 * each end calls its peer (default 'b' and 'a'); `maxFrame` defaults to the handshake limit.
 */
export function memoryPair(opts: { readonly maxFrame?: number; readonly names?: readonly [string, string] } = {}): [MemoryFrameIO, MemoryFrameIO] {
  const [na, nb] = opts.names ?? ['b', 'a'];
  const max = opts.maxFrame ?? MAX_HANDSHAKE_FRAME;
  const a = new MemoryFrameIO(na, max);
  const b = new MemoryFrameIO(nb, max);
  a.other = b;
  b.other = a;
  return [a, b];
}

export interface SocketFrameIOOptions {
  /** Name for messages; default `address:port` of the remote end. */
  readonly peer?: string;
  readonly maxFrame?: number;
  /** Unread bytes above which reading pauses while nobody waits (default 1 MiB). */
  readonly highWaterMark?: number;
}

/**
 * FrameIO over a TCP socket. Starts in 'handshake' mode; after the handshake call
 * `setMode('connected')` to go on reading 4-byte frames here, or `detach()` to hand
 * the socket and every unread byte to the connection that takes over.
 */
export class SocketFrameIO implements FrameIO {
  readonly peer: string;
  private readonly reader: FrameReader;
  private readonly maxFrame: number;
  private readonly highWater: number;
  private waiter: Waiter | undefined;
  private ended = false;
  private detached = false;

  constructor(
    private readonly socket: net.Socket,
    opts: SocketFrameIOOptions = {},
  ) {
    this.peer = opts.peer ?? `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.maxFrame = opts.maxFrame ?? DEFAULT_MAX_FRAME;
    this.highWater = opts.highWaterMark ?? 1024 * 1024;
    this.reader = new FrameReader('handshake', this.maxFrame);
    socket.setNoDelay(true); // handshake messages and ticks are small; never wait for Nagle
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd); // 'close' follows; the reason is not ours to report
  }

  get mode(): FrameMode {
    return this.reader.mode;
  }

  /** Bytes received but not yet taken as frames. */
  get buffered(): number {
    return this.reader.buffered;
  }

  /** Switch framing; bytes already buffered are parsed with the new header size. */
  setMode(mode: FrameMode): void {
    this.reader.setMode(mode);
  }

  send(frame: Uint8Array): void {
    if (this.ended || this.detached) throw new FrameIOError('closed', `connection to ${this.peer} is closed`);
    const h = HEADER_BYTES[this.reader.mode];
    if (frame.length > limit(this.reader.mode, this.maxFrame)) {
      throw new DistProtocolError('too_large', `frame of ${frame.length} bytes exceeds the ${this.reader.mode} limit`);
    }
    const hdr = Buffer.allocUnsafe(h);
    if (h === 2) hdr.writeUInt16BE(frame.length, 0);
    else hdr.writeUInt32BE(frame.length, 0);
    // Header and payload as two writes in one cork: no copy of a large payload.
    this.socket.cork();
    this.socket.write(hdr);
    if (frame.length > 0) this.socket.write(frame);
    this.socket.uncork();
  }

  recv(timeoutMs: number): Promise<Buffer> {
    if (this.waiter !== undefined) return busy(this.peer);
    let f: Buffer | undefined;
    try {
      f = this.reader.next();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (f !== undefined) {
      if (this.reader.buffered < this.highWater) this.socket.resume();
      return Promise.resolve(f);
    }
    if (this.ended || this.detached) return Promise.reject(new FrameIOError('closed', `connection to ${this.peer} is closed`));
    this.socket.resume();
    return wait(this.peer, timeoutMs, (w) => (this.waiter = w));
  }

  close(): void {
    if (this.detached) return;
    this.ended = true;
    this.socket.destroy();
    this.settle();
  }

  /**
   * Stop reading and hand over the socket (paused, no listeners of ours) with every
   * byte received but not yet taken as a frame. The FrameIO is unusable afterwards.
   */
  detach(): { socket: net.Socket; buffered: Buffer } {
    this.detached = true;
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onEnd);
    this.settle();
    return { socket: this.socket, buffered: this.reader.takeBuffered() };
  }

  private readonly onData = (chunk: Buffer): void => {
    this.reader.push(chunk);
    if (this.waiter === undefined) {
      if (this.reader.buffered >= this.highWater) this.socket.pause();
      return;
    }
    this.settle();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.settle();
  };

  /** Give the pending recv a frame, an error, or the end of the stream, if there is one. */
  private settle(): void {
    const w = this.waiter;
    if (w === undefined) return;
    let f: Buffer | undefined;
    try {
      f = this.reader.next();
    } catch (err) {
      this.waiter = undefined;
      clearTimeout(w.timer);
      return w.reject(err as Error);
    }
    if (f === undefined && !this.ended && !this.detached) return;
    this.waiter = undefined;
    clearTimeout(w.timer);
    if (f !== undefined) w.resolve(f);
    else w.reject(new FrameIOError('closed', `connection to ${this.peer} is closed`));
  }
}
