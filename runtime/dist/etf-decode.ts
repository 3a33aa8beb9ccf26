/**
 * External Term Format (erl_ext_dist) → JS values, with beamq's mapping (the inverse
 * of etf-encode.ts; atoms `true`/`false` become booleans). Defensive: every read is
 * bounds-checked, counts are checked against the bytes left before anything is
 * allocated, and nesting and bignum sizes are bounded. Malformed input throws
 * `DistProtocolError`; nothing else escapes. Pure: no I/O.
 */
import { Pid, Ref } from '../terms.js';
import { DistProtocolError } from './errors.js';
import {
  DEFAULT_MAX_BIG_BYTES,
  DEFAULT_MAX_DEPTH,
  ErlBitBinary,
  ErlExport,
  ErlFun,
  ErlList,
  ErlPort,
  ETF_VERSION,
  MAX_ATOM_CHARS,
  TAG,
} from './etf-terms.js';

export interface DecodeOptions {
  /** Default `DEFAULT_MAX_DEPTH`. */
  readonly maxDepth?: number;
  /** Largest bignum magnitude in bytes; default `DEFAULT_MAX_BIG_BYTES`. */
  readonly maxBigBytes?: number;
}

const TWO18 = 2 ** 18;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class TermReader {
  pos: number;
  private readonly maxDepth: number;
  private readonly maxBig: number;

  constructor(
    private readonly b: Buffer,
    start: number,
    opts: DecodeOptions,
  ) {
    this.pos = start;
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.maxBig = opts.maxBigBytes ?? DEFAULT_MAX_BIG_BYTES;
  }

  private need(n: number, what: string): void {
    if (this.b.length - this.pos < n) {
      throw new DistProtocolError('truncated', `${what} needs ${n} bytes at offset ${this.pos}, ${this.b.length - this.pos} left`);
    }
  }

  /** Each element takes at least `min` bytes: refuse counts the input cannot hold. */
  private count(n: number, min: number, what: string): number {
    if (n * min > this.b.length - this.pos) {
      throw new DistProtocolError('truncated', `${what} of ${n} elements in ${this.b.length - this.pos} bytes`);
    }
    return n;
  }

  u8(): number {
    this.need(1, 'byte');
    return this.b[this.pos++]!;
  }
  private u16(): number {
    this.need(2, '16-bit field');
    const v = this.b.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  private u32(): number {
    this.need(4, '32-bit field');
    const v = this.b.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  private slice(n: number, what: string): Buffer {
    this.need(n, what);
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  term(depth: number): unknown {
    if (depth > this.maxDepth) throw new DistProtocolError('too_deep', `term nested deeper than ${this.maxDepth}`);
    const start = this.pos;
    const tag = this.u8();
    switch (tag) {
      case TAG.SMALL_INTEGER:
        return this.u8();
      case TAG.INTEGER: {
        this.need(4, 'INTEGER_EXT');
        const v = this.b.readInt32BE(this.pos);
        this.pos += 4;
        return v;
      }
      case TAG.SMALL_BIG:
        return this.big(this.u8());
      case TAG.LARGE_BIG:
        return this.big(this.u32());
      case TAG.NEW_FLOAT: {
        this.need(8, 'NEW_FLOAT_EXT');
        const v = this.b.readDoubleBE(this.pos);
        this.pos += 8;
        if (!Number.isFinite(v)) throw new DistProtocolError('malformed', 'NEW_FLOAT_EXT is not a finite number');
        return v;
      }
      case TAG.FLOAT: {
        // Legacy: the float printed with "%.20e", NUL padded to 31 bytes.
        const text = this.slice(31, 'FLOAT_EXT').toString('latin1').replace(/\0.*$/s, '');
        const v = Number(text.trim());
        if (!/^\s*[-+]?\d/.test(text) || !Number.isFinite(v)) throw new DistProtocolError('malformed', `FLOAT_EXT '${text}'`);
        return v;
      }
      case TAG.ATOM:
      case TAG.SMALL_ATOM:
      case TAG.ATOM_UTF8:
      case TAG.SMALL_ATOM_UTF8: {
        const a = this.atomBody(tag);
        return a === 'true' ? true : a === 'false' ? false : a;
      }
      case TAG.SMALL_TUPLE:
        return this.tuple(this.u8(), depth);
      case TAG.LARGE_TUPLE:
        return this.tuple(this.u32(), depth);
      case TAG.NIL:
        return new ErlList([]);
      case TAG.STRING: {
        const s = this.slice(this.u16(), 'STRING_EXT');
        return new ErlList(Array.from(s));
      }
      case TAG.LIST:
        return this.list(depth);
      case TAG.BINARY: {
        const n = this.u32();
        return Buffer.from(this.slice(n, 'BINARY_EXT')); // a copy: the frame may be reused
      }
      case TAG.BIT_BINARY: {
        const n = this.u32();
        const bits = this.u8();
        if (n === 0 || bits < 1 || bits > 8) throw new DistProtocolError('malformed', `BIT_BINARY_EXT of ${n} bytes with ${bits} bits in the last`);
        return new ErlBitBinary(Buffer.from(this.slice(n, 'BIT_BINARY_EXT')), bits);
      }
      case TAG.MAP:
        return this.map(depth);
      case TAG.NEW_PID:
      case TAG.PID: {
        const node = this.atom();
        const id = this.u32();
        const serial = this.u32();
        return new Pid(node, id, serial, tag === TAG.PID ? this.u8() : this.u32());
      }
      case TAG.NEWER_REFERENCE:
      case TAG.NEW_REFERENCE:
        return this.ref(tag);
      case TAG.NEW_PORT:
      case TAG.PORT:
      case TAG.V4_PORT: {
        const node = this.atom();
        let id: bigint;
        if (tag === TAG.V4_PORT) {
          this.need(8, 'V4_PORT_EXT');
          id = this.b.readBigUInt64BE(this.pos);
          this.pos += 8;
        } else id = BigInt(this.u32());
        return new ErlPort(node, id, tag === TAG.PORT ? this.u8() : this.u32());
      }
      case TAG.EXPORT: {
        const module = this.atom();
        const fun = this.atom();
        if (this.u8() !== TAG.SMALL_INTEGER) throw new DistProtocolError('malformed', 'EXPORT_EXT arity is not a SMALL_INTEGER_EXT');
        return new ErlExport(module, fun, this.u8());
      }
      case TAG.NEW_FUN: {
        // Size counts itself and everything after it: keep the whole term opaque.
        const size = this.u32();
        if (size < 4) throw new DistProtocolError('malformed', `NEW_FUN_EXT size ${size}`);
        this.slice(size - 4, 'NEW_FUN_EXT');
        return new ErlFun(Buffer.from(this.b.subarray(start, this.pos)));
      }
      case TAG.ATOM_CACHE_REF:
        throw new DistProtocolError('unsupported', 'ATOM_CACHE_REF: beamq does not negotiate the atom cache');
      case TAG.COMPRESSED:
      case TAG.LOCAL:
      case TAG.FUN:
      case TAG.REFERENCE:
        throw new DistProtocolError('unsupported', `term tag ${tag} is not supported`);
      default:
        throw new DistProtocolError('malformed', `unknown term tag ${tag} at offset ${start}`);
    }
  }

  /** An atom in a position that must be one (node names, modules), as a string. */
  private atom(): string {
    const tag = this.u8();
    if (tag !== TAG.ATOM && tag !== TAG.SMALL_ATOM && tag !== TAG.ATOM_UTF8 && tag !== TAG.SMALL_ATOM_UTF8) {
      throw new DistProtocolError('malformed', `expected an atom, got tag ${tag} at offset ${this.pos - 1}`);
    }
    return this.atomBody(tag);
  }

  private atomBody(tag: number): string {
    const n = tag === TAG.ATOM || tag === TAG.ATOM_UTF8 ? this.u16() : this.u8();
    const bytes = this.slice(n, 'atom');
    if (tag === TAG.ATOM || tag === TAG.SMALL_ATOM) {
      if (n > MAX_ATOM_CHARS) throw new DistProtocolError('malformed', `Latin-1 atom of ${n} characters`);
      return bytes.toString('latin1');
    }
    let s: string;
    try {
      s = strictUtf8.decode(bytes);
    } catch {
      throw new DistProtocolError('malformed', 'atom is not valid UTF-8');
    }
    if (n > MAX_ATOM_CHARS && [...s].length > MAX_ATOM_CHARS) throw new DistProtocolError('malformed', `atom of more than ${MAX_ATOM_CHARS} characters`);
    return s;
  }

  /** Integers in the safe range are numbers; beyond it, bigints. */
  private big(n: number): number | bigint {
    if (n > this.maxBig) throw new DistProtocolError('too_large', `bignum of ${n} bytes (limit ${this.maxBig})`);
    const sign = this.u8();
    if (sign > 1) throw new DistProtocolError('malformed', `bignum sign byte ${sign}`);
    const digits = this.slice(n, 'bignum');
    if (n <= 6) {
      let v = 0;
      for (let i = n - 1; i >= 0; i--) v = v * 256 + digits[i]!;
      return sign === 1 && v !== 0 ? -v : v;
    }
    const mag = BigInt('0x' + (Buffer.from(digits).reverse().toString('hex') || '0'));
    const v = sign === 1 ? -mag : mag;
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  private tuple(n: number, depth: number): unknown[] {
    this.count(n, 1, 'tuple');
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = this.term(depth + 1);
    return out;
  }

  private list(depth: number): ErlList {
    const n = this.count(this.u32(), 1, 'list');
    const items = new Array<unknown>(n);
    for (let i = 0; i < n; i++) items[i] = this.term(depth + 1);
    const tail = this.term(depth + 1);
    // BEAM never nests a list in a tail, but a hand-made input may: keep one canonical shape.
    if (tail instanceof ErlList) return new ErlList(items.concat(tail.items), tail.tail);
    return new ErlList(items, tail);
  }

  private map(depth: number): Map<unknown, unknown> {
    const n = this.count(this.u32(), 2, 'map');
    const m = new Map<unknown, unknown>();
    for (let i = 0; i < n; i++) {
      const k = this.term(depth + 1);
      // Only primitive keys can be compared here; BEAM's binary_to_term refuses duplicates.
      if (typeof k !== 'object' && m.has(k)) throw new DistProtocolError('malformed', `map with a duplicate key (${typeof k})`);
      m.set(k, this.term(depth + 1));
    }
    return m;
  }

  /**
   * A reference: id = w0 + w1·2^18, ext = the words after w1, except that the single
   * zero word our encoder adds for a ref without ext reads back as undefined. So a
   * beamq ref and any BEAM ref of 2–5 words with an 18-bit first word round-trip
   * exactly (a beamq ref whose ext is exactly [0] reads back with ext undefined).
   */
  private ref(tag: number): Ref {
    const len = this.u16();
    if (len < 2 || len > 5) throw new DistProtocolError('unsupported', `reference of ${len} words (beamq handles 2 to 5)`);
    const node = this.atom();
    const creation = tag === TAG.NEW_REFERENCE ? this.u8() : this.u32();
    this.need(4 * len, 'reference words');
    const words: number[] = [];
    for (let i = 0; i < len; i++) words.push(this.u32());
    const [w0, w1] = words as [number, number];
    // erl_ext_dist: "the first word should only have 18 significant bits".
    if (w0 >= TWO18) throw new DistProtocolError('unsupported', `reference first word ${w0} has more than 18 bits`);
    const rest = words.slice(2);
    const ext = rest.length === 1 && rest[0] === 0 ? undefined : rest;
    return new Ref(node, creation, w0 + w1 * TWO18, ext);
  }
}

/**
 * Decode one external term starting at `offset` (which must hold the version byte
 * 131). Returns the term and the offset just past it.
 */
export function decodeTermAt(buf: Buffer, offset: number, opts: DecodeOptions = {}): { term: unknown; end: number } {
  const r = new TermReader(buf, offset, opts);
  const v = r.u8();
  if (v !== ETF_VERSION) throw new DistProtocolError('malformed', `external term starts with ${v}, not ${ETF_VERSION}`);
  const term = r.term(0);
  return { term, end: r.pos };
}

/** Decode a buffer holding exactly one external term (`binary_to_term`). */
export function decodeTerm(buf: Buffer, opts: DecodeOptions = {}): unknown {
  const { term, end } = decodeTermAt(buf, 0, opts);
  if (end !== buf.length) throw new DistProtocolError('malformed', `${buf.length - end} bytes after the term`);
  return term;
}
