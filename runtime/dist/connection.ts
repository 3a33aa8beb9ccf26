/**
 * One connected peer, after the handshake: 4-byte frames both ways, an empty frame
 * is a tick. Outgoing messages are gathered and written once per turn (one syscall for
 * a burst): to a beamq peer as one batch frame (batch.ts), to a BEAM one ETF frame
 * each. Incoming frames are decoded and handed to `onFrame`. A malformed frame or a
 * silent peer closes the connection.
 * No process of its own: the net kernel owns it, the remote ops feed it.
 */
import type net from 'node:net';
import { logger } from '../log.js';
import type { NodeName } from '../terms.js';
import { BatchReader, BatchWriter } from './batch.js';
import type { Endpoints } from './cbor-codec.js';
import { DistProtocolError } from './errors.js';
import { decodeDistMessage, encodeDistMessage, hasPayload, type Control } from './etf-dist.js';
import { DEFAULT_MAX_FRAME, FrameReader } from './framing.js';
import { microtask } from '../process/microtask.js';

const log = logger('runtime:dist');

/** Above this many unsent bytes a warning is logged (the peer is slow; nothing is dropped). */
const BACKLOG_WARN_BYTES = 64 * 1024 * 1024;
/**
 * A batch this large is written at once rather than at the end of the turn: the peer
 * starts decoding while we go on encoding, and a frame stays far below any frame limit.
 */
const FLUSH_BYTES = 64 * 1024;

export interface PeerInfo {
  readonly node: NodeName;
  readonly flags: bigint;
  readonly creation: number;
  /** The peer is a beamq node: batch frames (batch.ts). Otherwise a BEAM: ETF frames. */
  readonly beamq: boolean;
  /** The peer did not publish itself (a hidden node: not in nodes(), not made transitive). */
  readonly hidden: boolean;
}

export type DownReason = 'closed' | 'net_tick_timeout' | 'protocol_error' | 'disconnect' | 'shutdown' | 'replaced';

export interface ConnectionHooks {
  /** A read is about to hand frames to onFrame; afterFrames follows, even on a throw. */
  beforeFrames(conn: Connection): void;
  onFrame(conn: Connection, ctl: Control, msg: unknown): void;
  /** Every complete frame of a read was handed to onFrame (run the processes they woke). */
  afterFrames(conn: Connection): void;
  onDown(conn: Connection, reason: DownReason): void;
}

/**
 * While a connection's frames are delivered and the processes they woke run (onData),
 * whatever those processes send is flushed right after, in the same callback, rather
 * than by a microtask per connection: a request answered at once (a call, an echo) goes
 * back without the microtask's cost, which Node makes an async resource per call.
 */
let reading = false;
let toFlush: Connection[] = [];

function flushRead(): void {
  if (toFlush.length === 0) return;
  const cs = toFlush;
  toFlush = [];
  for (const c of cs) c.flush();
}

export class Connection {
  private readonly reader: FrameReader;
  /** Beamq peers: the batch being gathered, and the reader of theirs. */
  private readonly batch: BatchWriter | undefined;
  private readonly batchReader: BatchReader | undefined;
  /** BEAM peers: frames (with their length headers) waiting for the flush. */
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushQueued = false;
  private closed = false;
  /** Set when a frame (or tick) arrived since the last tick check. */
  private heard = true;
  /** Consecutive tick intervals with nothing heard. */
  private silent = 0;
  /** Set when we wrote something since the last tick interval. */
  private spoke = false;
  private warnedBacklog = false;

  constructor(
    readonly info: PeerInfo,
    private readonly socket: net.Socket,
    buffered: Buffer,
    private readonly hooks: ConnectionHooks,
    /** Our node's name and creation (the other end of `info`). */
    local: { readonly name: NodeName; readonly creation: number },
    maxFrame = DEFAULT_MAX_FRAME,
  ) {
    this.reader = new FrameReader('connected', maxFrame);
    if (info.beamq) {
      const ends: Endpoints = { self: local.name, selfCreation: local.creation, peer: info.node, peerCreation: info.creation };
      this.batch = new BatchWriter(ends);
      this.batchReader = new BatchReader(ends);
    }
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('close', () => this.down('closed'));
    socket.on('error', (err) => log.debug('dist_socket_error', { node: info.node, error: err.message }));
    socket.on('drain', () => {
      this.warnedBacklog = false;
    });
    // Frames that came with the handshake's last message: delivered now, but the
    // processes they wake run later, once the net kernel has the connection up.
    if (buffered.length > 0) this.readFrames(buffered);
    socket.resume();
  }

  get node(): NodeName {
    return this.info.node;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Queue one control message (with its payload, if the operation carries one). */
  send(ctl: Control, msg?: unknown): void {
    if (this.closed) return;
    const b = this.batch;
    if (b !== undefined) {
      if (!b.add(ctl, msg)) return this.unencodable(ctl, b.refusal);
      if (b.bytes >= FLUSH_BYTES) return this.flush();
    } else {
      let payload: Buffer;
      try {
        payload = this.encodeEtf(ctl, msg);
      } catch (err) {
        return this.unencodable(ctl, (err as Error).message);
      }
      const hdr = Buffer.allocUnsafe(4);
      hdr.writeUInt32BE(payload.length, 0);
      this.out.push(hdr, payload);
      this.outBytes += 4 + payload.length;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      if (reading) toFlush.push(this);
      else microtask(this.flush);
    }
  }

  /**
   * The message cannot be encoded (a function, a symbol...): drop it, as a send to a
   * node that refuses it; the sender learns nothing, as in Erlang.
   */
  private unencodable(ctl: Control, why: string): void {
    log.warn('dist_unencodable_message', { node: this.node, op: ctl[0], error: why });
  }

  /**
   * ETF for a BEAM peer. JS values with no Erlang term (an Error in an exit reason,
   * `undefined`, a function) are mapped to the nearest term rather than dropped.
   */
  private encodeEtf(ctl: Control, msg: unknown): Buffer {
    const has = hasPayload(ctl[0]);
    try {
      return has ? encodeDistMessage(ctl, msg) : encodeDistMessage(ctl);
    } catch {
      const safeCtl = toErlang(ctl) as Control;
      return has ? encodeDistMessage(safeCtl, toErlang(msg)) : encodeDistMessage(safeCtl);
    }
  }

  /**
   * Called every tick interval (net_ticktime / 4): send a tick if we said nothing,
   * and report a peer silent for four intervals (OTP's net_tick_timeout).
   */
  tick(): 'ok' | 'timeout' {
    if (this.closed) return 'ok';
    if (this.heard) {
      this.heard = false;
      this.silent = 0;
    } else if (++this.silent >= 4) return 'timeout';
    if (!this.spoke && !this.pending) this.socket.write(Buffer.alloc(4));
    this.spoke = false;
    return 'ok';
  }

  /** Close the connection; `onDown` follows once with `reason`. */
  close(reason: DownReason): void {
    if (this.closed) return;
    if (this.pending) this.flush();
    this.socket.end();
    this.socket.destroySoon();
    this.down(reason);
  }

  private get pending(): boolean {
    return this.outBytes > 0 || (this.batch !== undefined && this.batch.size > 0);
  }

  /** Hand what is queued to the socket (by a microtask, or at the end of a read: flushRead). */
  readonly flush = (): void => {
    this.flushQueued = false;
    if (this.closed || !this.pending) return;
    let data: Buffer;
    if (this.batch !== undefined) data = this.batch.take();
    else {
      data = Buffer.concat(this.out);
      this.out = [];
      this.outBytes = 0;
    }
    this.spoke = true;
    // One write for the whole burst: the kernel sees a single large send.
    const ok = this.socket.write(data);
    if (!ok && this.socket.writableLength > BACKLOG_WARN_BYTES && !this.warnedBacklog) {
      this.warnedBacklog = true;
      log.warn('dist_backlog', { node: this.node, bytes: this.socket.writableLength });
    }
  };

  private readonly onData = (chunk: Buffer): void => {
    reading = true;
    this.hooks.beforeFrames(this);
    try {
      this.readFrames(chunk);
    } finally {
      this.hooks.afterFrames(this);
      reading = false;
      flushRead();
    }
  };

  /** Hand every complete frame to onFrame. */
  private readFrames(chunk: Buffer): void {
    this.heard = true;
    this.reader.push(chunk);
    try {
      for (;;) {
        const f = this.reader.next();
        if (f === undefined) break;
        if (f.length === 0) continue; // a tick
        if (this.batchReader !== undefined) this.batchReader.read(f, this.deliver);
        else {
          const { ctl, msg } = decodeEtf(f);
          this.hooks.onFrame(this, ctl, msg);
        }
        if (this.closed) break;
      }
    } catch (err) {
      if (!(err instanceof DistProtocolError)) throw err;
      log.error('dist_protocol_error', { node: this.node, code: err.code, error: err.message });
      this.socket.destroy();
      this.down('protocol_error');
    }
  }

  private readonly deliver = (ctl: Control, msg: unknown): boolean => {
    this.hooks.onFrame(this, ctl, msg);
    return !this.closed;
  };

  private down(reason: DownReason): void {
    if (this.closed) return;
    this.closed = true;
    this.out = [];
    this.outBytes = 0;
    this.hooks.onDown(this, reason);
  }
}

/** The nearest Erlang term for a JS value: Error → {Name, <<Message>>}; functions, symbols → undefined. */
function toErlang(v: unknown, depth = 0): unknown {
  if (depth > 64) return 'undefined';
  if (v instanceof Error) return [v.name, Buffer.from(v.message)];
  if (typeof v === 'function' || typeof v === 'symbol' || v === undefined) return 'undefined';
  if (Array.isArray(v)) return v.map((x) => toErlang(x, depth + 1));
  return v;
}

function decodeEtf(f: Buffer): { ctl: Control; msg: unknown } {
  const m = decodeDistMessage(f);
  return { ctl: m.control, msg: m.payload };
}
