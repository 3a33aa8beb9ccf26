/**
 * JS values → External Term Format (erl_ext_dist), following beamq's mapping: string
 * ↔ atom, Array ↔ tuple, ErlList ↔ list, Buffer ↔ binary, number/bigint ↔ integer or
 * float, Map and plain objects ↔ map, boolean ↔ true/false, null/undefined → undefined.
 * Emits what an OTP 25 node emits with `term_to_binary(T, [{minor_version, 2}])`.
 * Pure: no I/O. Throws `DistProtocolError('unencodable' | 'too_deep')`.
 */
import { Pid, Ref } from '../terms.js';
import { DistProtocolError } from './errors.js';
import { DEFAULT_MAX_DEPTH, ErlBitBinary, ErlExport, ErlFun, ErlList, ErlPort, ETF_VERSION, MAX_ATOM_CHARS, TAG } from './etf-terms.js';

const TWO18 = 2 ** 18;
const UINT32 = 2 ** 32;

function unencodable(what: string): DistProtocolError {
  return new DistProtocolError('unencodable', what);
}

/** True when `s` has no unpaired UTF-16 surrogate (which UTF-8 cannot carry). */
function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    const d = s.charCodeAt(i + 1);
    if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) return false;
    i++;
  }
  return true;
}

const isUint32 = (n: number): boolean => Number.isInteger(n) && n >= 0 && n < UINT32;

/** A growable output buffer with ETF writers. Several terms may be written in sequence. */
export class TermWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(
    initial = 256,
    private readonly maxDepth = DEFAULT_MAX_DEPTH,
  ) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** The bytes written so far (a view; do not keep the writer after taking it). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeUInt16BE(v, this.pos);
  }

  u32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A complete external term: the version byte, then the term. */
  versioned(v: unknown): void {
    this.u8(ETF_VERSION);
    this.term(v, 0);
  }

  term(v: unknown, depth: number): void {
    if (depth > this.maxDepth) throw new DistProtocolError('too_deep', `term nested deeper than ${this.maxDepth} (a cycle?)`);
    switch (typeof v) {
      case 'string':
        return this.atom(v);
      case 'number':
        return this.number(v);
      case 'bigint':
        return this.integer(v);
      case 'boolean':
        return this.atom(v ? 'true' : 'false');
      case 'undefined':
        return this.atom('undefined');
      case 'object':
        if (v === null) return this.atom('undefined');
        return this.object(v, depth);
      default:
        throw unencodable(`a ${typeof v} has no Erlang term`);
    }
  }

  /** SMALL_ATOM_UTF8_EXT below 256 bytes, else ATOM_UTF8_EXT; at most 255 characters. */
  atom(s: string): void {
    if (s.length > MAX_ATOM_CHARS && [...s].length > MAX_ATOM_CHARS) {
      throw unencodable(`atom of more than ${MAX_ATOM_CHARS} characters ('${s.slice(0, 20)}…')`);
    }
    if (!wellFormed(s)) throw unencodable('atom with an unpaired UTF-16 surrogate');
    const n = Buffer.byteLength(s, 'utf8');
    if (n < 256) {
      this.ensure(2 + n);
      this.buf[this.pos++] = TAG.SMALL_ATOM_UTF8;
      this.buf[this.pos++] = n;
    } else {
      this.ensure(3 + n);
      this.buf[this.pos++] = TAG.ATOM_UTF8;
      this.pos = this.buf.writeUInt16BE(n, this.pos);
    }
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** An integral number is an integer (beamq convention); anything else NEW_FLOAT_EXT. */
  private number(n: number): void {
    if (Number.isInteger(n)) {
      if (n >= 0 && n <= 255) {
        this.u8(TAG.SMALL_INTEGER);
        return this.u8(n);
      }
      if (n >= -0x80000000 && n <= 0x7fffffff) {
        this.u8(TAG.INTEGER);
        this.ensure(4);
        this.pos = this.buf.writeInt32BE(n, this.pos);
        return;
      }
      return this.big(BigInt(n));
    }
    if (!Number.isFinite(n)) throw unencodable(`${n} has no Erlang float`);
    this.u8(TAG.NEW_FLOAT);
    this.ensure(8);
    this.pos = this.buf.writeDoubleBE(n, this.pos);
  }

  private integer(b: bigint): void {
    if (b >= -0x80000000n && b <= 0x7fffffffn) return this.number(Number(b));
    this.big(b);
  }

  /** SMALL_BIG_EXT / LARGE_BIG_EXT: sign byte, then the magnitude little-endian. */
  private big(b: bigint): void {
    const neg = b < 0n;
    let hex = (neg ? -b : b).toString(16);
    if (hex.length % 2 === 1) hex = '0' + hex;
    const digits = Buffer.from(hex, 'hex').reverse();
    if (digits.length <= 255) {
      this.u8(TAG.SMALL_BIG);
      this.u8(digits.length);
    } else {
      this.u8(TAG.LARGE_BIG);
      this.u32(digits.length);
    }
    this.u8(neg ? 1 : 0);
    this.bytes(digits);
  }

  private object(v: object, depth: number): void {
    if (Array.isArray(v)) return this.tuple(v, depth);
    if (v instanceof Uint8Array) {
      this.u8(TAG.BINARY);
      this.u32(v.length);
      return this.bytes(v);
    }
    if (v instanceof ErlList) return this.list(v, depth);
    if (v instanceof Pid) return this.pid(v);
    if (v instanceof Ref) return this.ref(v);
    if (v instanceof Map) return this.map(v, depth);
    if (v instanceof ErlBitBinary) return this.bitBinary(v);
    if (v instanceof ErlExport) {
      if (!Number.isInteger(v.arity) || v.arity < 0 || v.arity > 255) throw unencodable(`export arity ${v.arity}`);
      this.u8(TAG.EXPORT);
      this.atom(v.module);
      this.atom(v.fun);
      this.u8(TAG.SMALL_INTEGER);
      return this.u8(v.arity);
    }
    if (v instanceof ErlFun) return this.bytes(v.raw);
    if (v instanceof ErlPort) return this.port(v);
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      // A plain object is a map with atom keys.
      const keys = Object.keys(v);
      this.u8(TAG.MAP);
      this.u32(keys.length);
      for (const k of keys) {
        this.atom(k);
        this.term((v as Record<string, unknown>)[k], depth + 1);
      }
      return;
    }
    throw unencodable(`an instance of ${(v.constructor as { name?: string } | undefined)?.name ?? 'an unknown class'} has no Erlang term`);
  }

  private tuple(v: readonly unknown[], depth: number): void {
    if (v.length <= 255) {
      this.u8(TAG.SMALL_TUPLE);
      this.u8(v.length);
    } else {
      this.u8(TAG.LARGE_TUPLE);
      this.u32(v.length);
    }
    for (const x of v) this.term(x, depth + 1);
  }

  private list(l: ErlList, depth: number): void {
    // `[a | [b]]` is `[a, b]`: flatten nested list tails into one cell chain.
    let items = l.items;
    let tail = l.tail;
    while (tail instanceof ErlList) {
      items = items.concat(tail.items);
      tail = tail.tail;
    }
    if (items.length === 0) {
      // No cells: the list is its tail (`[]` when proper).
      if (tail === undefined) return this.u8(TAG.NIL);
      return this.term(tail, depth);
    }
    // STRING_EXT for a short proper list of bytes, as BEAM itself does.
    if (tail === undefined && items.length <= 0xffff && items.every((c) => typeof c === 'number' && Number.isInteger(c) && c >= 0 && c <= 255)) {
      this.u8(TAG.STRING);
      this.u16(items.length);
      return this.bytes(Uint8Array.from(items as number[]));
    }
    this.u8(TAG.LIST);
    this.u32(items.length);
    for (const x of items) this.term(x, depth + 1);
    if (tail === undefined) this.u8(TAG.NIL);
    else this.term(tail, depth + 1);
  }

  private map(m: ReadonlyMap<unknown, unknown>, depth: number): void {
    this.u8(TAG.MAP);
    this.u32(m.size);
    for (const [k, x] of m) {
      this.term(k, depth + 1);
      this.term(x, depth + 1);
    }
  }

  private bitBinary(b: ErlBitBinary): void {
    if (b.data.length === 0 || !Number.isInteger(b.bits) || b.bits < 1 || b.bits > 8) {
      throw unencodable(`bitstring of ${b.data.length} bytes with ${b.bits} bits in the last`);
    }
    this.u8(TAG.BIT_BINARY);
    this.u32(b.data.length);
    this.u8(b.bits);
    this.bytes(b.data);
  }

  /** NEW_PID_EXT: full 32-bit id and serial (DFLAG_V4_NC) and a 32-bit creation. */
  private pid(p: Pid): void {
    if (!isUint32(p.id) || !isUint32(p.serial) || !isUint32(p.creation)) throw unencodable(`pid ${p.toString()} out of range`);
    this.u8(TAG.NEW_PID);
    this.atom(p.node);
    this.u32(p.id);
    this.u32(p.serial);
    this.u32(p.creation);
  }

  /**
   * NEWER_REFERENCE_EXT. A beamq ref's numeric id is split as BEAM splits its own:
   * an 18-bit first word, then the rest; `ext` (or one zero word) follows, so the
   * reference has BEAM's usual three words and at most five (DFLAG_V4_NC).
   */
  private ref(r: Ref): void {
    const hi = Math.floor(r.id / TWO18);
    const words = [r.id - hi * TWO18, hi, ...(r.ext ?? [0])];
    if (!Number.isSafeInteger(r.id) || r.id < 0 || hi >= UINT32 || words.length > 5 || !words.every(isUint32) || !isUint32(r.creation)) {
      throw unencodable(`reference ${r.toString()} out of range`);
    }
    this.u8(TAG.NEWER_REFERENCE);
    this.u16(words.length);
    this.atom(r.node);
    this.u32(r.creation);
    for (const w of words) this.u32(w);
  }

  private port(p: ErlPort): void {
    if (p.id < 0n || p.id >= 1n << 64n || !isUint32(p.creation)) throw unencodable('port out of range');
    const v4 = p.id >= BigInt(UINT32);
    this.u8(v4 ? TAG.V4_PORT : TAG.NEW_PORT);
    this.atom(p.node);
    if (v4) {
      this.ensure(8);
      this.pos = this.buf.writeBigUInt64BE(p.id, this.pos);
    } else this.u32(Number(p.id));
    this.u32(p.creation);
  }
}

/** One external term, version byte included (`term_to_binary`). */
export function encodeTerm(term: unknown, opts: { readonly maxDepth?: number } = {}): Buffer {
  const w = new TermWriter(256, opts.maxDepth);
  w.versioned(term);
  return Buffer.from(w.finish());
}
