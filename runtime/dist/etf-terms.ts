/**
 * The JS side of the External Term Format: tag numbers (erl_ext_dist) and the small
 * classes for Erlang terms that have no native JS counterpart (lists, bitstrings,
 * external funs, opaque funs, ports). Shared by the ETF encoder and decoder.
 * Pure: data only.
 */

/** The version byte that starts every external term. */
export const ETF_VERSION = 131;

/** erl_ext_dist tags. */
export const TAG = {
  NEW_FLOAT: 70,
  BIT_BINARY: 77,
  COMPRESSED: 80,
  ATOM_CACHE_REF: 82,
  NEW_PID: 88,
  NEW_PORT: 89,
  NEWER_REFERENCE: 90,
  SMALL_INTEGER: 97,
  INTEGER: 98,
  FLOAT: 99,
  ATOM: 100,
  REFERENCE: 101,
  PORT: 102,
  PID: 103,
  SMALL_TUPLE: 104,
  LARGE_TUPLE: 105,
  NIL: 106,
  STRING: 107,
  LIST: 108,
  BINARY: 109,
  SMALL_BIG: 110,
  LARGE_BIG: 111,
  NEW_FUN: 112,
  EXPORT: 113,
  NEW_REFERENCE: 114,
  SMALL_ATOM: 115,
  MAP: 116,
  FUN: 117,
  ATOM_UTF8: 118,
  SMALL_ATOM_UTF8: 119,
  V4_PORT: 120,
  LOCAL: 121,
} as const;

/** Nesting beyond this is refused by both encoder and decoder (a cycle, or hostile input). */
export const DEFAULT_MAX_DEPTH = 1_000;
/** Largest bignum magnitude accepted when decoding, in bytes (2^(8*16384)). */
export const DEFAULT_MAX_BIG_BYTES = 16_384;
/** An atom holds at most 255 characters. */
export const MAX_ATOM_CHARS = 255;

/**
 * An Erlang list. `items` are the elements; `tail` is undefined for a proper list and
 * holds the final tail of an improper one (`[1 | 2]` is `items [1], tail 2`).
 * `[]` is an ErlList with no items. Strings from Erlang are lists of code points.
 */
export class ErlList {
  readonly tail: unknown;
  constructor(
    readonly items: unknown[],
    tail?: unknown,
  ) {
    this.tail = tail;
  }

  get isProper(): boolean {
    return this.tail === undefined;
  }

  /** An Erlang string (charlist) of the code points of `s`. */
  static charlist(s: string): ErlList {
    return new ErlList([...s].map((c) => c.codePointAt(0)!));
  }

  /** The text if this is a proper list of Unicode code points, else undefined. */
  toCharString(): string | undefined {
    if (!this.isProper) return undefined;
    let s = '';
    for (const c of this.items) {
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return undefined;
      s += String.fromCodePoint(c);
    }
    return s;
  }
}

/** A bitstring whose length is not a whole number of bytes: `bits` (1–8) of the last byte count. */
export class ErlBitBinary {
  constructor(
    readonly data: Buffer,
    readonly bits: number,
  ) {}

  /** Length in bits. */
  get bitLength(): number {
    return (this.data.length - 1) * 8 + this.bits;
  }
}

/** An external fun, `fun Module:Function/Arity` (EXPORT_EXT). */
export class ErlExport {
  constructor(
    readonly module: string,
    readonly fun: string,
    readonly arity: number,
  ) {}
}

/**
 * A local fun (NEW_FUN_EXT) kept as its exact bytes, tag included: beamq cannot run
 * it, but can carry it back to a BEAM node unchanged.
 */
export class ErlFun {
  constructor(readonly raw: Buffer) {}
}

/** A port identifier of a BEAM node (NEW_PORT_EXT / V4_PORT_EXT). */
export class ErlPort {
  constructor(
    readonly node: string,
    readonly id: bigint,
    readonly creation: number,
  ) {}
}
