/**
 * The EPMD wire protocol (ERTS "Distribution Protocol", "EPMD Protocol"): message codes,
 * request and response shapes, and pure encoders/decoders for both sides.
 * Pure: no sockets, no timers, no logging. Decoders throw `ProtocolError`.
 */

/** The well-known EPMD port (`ERL_EPMD_PORT` overrides it). */
export const DEFAULT_PORT = 4369;

/** Request and response codes, as in OTP's `epmd.h`. */
export const Code = {
  ALIVE2_REQ: 120, // 'x'
  ALIVE2_X_RESP: 118, // 'v' — answer to a node whose HighestVersion ≥ 6 (32-bit creation)
  ALIVE2_RESP: 121, // 'y' — answer to older nodes (16-bit creation)
  PORT_PLEASE2_REQ: 122, // 'z'
  PORT2_RESP: 119, // 'w'
  NAMES_REQ: 110, // 'n'
  DUMP_REQ: 100, // 'd'
  KILL_REQ: 107, // 'k'
  STOP_REQ: 115, // 's'
} as const;

/** Node type byte: 77 'M' a normal Erlang node, 72 'H' a hidden (C) node. */
export const NODE_TYPE_NORMAL = 77;
export const NODE_TYPE_HIDDEN = 72;
/** Protocol byte 0 = TCP/IPv4. */
export const PROTOCOL_TCP = 0;

/** Longest node name in bytes (`MAXSYMLEN` = 255*4) and in UTF-8 characters. */
export const MAX_NAME_BYTES = 255 * 4;
export const MAX_NAME_CHARS = 255;
/** The real daemon's input buffer; a request length ≥ this minus 2 is refused. */
export const INBUF_SIZE = 3 * MAX_NAME_BYTES;
/** Largest request body (length field) the daemon accepts. */
export const MAX_REQUEST_LENGTH = INBUF_SIZE - 3;
/** Creation sent with a refused ALIVE2. */
export const REFUSED_CREATION = 99;

/** What a node registers and what PORT2_RESP echoes back. */
export interface NodeInfo {
  /** Alive part of the node name (`a` of `a@host`). */
  readonly name: string;
  /** Distribution listen port. */
  readonly port: number;
  readonly nodeType: number;
  readonly protocol: number;
  readonly highestVersion: number;
  readonly lowestVersion: number;
  readonly extra: Buffer;
}

/**
 * A decoded request. Names are UTF-8 strings; an ALIVE2 also keeps the name's exact
 * bytes (`nameBytes`) so the registry can refuse names that are too long or not UTF-8.
 */
export type Request =
  | { readonly kind: 'alive2'; readonly node: NodeInfo; readonly nameBytes: Buffer }
  | { readonly kind: 'port_please2'; readonly name: string }
  | { readonly kind: 'names' }
  | { readonly kind: 'dump' }
  | { readonly kind: 'kill' }
  | { readonly kind: 'stop'; readonly name: string };

export type ProtocolErrorCode = 'too_small' | 'too_large' | 'malformed' | 'unknown_request';

/** A request or response that breaks the protocol. The owner logs it and closes. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------
// UTF-8

/**
 * Number of characters in `b` if it is valid UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF), else -1. Mirrors the check the real daemon makes.
 */
export function utf8Chars(b: Uint8Array): number {
  let i = 0;
  let n = 0;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) i += 1;
    else if (c >= 0xc2 && c < 0xe0) {
      if (!cont(b, i + 1)) return -1;
      i += 2;
    } else if (c >= 0xe0 && c < 0xf0) {
      if (!cont(b, i + 1) || !cont(b, i + 2)) return -1;
      const c1 = b[i + 1]!;
      if (c === 0xe0 && c1 < 0xa0) return -1; // overlong
      if (c === 0xed && c1 >= 0xa0) return -1; // UTF-16 surrogate
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (!cont(b, i + 1) || !cont(b, i + 2) || !cont(b, i + 3)) return -1;
      const c1 = b[i + 1]!;
      if (c === 0xf0 && c1 < 0x90) return -1; // overlong
      if (c === 0xf4 && c1 >= 0x90) return -1; // > U+10FFFF
      i += 4;
    } else return -1;
    n++;
  }
  return n;
}

function cont(b: Uint8Array, i: number): boolean {
  return i < b.length && (b[i]! & 0xc0) === 0x80;
}

// ---------------------------------------------------------------------------
// Requests: decode (daemon side)

/**
 * Decode one request body (without its 2-byte length). Throws `ProtocolError` for
 * anything the real daemon answers by closing without a reply. An ALIVE2 whose name
 * is too long or not UTF-8 decodes fine: the daemon refuses it with a reply.
 */
export function decodeRequest(body: Buffer): Request {
  if (body.length === 0) throw new ProtocolError('too_small', 'empty request');
  const code = body[0]!;
  switch (code) {
    case Code.ALIVE2_REQ:
      return decodeAlive2(body);
    case Code.PORT_PLEASE2_REQ: {
      // A trailing NUL is tolerated (old clients sent C strings).
      const end = body[body.length - 1] === 0 ? body.length - 1 : body.length;
      if (end <= 1) throw new ProtocolError('too_small', 'PORT_PLEASE2_REQ without a name');
      const nameBytes = body.subarray(1, end);
      if (nameBytes.includes(0)) throw new ProtocolError('malformed', 'NUL inside the node name');
      const chars = utf8Chars(nameBytes);
      if (chars < 1 || chars > MAX_NAME_CHARS) throw new ProtocolError('malformed', 'invalid node name');
      return { kind: 'port_please2', name: nameBytes.toString('utf8') };
    }
    case Code.NAMES_REQ:
      return { kind: 'names' };
    case Code.DUMP_REQ:
      return { kind: 'dump' };
    case Code.KILL_REQ:
      return { kind: 'kill' };
    case Code.STOP_REQ: {
      if (body.length <= 1) throw new ProtocolError('too_small', 'STOP_REQ without a name');
      const nameBytes = body.subarray(1, body[body.length - 1] === 0 ? body.length - 1 : body.length);
      return { kind: 'stop', name: nameBytes.toString('utf8') };
    }
    default:
      throw new ProtocolError('unknown_request', `unknown request code ${code}`);
  }
}

// Layout: 'x' PortNo:16 NodeType:8 Protocol:8 Hi:16 Lo:16 Nlen:16 Name Elen:16 Extra
function decodeAlive2(b: Buffer): Request {
  // At least one character of name: 13 fixed bytes + 1.
  if (b.length <= 13) throw new ProtocolError('too_small', `ALIVE2_REQ of ${b.length} bytes`);
  const nlen = b.readUInt16BE(9);
  if (nlen + 13 > b.length) throw new ProtocolError('malformed', 'ALIVE2_REQ name length beyond the packet');
  const elen = b.readUInt16BE(11 + nlen);
  if (elen + nlen + 13 > b.length) throw new ProtocolError('malformed', 'ALIVE2_REQ extra length beyond the packet');
  const nameBytes = b.subarray(11, 11 + nlen);
  if (nameBytes.includes(0)) throw new ProtocolError('malformed', 'NUL inside the node name');
  return {
    kind: 'alive2',
    nameBytes,
    node: {
      port: b.readUInt16BE(1),
      nodeType: b[3]!,
      protocol: b[4]!,
      highestVersion: b.readUInt16BE(5),
      lowestVersion: b.readUInt16BE(7),
      name: nameBytes.toString('utf8'),
      extra: Buffer.from(b.subarray(13 + nlen, 13 + nlen + elen)),
    },
  };
}

// ---------------------------------------------------------------------------
// Requests: encode (client side). Each result includes the 2-byte length.

function frame(body: Buffer): Buffer {
  if (body.length > 0xffff) throw new ProtocolError('too_large', `request of ${body.length} bytes`);
  const out = Buffer.allocUnsafe(body.length + 2);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, 2);
  return out;
}

export function encodeAlive2Req(node: Omit<NodeInfo, 'extra'> & { readonly extra?: Buffer }): Buffer {
  const name = Buffer.from(node.name, 'utf8');
  const extra = node.extra ?? Buffer.alloc(0);
  const b = Buffer.allocUnsafe(13 + name.length + extra.length);
  b[0] = Code.ALIVE2_REQ;
  b.writeUInt16BE(node.port, 1);
  b[3] = node.nodeType;
  b[4] = node.protocol;
  b.writeUInt16BE(node.highestVersion, 5);
  b.writeUInt16BE(node.lowestVersion, 7);
  b.writeUInt16BE(name.length, 9);
  name.copy(b, 11);
  b.writeUInt16BE(extra.length, 11 + name.length);
  extra.copy(b, 13 + name.length);
  return frame(b);
}

export function encodePortPlease2Req(name: string): Buffer {
  return frame(Buffer.concat([Buffer.of(Code.PORT_PLEASE2_REQ), Buffer.from(name, 'utf8')]));
}

export function encodeSimpleReq(code: typeof Code.NAMES_REQ | typeof Code.DUMP_REQ | typeof Code.KILL_REQ): Buffer {
  return frame(Buffer.of(code));
}

export function encodeStopReq(name: string): Buffer {
  return frame(Buffer.concat([Buffer.of(Code.STOP_REQ), Buffer.from(name, 'utf8')]));
}

// ---------------------------------------------------------------------------
// Responses: encode (daemon side). Responses are not length-framed.

/** ALIVE2_X_RESP for HighestVersion ≥ 6, else ALIVE2_RESP with a 16-bit creation. */
export function encodeAlive2Resp(highestVersion: number, ok: boolean, creation: number): Buffer {
  if (highestVersion >= 6) {
    const b = Buffer.allocUnsafe(6);
    b[0] = Code.ALIVE2_X_RESP;
    b[1] = ok ? 0 : 1;
    b.writeUInt32BE(creation >>> 0, 2);
    return b;
  }
  const b = Buffer.allocUnsafe(4);
  b[0] = Code.ALIVE2_RESP;
  b[1] = ok ? 0 : 1;
  b.writeUInt16BE(creation & 0xffff, 2);
  return b;
}

/** PORT2_RESP: every registered field echoed back, or result 1 alone for an unknown name. */
export function encodePort2Resp(node: NodeInfo | undefined): Buffer {
  if (node === undefined) return Buffer.of(Code.PORT2_RESP, 1);
  const name = Buffer.from(node.name, 'utf8');
  const b = Buffer.allocUnsafe(14 + name.length + node.extra.length);
  b[0] = Code.PORT2_RESP;
  b[1] = 0;
  b.writeUInt16BE(node.port, 2);
  b[4] = node.nodeType;
  b[5] = node.protocol;
  b.writeUInt16BE(node.highestVersion, 6);
  b.writeUInt16BE(node.lowestVersion, 8);
  b.writeUInt16BE(name.length, 10);
  name.copy(b, 12);
  b.writeUInt16BE(node.extra.length, 12 + name.length);
  node.extra.copy(b, 14 + name.length);
  return b;
}

/** `name N at port P\n`, exactly as the real daemon formats it (erl_epmd parses it). */
export function namesLine(name: string, port: number): string {
  return `name ${name} at port ${port}\n`;
}

/** One DUMP line with its trailing NUL. `fd` identifies the registering connection. */
export function dumpActiveLine(name: string, port: number, fd: number): string {
  return `active name     <${name}> at port ${port}, fd = ${fd}\n\0`;
}

export function dumpOldLine(name: string, port: number, fd: number): string {
  return `old/unused name <${name}>, port = ${port}, fd = ${fd} \n\0`;
}

/** NAMES and DUMP responses begin with the daemon's own port as 4 bytes. */
export function encodeDaemonPort(port: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(port, 0);
  return b;
}

// ---------------------------------------------------------------------------
// Responses: decode (client side)

export interface Alive2Result {
  readonly ok: boolean;
  readonly creation: number;
  /** True when the daemon answered with the 32-bit ALIVE2_X_RESP. */
  readonly extended: boolean;
}

/** Decode an ALIVE2 answer; undefined while more bytes are needed. */
export function decodeAlive2Resp(b: Buffer): Alive2Result | undefined {
  if (b.length < 1) return undefined;
  if (b[0] === Code.ALIVE2_X_RESP) {
    if (b.length < 6) return undefined;
    return { ok: b[1] === 0, creation: b.readUInt32BE(2), extended: true };
  }
  if (b[0] === Code.ALIVE2_RESP) {
    if (b.length < 4) return undefined;
    return { ok: b[1] === 0, creation: b.readUInt16BE(2), extended: false };
  }
  throw new ProtocolError('malformed', `unexpected ALIVE2 answer code ${b[0]}`);
}

/** Decode a complete PORT2_RESP (the daemon closes after it). */
export function decodePort2Resp(b: Buffer): NodeInfo | 'noport' {
  if (b.length < 2 || b[0] !== Code.PORT2_RESP) throw new ProtocolError('malformed', 'not a PORT2_RESP');
  if (b[1] !== 0) return 'noport';
  if (b.length < 14) throw new ProtocolError('too_small', 'truncated PORT2_RESP');
  const nlen = b.readUInt16BE(10);
  if (12 + nlen + 2 > b.length) throw new ProtocolError('malformed', 'PORT2_RESP name beyond the packet');
  const elen = b.readUInt16BE(12 + nlen);
  if (14 + nlen + elen > b.length) throw new ProtocolError('malformed', 'PORT2_RESP extra beyond the packet');
  return {
    port: b.readUInt16BE(2),
    nodeType: b[4]!,
    protocol: b[5]!,
    highestVersion: b.readUInt16BE(6),
    lowestVersion: b.readUInt16BE(8),
    name: b.subarray(12, 12 + nlen).toString('utf8'),
    extra: Buffer.from(b.subarray(14 + nlen, 14 + nlen + elen)),
  };
}

/** Parse the text of a NAMES answer (after the 4-byte port) into name/port pairs, in wire order. */
export function parseNames(text: string): { name: string; port: number }[] {
  const out: { name: string; port: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^name (.+) at port (\d+)$/.exec(line);
    if (m !== null) out.push({ name: m[1]!, port: Number(m[2]) });
  }
  return out;
}
