/**
 * One byte stream to a client, over TCP (libuv's handle, tcp-handle.ts, or node:net)
 * or WebSocket (ws), behind one interface, so the session actor does not care which it
 * owns. TCP writes within one turn are gathered and handed to the socket together, by
 * one microtask for all the sockets written in that turn.
 */
import type net from 'node:net';
import type { WebSocket } from 'ws';
import { microtask } from '../../runtime/index.js';

export interface Transport {
  readonly kind: 'tcp' | 'ws';
  /** `address:port` of the client. */
  readonly peer: string;
  readonly peerhost: string;
  write(b: Buffer): void;
  /** Bytes written but not yet sent to the kernel. */
  readonly backlog: number;
  /** Flush what is written, then close; a client that has not taken it all within `lingerMs` (default END_LINGER_MS) is cut off. */
  end(lingerMs?: number): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  /**
   * Hand the transport to a new receiver (ownership moves from the connect wait to the
   * acceptor to the session actor): from now on its data, close and drain go there. A
   * receiver set after the close is told at once.
   */
  receive(r: Receiver): void;
  readonly closed: boolean;
}

/**
 * Who gets a transport's events. One object rather than three callbacks: a session
 * keeps its receiver for as long as its client stays connected, and three closures
 * with their context cost four times what one small object does.
 */
export interface Receiver {
  data(t: Transport, chunk: Buffer): void;
  closed(t: Transport): void;
  drain(t: Transport): void;
}

/** A receiver that drops everything (until the first real one). */
export const NOBODY: Receiver = { data: () => undefined, closed: () => undefined, drain: () => undefined };

/** The transport of a socket: the socket's listeners are shared functions, not closures per socket. */
const OWNER = Symbol('beamq.transport');
type OwnedSocket = net.Socket & { [OWNER]: TcpTransport };

const noop = (): void => undefined;

/** How long end() waits for a client to take what is still queued to it before closing anyway. */
export const END_LINGER_MS = 10_000;

/** Below this many bytes, a turn's packets are copied into one buffer rather than handed over one by one. */
const COALESCE_MAX = 16 * 1024;

/** A TCP transport that gathers a turn's writes: `flush` hands them to the kernel. */
interface Flushable {
  flush(): void;
}

/** Transports written this turn, flushed by one microtask. */
let dirty: Flushable[] = [];
const flushAll = (): void => {
  const ts = dirty;
  dirty = [];
  for (const t of ts) t.flush();
};

/** Flush `t` when the current turn ends (its first write of the turn calls this). */
function scheduleFlush(t: Flushable): void {
  if (dirty.length === 0) microtask(flushAll);
  dirty.push(t);
}

/**
 * The write side both TCP transports share: what a turn writes is gathered, and handed
 * to the kernel (`send`) by one microtask when the turn ends — one syscall for a
 * session's burst of packets.
 */
export abstract class GatheringTransport implements Flushable {
  private out: Buffer[] | undefined;
  private outBytes = 0;

  /** Nothing more goes out (closing or closed). */
  protected abstract get shut(): boolean;
  /**
   * Hand the turn's `bytes` to the kernel: as `one` buffer when it is one packet or
   * small enough to copy together (COALESCE_MAX), else `one` is undefined and the
   * packets in `out` go by one writev.
   */
  protected abstract send(one: Buffer | undefined, out: Buffer[], bytes: number): void;

  write(b: Buffer): void {
    if (this.shut) return;
    if (this.out === undefined) {
      this.out = [b];
      scheduleFlush(this);
    } else this.out.push(b);
    this.outBytes += b.length;
  }

  flush(): void {
    const out = this.out;
    if (out === undefined) return;
    this.out = undefined;
    const n = this.outBytes;
    this.outBytes = 0;
    if (this.shut) return;
    this.send(out.length === 1 ? out[0]! : n <= COALESCE_MAX ? Buffer.concat(out, n) : undefined, out, n);
  }

  /** Bytes written this turn, not yet handed over. */
  protected get gathered(): number {
    return this.outBytes;
  }

  /** Drop what this turn wrote (the transport is destroyed). */
  protected discard(): void {
    this.out = undefined;
    this.outBytes = 0;
  }
}

// Listeners of every socket (`this` is the socket), so a connection costs no closures.
function onSocketData(this: OwnedSocket, c: Buffer): void {
  this[OWNER].socketData(c);
}
function onSocketClose(this: OwnedSocket): void {
  this[OWNER].socketClosed();
}
function onSocketDrain(this: OwnedSocket): void {
  this[OWNER].socketDrained();
}

/** A client's TCP stream on node:net (the fallback of tcp-handle.ts, see `listeners.tcp.backend`). */
export class TcpTransport extends GatheringTransport implements Transport {
  readonly kind = 'tcp';
  readonly peer: string;
  readonly peerhost: string;
  private receiver = NOBODY;
  private reading = false;
  closed = false;

  constructor(private readonly socket: net.Socket) {
    super();
    this.peerhost = socket.remoteAddress ?? '';
    // Read now: once the socket is closed, remotePort is gone, and `peer` is logged then too.
    this.peer = `${this.peerhost}:${socket.remotePort ?? 0}`;
    socket.setNoDelay(true);
    (socket as OwnedSocket)[OWNER] = this;
    // No 'data' listener yet: the socket does not read until its first owner is ready
    // (the acceptor's first turn can come after the client's CONNECT has arrived).
    socket.on('drain', onSocketDrain);
    socket.on('error', noop); // 'close' follows
    socket.on('close', onSocketClose);
  }

  /** The socket's events, from the shared listeners above (not part of Transport). */
  socketData(c: Buffer): void {
    this.receiver.data(this, c);
  }

  socketClosed(): void {
    this.closed = true;
    this.receiver.closed(this);
  }

  socketDrained(): void {
    this.receiver.drain(this);
  }

  protected get shut(): boolean {
    return this.closed;
  }

  protected send(one: Buffer | undefined, out: Buffer[]): void {
    const s = this.socket;
    if (one !== undefined) s.write(one);
    else {
      s.cork();
      for (const b of out) s.write(b);
      s.uncork();
    }
  }

  get backlog(): number {
    return this.socket.writableLength + this.gathered;
  }

  end(lingerMs = END_LINGER_MS): void {
    this.flush();
    if (this.closed) return; // the peer went first: end() would only make an error to throw away
    const s = this.socket;
    s.end();
    s.destroySoon();
    // A client that does not read would hold the socket and what waits for it forever.
    if (s.writableLength > 0) setTimeout(() => s.destroy(), lingerMs).unref();
  }

  destroy(): void {
    this.discard(); // nothing more goes out
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  receive(r: Receiver): void {
    this.receiver = r;
    if (!this.reading) {
      this.reading = true;
      this.socket.on('data', onSocketData);
    }
    if (this.closed) r.closed(this);
  }
}

/** Bytes buffered beyond which a write asks for a drain notice (net.Socket's default highWaterMark). */
const WS_HIGH_WATER = 16 * 1024;

export class WsTransport implements Transport {
  readonly kind = 'ws';
  private needDrain = false;
  private receiver: Receiver | undefined;
  /** Messages that came before the first owner was ready (see TcpTransport). */
  private early: Buffer[] = [];
  closed = false;

  constructor(
    private readonly ws: WebSocket,
    readonly peerhost: string,
    readonly peer: string,
  ) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean) => {
      // [MQTT-6.0.0-1]: MQTT travels in binary frames only; anything else closes the connection.
      if (!isBinary) return ws.terminate();
      const b = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (this.receiver === undefined) this.early.push(b);
      else this.receiver.data(this, b);
    });
    ws.on('error', noop);
    ws.on('close', () => {
      this.closed = true;
      this.receiver?.closed(this);
    });
  }

  write(b: Buffer): void {
    if (this.closed) return;
    // As a net.Socket's 'drain': only after the buffer went over its high-water mark.
    if (this.ws.bufferedAmount > WS_HIGH_WATER) this.needDrain = true;
    this.ws.send(b, { binary: true }, (err) => {
      // ws reports success as null, not undefined.
      if (this.needDrain && (err === undefined || err === null) && this.ws.bufferedAmount === 0) {
        this.needDrain = false;
        this.receiver?.drain(this);
      }
    });
  }

  get backlog(): number {
    return this.ws.bufferedAmount;
  }

  end(): void {
    this.ws.close();
  }

  destroy(): void {
    this.ws.terminate();
  }

  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  receive(r: Receiver): void {
    this.receiver = r;
    const early = this.early;
    this.early = [];
    for (const b of early) r.data(this, b);
    if (this.closed) r.closed(this);
  }
}
