/**
 * The messages of the distribution handshake, version 6 (ERTS dist protocol,
 * "The Handshake in Detail"), as pure encoders and decoders of frame payloads
 * (without the 2-byte length). Decoders throw `DistProtocolError`.
 * Pure: no sockets, no timers, no logging.
 */
import { DistProtocolError } from './errors.js';

/** Tag bytes. 'N' is both the v6 send_name (A→B) and the v6 challenge (B→A). */
export const HS_TAG = {
  NAME_V5: 0x6e, // 'n'
  NAME: 0x4e, // 'N'
  STATUS: 0x73, // 's'
  CHALLENGE: 0x4e, // 'N'
  COMPLEMENT: 0x63, // 'c'
  REPLY: 0x72, // 'r'
  ACK: 0x61, // 'a'
} as const;

export const DIGEST_BYTES = 16;

/**
 * The statuses B may send (step 3). `named:` (DFLAG_NAME_ME) is not listed: beamq
 * never asks for a dynamic name, so receiving it is a protocol error.
 */
export type HandshakeStatus = 'ok' | 'ok_simultaneous' | 'nok' | 'not_allowed' | 'alive';
export const STATUSES: readonly HandshakeStatus[] = ['ok', 'ok_simultaneous', 'nok', 'not_allowed', 'alive'];

/** send_name as A sends it; `version` is 5 for the old 'n' form, 6 for 'N'. */
export interface SendName {
  readonly version: 5 | 6;
  readonly flags: bigint;
  /** Absent in the old form: it comes later in the complement message. */
  readonly creation: number | undefined;
  readonly name: string;
}

export interface Challenge {
  readonly flags: bigint;
  readonly challenge: number;
  readonly creation: number;
  readonly name: string;
}

export interface ChallengeReply {
  readonly challenge: number;
  readonly digest: Buffer;
}

export interface Complement {
  /** Bits 32–63 of A's flags, already shifted into place. */
  readonly flagsHigh: bigint;
  readonly creation: number;
}

function need(b: Buffer, n: number, what: string): void {
  if (b.length < n) throw new DistProtocolError('truncated', `${what} of ${b.length} bytes, need at least ${n}`);
}

function tag(b: Buffer, expected: number, what: string): void {
  need(b, 1, what);
  if (b[0] !== expected) {
    throw new DistProtocolError('malformed', `expected ${what} (tag '${String.fromCharCode(expected)}'), got tag ${b[0]}`);
  }
}

// ---------------------------------------------------------------------------
// send_name (step 2)

/** 'N' Flags:64 Creation:32 Nlen:16 Name */
export function encodeSendName(m: { readonly flags: bigint; readonly creation: number; readonly name: string }): Buffer {
  const name = Buffer.from(m.name, 'utf8');
  const b = Buffer.allocUnsafe(15 + name.length);
  b[0] = HS_TAG.NAME;
  b.writeBigUInt64BE(m.flags, 1);
  b.writeUInt32BE(m.creation >>> 0, 9);
  b.writeUInt16BE(name.length, 13);
  name.copy(b, 15);
  return b;
}

/** 'n' Version:16 Flags:32 Name — only for tests and tools: beamq always sends 'N'. */
export function encodeSendNameV5(m: { readonly flags: bigint; readonly name: string }): Buffer {
  const b = Buffer.allocUnsafe(7);
  b[0] = HS_TAG.NAME_V5;
  b.writeUInt16BE(5, 1);
  b.writeUInt32BE(Number(m.flags & 0xffffffffn), 3);
  return Buffer.concat([b, Buffer.from(m.name, 'utf8')]);
}

/** Either send_name form. Extra bytes after the v6 name are ignored, as the spec requires. */
export function decodeSendName(b: Buffer): SendName {
  need(b, 1, 'send_name');
  if (b[0] === HS_TAG.NAME) {
    need(b, 15, "send_name 'N'");
    const nlen = b.readUInt16BE(13);
    need(b, 15 + nlen, "send_name 'N' with its name");
    return { version: 6, flags: b.readBigUInt64BE(1), creation: b.readUInt32BE(9), name: utf8(b.subarray(15, 15 + nlen), 'send_name') };
  }
  if (b[0] === HS_TAG.NAME_V5) {
    need(b, 7, "send_name 'n'");
    // "Version must always have the value 5" (even from a node that supports 6).
    if (b.readUInt16BE(1) !== 5) throw new DistProtocolError('malformed', `send_name 'n' with version ${b.readUInt16BE(1)}`);
    return { version: 5, flags: BigInt(b.readUInt32BE(3)), creation: undefined, name: utf8(b.subarray(7), 'send_name') };
  }
  throw new DistProtocolError('malformed', `expected send_name ('N' or 'n'), got tag ${b[0]}`);
}

// ---------------------------------------------------------------------------
// status (steps 3 and 3B)

/** 's' Status — also used for A's 'true'/'false' answer to 'alive'. */
export function encodeStatus(status: HandshakeStatus | 'true' | 'false'): Buffer {
  return Buffer.concat([Buffer.of(HS_TAG.STATUS), Buffer.from(status, 'latin1')]);
}

/** The status text; the caller decides which values it accepts at its step. */
export function decodeStatus(b: Buffer): string {
  tag(b, HS_TAG.STATUS, 'status');
  return b.subarray(1).toString('latin1');
}

// ---------------------------------------------------------------------------
// challenge (step 4), complement (4B)

/** 'N' Flags:64 Challenge:32 Creation:32 Nlen:16 Name */
export function encodeChallenge(m: Challenge): Buffer {
  const name = Buffer.from(m.name, 'utf8');
  const b = Buffer.allocUnsafe(19 + name.length);
  b[0] = HS_TAG.CHALLENGE;
  b.writeBigUInt64BE(m.flags, 1);
  b.writeUInt32BE(m.challenge >>> 0, 9);
  b.writeUInt32BE(m.creation >>> 0, 13);
  b.writeUInt16BE(name.length, 17);
  name.copy(b, 19);
  return b;
}

export function decodeChallenge(b: Buffer): Challenge {
  tag(b, HS_TAG.CHALLENGE, "challenge 'N'");
  need(b, 19, "challenge 'N'");
  const nlen = b.readUInt16BE(17);
  need(b, 19 + nlen, "challenge 'N' with its name");
  return {
    flags: b.readBigUInt64BE(1),
    challenge: b.readUInt32BE(9),
    creation: b.readUInt32BE(13),
    name: utf8(b.subarray(19, 19 + nlen), 'challenge'),
  };
}

/** 'c' FlagsHigh:32 Creation:32 */
export function encodeComplement(m: { readonly flags: bigint; readonly creation: number }): Buffer {
  const b = Buffer.allocUnsafe(9);
  b[0] = HS_TAG.COMPLEMENT;
  b.writeUInt32BE(Number((m.flags >> 32n) & 0xffffffffn), 1);
  b.writeUInt32BE(m.creation >>> 0, 5);
  return b;
}

export function decodeComplement(b: Buffer): Complement {
  tag(b, HS_TAG.COMPLEMENT, "complement 'c'");
  if (b.length !== 9) throw new DistProtocolError('malformed', `complement of ${b.length} bytes, expected 9`);
  return { flagsHigh: BigInt(b.readUInt32BE(1)) << 32n, creation: b.readUInt32BE(5) };
}

// ---------------------------------------------------------------------------
// challenge_reply (step 5), challenge_ack (step 6)

/** 'r' Challenge:32 Digest:16 */
export function encodeChallengeReply(m: ChallengeReply): Buffer {
  const b = Buffer.allocUnsafe(5 + DIGEST_BYTES);
  b[0] = HS_TAG.REPLY;
  b.writeUInt32BE(m.challenge >>> 0, 1);
  m.digest.copy(b, 5);
  return b;
}

export function decodeChallengeReply(b: Buffer): ChallengeReply {
  tag(b, HS_TAG.REPLY, "challenge_reply 'r'");
  if (b.length !== 5 + DIGEST_BYTES) throw new DistProtocolError('malformed', `challenge_reply of ${b.length} bytes, expected 21`);
  return { challenge: b.readUInt32BE(1), digest: Buffer.from(b.subarray(5)) };
}

/** 'a' Digest:16 */
export function encodeChallengeAck(digest: Buffer): Buffer {
  return Buffer.concat([Buffer.of(HS_TAG.ACK), digest]);
}

export function decodeChallengeAck(b: Buffer): Buffer {
  tag(b, HS_TAG.ACK, "challenge_ack 'a'");
  if (b.length !== 1 + DIGEST_BYTES) throw new DistProtocolError('malformed', `challenge_ack of ${b.length} bytes, expected 17`);
  return Buffer.from(b.subarray(1));
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function utf8(b: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(b);
  } catch {
    throw new DistProtocolError('malformed', `node name in ${what} is not valid UTF-8`);
  }
}
