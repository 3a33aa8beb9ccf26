/**
 * The Erlang distribution handshake, version 6 (ERTS dist protocol, "Distribution
 * Handshake"; FEATURES D5), as two straight-line async functions over a `FrameIO`:
 * `initiate` (node A) and `accept` (node B). It knows nothing of sockets or of the
 * connection table: the caller owns the carrier and settles simultaneous connects
 * through `decideStatus`. On failure it closes the FrameIO, logs the refusal once
 * (callers must not log it again) and throws a `HandshakeError` with a stable code.
 */
import crypto from 'node:crypto';
import { logger, type Logger } from '../log.js';
import type { NodeName } from '../terms.js';
import { digest, digestEquals } from './cookie.js';
import { DistProtocolError } from './errors.js';
import { advertisedFlags, beamqBoth, DFLAG, flagNames, missingFlags, negotiatedFlags } from './flags.js';
import { FrameIOError, type FrameIO } from './framing.js';
import {
  decodeChallenge,
  decodeChallengeAck,
  decodeChallengeReply,
  decodeComplement,
  decodeSendName,
  decodeStatus,
  encodeChallenge,
  encodeChallengeAck,
  encodeChallengeReply,
  encodeSendName,
  encodeStatus,
  STATUSES,
  type HandshakeStatus,
} from './handshake-messages.js';
import { compatible, NodeNameError, parseNodeName } from './node-name.js';

export type { HandshakeStatus } from './handshake-messages.js';

/** `net_setuptime` (OTP net_kernel SETUPTIME): the whole handshake must finish within it. */
export const DEFAULT_SETUP_TIME_MS = 7_000;

/**
 * Largest handshake message a peer may send. The largest is send_name: tag, flags,
 * creation, name length and a name of at most 255 characters of up to 4 UTF-8 bytes,
 * 1 + 8 + 4 + 2 + 1020 = 1035 bytes. A 2-byte length could announce 64 KiB; refusing
 * more at once means a bad length is reported as such, not as a timeout.
 */
export const MAX_HANDSHAKE_MESSAGE = 2048;

const defaultLog = logger('dist:handshake');

export interface HandshakeOptions {
  /** Our full node name. */
  readonly name: NodeName;
  /** Our creation, as epmd handed it out (ALIVE2_X_RESP). */
  readonly creation: number;
  /** The cookie, or per-peer cookies (erlang:set_cookie/2) as a function of the peer's name. */
  readonly cookie: string | ((peer: NodeName) => string);
  /** Our flags; default `advertisedFlags({ hidden })`. */
  readonly flags?: bigint;
  readonly hidden?: boolean;
  /** Default `DEFAULT_SETUP_TIME_MS`. */
  readonly setupTimeMs?: number;
  /** Source of our challenge (tests); default 32 random bits from the CSPRNG. */
  readonly challenge?: () => number;
  /** Where refusals are logged; default the `dist:handshake` logger. */
  readonly log?: Logger;
}

export interface InitiateOptions extends HandshakeOptions {
  /** The node we meant to reach; the acceptor's name must be exactly this. */
  readonly peer: NodeName;
  /**
   * Status 'alive': B still has a connection from a node of our name. Return true if
   * that must be an old incarnation of us (B then drops it), false to give up.
   * Default: false.
   */
  readonly onAlive?: (peer: NodeName) => boolean | Promise<boolean>;
}

export interface AcceptOptions extends HandshakeOptions {
  /**
   * The connection table's verdict on this peer (OTP net_kernel accept_pending):
   * 'ok'; 'ok_simultaneous' / 'nok' to settle a simultaneous connect; 'not_allowed';
   * 'alive' when a connection to that node is already up.
   */
  readonly decideStatus: (peerName: NodeName, peerFlags: bigint) => HandshakeStatus | Promise<HandshakeStatus>;
}

export interface HandshakeResult {
  readonly peerName: NodeName;
  readonly peerFlags: bigint;
  readonly peerCreation: number;
  /** Both sides set the beamq bit: speak CBOR, not ETF, from now on. */
  readonly beamqPeer: boolean;
  /** The flags in force on the connection: ours AND the peer's. */
  readonly flags: bigint;
  /** How B let us in: 'alive' means an older connection was replaced. */
  readonly status: 'ok' | 'ok_simultaneous' | 'alive';
}

export type HandshakeErrorCode =
  | 'bad_cookie'
  | 'not_allowed'
  | 'nok'
  | 'alive'
  | 'timeout'
  | 'protocol'
  | 'name_mismatch'
  | 'missing_flags'
  | 'peer_closed';

/** A handshake that did not complete. The message names the peer; `code` is stable. */
export class HandshakeError extends Error {
  override readonly name = 'HandshakeError';
  constructor(
    readonly code: HandshakeErrorCode,
    /** The peer's node name if it was learnt, else its address. */
    readonly peer: string,
    message: string,
  ) {
    super(message);
  }
}

// Expected outcomes of simultaneous connects are not worth more than a debug line.
const LEVEL: Record<HandshakeErrorCode, 'error' | 'warn' | 'debug'> = {
  bad_cookie: 'error',
  not_allowed: 'error',
  missing_flags: 'error',
  name_mismatch: 'error',
  protocol: 'error',
  timeout: 'warn',
  peer_closed: 'warn',
  nok: 'debug',
  alive: 'debug',
};

/** One handshake's context: the deadline, the peer as far as it is known, failure. */
class Session {
  private readonly deadline: number;
  readonly log: Logger;
  peer: string;

  constructor(
    readonly io: FrameIO,
    readonly opts: HandshakeOptions,
    readonly role: 'initiator' | 'acceptor',
  ) {
    this.deadline = Date.now() + (opts.setupTimeMs ?? DEFAULT_SETUP_TIME_MS);
    this.log = opts.log ?? defaultLog;
    this.peer = io.peer;
  }

  get ourFlags(): bigint {
    return this.opts.flags ?? advertisedFlags({ hidden: this.opts.hidden ?? false });
  }

  cookie(peer: NodeName): string {
    return typeof this.opts.cookie === 'string' ? this.opts.cookie : this.opts.cookie(peer);
  }

  newChallenge(): number {
    return (this.opts.challenge?.() ?? crypto.randomBytes(4).readUInt32BE(0)) >>> 0;
  }

  recv(): Promise<Buffer> {
    const left = this.deadline - Date.now();
    if (left <= 0) return Promise.reject(new FrameIOError('timeout', 'setup time used up'));
    return this.io.recv(left);
  }

  send(frame: Buffer): void {
    this.io.send(frame);
  }

  /** Close, log once, and build the error to throw. */
  fail(code: HandshakeErrorCode, message: string): HandshakeError {
    this.io.close();
    this.log[LEVEL[code]]('handshake_refused', { role: this.role, peer: this.peer, code, reason: message });
    return new HandshakeError(code, this.peer, message);
  }

  /** Map whatever a step threw to a HandshakeError (closing and logging); rethrow bugs. */
  failWith(err: unknown): HandshakeError {
    if (err instanceof HandshakeError) return err; // already closed and logged
    const setup = this.opts.setupTimeMs ?? DEFAULT_SETUP_TIME_MS;
    if (err instanceof FrameIOError) {
      return err.code === 'timeout'
        ? this.fail('timeout', `handshake with ${this.peer} did not complete within ${setup} ms (net_setuptime)`)
        : this.fail('peer_closed', `${this.peer} closed the connection during the handshake`);
    }
    if (err instanceof DistProtocolError || err instanceof NodeNameError) {
      return this.fail('protocol', `bad handshake message from ${this.peer}: ${err.message}`);
    }
    this.io.close();
    throw err;
  }

  checkFlags(flags: bigint): void {
    const missing = missingFlags(flags);
    if (missing !== 0n) {
      throw this.fail('missing_flags', `${this.peer} lacks mandatory distribution flags: ${flagNames(missing).join(', ')}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Node A

/** Run the handshake as the connecting node. Resolves once B's digest checked out. */
export async function initiate(io: FrameIO, opts: InitiateOptions): Promise<HandshakeResult> {
  const s = new Session(io, opts, 'initiator');
  s.peer = opts.peer;
  try {
    const ours = s.ourFlags;
    // Step 2: v6 send_name, always (OTP 25 dropped version 5 towards peers it knows).
    s.send(encodeSendName({ flags: ours, creation: opts.creation, name: opts.name }));

    // Step 3: B's verdict.
    const status = decodeStatus(await s.recv());
    let via: HandshakeResult['status'];
    switch (status) {
      case 'ok':
      case 'ok_simultaneous':
        via = status;
        break;
      case 'nok':
        throw s.fail('nok', `${opts.peer} refused: it is connecting to us at the same time and its name wins (nok)`);
      case 'not_allowed':
        throw s.fail('not_allowed', `${opts.peer} does not allow a connection from ${opts.name} (not_allowed)`);
      case 'alive': {
        // Step 3B: continue only if B's connection from "us" must be a dead incarnation.
        const go = (await opts.onAlive?.(opts.peer)) ?? false;
        s.send(encodeStatus(go ? 'true' : 'false'));
        if (!go) throw s.fail('alive', `${opts.peer} already has a connection from ${opts.name} (alive); gave up`);
        via = 'alive';
        break;
      }
      default:
        throw s.fail('protocol', `${opts.peer} sent unknown status '${status.slice(0, 40)}'`);
    }

    // Step 4: B's identity and challenge.
    const ch = decodeChallenge(await s.recv());
    if (ch.name !== opts.peer) {
      throw s.fail('name_mismatch', `connected to ${ch.name} instead of ${opts.peer}`);
    }
    s.checkFlags(ch.flags);

    // Step 5: prove we know the cookie, and challenge B in turn.
    const cookie = s.cookie(opts.peer);
    const mine = s.newChallenge();
    s.send(encodeChallengeReply({ challenge: mine, digest: digest(ch.challenge, cookie) }));

    // Step 6: B closes without a word when our digest was wrong.
    let ackFrame: Buffer;
    try {
      ackFrame = await s.recv();
    } catch (err) {
      if (err instanceof FrameIOError && err.code === 'closed') {
        throw s.fail('bad_cookie', `${opts.peer} closed the connection after our challenge reply: its cookie differs from ours`);
      }
      throw err;
    }
    // Step 7: check B's digest of our challenge.
    if (!digestEquals(decodeChallengeAck(ackFrame), digest(mine, cookie))) {
      throw s.fail('bad_cookie', `${opts.peer} answered our challenge with a wrong digest: its cookie differs from ours`);
    }
    return { peerName: ch.name, peerFlags: ch.flags, peerCreation: ch.creation, beamqPeer: beamqBoth(ours, ch.flags), flags: negotiatedFlags(ours, ch.flags), status: via };
  } catch (err) {
    throw s.failWith(err);
  }
}

// ---------------------------------------------------------------------------
// Node B

/** Run the handshake as the accepting node. Resolves once A's digest checked out and ours is sent. */
export async function accept(io: FrameIO, opts: AcceptOptions): Promise<HandshakeResult> {
  const s = new Session(io, opts, 'acceptor');
  try {
    const ours = s.ourFlags;
    // Step 2: who is calling. The old 'n' form comes from OTP 23/24 nodes that did not
    // ask epmd for our version; they support v6 and send their high flags and creation
    // in a complement after our challenge, so accepting it costs one extra message.
    const name = decodeSendName(await s.recv());
    s.peer = name.name;
    const peerName = parseNodeName(name.name);
    let peerFlags = name.flags;
    if (name.version === 5 && (peerFlags & DFLAG.HANDSHAKE_23) === 0n) {
      throw s.fail('missing_flags', `${s.peer} speaks only handshake version 5 (no HANDSHAKE_23); OTP 23 or later is required`);
    }
    // Every mandatory flag lies in the low 32 bits, so even the old form can be checked now.
    s.checkFlags(peerFlags);
    if (!compatible(opts.name, peerName)) {
      s.send(encodeStatus('not_allowed'));
      throw s.fail('not_allowed', `${s.peer} uses ${peerName.kind} names and we use the other kind; long and short names cannot connect`);
    }

    // Step 3: the connection table decides.
    const status = await opts.decideStatus(name.name, peerFlags);
    if (!STATUSES.includes(status)) throw new TypeError(`decideStatus returned '${String(status)}'`);
    s.send(encodeStatus(status));
    if (status === 'nok') throw s.fail('nok', `refused ${s.peer}: simultaneous connect and our name wins (nok)`);
    if (status === 'not_allowed') throw s.fail('not_allowed', `refused ${s.peer}: not allowed to connect`);
    if (status === 'alive') {
      // Step 3B: A says whether our existing connection from it is dead.
      const answer = decodeStatus(await s.recv());
      if (answer === 'false') throw s.fail('alive', `${s.peer} gave up: we already have a connection from it (alive)`);
      if (answer !== 'true') throw s.fail('protocol', `${s.peer} answered 'alive' with '${answer.slice(0, 40)}'`);
    }

    // Step 4: our identity and challenge.
    const mine = s.newChallenge();
    s.send(encodeChallenge({ flags: ours, challenge: mine, creation: opts.creation, name: opts.name }));
    let creation = name.creation;
    if (name.version === 5) {
      // Step 4B: the complement completes the old send_name.
      const c = decodeComplement(await s.recv());
      peerFlags |= c.flagsHigh;
      creation = c.creation;
    }

    // Step 5: A's proof. A wrong digest means a wrong cookie: close without a word.
    const cookie = s.cookie(name.name);
    const reply = decodeChallengeReply(await s.recv());
    if (!digestEquals(reply.digest, digest(mine, cookie))) {
      throw s.fail('bad_cookie', `Connection attempt from node ${s.peer} rejected. Invalid challenge reply.`);
    }
    // Step 6: our proof of A's challenge.
    s.send(encodeChallengeAck(digest(reply.challenge, cookie)));
    return {
      peerName: name.name,
      peerFlags,
      peerCreation: creation ?? 0,
      beamqPeer: beamqBoth(ours, peerFlags),
      flags: negotiatedFlags(ours, peerFlags),
      status: status === 'alive' ? 'alive' : status,
    };
  } catch (err) {
    throw s.failWith(err);
  }
}
