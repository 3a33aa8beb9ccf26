/**
 * EPMD client: register a node (the returned handle keeps the registration socket
 * open; closing it unregisters), look up a node's port, list names, dump, kill, stop.
 * Every call has a timeout and fails with an `EpmdError` that says what went wrong.
 */
import net from 'node:net';
import type {
  ProtocolError} from './protocol.js';
import {
  Code,
  DEFAULT_PORT,
  decodeAlive2Resp,
  decodePort2Resp,
  encodeAlive2Req,
  encodePortPlease2Req,
  encodeSimpleReq,
  encodeStopReq,
  NODE_TYPE_NORMAL,
  type NodeInfo,
  parseNames,
  PROTOCOL_TCP
} from './protocol.js';

export const DEFAULT_TIMEOUT_MS = 5_000;

export interface ClientOptions {
  /** Host of the daemon. Default 127.0.0.1. */
  readonly host?: string;
  /** Port of the daemon. Default `$ERL_EPMD_PORT`, else 4369. */
  readonly port?: number;
  readonly timeoutMs?: number;
}

export type EpmdErrorCode = 'unreachable' | 'timeout' | 'no_response' | 'refused' | 'protocol';

/** A failed EPMD call. `code` is stable; the message names the daemon's address. */
export class EpmdError extends Error {
  override readonly name = 'EpmdError';
  constructor(
    readonly code: EpmdErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The daemon's port from the environment, as erl reads it. */
export function defaultEpmdPort(): number {
  const v = Number(process.env['ERL_EPMD_PORT']);
  return Number.isInteger(v) && v > 0 && v < 65536 ? v : DEFAULT_PORT;
}

function target(opts: ClientOptions): { host: string; port: number; timeoutMs: number } {
  return {
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? defaultEpmdPort(),
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
}

/**
 * One request, one reply: connect, send, collect everything until the daemon closes.
 * Resolves with the raw reply (possibly empty: the daemon refused without a word).
 */
export function request(req: Buffer, opts: ClientOptions = {}): Promise<Buffer> {
  const { host, port, timeoutMs } = target(opts);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new EpmdError('timeout', `epmd at ${host}:${port} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(req));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        err.code === 'ECONNREFUSED'
          ? new EpmdError('unreachable', `cannot connect to epmd at ${host}:${port}`)
          : new EpmdError('unreachable', `epmd at ${host}:${port}: ${err.message}`),
      );
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

// ---------------------------------------------------------------------------
// Registration

export interface RegisterOptions extends ClientOptions {
  readonly nodeType?: number;
  readonly highestVersion?: number;
  readonly lowestVersion?: number;
  readonly extra?: Buffer;
}

/** A live registration. The node stays registered while this socket is open. */
export interface Registration {
  readonly creation: number;
  /** True when the daemon answered ALIVE2_X_RESP (32-bit creation). */
  readonly extended: boolean;
  /** Unregister: close the registration socket. */
  close(): Promise<void>;
  /** Settles when the registration socket closes for any reason (close() or epmd gone). */
  readonly closed: Promise<void>;
}

/**
 * Register `name` (the alive part of `name@host`) with its distribution `port`.
 * Defaults are an OTP 25 node's: type 77, protocol 0, versions 6..6.
 * A refused name (in use, too long, not UTF-8) fails with code `refused`.
 */
export function register(name: string, port: number, opts: RegisterOptions = {}): Promise<Registration> {
  const t = target(opts);
  const req = encodeAlive2Req({
    name,
    port,
    nodeType: opts.nodeType ?? NODE_TYPE_NORMAL,
    protocol: PROTOCOL_TCP,
    highestVersion: opts.highestVersion ?? 6,
    lowestVersion: opts.lowestVersion ?? 6,
    ...(opts.extra === undefined ? {} : { extra: opts.extra }),
  });
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: t.host, port: t.port, noDelay: true });
    let buf = Buffer.alloc(0);
    let settled = false;
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    const fail = (e: EpmdError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    const timer = setTimeout(
      () => fail(new EpmdError('timeout', `epmd at ${t.host}:${t.port} did not answer ALIVE2 within ${t.timeoutMs} ms`)),
      t.timeoutMs,
    );
    socket.on('connect', () => socket.write(req));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      fail(new EpmdError('unreachable', `cannot register with epmd at ${t.host}:${t.port}: ${err.code ?? err.message}`)),
    );
    socket.on('close', () => fail(new EpmdError('no_response', `epmd at ${t.host}:${t.port} closed without answering ALIVE2`)));
    socket.on('data', (chunk: Buffer) => {
      if (settled) return; // nothing more is expected on a registration socket
      buf = Buffer.concat([buf, chunk]);
      let r;
      try {
        r = decodeAlive2Resp(buf);
      } catch (err) {
        return fail(new EpmdError('protocol', (err as ProtocolError).message));
      }
      if (r === undefined) return;
      if (!r.ok) return fail(new EpmdError('refused', `epmd refused the name '${name}' (in use by another node, or invalid)`));
      settled = true;
      clearTimeout(timer);
      resolve({
        creation: r.creation,
        extended: r.extended,
        closed,
        close: () => {
          socket.end();
          socket.destroy();
          return closed;
        },
      });
    });
  });
}

// ---------------------------------------------------------------------------
// Queries

/** Where does node `name` listen? `'noport'` when epmd does not know it. */
export async function portPlease(name: string, opts: ClientOptions = {}): Promise<NodeInfo | 'noport'> {
  const reply = await request(encodePortPlease2Req(name), opts);
  if (reply.length === 0) throw noResponse(opts, 'PORT_PLEASE2');
  try {
    return decodePort2Resp(reply);
  } catch (err) {
    throw new EpmdError('protocol', (err as ProtocolError).message);
  }
}

export interface NamesResult {
  /** The port the daemon says it runs on. */
  readonly epmdPort: number;
  /** Registered nodes, in the daemon's order (newest first). */
  readonly nodes: { name: string; port: number }[];
  /** The reply text after the port, exactly as received. */
  readonly text: string;
}

export async function names(opts: ClientOptions = {}): Promise<NamesResult> {
  const reply = await request(encodeSimpleReq(Code.NAMES_REQ), opts);
  if (reply.length < 4) throw noResponse(opts, 'NAMES');
  const text = reply.subarray(4).toString('utf8');
  return { epmdPort: reply.readUInt32BE(0), nodes: parseNames(text), text };
}

export async function dump(opts: ClientOptions = {}): Promise<{ epmdPort: number; text: string }> {
  const reply = await request(encodeSimpleReq(Code.DUMP_REQ), opts);
  if (reply.length < 4) throw noResponse(opts, 'DUMP');
  return { epmdPort: reply.readUInt32BE(0), text: reply.subarray(4).toString('utf8') };
}

/** KILL_REQ: `'OK'` (the daemon exits), `'NO'` (nodes are registered), or what else came back. */
export async function kill(opts: ClientOptions = {}): Promise<string> {
  return (await request(encodeSimpleReq(Code.KILL_REQ), opts)).toString('latin1');
}

/** STOP_REQ: `'STOPPED'`, `'NOEXIST'`, or '' when the daemon refused (not relaxed). */
export async function stop(name: string, opts: ClientOptions = {}): Promise<string> {
  return (await request(encodeStopReq(name), opts)).toString('latin1');
}

function noResponse(opts: ClientOptions, what: string): EpmdError {
  const t = target(opts);
  return new EpmdError('no_response', `epmd at ${t.host}:${t.port} closed without answering ${what}`);
}
