/**
 * The frame format between two beamq nodes (both ends are ours; a BEAM peer gets ETF).
 * One connected frame carries a batch of control messages: a binary header per message,
 * then every message's value as one CBOR sequence, so the receiver makes one CBOR call
 * per frame and the hot operations never spell out a pid or a node name.
 *
 *   frame   = 0xB1, count:u32, headerBytes:u32, header × count, CBOR value × count
 *   header  = kind:u8, fields (big-endian):
 *     0 GENERIC      value is the control tuple, the message appended when the op has one
 *     1 SEND_SENDER  from:pid, to:pid         value is the message
 *     2 SEND         to:pid                   value is the message
 *     3 REG_SEND     from:pid, name:u8+utf8   value is the message
 *     4 ALIAS_SEND   from:pid, alias:ref      value is the message
 *   pid     = node:u8, id:u32, serial:u32     ref = node:u8, id:u32
 *   node    = 0 the node that wrote the frame, 1 the node that reads it (creation implied)
 * Anything else (a pid of a third node or an older incarnation, a long name) goes GENERIC.
 * Pure: no sockets, no logging; reading throws DistProtocolError.
 */
import { Pid, Ref } from '../terms.js';
import { decodeValues, nodeCode, ValueWriter, type Endpoints } from './cbor-codec.js';
import { DistProtocolError } from './errors.js';
import { CTRL, hasPayload, type Control } from './etf-dist.js';

export const BATCH_MARK = 0xb1;
/** Mark, count, header bytes. */
const PREFIX = 9;

const K_GENERIC = 0;
const K_SEND_SENDER = 1;
const K_SEND = 2;
const K_REG_SEND = 3;
const K_ALIAS_SEND = 4;

/** Longest registered name sent in a header (3 UTF-8 bytes per UTF-16 unit fit a u8 length). */
const MAX_HEADER_NAME = 85;

/** Gathers control messages into one frame. Values are encoded as they are added. */
export class BatchWriter {
  private hdr = Buffer.allocUnsafe(4 * 1024);
  private hpos = 0;
  private count = 0;
  private readonly values: ValueWriter;

  constructor(private readonly ends: Endpoints) {
    this.values = new ValueWriter(ends);
  }

  /** Messages in the batch. */
  get size(): number {
    return this.count;
  }

  /** Why the last refused message could not be encoded. */
  get refusal(): string {
    return this.values.refusal;
  }

  /** Bytes the frame will have, length prefix included. */
  get bytes(): number {
    return this.count === 0 ? 0 : 4 + PREFIX + this.hpos + this.values.length;
  }

  /** Add one control message; false, with nothing added, when its value cannot be encoded. */
  add(ctl: Control, msg: unknown): boolean {
    let kind = K_GENERIC;
    switch (ctl[0]) {
      case CTRL.SEND_SENDER:
        if (this.code(ctl[1]) >= 0 && this.code(ctl[2]) >= 0) kind = K_SEND_SENDER;
        break;
      case CTRL.SEND:
        if (this.code(ctl[2]) >= 0) kind = K_SEND;
        break;
      case CTRL.REG_SEND:
        if (this.code(ctl[1]) >= 0 && ctl[3].length <= MAX_HEADER_NAME) kind = K_REG_SEND;
        break;
      case CTRL.ALIAS_SEND: {
        const a = ctl[2];
        if (this.code(ctl[1]) >= 0 && a.ext === undefined && a.id <= 0xffffffff && nodeCode(this.ends, a.node, a.creation) >= 0) kind = K_ALIAS_SEND;
        break;
      }
    }
    const value = kind !== K_GENERIC ? msg : hasPayload(ctl[0]) ? [...ctl, msg] : ctl;
    if (!this.values.write(value)) return false;
    this.room(1 + 9 + 1 + 3 * MAX_HEADER_NAME);
    const h = this.hdr;
    h[this.hpos++] = kind;
    switch (kind) {
      case K_SEND_SENDER:
        this.pid(ctl[1] as Pid);
        this.pid(ctl[2] as Pid);
        break;
      case K_SEND:
        this.pid(ctl[2] as Pid);
        break;
      case K_REG_SEND: {
        this.pid(ctl[1] as Pid);
        const n = h.write(ctl[3] as string, this.hpos + 1, 'utf8');
        h[this.hpos] = n;
        this.hpos += 1 + n;
        break;
      }
      case K_ALIAS_SEND: {
        this.pid(ctl[1] as Pid);
        const a = ctl[2] as Ref;
        h[this.hpos] = nodeCode(this.ends, a.node, a.creation);
        h.writeUInt32BE(a.id, this.hpos + 1);
        this.hpos += 5;
        break;
      }
    }
    this.count++;
    return true;
  }

  /** The frame, with its 4-byte length prefix, for everything added; the writer is empty after. */
  take(): Buffer {
    const vals = this.values.bytes();
    const total = PREFIX + this.hpos + vals.length;
    const out = Buffer.allocUnsafe(4 + total);
    out.writeUInt32BE(total, 0);
    out[4] = BATCH_MARK;
    out.writeUInt32BE(this.count, 5);
    out.writeUInt32BE(this.hpos, 9);
    this.hdr.copy(out, 4 + PREFIX, 0, this.hpos);
    vals.copy(out, 4 + PREFIX + this.hpos);
    this.hpos = 0;
    this.count = 0;
    this.values.reset();
    return out;
  }

  private code(p: Pid): number {
    return p.id <= 0xffffffff && p.serial <= 0xffffffff ? nodeCode(this.ends, p.node, p.creation) : -1;
  }

  private pid(p: Pid): void {
    const h = this.hdr;
    const at = this.hpos;
    h[at] = nodeCode(this.ends, p.node, p.creation);
    // Byte by byte: cheaper than writeUInt32BE's checks, and this runs per message.
    const id = p.id;
    h[at + 1] = id >>> 24;
    h[at + 2] = id >>> 16;
    h[at + 3] = id >>> 8;
    h[at + 4] = id;
    const sr = p.serial;
    h[at + 5] = sr >>> 24;
    h[at + 6] = sr >>> 16;
    h[at + 7] = sr >>> 8;
    h[at + 8] = sr;
    this.hpos = at + 9;
  }

  private room(n: number): void {
    if (this.hpos + n <= this.hdr.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.hdr.length * 2, this.hpos + n));
    this.hdr.copy(next, 0, 0, this.hpos);
    this.hdr = next;
  }
}

/**
 * Reads batch frames. Consecutive messages between the same two processes (a stream,
 * a conversation) share their pid objects and control tuple instead of allocating new
 * ones per message; control tuples are read-only, so sharing is safe.
 */
export class BatchReader {
  private lastFrom: Pid | undefined;
  private lastTo: Pid | undefined;
  private lastCtl: Control | undefined;

  constructor(private readonly ends: Endpoints) {}

  /**
   * Hand every message of `frame` (without its length prefix) to `deliver`, in order,
   * until it returns false. Throws DistProtocolError, before delivering anything, when
   * the frame is malformed.
   */
  read(frame: Buffer, deliver: (ctl: Control, msg: unknown) => boolean): void {
    if (frame.length < PREFIX || frame[0] !== BATCH_MARK) throw new DistProtocolError('malformed', 'not a beamq batch frame');
    const count = frame.readUInt32BE(1);
    const hlen = frame.readUInt32BE(5);
    if (count === 0 || PREFIX + hlen > frame.length || hlen < count) {
      throw new DistProtocolError('malformed', `batch of ${count} messages with ${hlen} header bytes in a ${frame.length}-byte frame`);
    }
    const end = PREFIX + hlen;
    const values = decodeValues(frame.subarray(end), count, this.ends);
    // Parse every header before delivering: a bad frame delivers nothing.
    const ctls = new Array<Control>(count);
    let pos = PREFIX;
    const need = (n: number): void => {
      if (pos + n > end) throw new DistProtocolError('malformed', 'batch header truncated');
    };
    const pid = (): Pid => {
      need(9);
      const code = frame[pos]!;
      const id = frame.readUInt32BE(pos + 1);
      const serial = frame.readUInt32BE(pos + 5);
      pos += 9;
      return this.pidAt(code, id, serial);
    };
    for (let i = 0; i < count; i++) {
      need(1);
      const kind = frame[pos++];
      let ctl: Control;
      switch (kind) {
        case K_GENERIC: {
          const v = values[i];
          if (!Array.isArray(v) || typeof v[0] !== 'number') throw new DistProtocolError('malformed', 'generic entry is not a control tuple');
          if (hasPayload(v[0] as Control[0])) values[i] = v.pop();
          else values[i] = undefined;
          ctl = v as unknown as Control;
          break;
        }
        case K_SEND_SENDER: {
          const from = pid();
          const to = pid();
          const last = this.lastCtl;
          ctl = last !== undefined && last[0] === CTRL.SEND_SENDER && last[1] === from && last[2] === to ? last : [CTRL.SEND_SENDER, from, to];
          break;
        }
        case K_SEND: {
          const to = pid();
          const last = this.lastCtl;
          ctl = last !== undefined && last[0] === CTRL.SEND && last[2] === to ? last : [CTRL.SEND, '', to];
          break;
        }
        case K_REG_SEND: {
          const from = pid();
          need(1);
          const n = frame[pos++]!;
          need(n);
          const name = frame.toString('utf8', pos, pos + n);
          pos += n;
          ctl = [CTRL.REG_SEND, from, '', name];
          break;
        }
        case K_ALIAS_SEND: {
          const from = pid();
          need(5);
          const code = frame[pos]!;
          const id = frame.readUInt32BE(pos + 1);
          pos += 5;
          if (code > 1) throw new DistProtocolError('malformed', `bad node code ${code}`);
          const e = this.ends;
          ctl = [CTRL.ALIAS_SEND, from, code === 0 ? new Ref(e.peer, e.peerCreation, id) : new Ref(e.self, e.selfCreation, id)];
          break;
        }
        default:
          throw new DistProtocolError('malformed', `unknown batch entry kind ${String(kind)}`);
      }
      ctls[i] = ctl;
      this.lastCtl = ctl;
    }
    if (pos !== end) throw new DistProtocolError('malformed', `${end - pos} stray header bytes`);
    for (let i = 0; i < count; i++) if (!deliver(ctls[i]!, values[i])) return;
  }

  /** The pid for a header's fields, reusing the last `from`/`to` object when it is the same pid. */
  private pidAt(code: number, id: number, serial: number): Pid {
    const e = this.ends;
    let node: string;
    let creation: number;
    if (code === 0) {
      node = e.peer;
      creation = e.peerCreation;
    } else if (code === 1) {
      node = e.self;
      creation = e.selfCreation;
    } else throw new DistProtocolError('malformed', `bad node code ${code}`);
    const f = this.lastFrom;
    if (f !== undefined && f.id === id && f.serial === serial && f.node === node) return f;
    const t = this.lastTo;
    if (t !== undefined && t.id === id && t.serial === serial && t.node === node) return t;
    const p = new Pid(node, id, serial, creation);
    if (code === 0) this.lastFrom = p;
    else this.lastTo = p;
    return p;
  }
}
