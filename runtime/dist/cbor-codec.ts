/**
 * The value encoding between two beamq nodes: CBOR. A hand-written encoder covers the
 * values messages are mostly made of (numbers, strings, arrays, pids, refs, bytes) and
 * hands any other part of a value (an object, a Map, a bigint) to cbor-x; cbor-x decodes. Pids and refs travel as CBOR tags, and
 * those of the two nodes at the ends of the connection carry a one-byte node code
 * instead of the node name (what ERTS's atom cache does for BEAM peers).
 * Plain objects arrive as objects and Maps as Maps (tag 259).
 * Pure: no sockets, no logging; decoding throws DistProtocolError.
 */
import { addExtension, Decoder, Encoder } from 'cbor-x';
import { Pid, Ref, type NodeName } from '../terms.js';
import { DistProtocolError } from './errors.js';

/** CBOR tags for our identity terms (first-come-first-served private range). */
export const TAG_PID = 40100;
export const TAG_REF = 40101;

/**
 * The two nodes of a connection, as seen by the node that encodes or decodes. On the
 * wire, node code 0 is the node that wrote the frame and 1 the node that reads it.
 */
export interface Endpoints {
  readonly self: NodeName;
  readonly selfCreation: number;
  readonly peer: NodeName;
  readonly peerCreation: number;
}

// The endpoints of the encode or decode running now. cbor-x extensions are global, so
// the connection's context reaches them through this; encode and decode are synchronous.
let ends: Endpoints | undefined;

/** 0 for the writer's own node, 1 for the reader's, -1 for any other (name sent in full). */
export function nodeCode(e: Endpoints, node: NodeName, creation: number): -1 | 0 | 1 {
  if (node === e.self && creation === e.selfCreation) return 0;
  if (node === e.peer && creation === e.peerCreation) return 1;
  return -1;
}

const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** The pid a decoded tag body stands for. */
function pidOf(a: unknown): Pid {
  if (Array.isArray(a)) {
    if (a.length === 3 && ends !== undefined && (a[0] === 0 || a[0] === 1) && isUint(a[1]) && isUint(a[2])) {
      return a[0] === 0 ? new Pid(ends.peer, a[1], a[2], ends.peerCreation) : new Pid(ends.self, a[1], a[2], ends.selfCreation);
    }
    if (a.length === 4 && typeof a[0] === 'string' && isUint(a[1]) && isUint(a[2]) && isUint(a[3])) return new Pid(a[0], a[1], a[2], a[3]);
  }
  throw new DistProtocolError('malformed', 'bad pid');
}

function refOf(a: unknown): Ref {
  if (Array.isArray(a)) {
    if (a.length === 2 && ends !== undefined && (a[0] === 0 || a[0] === 1) && isUint(a[1])) {
      return a[0] === 0 ? new Ref(ends.peer, ends.peerCreation, a[1]) : new Ref(ends.self, ends.selfCreation, a[1]);
    }
    if ((a.length === 3 || a.length === 4) && typeof a[0] === 'string' && isUint(a[1]) && isUint(a[2])) {
      const ext: unknown = a[3];
      if (ext === undefined) return new Ref(a[0], a[1], a[2]);
      if (Array.isArray(ext) && ext.every(isUint)) return new Ref(a[0], a[1], a[2], ext);
    }
  }
  throw new DistProtocolError('malformed', 'bad ref');
}

// The tag bodies: [code, id, serial] / [code, id] between the endpoints, else in full.
const pidBody = (p: Pid): unknown[] => {
  const c = ends === undefined ? -1 : nodeCode(ends, p.node, p.creation);
  return c < 0 ? [p.node, p.id, p.serial, p.creation] : [c, p.id, p.serial];
};
const refBody = (r: Ref): unknown[] => {
  const c = ends === undefined || r.ext !== undefined ? -1 : nodeCode(ends, r.node, r.creation);
  if (c >= 0) return [c, r.id];
  return r.ext === undefined ? [r.node, r.creation, r.id] : [r.node, r.creation, r.id, r.ext];
};

addExtension({ Class: Pid, tag: TAG_PID, encode: (p: Pid, enc: (v: unknown) => Uint8Array) => enc(pidBody(p)), decode: pidOf });
addExtension({ Class: Ref, tag: TAG_REF, encode: (r: Ref, enc: (v: unknown) => Uint8Array) => enc(refBody(r)), decode: refOf });

// No record structures (peers share no state). Without records cbor-x writes objects
// as CBOR maps and Maps with tag 259, and decodes them back to objects and Maps.
const encoder = new Encoder({ useRecords: false, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false });

/** Nesting the hand-written encoder follows before it hands the value to cbor-x. */
const MAX_FAST_DEPTH = 64;

/**
 * Appends CBOR values to a growing buffer. Values the fast path does not know (objects,
 * Maps, bigints, …) go through cbor-x; a value neither can encode (a function, a
 * symbol) is refused and leaves the buffer as it was.
 */
export class ValueWriter {
  private buf: Buffer;
  private pos = 0;
  /** Why the last refused value could not be encoded (cbor-x's message). */
  refusal = '';

  constructor(
    private readonly ends: Endpoints,
    initialBytes = 16 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written since the last reset. */
  get length(): number {
    return this.pos;
  }

  /** The bytes written (a view, valid until the next write or reset). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  /** Append one value; false, with nothing appended, when it cannot be encoded. */
  write(v: unknown): boolean {
    const start = this.pos;
    try {
      if (this.fast(v, 0)) return true;
    } catch {
      // A cycle (stack overflow) or the like: cbor-x decides.
    }
    this.pos = start;
    return this.slow(v);
  }

  /** Append `v` as cbor-x encodes it (the same bytes whether alone or inside an array). */
  private slow(v: unknown): boolean {
    const prev = ends;
    ends = this.ends;
    try {
      const b = encoder.encode(v);
      this.room(b.length);
      this.buf.set(b, this.pos);
      this.pos += b.length;
      return true;
    } catch (err) {
      this.refusal = err instanceof Error ? err.message : String(err);
      return false;
    } finally {
      ends = prev;
    }
  }

  private fast(v: unknown, depth: number): boolean {
    switch (typeof v) {
      case 'number':
        this.number(v);
        return true;
      case 'string':
        this.string(v);
        return true;
      case 'boolean':
        this.room(1);
        this.buf[this.pos++] = v ? 0xf5 : 0xf4;
        return true;
      case 'undefined':
        this.room(1);
        this.buf[this.pos++] = 0xf7;
        return true;
      case 'object': {
        if (v === null) {
          this.room(1);
          this.buf[this.pos++] = 0xf6;
          return true;
        }
        if (depth > MAX_FAST_DEPTH) return false;
        if (Array.isArray(v)) {
          const a = v as unknown[];
          this.head(4, a.length);
          for (let i = 0; i < a.length; i++) if (!this.fast(a[i], depth + 1)) return false;
          return true;
        }
        if (v instanceof Pid) {
          this.tag(TAG_PID);
          const c = nodeCode(this.ends, v.node, v.creation);
          if (c < 0) return this.fast([v.node, v.id, v.serial, v.creation], depth + 1);
          this.head(4, 3);
          this.head(0, c);
          this.number(v.id);
          this.number(v.serial);
          return true;
        }
        if (v instanceof Ref) {
          this.tag(TAG_REF);
          const c = v.ext === undefined ? nodeCode(this.ends, v.node, v.creation) : -1;
          if (c < 0) return this.fast(v.ext === undefined ? [v.node, v.creation, v.id] : [v.node, v.creation, v.id, v.ext], depth + 1);
          this.head(4, 2);
          this.head(0, c);
          this.number(v.id);
          return true;
        }
        if (v instanceof Uint8Array) {
          // A byte string, as cbor-x writes a Buffer without tagUint8Array.
          this.head(2, v.length);
          this.room(v.length);
          this.buf.set(v, this.pos);
          this.pos += v.length;
          return true;
        }
        // An object, a Map, …: cbor-x writes this part only, so an array around it
        // (a forwarded message with MQTT 5 properties) keeps the fast path.
        return this.slow(v);
      }
      case 'bigint':
        return this.slow(v);
      default:
        return false; // function, symbol: cbor-x refuses them (with its message) in write()
    }
  }

  private number(n: number): void {
    // -0 is an integer here and travels as 0, as cbor-x writes it on the other path.
    if (Number.isInteger(n)) {
      if (n >= 0 && n <= 0xffffffff) return this.head(0, n);
      if (n < 0 && n >= -0x100000000) return this.head(1, -1 - n);
    }
    // Every other number as a double: exact, as cbor-x decodes it back.
    this.room(9);
    this.buf[this.pos] = 0xfb;
    this.buf.writeDoubleBE(n, this.pos + 1);
    this.pos += 9;
  }

  private string(s: string): void {
    const n = s.length;
    if (n < 24) {
      // Short ASCII (atoms, tags): one header byte, one byte per char, no native call.
      this.room(1 + n);
      const b = this.buf;
      const at = this.pos;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[at + 1 + i] = c;
      }
      if (i === n) {
        b[at] = 0x60 | n;
        this.pos = at + 1 + n;
        return;
      }
    }
    const len = Buffer.byteLength(s, 'utf8');
    this.head(3, len);
    this.room(len);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  private tag(t: number): void {
    this.room(3);
    this.buf[this.pos] = 0xd9;
    this.buf[this.pos + 1] = t >> 8;
    this.buf[this.pos + 2] = t & 0xff;
    this.pos += 3;
  }

  /** A CBOR head: major type and argument (below 2^32). */
  private head(major: number, arg: number): void {
    this.room(5);
    const b = this.buf;
    const m = major << 5;
    if (arg < 24) b[this.pos++] = m | arg;
    else if (arg < 0x100) {
      b[this.pos++] = m | 24;
      b[this.pos++] = arg;
    } else if (arg < 0x10000) {
      b[this.pos++] = m | 25;
      b[this.pos++] = arg >>> 8;
      b[this.pos++] = arg;
    } else {
      // Byte by byte: cheaper than writeUInt32BE's checks for a per-value write.
      b[this.pos++] = m | 26;
      b[this.pos++] = arg >>> 24;
      b[this.pos++] = arg >>> 16;
      b[this.pos++] = arg >>> 8;
      b[this.pos++] = arg;
    }
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/** Decode a CBOR sequence of exactly `count` values. */
export function decodeValues(bytes: Buffer, count: number, e: Endpoints): unknown[] {
  const prev = ends;
  ends = e;
  let values: unknown[] | undefined;
  try {
    values = bytes.length === 0 ? [] : (decoder.decodeMultiple(bytes) as unknown[]);
  } catch (err) {
    if (err instanceof DistProtocolError) throw err;
    throw new DistProtocolError('malformed', `undecodable values: ${(err as Error).message}`);
  } finally {
    ends = prev;
  }
  if (!Array.isArray(values) || values.length !== count) {
    throw new DistProtocolError('malformed', `expected ${count} values, found ${Array.isArray(values) ? values.length : 'none'}`);
  }
  return values;
}
