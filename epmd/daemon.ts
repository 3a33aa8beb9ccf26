/**
 * The EPMD daemon: a TCP server that answers one request per connection, except
 * ALIVE2, whose connection *is* the registration (close = unregister). Every bad
 * request closes only its own connection, without a reply, and is logged.
 * Rules and timeouts follow OTP's `epmd_srv.c`; see shared/reference/erlang/epmd-reference.md.
 */
import net from 'node:net';
import { RequestFramer } from './framer.js';
import { type EpmdLogger, silentLogger } from './logger.js';
import {
  DEFAULT_PORT,
  decodeRequest,
  dumpActiveLine,
  dumpOldLine,
  encodeAlive2Resp,
  encodeDaemonPort,
  encodePort2Resp,
  namesLine,
  ProtocolError,
  REFUSED_CREATION,
  type Request,
} from './protocol.js';
import { Registry } from './registry.js';

/** A connection with no complete request is closed after this long (`CLOSE_TIMEOUT`). */
export const DEFAULT_PACKET_TIMEOUT_MS = 60_000;
/** How often idle connections are swept (`IDLE_TIMEOUT`, the real select loop's wake-up). */
const SWEEP_MS = 5_000;
/** Bound on open connections, so memory stays bounded (each holds at most one 3 KB request). */
export const DEFAULT_MAX_CONNECTIONS = 8192;

export interface DaemonOptions {
  /** TCP port; 0 picks a free one (tests). Default 4369. */
  readonly port?: number;
  /**
   * Addresses to listen on. Absent: every interface (IPv4 and IPv6). Present: those,
   * plus the loopback addresses, which are always added as the real daemon does.
   */
  readonly addresses?: readonly string[];
  /** Allow KILL with nodes registered, and STOP (`-relaxed_command_check`). */
  readonly relaxedCommandCheck?: boolean;
  readonly packetTimeoutMs?: number;
  readonly maxConnections?: number;
  readonly logger?: EpmdLogger;
  /** Unix time in seconds, for creation counters (tests pass a fixed clock). */
  readonly nowSeconds?: () => number;
}

export interface RegisteredNode {
  readonly name: string;
  readonly port: number;
}

export interface Daemon {
  /** The port actually listened on. */
  readonly port: number;
  /** Addresses actually bound. */
  readonly addresses: readonly string[];
  /** Registered nodes, newest first (as NAMES lists them). */
  registered(): RegisteredNode[];
  /** Open client connections (registrations included). */
  connections(): number;
  /** Stop listening and close every connection. */
  close(): Promise<void>;
  /** Settles when the daemon stops: `killed` after an accepted KILL_REQ, else `closed`. */
  readonly stopped: Promise<'killed' | 'closed'>;
}

/** Thrown by `startDaemon` when the port is taken: an epmd probably runs there already. */
export class AddressInUseError extends Error {
  override readonly name = 'AddressInUseError';
  constructor(readonly port: number) {
    super(`there is already an epmd running at port ${port}`);
  }
}

interface Conn {
  readonly id: number;
  readonly socket: net.Socket;
  readonly local: boolean;
  readonly framer: RequestFramer;
  lastActivity: number;
  /** Set once an ALIVE2 was answered: the socket is kept and never times out. */
  keep: boolean;
}

export async function startDaemon(opts: DaemonOptions = {}): Promise<Daemon> {
  const log = opts.logger ?? silentLogger;
  const packetTimeoutMs = opts.packetTimeoutMs ?? DEFAULT_PACKET_TIMEOUT_MS;
  const relaxed = opts.relaxedCommandCheck ?? false;
  const registry = new Registry(opts.nowSeconds);
  const conns = new Map<number, Conn>();
  let nextConnId = 1;
  let port = opts.port ?? DEFAULT_PORT;
  let resolveStopped: (how: 'killed' | 'closed') => void = () => undefined;
  const stopped = new Promise<'killed' | 'closed'>((r) => (resolveStopped = r));

  const servers: net.Server[] = [];
  const bound: string[] = [];

  const onConnection = (socket: net.Socket): void => {
    const conn: Conn = {
      id: nextConnId++,
      socket,
      local: isLocalPeer(socket),
      framer: new RequestFramer(),
      lastActivity: Date.now(),
      keep: false,
    };
    conns.set(conn.id, conn);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => onData(conn, chunk));
    socket.on('error', (err) => log.debug('socket_error', { conn: conn.id, error: err.message }));
    socket.on('close', () => onClose(conn));
  };

  const onData = (conn: Conn, chunk: Buffer): void => {
    conn.lastActivity = Date.now();
    if (conn.keep) {
      // Any byte on a registration socket ends the registration ("got more than
      // expected on ALIVE socket"), including a second ALIVE2.
      const name = registry.unregisterConn(conn.id);
      log.warn('unexpected_data_on_alive_socket', { conn: conn.id, node: name, bytes: chunk.length });
      conn.socket.destroy();
      return;
    }
    let body: Buffer | undefined;
    let req: Request;
    try {
      body = conn.framer.push(chunk);
      if (body === undefined) return;
      req = decodeRequest(body);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      log.warn('bad_request_closed', { conn: conn.id, peer: conn.socket.remoteAddress, code: err.code, reason: err.message });
      conn.socket.destroy();
      return;
    }
    handle(conn, req);
  };

  const onClose = (conn: Conn): void => {
    conns.delete(conn.id);
    if (conn.keep) {
      const name = registry.unregisterConn(conn.id);
      if (name !== undefined) log.info('node_unregistered', { node: name });
    } else if (conn.framer.started && !conn.socket.writableEnded) {
      log.debug('partial_request_closed', { conn: conn.id, received: conn.framer.received });
    }
  };

  /** Close without replying: what the real daemon does with everything it refuses. */
  const refuse = (conn: Conn, event: string, fields: Record<string, unknown> = {}): void => {
    log.warn(event, { conn: conn.id, peer: conn.socket.remoteAddress, ...fields });
    conn.socket.destroy();
  };

  const handle = (conn: Conn, req: Request): void => {
    switch (req.kind) {
      case 'alive2': {
        if (!conn.local) return refuse(conn, 'alive2_from_non_local_peer');
        const r = registry.register(conn.id, req.nameBytes, req.node);
        conn.keep = true; // kept open even after a refusal, as the real daemon does
        if (r.ok) log.info('node_registered', { node: req.node.name, port: req.node.port, creation: r.creation });
        else log.warn('alive2_refused', { conn: conn.id, node: req.node.name, reason: r.reason });
        conn.socket.write(encodeAlive2Resp(req.node.highestVersion, r.ok, r.ok ? r.creation : REFUSED_CREATION));
        return;
      }
      case 'port_please2':
        conn.socket.end(encodePort2Resp(registry.lookup(req.name)));
        return;
      case 'names': {
        let text = '';
        for (const e of registry.registered()) text += namesLine(e.node.name, e.node.port);
        conn.socket.end(Buffer.concat([encodeDaemonPort(port), Buffer.from(text, 'utf8')]));
        return;
      }
      case 'dump': {
        if (!conn.local) return refuse(conn, 'dump_from_non_local_peer');
        let text = '';
        for (const e of registry.registered()) text += dumpActiveLine(e.node.name, e.node.port, e.connId);
        for (const e of registry.unregistered()) text += dumpOldLine(e.node.name, e.node.port, e.connId);
        conn.socket.end(Buffer.concat([encodeDaemonPort(port), Buffer.from(text, 'utf8')]));
        return;
      }
      case 'kill': {
        if (!conn.local) return refuse(conn, 'kill_from_non_local_peer');
        if (!relaxed && registry.size > 0) {
          log.warn('kill_refused_live_nodes', { nodes: registry.size });
          conn.socket.end('NO');
          return;
        }
        log.info('killed');
        conn.socket.end('OK', () => void shutdown('killed'));
        return;
      }
      case 'stop': {
        if (!conn.local) return refuse(conn, 'stop_from_non_local_peer');
        if (!relaxed) return refuse(conn, 'stop_refused_not_relaxed', { node: req.name });
        const holder = registry.unregisterName(req.name);
        if (holder === undefined) {
          conn.socket.end('NOEXIST');
          return;
        }
        const alive = conns.get(holder);
        if (alive !== undefined) {
          alive.keep = false;
          alive.socket.destroy();
        }
        log.info('node_stopped', { node: req.name });
        conn.socket.end('STOPPED');
        return;
      }
    }
  };

  // Connections that hold no registration and made no progress for packetTimeoutMs
  // are closed (slow or stalled peers), checked on one timer for all connections.
  const sweep = setInterval(
    () => {
      const deadline = Date.now() - packetTimeoutMs;
      for (const c of conns.values()) {
        if (!c.keep && c.lastActivity < deadline) {
          log.warn('request_timeout_closed', { conn: c.id, peer: c.socket.remoteAddress, received: c.framer.received });
          c.socket.destroy();
        }
      }
    },
    Math.max(10, Math.min(SWEEP_MS, packetTimeoutMs / 2)),
  );
  sweep.unref();

  const maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const listen = (host: string, optional: boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      const server = net.createServer({ noDelay: true }, onConnection);
      server.maxConnections = maxConnections;
      server.on('drop', (d) => log.warn('connection_dropped_at_limit', { peer: d?.remoteAddress, limit: maxConnections }));
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (optional && err.code !== 'EADDRINUSE') return resolve(); // e.g. no IPv6 on this host
        reject(err.code === 'EADDRINUSE' ? new AddressInUseError(port) : err);
      });
      server.listen({ host, port, ipv6Only: host.includes(':'), exclusive: true }, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => log.error('listener_error', { host, error: err.message }));
        const addr = server.address();
        if (addr !== null && typeof addr === 'object') port = addr.port;
        servers.push(server);
        bound.push(host);
        resolve();
      });
    });

  const hosts = listenHosts(opts.addresses);
  try {
    for (const h of hosts) await listen(h.host, h.optional);
  } catch (err) {
    clearInterval(sweep);
    for (const s of servers) s.close();
    throw err;
  }
  log.info('epmd_listening', { port, addresses: bound });

  let closing: Promise<void> | undefined;
  const shutdown = (how: 'killed' | 'closed'): Promise<void> => {
    closing ??= (async () => {
      clearInterval(sweep);
      const closed = servers.map((s) => new Promise<void>((r) => s.close(() => r())));
      for (const c of conns.values()) c.socket.destroy();
      await Promise.all(closed);
      resolveStopped(how);
    })();
    return closing;
  };

  return {
    port,
    addresses: bound,
    registered: () => registry.registered().map((e) => ({ name: e.node.name, port: e.node.port })),
    connections: () => conns.size,
    close: () => shutdown('closed'),
    stopped,
  };
}

/** Which sockets to open: the real daemon's defaults, loopback always included. */
function listenHosts(addresses: readonly string[] | undefined): { host: string; optional: boolean }[] {
  if (addresses === undefined || addresses.length === 0) {
    return [
      { host: '0.0.0.0', optional: false },
      { host: '::', optional: true },
    ];
  }
  const out = addresses.map((host) => ({ host, optional: false }));
  if (!addresses.some((a) => a.startsWith('127.'))) out.push({ host: '127.0.0.1', optional: false });
  if (!addresses.includes('::1')) out.push({ host: '::1', optional: true });
  return out;
}

/** 127.x.x.x, ::1, or the host's own address the peer connected to (`conn_open` local_peer). */
function isLocalPeer(socket: net.Socket): boolean {
  const remote = stripV4Mapped(socket.remoteAddress ?? '');
  if (remote.startsWith('127.') || remote === '::1') return true;
  return remote !== '' && remote === stripV4Mapped(socket.localAddress ?? '');
}

function stripV4Mapped(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
