/**
 * The broker end to end with MQTT.js over TCP and WebSocket, v3.1.1 and v5: connect,
 * subscribe, publish at each QoS, retained messages, and the session kept across a
 * reconnect.
 */
import test from 'ava';
import mqtt from 'mqtt';
import { testBroker } from '../../helpers/broker.js';
import { waitFor, withTimeout } from '../../helpers/wait.js';

function client(url: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return withTimeout(mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts }), `connect to ${url}`);
}

// TCP on libuv's handle (the default) and on node:net (listeners.tcp.backend = net).
for (const [proto, version, backend] of [['mqtt', 4, 'handle'], ['mqtt', 5, 'handle'], ['mqtt', 4, 'net'], ['mqtt', 5, 'net'], ['ws', 4, ''], ['ws', 5, '']] as const) {
  test(`e2e: ${proto}${backend === 'net' ? ' (net backend)' : ''} v${version} — subscribe, publish QoS 0/1/2, receive in order`, async (t) => {
    const b = await testBroker(t, backend === 'net' ? { listeners: { tcp: { backend } } } : {});
    const url = proto === 'mqtt' ? `mqtt://127.0.0.1:${b.tcp}` : `ws://127.0.0.1:${b.ws}/mqtt`;
    const sub = await client(url, { protocolVersion: version, clientId: `sub-${proto}-${version}` });
    const pub = await client(url, { protocolVersion: version, clientId: `pub-${proto}-${version}` });
    t.teardown(() => {
      sub.end(true);
      pub.end(true);
    });
    const got: string[] = [];
    sub.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`));
    await sub.subscribeAsync('a/+/c', { qos: 2 });
    await pub.publishAsync('a/b/c', 'q0', { qos: 0 });
    await pub.publishAsync('a/b/c', 'q1', { qos: 1 });
    await pub.publishAsync('a/x/c', 'q2', { qos: 2 });
    await pub.publishAsync('a/b/d', 'nope', { qos: 1 });
    await waitFor(() => got.length >= 3, 'three messages');
    t.deepEqual(got, ['a/b/c=q0', 'a/b/c=q1', 'a/x/c=q2']);
  });
}

test('e2e: a retained message reaches a later subscriber; an empty one clears it', async (t) => {
  const b = await testBroker(t);
  const url = `mqtt://127.0.0.1:${b.tcp}`;
  const pub = await client(url, { clientId: 'rpub' });
  t.teardown(() => pub.end(true));
  await pub.publishAsync('r/1', 'kept', { qos: 1, retain: true });
  const sub = await client(url, { clientId: 'rsub' });
  t.teardown(() => sub.end(true));
  const got: [string, boolean][] = [];
  sub.on('message', (_t, p, pk) => got.push([p.toString(), pk.retain]));
  await sub.subscribeAsync('r/#', { qos: 1 });
  await waitFor(() => got.length === 1, 'the retained message');
  t.deepEqual(got, [['kept', true]]);
  await pub.publishAsync('r/1', '', { qos: 1, retain: true });
  const sub2 = await client(url, { clientId: 'rsub2' });
  t.teardown(() => sub2.end(true));
  const got2: string[] = [];
  sub2.on('message', (_t, p) => got2.push(p.toString()));
  await sub2.subscribeAsync('r/#', { qos: 1 });
  await pub.publishAsync('r/2', 'live', { qos: 1 });
  await waitFor(() => got2.length === 1, 'the live message');
  t.deepEqual(got2, ['live'], 'the cleared retained message is gone');
});

test('e2e: a persistent session keeps QoS 1 messages while its client is away', async (t) => {
  const b = await testBroker(t);
  const url = `mqtt://127.0.0.1:${b.tcp}`;
  const sub = await client(url, { clientId: 'persist', clean: false, protocolVersion: 4 });
  await sub.subscribeAsync('p/t', { qos: 1 });
  await withTimeout(sub.endAsync(), 'disconnect');
  const pub = await client(url, { clientId: 'ppub' });
  t.teardown(() => pub.end(true));
  for (let i = 0; i < 10; i++) await pub.publishAsync('p/t', `m${i}`, { qos: 1 });
  const got: string[] = [];
  // Listen before connecting: the queued messages follow the CONNACK at once.
  const back = mqtt.connect(url, { clientId: 'persist', clean: false, protocolVersion: 4, reconnectPeriod: 0 });
  t.teardown(() => back.end(true));
  back.on('message', (_t, p) => got.push(p.toString()));
  let present: boolean | undefined;
  back.on('connect', (ack) => (present = ack.sessionPresent));
  await waitFor(() => present !== undefined, 'CONNACK');
  t.true(present, 'session present');
  await waitFor(() => got.length === 10, 'the 10 queued messages');
  t.deepEqual(got, Array.from({ length: 10 }, (_, i) => `m${i}`));
});
