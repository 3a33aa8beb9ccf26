/**
 * One byte stream to a client, over TCP (node:net) or WebSocket (ws), behind one
 * interface, so the session actor does not care which it owns. Writes within one
 * turn are corked and flushed together.
 */
import type net from 'node:net';
import type { WebSocket } from 'ws';

export interface Transport {
  readonly kind: 'tcp' | 'ws';
  /** `address:port` of the client. */
  readonly peer: string;
  readonly peerhost: string;
  write(b: Buffer): void;
  /** Bytes written but not yet sent to the kernel. */
  readonly backlog: number;
  /** Flush what is written, then close. */
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  /** Replace the handlers (ownership moves from the acceptor to the session actor). */
  onData(fn: (chunk: Buffer) => void): void;
  onClose(fn: () => void): void;
  onDrain(fn: () => void): void;
  readonly closed: boolean;
}

const noop = (): void => undefined;

export class TcpTransport implements Transport {
  readonly kind = 'tcp';
  readonly peer: string;
  readonly peerhost: string;
  private dataFn: ((c: Buffer) => void) | undefined;
  private closeFn: () => void = noop;
  private drainFn: () => void = noop;
  private corked = false;
  closed = false;

  constructor(private readonly socket: net.Socket) {
    this.peerhost = socket.remoteAddress ?? '';
    this.peer = `${this.peerhost}:${socket.remotePort ?? 0}`;
    socket.setNoDelay(true);
    // No 'data' listener yet: the socket does not read until its first owner is ready
    // (the acceptor's first turn can come after the client's CONNECT has arrived).
    socket.on('drain', () => this.drainFn());
    socket.on('error', noop); // 'close' follows
    socket.on('close', () => {
      this.closed = true;
      this.closeFn();
    });
  }

  write(b: Buffer): void {
    if (this.closed) return;
    if (!this.corked) {
      // Everything written until the current turn ends goes out in one syscall.
      this.corked = true;
      this.socket.cork();
      queueMicrotask(this.uncork);
    }
    this.socket.write(b);
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  get backlog(): number {
    return this.socket.writableLength;
  }

  end(): void {
    if (this.corked) this.uncork();
    if (this.closed) return; // the peer went first: end() would only make an error to throw away
    this.socket.end();
    this.socket.destroySoon();
  }

  destroy(): void {
    this.socket.destroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  onData(fn: (chunk: Buffer) => void): void {
    if (this.dataFn === undefined) this.socket.on('data', (c: Buffer) => this.dataFn!(c));
    this.dataFn = fn;
  }

  onClose(fn: () => void): void {
    this.closeFn = fn;
    if (this.closed) fn();
  }

  onDrain(fn: () => void): void {
    this.drainFn = fn;
  }
}

export class WsTransport implements Transport {
  readonly kind = 'ws';
  private dataFn: ((c: Buffer) => void) | undefined;
  /** Messages that came before the first owner was ready (see TcpTransport). */
  private early: Buffer[] = [];
  private closeFn: () => void = noop;
  private drainFn: () => void = noop;
  closed = false;

  constructor(
    private readonly ws: WebSocket,
    readonly peerhost: string,
    readonly peer: string,
  ) {
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data: Buffer | Buffer[] | ArrayBuffer) => {
      const b = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (this.dataFn === undefined) this.early.push(b);
      else this.dataFn(b);
    });
    ws.on('error', noop);
    ws.on('close', () => {
      this.closed = true;
      this.closeFn();
    });
  }

  write(b: Buffer): void {
    if (this.closed) return;
    this.ws.send(b, { binary: true }, (err) => {
      if (err === undefined && this.ws.bufferedAmount === 0) this.drainFn();
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

  onData(fn: (chunk: Buffer) => void): void {
    this.dataFn = fn;
    const early = this.early;
    this.early = [];
    for (const b of early) fn(b);
  }

  onClose(fn: () => void): void {
    this.closeFn = fn;
    if (this.closed) fn();
  }

  onDrain(fn: () => void): void {
    this.drainFn = fn;
  }
}
