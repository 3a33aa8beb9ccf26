/**
 * Distribution capability flags (ERTS dist protocol, "Distribution Flags"; OTP 25
 * `kernel/include/dist.hrl`), the beamq capability bit, and the flag set a beamq
 * node advertises. Flags are 64-bit, so they are bigints throughout.
 * Pure: constants and bit arithmetic only.
 */

/** Every DFLAG defined by OTP up to 25, by the names ERTS uses. */
export const DFLAG = {
  PUBLISHED: 0x1n,
  ATOM_CACHE: 0x2n, // obsolete
  EXTENDED_REFERENCES: 0x4n,
  DIST_MONITOR: 0x8n,
  FUN_TAGS: 0x10n,
  DIST_MONITOR_NAME: 0x20n,
  HIDDEN_ATOM_CACHE: 0x40n, // obsolete
  NEW_FUN_TAGS: 0x80n,
  EXTENDED_PIDS_PORTS: 0x100n,
  EXPORT_PTR_TAG: 0x200n,
  BIT_BINARIES: 0x400n,
  NEW_FLOATS: 0x800n,
  UNICODE_IO: 0x1000n,
  DIST_HDR_ATOM_CACHE: 0x2000n,
  SMALL_ATOM_TAGS: 0x4000n,
  UTF8_ATOMS: 0x10000n,
  MAP_TAG: 0x20000n,
  BIG_CREATION: 0x40000n,
  SEND_SENDER: 0x80000n,
  BIG_SEQTRACE_LABELS: 0x100000n,
  EXIT_PAYLOAD: 0x400000n,
  FRAGMENTS: 0x800000n,
  HANDSHAKE_23: 0x1000000n,
  UNLINK_ID: 0x2000000n,
  // dist.hrl and real OTP 25 handshakes (reference/erlang/handshake-ok.txt, flags
  // 0xd07df7fbd) put this at bit 26; the prose of erl_dist_protocol.md says bit 36.
  MANDATORY_25_DIGEST: 0x4000000n,
  SPAWN: 1n << 32n,
  NAME_ME: 1n << 33n,
  V4_NC: 1n << 34n,
  ALIAS: 1n << 35n,
} as const;

export type DflagName = keyof typeof DFLAG;

/**
 * beamq's own capability bit: "this peer is a beamq node; after the handshake, speak
 * beamq's CBOR codec instead of ETF". Bit 60 because OTP allocates new flags upward
 * from bit 32 (ALIAS is 35, OTP 26/27 add 36 and 37) and keeps bits 27–31 reserved
 * for handshake changes, so the top of the word stays free for years; and a BEAM node
 * simply ANDs the two flag words, so an unknown bit is ignored, never refused.
 * Both sides must set it for the CBOR codec to be used.
 */
export const BEAMQ_FLAG = 1n << 60n;

/** What an OTP 25 node refuses to connect without (dist.hrl MANDATORY_DFLAGS_25). */
export const MANDATORY_OTP25: bigint =
  DFLAG.EXTENDED_REFERENCES |
  DFLAG.FUN_TAGS |
  DFLAG.EXTENDED_PIDS_PORTS |
  DFLAG.NEW_FUN_TAGS |
  DFLAG.EXPORT_PTR_TAG |
  DFLAG.BIT_BINARIES |
  DFLAG.NEW_FLOATS |
  DFLAG.UTF8_ATOMS |
  DFLAG.MAP_TAG |
  DFLAG.BIG_CREATION |
  DFLAG.HANDSHAKE_23;

/** OTP 26 adds the new link protocol and version-4 node containers (FEATURES D5). */
export const MANDATORY_OTP26: bigint = MANDATORY_OTP25 | DFLAG.UNLINK_ID | DFLAG.V4_NC;

/**
 * What beamq requires of a peer: OTP 25's mandatory set. Our ETF codec relies on
 * every one of them (UTF-8 atoms, maps, NEW_PID_EXT, NEWER_REFERENCE_EXT, new floats).
 */
export const REQUIRED_PEER_FLAGS: bigint = MANDATORY_OTP25;

/**
 * Everything beamq implements. Deliberately absent: DIST_HDR_ATOM_CACHE and
 * FRAGMENTS (so a BEAM peer sends plain pass-through 'p' frames, one per message),
 * the obsolete atom caches, and NAME_ME (we always have a name).
 */
const CAPABILITIES: bigint =
  MANDATORY_OTP26 |
  DFLAG.MANDATORY_25_DIGEST |
  DFLAG.DIST_MONITOR |
  DFLAG.DIST_MONITOR_NAME |
  DFLAG.UNICODE_IO |
  DFLAG.SMALL_ATOM_TAGS |
  DFLAG.SEND_SENDER |
  DFLAG.BIG_SEQTRACE_LABELS |
  DFLAG.EXIT_PAYLOAD |
  DFLAG.SPAWN |
  DFLAG.ALIAS |
  BEAMQ_FLAG;

/** The flags a beamq node sends in its handshake; hidden nodes do not set PUBLISHED. */
export function advertisedFlags(opts: { readonly hidden?: boolean } = {}): bigint {
  return opts.hidden === true ? CAPABILITIES : CAPABILITIES | DFLAG.PUBLISHED;
}

/** The flags both sides use after the handshake: the intersection (ERTS doc). */
export function negotiatedFlags(ours: bigint, peer: bigint): bigint {
  return ours & peer;
}

/** Bits of `required` that `flags` lacks (0n when none). */
export function missingFlags(flags: bigint, required: bigint = REQUIRED_PEER_FLAGS): bigint {
  return required & ~flags;
}

export function hasFlag(flags: bigint, flag: bigint): boolean {
  return (flags & flag) === flag;
}

/** True when both words carry the beamq bit: use the CBOR codec. */
export function beamqBoth(ours: bigint, peer: bigint): boolean {
  return hasFlag(ours, BEAMQ_FLAG) && hasFlag(peer, BEAMQ_FLAG);
}

const BY_BIT = new Map<bigint, string>([...Object.entries(DFLAG).map(([k, v]) => [v, k] as [bigint, string]), [BEAMQ_FLAG, 'BEAMQ']]);

/** Names of the set bits, low to high, for logs and error messages (`bit_N` if unknown). */
export function flagNames(flags: bigint): string[] {
  const out: string[] = [];
  for (let i = 0n; i < 64n; i++) {
    const bit = 1n << i;
    if ((flags & bit) !== 0n) out.push(BY_BIT.get(bit) ?? `bit_${i}`);
  }
  return out;
}
