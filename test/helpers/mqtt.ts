/**
 * An aedes-style MQTT test client: packet objects in (mqtt-packet's generator),
 * parsed packets out, over a real TCP socket or a WebSocket (subprotocol `mqtt`).
 * Received packets queue up; `nextPacket` takes the first one of a kind, and every
 * wait has a timeout and a message naming what it waited for. `writeRaw` sends any
 * bytes, for malformed-input tests. Also starts a real mosquitto for interop tests.
 */
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { generate, parser, type IConnackPacket, type IConnectPacket, type IPublishPacket, type ISubackPacket, type ISubscription, type IUnsubackPacket, type Packet, type PacketCmd, type QoS } from 'mqtt-packet';
import WebSocket from 'ws';
import { freePort } from './ports.js';
import { hasBinary, startChild } from './procs.js';
import { WaitTimeout } from './wait.js';

export type ProtocolVersion = 3 | 4 | 5;
export type PacketOf<C extends PacketCmd> = Extract<Packet, { cmd: C }>;

export interface ClientOptions {
  /** 3 (MQIsdp 3.1), 4 (3.1.1) or 5. Default 4. */
  readonly protocolVersion?: ProtocolVersion;
  readonly host?: string;
  /** Default 'tcp'. */
  readonly transport?: 'tcp' | 'ws';
  /** WebSocket path, default '/mqtt'. */
  readonly wsPath?: string;
  /** Default timeout of every wait of this client, ms. Default 5000. */
  readonly timeoutMs?: number;
}

/** CONNECT fields for `connectAndWaitConnack` / `sendConnect`; the rest of the packet is filled in. */
export type ConnectFields = Partial<Omit<IConnectPacket, 'cmd' | 'protocolVersion' | 'protocolId'>>;

export interface PublishOptions {
  readonly qos?: QoS;
  readonly retain?: boolean;
  readonly dup?: boolean;
  readonly properties?: IPublishPacket['properties'];
  readonly messageId?: number;
  readonly timeoutMs?: number;
}

export interface MqttTestClient {
  readonly protocolVersion: ProtocolVersion;
  /** True once the transport closed (by either side). */
  readonly closed: boolean;
  /** Encode and send one packet; resolves when written. */
  send(packet: Packet): Promise<void>;
  /** Send bytes as they are (one TCP write, or one binary WebSocket message). */
  writeRaw(buf: Buffer): Promise<void>;
  /** The first queued or next arriving packet of kind `cmd` (any kind when omitted); others stay queued. */
  nextPacket<C extends PacketCmd = PacketCmd>(cmd?: C, timeoutMs?: number): Promise<PacketOf<C>>;
  /** The first queued or next arriving packet that `match` accepts. */
  nextMatching<P extends Packet>(match: (p: Packet) => p is P, what: string, timeoutMs?: number): Promise<P>;
  /** Packets received and not yet taken. */
  pending(): readonly Packet[];
  /** Resolves once the peer (or we) closed the connection. */
  expectClosed(timeoutMs?: number): Promise<void>;
  /** Send CONNECT with these fields (clientId defaults to a unique one). */
  sendConnect(fields?: ConnectFields): Promise<void>;
  /** SUBSCRIBE and wait for its SUBACK. */
  subscribe(filter: string | readonly ISubscription[], qos?: QoS, properties?: ISubscribeProperties): Promise<ISubackPacket>;
  /** UNSUBSCRIBE and wait for its UNSUBACK. */
  unsubscribe(filters: string | readonly string[]): Promise<IUnsubackPacket>;
  /** PUBLISH with the whole flow: nothing (QoS 0), [PUBACK] (QoS 1), or [PUBREC, PUBCOMP] after our PUBREL (QoS 2). */
  publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<Packet[]>;
  /** Acknowledge a received PUBLISH: PUBACK, or PUBREC, wait for PUBREL, PUBCOMP. */
  ackPublish(p: IPublishPacket, timeoutMs?: number): Promise<void>;
  /** Send DISCONNECT, then close. */
  disconnect(reasonCode?: number): Promise<void>;
  /** Close the transport at once; resolves once closed. Safe to call twice. */
  close(): Promise<void>;
}

type ISubscribeProperties = NonNullable<Extract<Packet, { cmd: 'subscribe' }>['properties']>;

interface Transport {
  write(b: Buffer): Promise<void>;
  destroy(): void;
}

interface Waiter {
  readonly match: (p: Packet) => boolean;
  readonly what: string;
  resolve(p: Packet): void;
  reject(e: Error): void;
}

let clientSeq = 0;

/** Open a transport to an MQTT server; nothing is sent yet. */
export async function connect(port: number, opts: ClientOptions = {}): Promise<MqttTestClient> {
  const protocolVersion = opts.protocolVersion ?? 4;
  const host = opts.host ?? '127.0.0.1';
  const defaultTimeout = opts.timeoutMs ?? 5_000;
  const queue: Packet[] = [];
  const waiters = new Set<Waiter>();
  const closeWaiters = new Set<() => void>();
  let closed = false;
  let failure: Error | undefined;
  let packetId = 0;
  const nextId = (): number => (packetId = (packetId % 65_535) + 1);

  const p = parser({ protocolVersion });
  p.on('packet', (pkt: Packet) => {
    for (const w of waiters) {
      if (w.match(pkt)) {
        waiters.delete(w);
        w.resolve(pkt);
        return;
      }
    }
    queue.push(pkt);
  });
  p.on('error', (err: unknown) => {
    failure = err instanceof Error ? err : new Error(String(err));
    for (const w of waiters) w.reject(new Error(`unparsable bytes from the server while waiting for ${w.what}: ${failure.message}`));
    waiters.clear();
  });
  const onData = (b: Buffer): void => {
    if (failure === undefined) p.parse(b);
  };
  const onClose = (): void => {
    if (closed) return;
    closed = true;
    for (const w of waiters) w.reject(new Error(`connection closed while waiting for ${w.what}`));
    waiters.clear();
    for (const c of closeWaiters) c();
    closeWaiters.clear();
  };

  const transport = opts.transport === 'ws' ? await openWs(host, port, opts.wsPath ?? '/mqtt', onData, onClose) : await openTcp(host, port, onData, onClose);

  const nextMatching = <P extends Packet>(match: (p: Packet) => p is P, what: string, timeoutMs = defaultTimeout): Promise<P> => {
    const i = queue.findIndex(match);
    if (i !== -1) return Promise.resolve(queue.splice(i, 1)[0] as P);
    if (failure !== undefined) return Promise.reject(new Error(`unparsable bytes from the server before ${what}: ${failure.message}`));
    if (closed) return Promise.reject(new Error(`connection already closed; waited for ${what}`));
    return new Promise<P>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new WaitTimeout(`timed out after ${timeoutMs} ms waiting for ${what}; queued: [${queue.map((q) => q.cmd).join(', ')}]`));
      }, timeoutMs);
      const w: Waiter = {
        match,
        what,
        resolve: (pkt) => {
          clearTimeout(timer);
          resolve(pkt as P);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      waiters.add(w);
    });
  };

  const nextPacket = <C extends PacketCmd = PacketCmd>(cmd?: C, timeoutMs = defaultTimeout): Promise<PacketOf<C>> =>
    nextMatching((pkt): pkt is PacketOf<C> => cmd === undefined || pkt.cmd === cmd, cmd ?? 'any packet', timeoutMs);

  const send = (packet: Packet): Promise<void> => transport.write(generate(packet, { protocolVersion }));

  const expectClosed = (timeoutMs = defaultTimeout): Promise<void> =>
    closed
      ? Promise.resolve()
      : new Promise((resolve, reject) => {
          const done = (): void => {
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(() => {
            closeWaiters.delete(done);
            reject(new WaitTimeout(`timed out after ${timeoutMs} ms waiting for the connection to close; queued: [${queue.map((q) => q.cmd).join(', ')}]`));
          }, timeoutMs);
          closeWaiters.add(done);
        });

  const client: MqttTestClient = {
    protocolVersion,
    get closed() {
      return closed;
    },
    send,
    writeRaw: (buf) => transport.write(buf),
    nextPacket,
    nextMatching,
    pending: () => [...queue],
    expectClosed,
    sendConnect: (fields = {}) =>
      send({
        cmd: 'connect',
        protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
        protocolVersion,
        clientId: `beamq-test-${process.pid}-${++clientSeq}`,
        clean: true,
        keepalive: 0,
        ...fields,
      }),
    async subscribe(filter, qos = 0, properties) {
      const messageId = nextId();
      const subscriptions = typeof filter === 'string' ? [{ topic: filter, qos }] : [...filter];
      await send({ cmd: 'subscribe', messageId, subscriptions, ...(properties === undefined ? {} : { properties }) });
      return nextMatching((pkt): pkt is ISubackPacket => pkt.cmd === 'suback' && pkt.messageId === messageId, `SUBACK ${messageId}`);
    },
    async unsubscribe(filters) {
      const messageId = nextId();
      await send({ cmd: 'unsubscribe', messageId, unsubscriptions: typeof filters === 'string' ? [filters] : [...filters] });
      return nextMatching((pkt): pkt is IUnsubackPacket => pkt.cmd === 'unsuback' && pkt.messageId === messageId, `UNSUBACK ${messageId}`);
    },
    async publish(topic, payload, o = {}) {
      const qos = o.qos ?? 0;
      const messageId = qos === 0 ? undefined : (o.messageId ?? nextId());
      await send({
        cmd: 'publish',
        topic,
        payload,
        qos,
        retain: o.retain ?? false,
        dup: o.dup ?? false,
        ...(messageId === undefined ? {} : { messageId }),
        ...(o.properties === undefined ? {} : { properties: o.properties }),
      });
      if (qos === 0) return [];
      const ack = (cmd: PacketCmd) => (pkt: Packet): pkt is Packet => pkt.cmd === cmd && pkt.messageId === messageId;
      if (qos === 1) return [await nextMatching(ack('puback'), `PUBACK ${messageId}`, o.timeoutMs)];
      const pubrec = await nextMatching(ack('pubrec'), `PUBREC ${messageId}`, o.timeoutMs);
      await send({ cmd: 'pubrel', messageId: messageId! });
      const pubcomp = await nextMatching(ack('pubcomp'), `PUBCOMP ${messageId}`, o.timeoutMs);
      return [pubrec, pubcomp];
    },
    async ackPublish(pub, timeoutMs) {
      const messageId = pub.messageId;
      if (pub.qos === 0 || messageId === undefined) return;
      if (pub.qos === 1) return send({ cmd: 'puback', messageId });
      await send({ cmd: 'pubrec', messageId });
      await nextMatching((pkt): pkt is Packet => pkt.cmd === 'pubrel' && pkt.messageId === messageId, `PUBREL ${messageId}`, timeoutMs);
      await send({ cmd: 'pubcomp', messageId });
    },
    async disconnect(reasonCode) {
      if (!closed) await send({ cmd: 'disconnect', ...(reasonCode === undefined ? {} : { reasonCode }) });
      await client.close();
    },
    async close() {
      transport.destroy();
      await expectClosed();
    },
  };
  return client;
}

/** Open a transport, send CONNECT, and wait for the CONNACK. */
export async function connectAndWaitConnack(
  port: number,
  opts: ClientOptions & { readonly connect?: ConnectFields } = {},
): Promise<{ client: MqttTestClient; connack: IConnackPacket }> {
  const client = await connect(port, opts);
  await client.sendConnect(opts.connect);
  const connack = await client.nextPacket('connack');
  return { client, connack };
}

function openTcp(host: string, port: number, onData: (b: Buffer) => void, onClose: () => void): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, noDelay: true });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined); // a reset shows up as close
      socket.on('data', onData);
      socket.on('close', onClose);
      resolve({
        write: (b) => new Promise<void>((res, rej) => socket.write(b, (err) => (err ? rej(err) : res()))),
        destroy: () => socket.destroy(),
      });
    });
  });
}

function openWs(host: string, port: number, wsPath: string, onData: (b: Buffer) => void, onClose: () => void): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${host}:${port}${wsPath}`, 'mqtt');
    ws.binaryType = 'nodebuffer';
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => undefined); // a reset shows up as close
      ws.on('message', (data: Buffer) => onData(data));
      ws.on('close', onClose);
      resolve({
        write: (b) => new Promise<void>((res, rej) => ws.send(b, { binary: true }, (err) => (err ? rej(err) : res()))),
        destroy: () => ws.terminate(),
      });
    });
  });
}

/** Where mosquitto is, or undefined (Debian installs it in /usr/sbin, often off a user's PATH). */
export function mosquittoBinary(): string | undefined {
  if (hasBinary('mosquitto')) return 'mosquitto';
  return fs.existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : undefined;
}

/**
 * A real mosquitto on free loopback ports (TCP and WebSocket), anonymous access,
 * from a config file in a temp dir; killed and cleaned up in teardown.
 */
export async function startMosquitto(t: ExecutionContext, bin: string): Promise<{ port: number; wsPort: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-mosquitto-'));
  const port = await freePort();
  const wsPort = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      'per_listener_settings false',
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      `listener ${port} 127.0.0.1`,
      `listener ${wsPort} 127.0.0.1`,
      'protocol websockets',
      '',
    ].join('\n'),
  );
  const child = startChild(bin, ['-c', conf]);
  t.teardown(async () => {
    child.kill('SIGTERM');
    await child.exited().catch(() => child.kill('SIGKILL'));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await child.waitOutput(/mosquitto version \S+ running/, `mosquitto to listen on ${port} and ${wsPort}`);
  return { port, wsPort };
}
