/**
 * Setting a connection up over TCP, both ways: the initiator asks epmd where the peer
 * listens, connects and runs the handshake; the acceptor runs it on an accepted socket.
 * Each returns the handshake result with the socket and any bytes that followed it,
 * ready for a `Connection`. Failures throw (HandshakeError, EpmdError, SetupError).
 */
import net from 'node:net';
import { portPlease } from '../../epmd/client.js';
import type { NodeName } from '../terms.js';
import { DEFAULT_MAX_FRAME, SocketFrameIO } from './framing.js';
import { accept, initiate, MAX_HANDSHAKE_MESSAGE, type HandshakeResult, type HandshakeStatus } from './handshake.js';
import { parseNodeName } from './node-name.js';

export class SetupError extends Error {
  override readonly name = 'SetupError';
  constructor(
    readonly code: 'noport' | 'connect_failed' | 'bad_name',
    message: string,
  ) {
    super(message);
  }
}

export interface SetupParams {
  readonly name: NodeName;
  readonly creation: number;
  readonly cookie: string;
  readonly hidden: boolean;
  readonly setupTimeMs: number;
  readonly epmdPort: number;
  readonly maxFrame?: number;
}

export interface Established {
  readonly result: HandshakeResult;
  readonly socket: net.Socket;
  readonly buffered: Buffer;
}

/** Connect to `peer`: epmd lookup on the peer's host, TCP connect, handshake as node A. */
export async function connectTo(peer: NodeName, p: SetupParams, onAlive: () => boolean): Promise<Established> {
  const { alive, host } = parseNodeName(peer);
  const deadline = Date.now() + p.setupTimeMs;
  const info = await portPlease(alive, { host, port: p.epmdPort, timeoutMs: p.setupTimeMs });
  if (info === 'noport') throw new SetupError('noport', `${alive} is not registered with epmd on ${host}`);
  const socket = await tcpConnect(host, info.port, Math.max(1, deadline - Date.now()));
  const io = new SocketFrameIO(socket, { peer, maxFrame: handshakeLimit(p) });
  const result = await initiate(io, {
    name: p.name,
    peer,
    creation: p.creation,
    cookie: p.cookie,
    hidden: p.hidden,
    setupTimeMs: Math.max(1, deadline - Date.now()),
    onAlive,
  });
  const { socket: s, buffered } = io.detach();
  return { result, socket: s, buffered };
}

/** Run the handshake as node B on an accepted socket. */
export async function acceptFrom(
  socket: net.Socket,
  p: SetupParams,
  decideStatus: (peer: NodeName, flags: bigint) => HandshakeStatus,
): Promise<Established> {
  const io = new SocketFrameIO(socket, { maxFrame: handshakeLimit(p) });
  const result = await accept(io, {
    name: p.name,
    creation: p.creation,
    cookie: p.cookie,
    hidden: p.hidden,
    setupTimeMs: p.setupTimeMs,
    decideStatus,
  });
  const { socket: s, buffered } = io.detach();
  return { result, socket: s, buffered };
}

/** The handshake's frames are small; the connection that follows applies `maxFrame`. */
function handshakeLimit(p: SetupParams): number {
  return Math.min(p.maxFrame ?? DEFAULT_MAX_FRAME, MAX_HANDSHAKE_MESSAGE);
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new SetupError('connect_failed', `connect to ${host}:${port} timed out`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new SetupError('connect_failed', `connect to ${host}:${port}: ${err.message}`));
    });
  });
}
