/**
 * CONNECT and CONNACK end to end, with the raw packet client over TCP (MQTT 3.1,
 * 3.1.1 and 5.0): the first packet, a second CONNECT, protocol levels, client id
 * rules, Session Present, keepalive and v5 Server Keep Alive. Titled by spec clause.
 */
import test from 'ava';
import { generate, type Packet } from 'mqtt-packet';
import WebSocket from 'ws';
import { rawClient, rawConnected, roundTrip, testBroker } from '../../helpers/broker.js';
import { withTimeout } from '../../helpers/wait.js';

const CONNECT_V4 = (): Buffer => generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'raw', clean: true, keepalive: 0 });

test('[MQTT-3.1.0-1] connect: a first packet other than CONNECT closes the connection, nothing is sent back', async (t) => {
  const b = await testBroker(t);
  const firsts: Packet[] = [
    { cmd: 'pingreq' },
    { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }] },
    { cmd: 'publish', topic: 'a', payload: 'x', qos: 0, retain: false, dup: false },
  ];
  for (const first of firsts) {
    const c = await rawClient(t, b);
    await c.send(first);
    await c.expectClosed();
    t.deepEqual(c.pending(), [], `nothing answers a first ${first.cmd}`);
  }
});

for (const v of [4, 5] as const) {
  test(`[MQTT-3.1.0-2] connect: a second CONNECT closes the connection (v${v})`, async (t) => {
    const b = await testBroker(t);
    const { client, connack } = await rawConnected(t, b, { protocolVersion: v });
    t.is(v === 5 ? connack.reasonCode : connack.returnCode, 0);
    await client.sendConnect({ clientId: 'again' });
    if (v === 5) t.is((await client.nextPacket('disconnect')).reasonCode, 0x82, 'v5: DISCONNECT Protocol Error');
    await client.expectClosed();
  });
}

test('[MQTT-3.1.2-2] connect: an unsupported protocol level gets CONNACK 0x01 and the connection closes', async (t) => {
  const b = await testBroker(t);
  const c = await rawClient(t, b);
  const pkt = CONNECT_V4();
  pkt[8] = 6; // the protocol level byte
  await c.writeRaw(pkt);
  const ack = await c.nextPacket('connack');
  t.is(ack.returnCode, 1);
  await c.expectClosed();
});

test('[MQTT-3.1.2-1] connect: a wrong protocol name closes the connection', async (t) => {
  const b = await testBroker(t);
  const c = await rawClient(t, b);
  const pkt = CONNECT_V4();
  pkt[4] = 0x41; // 'AQTT'
  await c.writeRaw(pkt);
  await c.expectClosed();
  t.false(c.pending().some((p) => p.cmd === 'connack' && p.returnCode === 0));
});

test('[MQTT-3.1.2-3] connect: the reserved connect flag set closes the connection', async (t) => {
  const b = await testBroker(t);
  const c = await rawClient(t, b);
  const pkt = CONNECT_V4();
  pkt[9]! |= 1;
  await c.writeRaw(pkt);
  await c.expectClosed();
  t.false(c.pending().some((p) => p.cmd === 'connack' && p.returnCode === 0));
});

test('connect: MQTT 3.1 (MQIsdp, level 3) is accepted; a client id over 23 characters gets 0x02', async (t) => {
  const b = await testBroker(t);
  const ok = await rawConnected(t, b, { protocolVersion: 3, connect: { clientId: 'mqtt31-client' } });
  t.is(ok.connack.returnCode, 0);
  await ok.client.subscribe('v31/t', 1);
  const [ack] = await ok.client.publish('v31/t', 'hi', { qos: 1 });
  t.is(ack!.cmd, 'puback');
  t.is((await ok.client.nextPacket('publish')).payload.toString(), 'hi');
  const long = await rawConnected(t, b, { protocolVersion: 3, connect: { clientId: 'x'.repeat(24) } });
  t.is(long.connack.returnCode, 2);
  await long.client.expectClosed();
});

test('[MQTT-3.1.3-8] connect: 3.1.1 empty client id with CleanSession 0 gets 0x02 and is closed', async (t) => {
  const b = await testBroker(t);
  const client = await rawClient(t, b);
  // mqtt-packet refuses to write this CONNECT, so the flag is set by hand.
  const pkt = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 0 });
  pkt[9] = 0;
  await client.writeRaw(pkt);
  t.is((await client.nextPacket('connack')).returnCode, 2);
  await client.expectClosed();
});

test('[MQTT-3.1.3-6] connect: 3.1.1 empty client id with CleanSession 1 is accepted with an id of the server', async (t) => {
  const b = await testBroker(t);
  const { client, connack } = await rawConnected(t, b, { connect: { clientId: '', clean: true } });
  t.is(connack.returnCode, 0);
  t.false(connack.sessionPresent);
  await roundTrip(client);
  t.is(b.broker.ctx.sessions.size, 1);
  t.regex([...b.broker.ctx.sessions.keys()][0]!, /^beamq-/);
});

test('[MQTT-3.2.2-16] connect: v5 empty client id gets an Assigned Client Identifier, unique per connection', async (t) => {
  const b = await testBroker(t);
  const a = await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: '' } });
  const c = await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: '' } });
  const ida = a.connack.properties?.assignedClientIdentifier;
  const idc = c.connack.properties?.assignedClientIdentifier;
  t.truthy(ida);
  t.truthy(idc);
  t.not(ida, idc);
  await roundTrip(a.client);
  await roundTrip(c.client);
  t.true(b.broker.ctx.sessions.has(ida!) && b.broker.ctx.sessions.has(idc!));
  const named = await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'named' } });
  t.is(named.connack.properties?.assignedClientIdentifier, undefined, 'no assigned id when the client chose one');
});

test('connect: a client id longer than mqtt.max_clientid_len is refused (v5 0x85, 3.1.1 0x02)', async (t) => {
  const b = await testBroker(t, { mqtt: { max_clientid_len: 8 } });
  const v5 = await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'nine-char' } });
  t.is(v5.connack.reasonCode, 0x85);
  await v5.client.expectClosed();
  const v4 = await rawConnected(t, b, { protocolVersion: 4, connect: { clientId: 'nine-char' } });
  t.is(v4.connack.returnCode, 2);
  await v4.client.expectClosed();
});

test('[v5 §3.1.2.11.3] connect: Receive Maximum 0 is a Protocol Error (CONNACK 0x82)', async (t) => {
  const b = await testBroker(t);
  const { client, connack } = await rawConnected(t, b, { protocolVersion: 5, connect: { properties: { receiveMaximum: 0 } } });
  t.is(connack.reasonCode, 0x82);
  await client.expectClosed();
});

test('[MQTT-3.2.2-2] [MQTT-3.2.2-3] connect: Session Present is 0 for a clean start and 1 when a session is resumed', async (t) => {
  const b = await testBroker(t);
  for (const v of [4, 5] as const) {
    const clientId = `sp-${v}`;
    const persistent = v === 5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };
    const first = await rawConnected(t, b, { protocolVersion: v, connect: { clientId, ...persistent } });
    t.false(first.connack.sessionPresent, 'no session yet');
    await first.client.disconnect();
    const again = await rawConnected(t, b, { protocolVersion: v, connect: { clientId, ...persistent } });
    t.true(again.connack.sessionPresent, 'the session was kept');
    await again.client.disconnect();
    const clean = await rawConnected(t, b, { protocolVersion: v, connect: { clientId, clean: true } });
    t.false(clean.connack.sessionPresent, 'clean start discards it [MQTT-3.2.2-1]');
    await clean.client.disconnect();
  }
});

test('[MQTT-3.1.0-1] connect: packets sent right after CONNECT, before the CONNACK, are all handled', async (t) => {
  const b = await testBroker(t);
  // Persistent sessions to take over: the new connection then waits on the id's lock
  // and on the old session while more of its bytes arrive.
  for (let i = 0; i < 20; i++) {
    const clientId = `pipe-${i % 4}`;
    const c = await rawClient(t, b);
    const connect = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: false, keepalive: 0 });
    const sub = generate({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: `pipe/${i}`, qos: 1 }] });
    const pub = generate({ cmd: 'publish', topic: `pipe/${i}`, payload: 'p', qos: 1, messageId: 8, retain: false, dup: false });
    await c.writeRaw(i % 2 === 0 ? Buffer.concat([connect, sub]) : connect);
    for (let k = 0; k < i % 5; k++) await new Promise((r) => setImmediate(r));
    if (i % 2 === 1) await c.writeRaw(sub);
    await c.writeRaw(pub);
    await c.writeRaw(generate({ cmd: 'pingreq' }));
    t.is((await c.nextPacket('connack')).returnCode, 0);
    t.is((await c.nextPacket('suback')).messageId, 7);
    t.is((await c.nextPacket('puback')).messageId, 8);
    t.is((await c.nextPacket('publish')).payload.toString(), 'p');
    await c.nextPacket('pingresp');
  }
});

for (const v of [4, 5] as const) {
  test(`[MQTT-3.1.2-24] (v5 [MQTT-3.1.2-22]) connect: a client silent for 1.5 × its keepalive is disconnected (v${v})`, async (t) => {
    const b = await testBroker(t);
    const { client, connack } = await rawConnected(t, b, { protocolVersion: v, connect: { keepalive: 1 } });
    t.is(v === 5 ? connack.reasonCode : connack.returnCode, 0);
    if (v === 5) t.is((await client.nextPacket('disconnect', 5_000)).reasonCode, 0x8d, 'v5: Keep Alive timeout');
    await client.expectClosed(5_000);
  });
}

test('[MQTT-3.2.2-21] connect: v5 Server Keep Alive replaces the client keepalive, and is enforced', async (t) => {
  const b = await testBroker(t, { mqtt: { server_keepalive_s: 1 } });
  const { client, connack } = await rawConnected(t, b, { protocolVersion: 5, connect: { keepalive: 600 } });
  t.is(connack.properties?.serverKeepAlive, 1);
  t.is((await client.nextPacket('disconnect', 5_000)).reasonCode, 0x8d);
  await client.expectClosed();
  const v4 = await rawConnected(t, b, { protocolVersion: 4, connect: { keepalive: 600 } });
  await roundTrip(v4.client);
  t.false(v4.client.closed, 'a 3.1.1 client keeps its own keepalive');
});

test('connect: no CONNECT within mqtt.idle_timeout_ms closes the connection', async (t) => {
  const b = await testBroker(t, { mqtt: { idle_timeout_ms: 300 } });
  const c = await rawClient(t, b);
  await c.expectClosed(5_000);
  t.deepEqual(c.pending(), []);
});

test('[MQTT-4.12.0-1] connect: an Authentication Method we do not support gets CONNACK 0x8C and the connection closes', async (t) => {
  const b = await testBroker(t);
  const { client, connack } = await rawConnected(t, b, { protocolVersion: 5, connect: { properties: { authenticationMethod: 'SCRAM-SHA-1' } } });
  t.is(connack.reasonCode, 0x8c);
  await client.expectClosed();
});

test('[MQTT-3.2.2-13] connect: a retained will when retain is not available is refused (v5 0x9A, 3.1.1 closed)', async (t) => {
  const b = await testBroker(t, { mqtt: { retain_available: false } });
  const will = { topic: 'w', payload: Buffer.from('x'), qos: 0 as const, retain: true };
  const v5 = await rawConnected(t, b, { protocolVersion: 5, connect: { will } });
  t.is(v5.connack.reasonCode, 0x9a);
  await v5.client.expectClosed();
  const v4 = await rawClient(t, b);
  await v4.sendConnect({ will });
  await v4.expectClosed();
  t.false(v4.pending().some((p) => p.cmd === 'connack' && p.returnCode === 0));
});

test('[MQTT-6.0.0-4] connect: WebSocket on /mqtt answers with the mqtt subprotocol; another path is refused', async (t) => {
  const b = await testBroker(t);
  const ws = new WebSocket(`ws://127.0.0.1:${b.ws}/mqtt`, ['mqtt']);
  t.teardown(() => ws.terminate());
  await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 'the WebSocket to open');
  t.is(ws.protocol, 'mqtt');
  const other = new WebSocket(`ws://127.0.0.1:${b.ws}/elsewhere`, ['mqtt']);
  await t.throwsAsync(withTimeout(new Promise((resolve, reject) => other.once('open', resolve).once('error', reject)), 'the other path to fail'));
});

test('[MQTT-6.0.0-1] [MQTT-6.0.0-2] connect: packets may span and share WebSocket frames; a text frame closes the connection', async (t) => {
  const b = await testBroker(t);
  const c = await rawClient(t, b, { transport: 'ws' });
  const bytes = Buffer.concat([CONNECT_V4(), generate({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'ws/t', qos: 0 }] })]);
  await c.writeRaw(bytes.subarray(0, 5));
  await c.writeRaw(bytes.subarray(5));
  await c.nextPacket('connack');
  await c.nextPacket('suback');
  const ws = new WebSocket(`ws://127.0.0.1:${b.ws}/mqtt`, ['mqtt']);
  t.teardown(() => ws.terminate());
  await withTimeout(new Promise((resolve) => ws.once('open', resolve)), 'the WebSocket to open');
  const closed = new Promise((resolve) => ws.once('close', resolve));
  ws.send(CONNECT_V4().toString('latin1')); // a text frame
  await withTimeout(closed, 'the text frame to close the connection');
  t.pass();
});

test('[MQTT-3.1.2-23] [MQTT-3.1.4-3] connect: taking over a connection whose session ends with it (expiry 0, 3.1.1 clean) starts a new session', async (t) => {
  const b = await testBroker(t);
  for (const v of [4, 5] as const) {
    const clientId = `short-${v}`;
    const old = (await rawConnected(t, b, { protocolVersion: v, connect: { clientId, clean: v === 4 } })).client;
    await old.subscribe('short/t', 1);
    const neu = await rawConnected(t, b, { protocolVersion: v, connect: { clientId, clean: false } });
    t.false(neu.connack.sessionPresent, `v${v}: the old session ended with its connection`);
    if (v === 5) t.is((await old.nextPacket('disconnect')).reasonCode, 0x8e);
    await old.expectClosed();
    await neu.client.subscribe('marker', 1);
    await neu.client.publish('short/t', 'not for you', { qos: 1 });
    await neu.client.publish('marker', 'M', { qos: 1 });
    t.is((await neu.client.nextPacket('publish')).payload.toString(), 'M', 'no subscription came along');
  }
});
