/**
 * The wire encoding between two beamq nodes: one CBOR value per frame, the control
 * tuple with the message (if any) appended as its last element. Pids and refs travel
 * as CBOR tags, so a message may hold them anywhere. Pure; throws DistProtocolError.
 */
import { addExtension, Decoder, Encoder } from 'cbor-x';
import { Pid, Ref } from '../terms.js';
import { DistProtocolError } from './errors.js';
import { hasPayload, type Control } from './etf-dist.js';

/** CBOR tags for our identity terms (first-come-first-served private range). */
export const TAG_PID = 40100;
export const TAG_REF = 40101;

addExtension({
  Class: Pid,
  tag: TAG_PID,
  encode: (p: Pid, encode: (v: unknown) => Uint8Array) => encode([p.node, p.id, p.serial, p.creation]),
  decode: (d: unknown) => {
    const a = d as [string, number, number, number];
    if (!Array.isArray(a) || a.length !== 4 || typeof a[0] !== 'string') throw new DistProtocolError('malformed', 'bad pid');
    return new Pid(a[0], a[1], a[2], a[3]);
  },
});

addExtension({
  Class: Ref,
  tag: TAG_REF,
  encode: (r: Ref, encode: (v: unknown) => Uint8Array) =>
    encode(r.ext === undefined ? [r.node, r.creation, r.id] : [r.node, r.creation, r.id, r.ext]),
  decode: (d: unknown) => {
    const a = d as [string, number, number, number[] | undefined];
    if (!Array.isArray(a) || a.length < 3 || typeof a[0] !== 'string') throw new DistProtocolError('malformed', 'bad ref');
    return new Ref(a[0], a[1], a[2], a[3]);
  },
});

// Maps stay Maps, objects stay objects; no record structures (peers share no state).
const encoder = new Encoder({ useRecords: false, mapsAsObjects: false, tagUint8Array: false });
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true });

/** Encode control + optional message into one frame payload (no length header). */
export function encodeCbor(ctl: Control, msg?: unknown): Buffer {
  const v = hasPayload(ctl[0]) ? [...ctl, msg] : ctl;
  return encoder.encode(v);
}

export interface Decoded {
  readonly ctl: Control;
  readonly msg: unknown;
}

/** Decode one frame payload. */
export function decodeCbor(frame: Buffer): Decoded {
  let v: unknown;
  try {
    v = decoder.decode(frame);
  } catch (err) {
    if (err instanceof DistProtocolError) throw err;
    throw new DistProtocolError('malformed', `undecodable frame: ${(err as Error).message}`);
  }
  if (!Array.isArray(v) || typeof v[0] !== 'number') throw new DistProtocolError('malformed', 'frame is not a control tuple');
  if (hasPayload(v[0] as Control[0])) {
    const msg: unknown = v.pop();
    return { ctl: v as unknown as Control, msg };
  }
  return { ctl: v as unknown as Control, msg: undefined };
}
