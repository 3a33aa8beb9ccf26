/**
 * Messages between connected nodes in ETF (ERTS dist protocol, "Protocol between
 * Connected Nodes"): the control tuples as typed readonly tagged tuples, their
 * validation, and the pass-through frame `112, Control, [Message]` that a BEAM peer
 * sends when DIST_HDR_ATOM_CACHE and FRAGMENTS are not negotiated.
 * Pure: no I/O. Throws `DistProtocolError`.
 */
import { Pid, Ref, type Atom } from '../terms.js';
import { DistProtocolError } from './errors.js';
import { decodeTermAt, type DecodeOptions } from './etf-decode.js';
import { TermWriter } from './etf-encode.js';
import { ErlList, ETF_VERSION } from './etf-terms.js';

/** The first byte of a pass-through frame. */
export const PASS_THROUGH = 112;

/** Control message operations (the first element of the control tuple). */
export const CTRL = {
  LINK: 1,
  SEND: 2,
  EXIT: 3,
  UNLINK: 4, // obsolete; not supported by OTP 26
  NODE_LINK: 5,
  REG_SEND: 6,
  GROUP_LEADER: 7,
  EXIT2: 8,
  SEND_TT: 12,
  EXIT_TT: 13,
  REG_SEND_TT: 16,
  EXIT2_TT: 18,
  MONITOR_P: 19,
  DEMONITOR_P: 20,
  MONITOR_P_EXIT: 21,
  SEND_SENDER: 22,
  SEND_SENDER_TT: 23,
  PAYLOAD_EXIT: 24,
  PAYLOAD_EXIT_TT: 25,
  PAYLOAD_EXIT2: 26,
  PAYLOAD_EXIT2_TT: 27,
  PAYLOAD_MONITOR_P_EXIT: 28,
  SPAWN_REQUEST: 29,
  SPAWN_REQUEST_TT: 30,
  SPAWN_REPLY: 31,
  SPAWN_REPLY_TT: 32,
  ALIAS_SEND: 33,
  ALIAS_SEND_TT: 34,
  UNLINK_ID: 35,
  UNLINK_ID_ACK: 36,
} as const;

type C = typeof CTRL;
/** A process given by pid or by registered name. */
export type Proc = Pid | Atom;
/** `{Module, Function, Arity}` of a spawn request. */
export type Mfa = readonly [Atom, Atom, number];
/** Trace tokens and exit reasons are arbitrary terms. */
type Term = unknown;

// One type per control message, fields named as in the ERTS document.
export type LinkCtl = readonly [C['LINK'], from: Pid, to: Pid];
export type SendCtl = readonly [C['SEND'], unused: Term, to: Pid];
export type ExitCtl = readonly [C['EXIT'], from: Pid, to: Pid, reason: Term];
export type UnlinkCtl = readonly [C['UNLINK'], from: Pid, to: Pid];
export type NodeLinkCtl = readonly [C['NODE_LINK']];
export type RegSendCtl = readonly [C['REG_SEND'], from: Pid, unused: Term, toName: Atom];
export type GroupLeaderCtl = readonly [C['GROUP_LEADER'], from: Pid, to: Pid];
export type Exit2Ctl = readonly [C['EXIT2'], from: Pid, to: Pid, reason: Term];
export type SendTtCtl = readonly [C['SEND_TT'], unused: Term, to: Pid, token: Term];
export type ExitTtCtl = readonly [C['EXIT_TT'], from: Pid, to: Pid, token: Term, reason: Term];
export type RegSendTtCtl = readonly [C['REG_SEND_TT'], from: Pid, unused: Term, toName: Atom, token: Term];
export type Exit2TtCtl = readonly [C['EXIT2_TT'], from: Pid, to: Pid, token: Term, reason: Term];
export type MonitorPCtl = readonly [C['MONITOR_P'], from: Pid, to: Proc, ref: Ref];
export type DemonitorPCtl = readonly [C['DEMONITOR_P'], from: Pid, to: Proc, ref: Ref];
export type MonitorPExitCtl = readonly [C['MONITOR_P_EXIT'], from: Proc, to: Pid, ref: Ref, reason: Term];
export type SendSenderCtl = readonly [C['SEND_SENDER'], from: Pid, to: Pid];
export type SendSenderTtCtl = readonly [C['SEND_SENDER_TT'], from: Pid, to: Pid, token: Term];
export type PayloadExitCtl = readonly [C['PAYLOAD_EXIT'], from: Pid, to: Pid];
export type PayloadExitTtCtl = readonly [C['PAYLOAD_EXIT_TT'], from: Pid, to: Pid, token: Term];
export type PayloadExit2Ctl = readonly [C['PAYLOAD_EXIT2'], from: Pid, to: Pid];
export type PayloadExit2TtCtl = readonly [C['PAYLOAD_EXIT2_TT'], from: Pid, to: Pid, token: Term];
export type PayloadMonitorPExitCtl = readonly [C['PAYLOAD_MONITOR_P_EXIT'], from: Proc, to: Pid, ref: Ref];
export type SpawnRequestCtl = readonly [C['SPAWN_REQUEST'], reqId: Ref, from: Pid, groupLeader: Pid, mfa: Mfa, opts: ErlList];
export type SpawnRequestTtCtl = readonly [C['SPAWN_REQUEST_TT'], reqId: Ref, from: Pid, groupLeader: Pid, mfa: Mfa, opts: ErlList, token: Term];
export type SpawnReplyCtl = readonly [C['SPAWN_REPLY'], reqId: Ref, to: Pid, flags: number, result: Proc];
export type SpawnReplyTtCtl = readonly [C['SPAWN_REPLY_TT'], reqId: Ref, to: Pid, flags: number, result: Proc, token: Term];
export type AliasSendCtl = readonly [C['ALIAS_SEND'], from: Pid, alias: Ref];
export type AliasSendTtCtl = readonly [C['ALIAS_SEND_TT'], from: Pid, alias: Ref, token: Term];
export type UnlinkIdCtl = readonly [C['UNLINK_ID'], id: number | bigint, from: Pid, to: Pid];
export type UnlinkIdAckCtl = readonly [C['UNLINK_ID_ACK'], id: number | bigint, from: Pid, to: Pid];

/** Every control message, discriminated by its first element. */
export type Control =
  | LinkCtl
  | SendCtl
  | ExitCtl
  | UnlinkCtl
  | NodeLinkCtl
  | RegSendCtl
  | GroupLeaderCtl
  | Exit2Ctl
  | SendTtCtl
  | ExitTtCtl
  | RegSendTtCtl
  | Exit2TtCtl
  | MonitorPCtl
  | DemonitorPCtl
  | MonitorPExitCtl
  | SendSenderCtl
  | SendSenderTtCtl
  | PayloadExitCtl
  | PayloadExitTtCtl
  | PayloadExit2Ctl
  | PayloadExit2TtCtl
  | PayloadMonitorPExitCtl
  | SpawnRequestCtl
  | SpawnRequestTtCtl
  | SpawnReplyCtl
  | SpawnReplyTtCtl
  | AliasSendCtl
  | AliasSendTtCtl
  | UnlinkIdCtl
  | UnlinkIdAckCtl;

/** A decoded pass-through frame. `payload` is the message, exit reason or spawn arguments. */
export interface DistMessage {
  readonly control: Control;
  /** Present exactly when the operation carries one (see `hasPayload`). */
  readonly payload?: unknown;
}

type Field = 'pid' | 'atom' | 'proc' | 'ref' | 'uint' | 'list' | 'mfa' | 'any';

/** Field kinds after the op, and whether a payload term follows the control tuple. */
const SCHEMA: ReadonlyMap<number, { readonly fields: readonly Field[]; readonly payload: boolean }> = new Map([
  [CTRL.LINK, { fields: ['pid', 'pid'], payload: false }],
  [CTRL.SEND, { fields: ['any', 'pid'], payload: true }],
  [CTRL.EXIT, { fields: ['pid', 'pid', 'any'], payload: false }],
  [CTRL.UNLINK, { fields: ['pid', 'pid'], payload: false }],
  [CTRL.NODE_LINK, { fields: [], payload: false }],
  [CTRL.REG_SEND, { fields: ['pid', 'any', 'atom'], payload: true }],
  [CTRL.GROUP_LEADER, { fields: ['pid', 'pid'], payload: false }],
  [CTRL.EXIT2, { fields: ['pid', 'pid', 'any'], payload: false }],
  [CTRL.SEND_TT, { fields: ['any', 'pid', 'any'], payload: true }],
  [CTRL.EXIT_TT, { fields: ['pid', 'pid', 'any', 'any'], payload: false }],
  [CTRL.REG_SEND_TT, { fields: ['pid', 'any', 'atom', 'any'], payload: true }],
  [CTRL.EXIT2_TT, { fields: ['pid', 'pid', 'any', 'any'], payload: false }],
  [CTRL.MONITOR_P, { fields: ['pid', 'proc', 'ref'], payload: false }],
  [CTRL.DEMONITOR_P, { fields: ['pid', 'proc', 'ref'], payload: false }],
  [CTRL.MONITOR_P_EXIT, { fields: ['proc', 'pid', 'ref', 'any'], payload: false }],
  [CTRL.SEND_SENDER, { fields: ['pid', 'pid'], payload: true }],
  [CTRL.SEND_SENDER_TT, { fields: ['pid', 'pid', 'any'], payload: true }],
  [CTRL.PAYLOAD_EXIT, { fields: ['pid', 'pid'], payload: true }],
  [CTRL.PAYLOAD_EXIT_TT, { fields: ['pid', 'pid', 'any'], payload: true }],
  [CTRL.PAYLOAD_EXIT2, { fields: ['pid', 'pid'], payload: true }],
  [CTRL.PAYLOAD_EXIT2_TT, { fields: ['pid', 'pid', 'any'], payload: true }],
  [CTRL.PAYLOAD_MONITOR_P_EXIT, { fields: ['proc', 'pid', 'ref'], payload: true }],
  [CTRL.SPAWN_REQUEST, { fields: ['ref', 'pid', 'pid', 'mfa', 'list'], payload: true }],
  [CTRL.SPAWN_REQUEST_TT, { fields: ['ref', 'pid', 'pid', 'mfa', 'list', 'any'], payload: true }],
  [CTRL.SPAWN_REPLY, { fields: ['ref', 'pid', 'uint', 'proc'], payload: false }],
  [CTRL.SPAWN_REPLY_TT, { fields: ['ref', 'pid', 'uint', 'proc', 'any'], payload: false }],
  [CTRL.ALIAS_SEND, { fields: ['pid', 'ref'], payload: true }],
  [CTRL.ALIAS_SEND_TT, { fields: ['pid', 'ref', 'any'], payload: true }],
  [CTRL.UNLINK_ID, { fields: ['uint', 'pid', 'pid'], payload: false }],
  [CTRL.UNLINK_ID_ACK, { fields: ['uint', 'pid', 'pid'], payload: false }],
]);

/** Does a message term follow the control tuple of `op`? */
export function hasPayload(op: Control[0]): boolean {
  return SCHEMA.get(op)?.payload ?? false;
}

// Atoms decode as strings except true/false, which decode as booleans: in a position
// that must hold an atom, turn those back into the atom's name.
function asAtom(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'boolean' ? String(v) : undefined;
}

function field(kind: Field, v: unknown): { ok: boolean; value: unknown } {
  switch (kind) {
    case 'pid':
      return { ok: v instanceof Pid, value: v };
    case 'ref':
      return { ok: v instanceof Ref, value: v };
    case 'atom': {
      const a = asAtom(v);
      return { ok: a !== undefined, value: a };
    }
    case 'proc': {
      if (v instanceof Pid) return { ok: true, value: v };
      const a = asAtom(v);
      return { ok: a !== undefined, value: a };
    }
    case 'uint':
      return { ok: (typeof v === 'number' && Number.isInteger(v) && v >= 0) || (typeof v === 'bigint' && v >= 0n), value: v };
    case 'list':
      return { ok: v instanceof ErlList && v.isProper, value: v };
    case 'mfa': {
      if (!Array.isArray(v) || v.length !== 3) return { ok: false, value: v };
      const [m, f, a] = [asAtom(v[0]), asAtom(v[1]), v[2] as unknown];
      return { ok: m !== undefined && f !== undefined && typeof a === 'number' && Number.isInteger(a) && a >= 0, value: [m, f, a] };
    }
    case 'any':
      return { ok: true, value: v };
  }
}

/** Check a decoded control term against the ERTS shapes. Throws `malformed` / `unsupported`. */
export function toControl(term: unknown): Control {
  if (!Array.isArray(term) || term.length === 0) throw new DistProtocolError('malformed', 'control message is not a tuple');
  const op: unknown = term[0];
  const schema = typeof op === 'number' ? SCHEMA.get(op) : undefined;
  if (schema === undefined) throw new DistProtocolError('unsupported', `unknown control operation ${String(op)}`);
  if (term.length !== schema.fields.length + 1) {
    throw new DistProtocolError('malformed', `control operation ${String(op)} with ${term.length} elements, expected ${schema.fields.length + 1}`);
  }
  const out: unknown[] = [op];
  schema.fields.forEach((kind, i) => {
    const { ok, value } = field(kind, term[i + 1]);
    if (!ok) throw new DistProtocolError('malformed', `control operation ${String(op)}: element ${i + 2} is not a ${kind}`);
    out.push(value);
  });
  // The schema table above guarantees each element's kind.
  return out as unknown as Control;
}

/**
 * A pass-through frame (without its 4-byte length): 112, the control tuple, and the
 * payload when the operation carries one, each as a complete external term.
 */
export function encodeDistMessage(control: Control, ...payload: [] | [unknown]): Buffer {
  const wants = hasPayload(control[0]);
  if (wants !== (payload.length === 1)) {
    throw new DistProtocolError('unencodable', `control operation ${control[0]} ${wants ? 'needs' : 'takes no'} payload`);
  }
  const w = new TermWriter(256);
  w.u8(PASS_THROUGH);
  w.versioned(control);
  if (wants) w.versioned(payload[0]);
  return Buffer.from(w.finish());
}

/**
 * Decode one non-empty connected frame from a BEAM or beamq-ETF peer. Ticks (empty
 * frames) are the caller's to skip. A frame with a distribution header (131, 68) is
 * refused as unsupported: it only comes when the atom cache was negotiated.
 */
export function decodeDistMessage(frame: Buffer, opts: DecodeOptions = {}): DistMessage {
  if (frame.length === 0) throw new DistProtocolError('malformed', 'empty frame (a tick) is not a message');
  if (frame[0] !== PASS_THROUGH) {
    if (frame[0] === ETF_VERSION && (frame[1] === 68 || frame[1] === 69 || frame[1] === 70)) {
      throw new DistProtocolError('unsupported', 'distribution header (atom cache or fragments) was not negotiated');
    }
    throw new DistProtocolError('malformed', `frame starts with ${frame[0]}, not pass-through ${PASS_THROUGH}`);
  }
  const c = decodeTermAt(frame, 1, opts);
  const control = toControl(c.term);
  let end = c.end;
  let payload: unknown;
  const wants = hasPayload(control[0]);
  if (wants) {
    if (end >= frame.length) throw new DistProtocolError('truncated', `control operation ${control[0]} without its payload`);
    const p = decodeTermAt(frame, end, opts);
    payload = p.term;
    end = p.end;
  }
  if (end !== frame.length) throw new DistProtocolError('malformed', `${frame.length - end} bytes after the message`);
  return wants ? { control, payload } : { control };
}
