/**
 * One connected peer, after the handshake: 4-byte frames both ways, an empty frame
 * is a tick. Outgoing frames are gathered and written once per turn (one syscall for
 * a burst); incoming frames are decoded (CBOR from a beamq peer, ETF from a BEAM) and
 * handed to `onFrame`. A malformed frame or a silent peer closes the connection.
 * No process of its own: the net kernel owns it, the remote ops feed it.
 */
import type net from 'node:net';
import { logger } from '../log.js';
import type { NodeName } from '../terms.js';
import { decodeCbor, encodeCbor } from './cbor-codec.js';
import { DistProtocolError } from './errors.js';
import { decodeDistMessage, encodeDistMessage, hasPayload, type Control } from './etf-dist.js';
import { DEFAULT_MAX_FRAME, FrameReader } from './framing.js';

const log = logger('runtime:dist');

/** Above this many unsent bytes a warning is logged (the peer is slow; nothing is dropped). */
const BACKLOG_WARN_BYTES = 64 * 1024 * 1024;

export interface PeerInfo {
  readonly node: NodeName;
  readonly flags: bigint;
  readonly creation: number;
  /** The peer is a beamq node: frames are CBOR. Otherwise a BEAM: frames are ETF. */
  readonly beamq: boolean;
  /** The peer did not publish itself (a hidden node: not in nodes(), not made transitive). */
  readonly hidden: boolean;
}

export type DownReason = 'closed' | 'net_tick_timeout' | 'protocol_error' | 'disconnect' | 'shutdown' | 'replaced';

export interface ConnectionHooks {
  onFrame(conn: Connection, ctl: Control, msg: unknown): void;
  onDown(conn: Connection, reason: DownReason): void;
}

export class Connection {
  private readonly reader: FrameReader;
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
    maxFrame = DEFAULT_MAX_FRAME,
  ) {
    this.reader = new FrameReader('connected', maxFrame);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('close', () => this.down('closed'));
    socket.on('error', (err) => log.debug('dist_socket_error', { node: info.node, error: err.message }));
    socket.on('drain', () => {
      this.warnedBacklog = false;
    });
    if (buffered.length > 0) this.onData(buffered);
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
    let payload: Buffer;
    try {
      payload = this.info.beamq ? encodeCbor(ctl, msg) : this.encodeEtf(ctl, msg);
    } catch (err) {
      // The message cannot be encoded (a function, a symbol...): drop it, as a send to
      // a node that refuses it; the sender learns nothing, as in Erlang.
      log.warn('dist_unencodable_message', { node: this.node, op: ctl[0], error: (err as Error).message });
      return;
    }
    const hdr = Buffer.allocUnsafe(4);
    hdr.writeUInt32BE(payload.length, 0);
    this.out.push(hdr, payload);
    this.outBytes += 4 + payload.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
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
    if (!this.spoke && this.outBytes === 0) this.socket.write(Buffer.alloc(4));
    this.spoke = false;
    return 'ok';
  }

  /** Close the connection; `onDown` follows once with `reason`. */
  close(reason: DownReason): void {
    if (this.closed) return;
    if (this.outBytes > 0) this.flush();
    this.socket.end();
    this.socket.destroySoon();
    this.down(reason);
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    if (this.outBytes === 0 || this.closed) return;
    const frames = this.out;
    this.out = [];
    this.outBytes = 0;
    this.spoke = true;
    // One write for the whole burst: the kernel sees a single large send.
    const ok = this.socket.write(Buffer.concat(frames));
    if (!ok && this.socket.writableLength > BACKLOG_WARN_BYTES && !this.warnedBacklog) {
      this.warnedBacklog = true;
      log.warn('dist_backlog', { node: this.node, bytes: this.socket.writableLength });
    }
  };

  private readonly onData = (chunk: Buffer): void => {
    this.heard = true;
    this.reader.push(chunk);
    try {
      for (;;) {
        const f = this.reader.next();
        if (f === undefined) return;
        if (f.length === 0) continue; // a tick
        const { ctl, msg } = this.info.beamq ? decodeCbor(f) : decodeEtf(f);
        this.hooks.onFrame(this, ctl, msg);
        if (this.closed) return;
      }
    } catch (err) {
      if (!(err instanceof DistProtocolError)) throw err;
      log.error('dist_protocol_error', { node: this.node, code: err.code, error: err.message });
      this.socket.destroy();
      this.down('protocol_error');
    }
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
