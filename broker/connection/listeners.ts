/**
 * The MQTT listeners: TCP (libuv's handle, tcp-handle.ts, or node:net; default 1883) and WebSocket (ws, default 8083,
 * path /mqtt, subprotocol mqtt). Each accepted connection is read until its CONNECT (acceptor.ts);
 * stopping the server closes the listening sockets (sessions stop with session_sup).
 */
import http from 'node:http';
import net from 'node:net';
import { WebSocketServer } from 'ws';
import { genServer, logger, type GenServer } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { parseBind } from '../config.js';
import { accept as acceptConnection } from './acceptor.js';
import { ConnectWaits } from './connect-wait.js';
import { handleBindings, listenHandle } from './tcp-handle.js';
import { TcpTransport, WsTransport, type Transport } from './transport.js';

const log = logger('broker:listeners');

export interface ListenerPorts {
  tcp: number | undefined;
  ws: number | undefined;
}

/*
 * State: the context and the servers we opened (closed in terminate).
 */
interface State {
  readonly ctx: BrokerContext;
  readonly closers: (() => Promise<void>)[];
}

interface ListenersProtocol {
  calls: { ports: { args: []; reply: ListenerPorts } };
}

const portsOf = new WeakMap<BrokerContext, ListenerPorts>();

/** The ports actually bound (a configured port 0 picks a free one). */
export function listenerPorts(ctx: BrokerContext): ListenerPorts {
  return portsOf.get(ctx) ?? { tcp: undefined, ws: undefined };
}

export const listenersServer: GenServer<ListenersProtocol, State, BrokerContext> = {
  async init(ctx, self) {
    const closers: (() => Promise<void>)[] = [];
    const ports: ListenerPorts = { tcp: undefined, ws: undefined };
    portsOf.set(ctx, ports);
    const waits = new ConnectWaits(ctx.cfg.mqtt.idle_timeout_ms);
    closers.push(() => Promise.resolve(waits.close()));
    const accept = (t: Transport): void => acceptConnection(ctx, waits, self, t);
    const l = ctx.cfg.listeners;
    try {
      if (l.tcp.enable) {
        const b = parseBind(l.tcp.bind);
        const bindings = l.tcp.backend === 'handle' ? handleBindings() : undefined;
        if (l.tcp.backend === 'handle' && bindings === undefined) log.warn('tcp_handle_unavailable', { using: 'net' });
        if (bindings !== undefined) {
          const h = await listenHandle(bindings, b.host, b.port, accept);
          ports.tcp = h.port;
          closers.push(h.close);
        } else {
          const server = net.createServer({ noDelay: true }, (socket) => accept(new TcpTransport(socket)));
          ports.tcp = await listen(server, b.host, b.port);
          closers.push(() => closeServer(server));
        }
        log.info('listener_started', { proto: 'tcp', host: b.host, port: ports.tcp, backend: bindings !== undefined ? 'handle' : 'net' });
      }
      if (l.ws.enable) {
        const server = http.createServer((_req, res) => {
          res.writeHead(426, { 'content-type': 'text/plain' });
          res.end('MQTT over WebSocket: connect to ' + l.ws.path + '\n');
        });
        const wss = new WebSocketServer({
          server,
          path: l.ws.path,
          maxPayload: ctx.cfg.mqtt.max_packet_size + 8,
          // MQTT over WebSocket uses the 'mqtt' subprotocol (§6); old clients say 'mqttv3.1'.
          handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : protocols.has('mqttv3.1') ? 'mqttv3.1' : false),
        });
        wss.on('connection', (ws, req) => {
          const host = req.socket.remoteAddress ?? '';
          accept(new WsTransport(ws, host, `${host}:${req.socket.remotePort ?? 0}`));
        });
        const b = parseBind(l.ws.bind);
        ports.ws = await listen(server, b.host, b.port);
        closers.push(async () => {
          for (const c of wss.clients) c.terminate();
          wss.close();
          await closeServer(server);
        });
        log.info('listener_started', { proto: 'ws', host: b.host, port: ports.ws, path: l.ws.path });
      }
    } catch (err) {
      for (const c of closers) await c();
      return genServer.stop(['listen_failed', String((err as Error).message)]);
    }
    return genServer.ok({ ctx, closers });
  },
  handleCall: (_req, _from, s) => genServer.reply(listenerPorts(s.ctx), s),
  async terminate(_reason, s) {
    for (const c of s.closers) await c();
  },
};

function listen(server: net.Server | http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      const a = server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : port);
    });
  });
}

function closeServer(server: net.Server | http.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
