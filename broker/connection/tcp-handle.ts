/**
 * MQTT over TCP on libuv's stream handle itself, without node:net's Socket and its two
 * streams. A connect storm is mostly that machinery: on this machine a server that only
 * answers CONNECT and SUBSCRIBE costs ~130 µs of CPU per client over node:net and ~85 µs
 * on the handle (the rest is the kernel), and an idle connection ~2 KB less. The
 * handle is what net.Socket itself drives (lib/net.js, stream_base_commons.js): read
 * callbacks with the byte count in a shared state array, WriteWrap/ShutdownWrap
 * requests. It comes from `process.binding`, which Node documents as deprecated but
 * still serves for these modules; `handleBindings()` checks every piece we use and
 * the listener falls back to node:net when one is missing (`listeners.tcp.backend`).
 */
import { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { getSystemErrorName } from 'node:util';
import { logger } from '../../runtime/index.js';
import { END_LINGER_MS, GatheringTransport, NOBODY, type Receiver, type Transport } from './transport.js';

const log = logger('broker:listeners');

/** What a read callback, write or shutdown request, and a stream handle offer (the subset used). */
interface Req {
  handle: StreamHandle | undefined;
  oncomplete: (this: Req, status: number) => void;
  buffer?: unknown;
  owner?: HandleTransport | undefined;
}
interface StreamHandle {
  onread: (this: StreamHandle, ab: ArrayBuffer | undefined) => void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: Req, b: Buffer): number;
  writev(req: Req, chunks: Buffer[], allBuffers: boolean): number;
  shutdown(req: Req): number;
  close(cb?: () => void): void;
  setNoDelay(on: boolean): number;
  getpeername(out: { address?: string; port?: number }): number;
  readonly writeQueueSize: number;
  [OWNER]?: HandleTransport;
}
interface ServerHandle {
  onconnection: ((this: ServerHandle, err: number, client: StreamHandle | undefined) => void) | null;
  bind(host: string, port: number): number;
  bind6(host: string, port: number, flags: number): number;
  listen(backlog: number): number;
  setNoDelay(on: boolean): number;
  getsockname(out: { port?: number }): number;
  close(cb?: () => void): void;
}
interface Bindings {
  newServer(): ServerHandle;
  newWrite(): Req;
  newShutdown(): Req;
  state: Int32Array;
  kRead: number;
  kOffset: number;
  kAsync: number;
}

const OWNER = Symbol('beamq.transport');
/** A flush at least this large is followed by 'drain' (net.Socket's highWaterMark). */
const DRAIN_AT = 16 * 1024;
/** libuv's end of stream (UV_EOF). */
const UV_EOF = -4095;

let bindings: Bindings | null | undefined;

/** Node's TCP handle bindings, or undefined when this Node does not offer every piece used here. */
export function handleBindings(): Bindings | undefined {
  if (bindings === undefined) bindings = loadBindings() ?? null;
  return bindings ?? undefined;
}

function loadBindings(): Bindings | undefined {
  try {
    const binding = (process as unknown as { binding?: (m: string) => Record<string, unknown> }).binding;
    if (typeof binding !== 'function') return undefined;
    const tcp = binding('tcp_wrap') as { TCP?: new (kind: number) => ServerHandle; constants?: { SERVER?: number } };
    const sw = binding('stream_wrap');
    const TCP = tcp.TCP;
    const SERVER = tcp.constants?.SERVER;
    const WriteWrap = sw['WriteWrap'] as (new () => Req) | undefined;
    const ShutdownWrap = sw['ShutdownWrap'] as (new () => Req) | undefined;
    const state = sw['streamBaseState'];
    const kRead = sw['kReadBytesOrError'];
    const kOffset = sw['kArrayBufferOffset'];
    const kAsync = sw['kLastWriteWasAsync'];
    if (typeof TCP !== 'function' || typeof SERVER !== 'number' || typeof WriteWrap !== 'function' || typeof ShutdownWrap !== 'function') return undefined;
    if (!(state instanceof Int32Array) || typeof kRead !== 'number' || typeof kOffset !== 'number' || typeof kAsync !== 'number') return undefined;
    const proto = TCP.prototype as unknown as Record<string, unknown>;
    for (const m of ['bind', 'bind6', 'listen', 'getsockname', 'readStart', 'readStop', 'writeBuffer', 'writev', 'shutdown', 'close', 'setNoDelay', 'getpeername']) {
      if (typeof proto[m] !== 'function') return undefined;
    }
    return { newServer: () => new TCP(SERVER), newWrite: () => new WriteWrap(), newShutdown: () => new ShutdownWrap(), state, kRead, kOffset, kAsync };
  } catch {
    return undefined;
  }
}

/**
 * Listen on `host:port` (a name is looked up first) and hand each accepted connection,
 * as a Transport, to `onConnection`. Resolves with the port bound and how to stop.
 */
export async function listenHandle(b: Bindings, host: string, port: number, onConnection: (t: Transport) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const address = isIP(host) !== 0 ? host : (await lookup(host)).address;
  const server = b.newServer();
  // Bind, then (if that worked) listen with net.Server's default backlog.
  const err = (isIP(address) === 6 ? server.bind6(address, port, 0) : server.bind(address, port)) || server.listen(511);
  if (err !== 0) {
    server.close();
    const name = getSystemErrorName(err);
    throw Object.assign(new Error(`listen ${name}: ${address}:${port}`), { code: name });
  }
  // Linux hands TCP_NODELAY down from the listening socket to each accepted one: one
  // setsockopt in all rather than one per connection (elsewhere, each sets its own).
  const noDelayInherited = process.platform === 'linux' && server.setNoDelay(true) === 0;
  server.onconnection = (e, client) => {
    if (e !== 0 || client === undefined) {
      // Out of descriptors and the like: the connection is refused by the kernel; the listener goes on.
      log.warn('accept_failed', { error: getSystemErrorName(e) });
      return;
    }
    onConnection(new HandleTransport(b, client, !noDelayInherited));
  };
  const out: { port?: number } = {};
  server.getsockname(out);
  return { port: out.port ?? port, close: () => new Promise<void>((resolve) => server.close(resolve)) };
}

/**
 * A write request no write holds. Node ties a request to a write only when the kernel
 * did not take all of it at once (StreamBase makes its WriteWrap then); a write sent
 * whole leaves the request as it was, and the next write takes it rather than making
 * another (a request is an object from a native template: an instantiation and its
 * garbage, twice per client in a connect storm and once per flush when publishing).
 */
let spareWrite: Req | undefined;

// The handle's and requests' callbacks are shared functions (`this` is the handle or the
// request): a connection costs no closures.
function onRead(this: StreamHandle, ab: ArrayBuffer | undefined): void {
  this[OWNER]?.onRead(ab);
}
function afterWrite(this: Req, status: number): void {
  this.owner?.afterWrite(status);
}
function afterShutdown(this: Req): void {
  this.owner?.closeHandle();
}
const lingerOver = (t: HandleTransport): void => t.closeHandle();

/** A client's TCP stream on its libuv handle: the same behaviour as TcpTransport over net.Socket. */
export class HandleTransport extends GatheringTransport implements Transport {
  readonly kind = 'tcp';
  /**
   * `address:port` and address of the client, found out when first asked: Node's
   * getpeername makes its answer an object property by property, about 10 µs a
   * connection, and most connections never need it (a refusal's log, a will, the first
   * PUBLISH's headers do). After the socket closed it is ''.
   */
  private peerAddr: { address?: string; port?: number } | undefined = undefined;
  private receiver: Receiver = NOBODY;
  /** Reading was asked for once (the first receiver); `paused` stops it meanwhile. */
  private started = false;
  private paused = false;
  /** Closing (destroy, end, EOF or an error): no more writes or reads; `closed` once the handle is. */
  private closing = false;
  /** Writes the kernel has not taken yet: a drain is told when the last one completes. */
  private asyncWrites = 0;
  private handleOpen = true;
  /** After end(), the time the client has to take what is still queued (see END_LINGER_MS). */
  private linger: NodeJS.Timeout | undefined;
  closed = false;

  constructor(
    private readonly b: Bindings,
    private readonly handle: StreamHandle,
    setNoDelay: boolean,
  ) {
    super();
    if (setNoDelay) handle.setNoDelay(true);
    handle[OWNER] = this;
    handle.onread = onRead;
  }

  get peerhost(): string {
    return this.peerAddress().address ?? '';
  }

  get peer(): string {
    const a = this.peerAddress();
    return a.address === undefined ? '' : `${a.address}:${a.port ?? 0}`;
  }

  private peerAddress(): { address?: string; port?: number } {
    if (this.peerAddr !== undefined) return this.peerAddr;
    const a: { address?: string; port?: number } = {};
    if (this.handleOpen) this.handle.getpeername(a);
    return (this.peerAddr = a);
  }

  onRead(ab: ArrayBuffer | undefined): void {
    const n = this.b.state[this.b.kRead]!;
    if (n > 0 && ab !== undefined) {
      if (!this.closing) this.receiver.data(this, Buffer.from(ab, this.b.state[this.b.kOffset], n));
      return;
    }
    if (n === 0) return;
    // As net.Socket without allowHalfOpen: the peer's FIN ends our side too, after what
    // is written; a read error (a reset) closes at once.
    if (n === UV_EOF) this.end();
    else this.destroy();
  }

  protected get shut(): boolean {
    return this.closing;
  }

  protected send(one: Buffer | undefined, out: Buffer[], n: number): void {
    const req = spareWrite ?? this.b.newWrite();
    spareWrite = undefined;
    req.handle = this.handle;
    req.oncomplete = afterWrite;
    req.owner = this;
    const err = one !== undefined ? this.handle.writeBuffer(req, one) : this.handle.writev(req, out, true);
    if (err !== 0) return this.destroy();
    if (this.b.state[this.b.kAsync] !== 0) {
      // The kernel took only part: libuv sends the rest when it can (the request keeps
      // what it sends), and the receiver hears 'drain' once all is sent.
      req.buffer = one ?? out;
      this.asyncWrites++;
      return;
    }
    // Sent whole: Node bound nothing to the request, so the next write can use it.
    req.handle = undefined;
    req.owner = undefined;
    spareWrite = req;
    if (n >= DRAIN_AT) {
      // Sent whole, but the backlog was large while this turn's writes gathered (a
      // receiver may have held messages back for it): as net.Socket, say 'drain'.
      this.receiver.drain(this);
    }
  }

  afterWrite(status: number): void {
    this.asyncWrites--;
    if (status < 0) return this.destroy();
    if (this.asyncWrites === 0 && !this.closing) this.receiver.drain(this);
  }

  get backlog(): number {
    return this.handle.writeQueueSize + this.gathered;
  }

  end(lingerMs = END_LINGER_MS): void {
    this.flush();
    if (this.closing) return;
    this.closing = true;
    this.handle.readStop();
    // The FIN goes after every queued write; then the handle is closed.
    const req = this.b.newShutdown();
    req.handle = this.handle;
    req.oncomplete = afterShutdown;
    req.owner = this;
    if (this.handle.shutdown(req) !== 0) return this.closeHandle();
    // A client that does not read would hold the socket and what waits for it forever.
    if (this.asyncWrites > 0) this.linger = setTimeout(lingerOver, lingerMs, this).unref();
  }

  destroy(): void {
    this.discard(); // nothing more goes out
    this.closing = true;
    this.closeHandle();
  }

  /** Close the handle (once); its receiver hears of it when libuv is done with it. */
  closeHandle(): void {
    if (!this.handleOpen) return;
    this.handleOpen = false;
    if (this.linger !== undefined) clearTimeout(this.linger);
    this.handle.readStop();
    this.handle.close(() => {
      this.closed = true;
      this.receiver.closed(this);
    });
  }

  pause(): void {
    this.paused = true;
    if (this.started && !this.closing) this.handle.readStop();
  }

  resume(): void {
    this.paused = false;
    if (this.started && !this.closing) this.handle.readStart();
  }

  receive(r: Receiver): void {
    this.receiver = r;
    if (!this.started) {
      // Not reading until the first owner is ready: what the client sent waits in the kernel.
      this.started = true;
      if (!this.paused && !this.closing) this.handle.readStart();
    }
    if (this.closed) r.closed(this);
  }
}
