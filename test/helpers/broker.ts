/**
 * A broker on a fresh node in this OS process, with listeners on free loopback ports,
 * stopped in teardown; and the clients the broker's end-to-end tests talk to it with
 * (the raw packet client, MQTT.js, mosquitto's command-line clients), each closed in
 * teardown, plus a look at a session actor's state through its `info` call.
 */
import type { ExecutionContext } from 'ava';
import mqtt from 'mqtt';
import { loadConfig, startBroker, type Broker } from '../../broker/index.js';
import { genServer, startNode, type LocalNode, type Pid } from '../../runtime/index.js';
import type { SessionInfo, SessionProtocol } from '../../broker/session/session-server.js';
import { connect, type ClientOptions, type ConnectFields, type MqttTestClient } from './mqtt.js';
import { hasBinary } from './procs.js';
import { waitFor, withTimeout } from './wait.js';
import type { IConnackPacket } from 'mqtt-packet';

export interface TestBroker {
  readonly node: LocalNode;
  readonly broker: Broker;
  readonly tcp: number;
  readonly ws: number;
}

export async function testBroker(t: ExecutionContext, overrides: Record<string, unknown> = {}): Promise<TestBroker> {
  const node = await startNode();
  t.teardown(() => node.stop());
  const base = { listeners: { tcp: { bind: '127.0.0.1:0' }, ws: { bind: '127.0.0.1:0' } }, sys: { interval_ms: 0 } };
  const cfg = loadConfig(deepMerge(base, overrides), {});
  const broker = await startBroker(node, cfg);
  const p = broker.ports();
  return { node, broker, tcp: p.tcp!, ws: p.ws! };
}

export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const av = out[k];
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof av === 'object' && av !== null ? deepMerge(av as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** A raw packet client on the broker's TCP (or WebSocket) listener, closed in teardown. */
export async function rawClient(t: ExecutionContext, b: TestBroker, opts: ClientOptions = {}): Promise<MqttTestClient> {
  const c = await connect(opts.transport === 'ws' ? b.ws : b.tcp, opts);
  t.teardown(() => c.close());
  return c;
}

/** A raw client that has sent CONNECT and received its CONNACK. */
export async function rawConnected(
  t: ExecutionContext,
  b: TestBroker,
  opts: ClientOptions & { readonly connect?: ConnectFields } = {},
): Promise<{ client: MqttTestClient; connack: IConnackPacket }> {
  const client = await rawClient(t, b, opts);
  await client.sendConnect(opts.connect);
  const connack = await client.nextPacket('connack');
  return { client, connack };
}

/**
 * A PINGREQ/PINGRESP round trip: every packet this client sent before has been
 * handled by its session actor when this resolves (the actor handles its socket in order).
 */
export async function roundTrip(c: MqttTestClient): Promise<void> {
  await c.send({ cmd: 'pingreq' });
  await c.nextPacket('pingresp');
}

/** The session actor of `clientId`, or undefined. */
export function sessionPid(b: TestBroker, clientId: string): Pid | undefined {
  return b.broker.ctx.sessions.get(clientId);
}

/** The session actor's own account of its state (its `info` call). */
export async function sessionInfo(b: TestBroker, clientId: string): Promise<SessionInfo> {
  const pid = sessionPid(b, clientId);
  if (pid === undefined) throw new Error(`no session for ${clientId}`);
  return b.node.run(() => genServer.call<SessionProtocol, ['info']>(pid, ['info'], 5_000));
}

/** An MQTT.js client connected to `url` (no automatic reconnect), ended in teardown. */
export async function mqttjs(t: ExecutionContext, url: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const c = await withTimeout(mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts }), `MQTT.js connect to ${url}`);
  t.teardown(() => c.end(true));
  return c;
}

export const tcpUrl = (b: TestBroker): string => `mqtt://127.0.0.1:${b.tcp}`;
export const wsUrl = (b: TestBroker): string => `ws://127.0.0.1:${b.ws}/mqtt`;

/** True when mosquitto_pub and mosquitto_sub are installed; otherwise the test logs why it skips. */
export function haveMosquittoClients(t: ExecutionContext): boolean {
  const ok = hasBinary('mosquitto_pub') && hasBinary('mosquitto_sub');
  if (!ok) t.log('mosquitto_pub/mosquitto_sub not installed: skipped');
  return ok;
}

/**
 * Resolves once the broker has registered a session for `clientId`. A CONNACK can reach
 * the client just before the registration is done, so a test that drops a connection
 * right after CONNECT and then waits for `sessionGone` waits for this first.
 */
export function sessionUp(b: TestBroker, clientId: string, timeoutMs = 5_000): Promise<true> {
  return waitFor(() => b.broker.ctx.sessions.has(clientId), `the session of ${clientId} to be registered`, timeoutMs);
}

/** Resolves once the session actor of `clientId` has ended (cm forgot it after its DOWN). */
export function sessionGone(b: TestBroker, clientId: string, timeoutMs = 5_000): Promise<true> {
  return waitFor(() => !b.broker.ctx.sessions.has(clientId), `the session of ${clientId} to end`, timeoutMs);
}
