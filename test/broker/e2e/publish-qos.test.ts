/**
 * PUBLISH at QoS 0/1/2 in both directions with the raw packet client: the ack flows,
 * packet ids, QoS downgrade to the subscription's maximum, the inflight window
 * (v5 Receive Maximum both ways), redelivery with DUP on reconnect, and QoS 2
 * exactly once with its PUBREC/PUBREL/PUBCOMP state kept across reconnects.
 */
import test from 'ava';
import type { IPublishPacket } from 'mqtt-packet';
import { rawConnected, roundTrip, sessionInfo, testBroker } from '../../helpers/broker.js';

test('[MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.3-1] publish: each QoS gets its ack flow, and reaches the subscriber at the same QoS with a packet id for 1 and 2', async (t) => {
  const b = await testBroker(t);
  for (const v of [3, 4, 5] as const) {
    const sub = (await rawConnected(t, b, { protocolVersion: v })).client;
    const pub = (await rawConnected(t, b, { protocolVersion: v })).client;
    t.deepEqual((await sub.subscribe(`q/${v}`, 2)).granted, [2]);
    t.deepEqual(await pub.publish(`q/${v}`, 'zero', { qos: 0 }), []);
    t.deepEqual((await pub.publish(`q/${v}`, 'one', { qos: 1 })).map((p) => p.cmd), ['puback']);
    t.deepEqual((await pub.publish(`q/${v}`, 'two', { qos: 2 })).map((p) => p.cmd), ['pubrec', 'pubcomp']);
    const got: IPublishPacket[] = [];
    for (let i = 0; i < 3; i++) got.push(await sub.nextPacket('publish'));
    t.deepEqual(got.map((p) => [p.payload.toString(), p.qos, p.dup]), [['zero', 0, false], ['one', 1, false], ['two', 2, false]]);
    t.is(got[0]!.messageId, undefined, '[MQTT-2.2.1-2] no packet id at QoS 0');
    t.true(got[1]!.messageId! > 0 && got[2]!.messageId! > 0 && got[1]!.messageId !== got[2]!.messageId, '[MQTT-2.2.1-3] non-zero, distinct ids');
    await sub.ackPublish(got[1]!);
    await sub.ackPublish(got[2]!);
    await roundTrip(sub);
    t.is((await sessionInfo(b, (await clientIdOf(b, sub)))).inflight, 0, 'acknowledged messages leave the window');
  }
});

/** The id of the only session whose socket is this client's: found by a subscription we make. */
async function clientIdOf(b: Awaited<ReturnType<typeof testBroker>>, c: Awaited<ReturnType<typeof rawConnected>>['client']): Promise<string> {
  const marker = `whoami/${Math.random()}`;
  await c.subscribe(marker, 0);
  for (const [id] of b.broker.ctx.sessions) if ((await sessionInfo(b, id)).subscriptions[marker] !== undefined) return id;
  throw new Error('client not found');
}

test('[MQTT-3.8.4-6] (v5 [MQTT-3.8.4-8]) publish: a message goes out at the lower of its QoS and the subscription\'s', async (t) => {
  const b = await testBroker(t);
  const pub = (await rawConnected(t, b)).client;
  for (const subQos of [0, 1, 2] as const) {
    const sub = (await rawConnected(t, b)).client;
    await sub.subscribe('down/t', subQos);
    for (const pubQos of [0, 1, 2] as const) {
      await pub.publish('down/t', `${pubQos}`, { qos: pubQos });
      const p = await sub.nextPacket('publish');
      t.is(p.qos, Math.min(subQos, pubQos) as typeof p.qos, `sub ${subQos} pub ${pubQos}`);
      await sub.ackPublish(p);
    }
    await sub.unsubscribe('down/t');
  }
});

test('[MQTT-3.3.4-9] publish: no more unacknowledged QoS 1/2 messages than the client\'s Receive Maximum; each ack lets one more go', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'rm-sub', properties: { receiveMaximum: 2 } } })).client;
  const pub = (await rawConnected(t, b, { protocolVersion: 5 })).client;
  await sub.subscribe('rm/t', 2);
  for (let i = 0; i < 5; i++) await pub.publish('rm/t', `m${i}`, { qos: i % 2 === 0 ? 1 : 2 });
  await roundTrip(sub);
  const first = sub.pending().filter((p): p is IPublishPacket => p.cmd === 'publish');
  t.deepEqual(first.map((p) => p.payload.toString()), ['m0', 'm1'], 'two in flight, the rest wait');
  t.like(await sessionInfo(b, 'rm-sub'), { inflight: 2, mqueue: 3 });
  const seen: string[] = [];
  for (let i = 0; i < 5; i++) {
    const p = await sub.nextPacket('publish');
    seen.push(p.payload.toString());
    await sub.ackPublish(p);
  }
  t.deepEqual(seen, ['m0', 'm1', 'm2', 'm3', 'm4'], 'in order [MQTT-4.6.0-6]');
});

test('publish: mqtt.max_inflight bounds the window of a 3.1.1 client', async (t) => {
  const b = await testBroker(t, { mqtt: { max_inflight: 3 } });
  const sub = (await rawConnected(t, b, { connect: { clientId: 'mi-sub' } })).client;
  const pub = (await rawConnected(t, b)).client;
  await sub.subscribe('mi/t', 1);
  for (let i = 0; i < 6; i++) await pub.publish('mi/t', `m${i}`, { qos: 1 });
  await roundTrip(sub);
  t.is(sub.pending().filter((p) => p.cmd === 'publish').length, 3);
  t.like(await sessionInfo(b, 'mi-sub'), { inflight: 3, mqueue: 3 });
});

test('[v5 §3.3.4] publish: more unreleased incoming QoS 2 messages than our Receive Maximum is a DISCONNECT 0x93', async (t) => {
  const b = await testBroker(t, { mqtt: { max_awaiting_rel: 2 } });
  const { client, connack } = await rawConnected(t, b, { protocolVersion: 5 });
  t.is(connack.properties?.receiveMaximum, 2);
  for (const id of [1, 2]) {
    await client.send({ cmd: 'publish', topic: 'in/t', payload: 'x', qos: 2, messageId: id, retain: false, dup: false });
    t.is((await client.nextPacket('pubrec')).messageId, id);
  }
  await client.send({ cmd: 'publish', topic: 'in/t', payload: 'x', qos: 2, messageId: 3, retain: false, dup: false });
  t.is((await client.nextPacket('disconnect')).reasonCode, 0x93);
  await client.expectClosed();
});

for (const v of [4, 5] as const) {
  test(`[MQTT-4.4.0-1] publish: on reconnect unacknowledged PUBLISH go again with DUP and their ids, and PUBREL after PUBREC (v${v})`, async (t) => {
    const b = await testBroker(t);
    const clientId = `dup-${v}`;
    const persist = { clientId, clean: false, ...(v === 5 ? { properties: { sessionExpiryInterval: 60 } } : {}) };
    const sub = (await rawConnected(t, b, { protocolVersion: v, connect: persist })).client;
    await sub.subscribe('dup/t', 2);
    const pub = (await rawConnected(t, b, { protocolVersion: v })).client;
    await pub.publish('dup/t', 'one', { qos: 1 });
    await pub.publish('dup/t', 'two', { qos: 2 });
    await pub.publish('dup/t', 'three', { qos: 2 });
    const p1 = await sub.nextPacket('publish');
    const p2 = await sub.nextPacket('publish');
    const p3 = await sub.nextPacket('publish');
    await sub.send({ cmd: 'pubrec', messageId: p3.messageId! }); // 'three' reached PUBREC; 'one' and 'two' nothing
    await sub.nextPacket('pubrel');
    await sub.close();
    const back = await rawConnected(t, b, { protocolVersion: v, connect: persist });
    t.true(back.connack.sessionPresent);
    const again1 = await back.client.nextPacket('publish');
    const again2 = await back.client.nextPacket('publish');
    t.deepEqual([again1.payload.toString(), again1.messageId, again1.dup, again1.qos], ['one', p1.messageId, true, 1]);
    t.deepEqual([again2.payload.toString(), again2.messageId, again2.dup, again2.qos], ['two', p2.messageId, true, 2]);
    t.is((await back.client.nextPacket('pubrel')).messageId, p3.messageId, 'PUBREL again, not the PUBLISH');
    await back.client.send({ cmd: 'pubcomp', messageId: p3.messageId! });
    await back.client.ackPublish(again1);
    await back.client.ackPublish(again2);
    await roundTrip(back.client);
    t.false(back.client.pending().some((p) => p.cmd === 'publish'));
    t.like(await sessionInfo(b, clientId), { inflight: 0, mqueue: 0 });
  });
}

test('[§4.3.3, Method B] publish: an incoming QoS 2 message is routed once, however often it is sent again before PUBREL, across a reconnect', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b)).client;
  await sub.subscribe('once/t', 2);
  const persist = { clientId: 'once-pub', clean: false };
  const pub = (await rawConnected(t, b, { connect: persist })).client;
  const publish = { cmd: 'publish', topic: 'once/t', payload: 'exactly', qos: 2, messageId: 42, retain: false } as const;
  await pub.send({ ...publish, dup: false });
  t.is((await pub.nextPacket('pubrec')).messageId, 42);
  await pub.send({ ...publish, dup: true });
  t.is((await pub.nextPacket('pubrec')).messageId, 42);
  await pub.close();
  t.is((await sessionInfo(b, 'once-pub')).awaitingRel, 1, 'the PUBREC state is kept while the client is away');
  const back = (await rawConnected(t, b, { connect: persist })).client;
  await back.send({ ...publish, dup: true });
  t.is((await back.nextPacket('pubrec')).messageId, 42);
  await back.send({ cmd: 'pubrel', messageId: 42 });
  t.is((await back.nextPacket('pubcomp')).messageId, 42);
  // A marker published after proves every earlier delivery has reached the subscriber.
  await back.publish('once/t', 'marker', { qos: 1 });
  const got: string[] = [];
  for (;;) {
    const p = await sub.nextPacket('publish');
    got.push(p.payload.toString());
    await sub.ackPublish(p);
    if (got.at(-1) === 'marker') break;
  }
  t.deepEqual(got, ['exactly', 'marker']);
});

test('[MQTT-4.3.3-11] publish: PUBREL for an unknown id gets PUBCOMP (v5: 0x92)', async (t) => {
  const b = await testBroker(t);
  for (const v of [4, 5] as const) {
    const { client } = await rawConnected(t, b, { protocolVersion: v });
    await client.send({ cmd: 'pubrel', messageId: 9 });
    const comp = await client.nextPacket('pubcomp');
    t.is(comp.messageId, 9);
    if (v === 5) t.is(comp.reasonCode, 0x92);
  }
});

test('[MQTT-3.3.2-2] publish: a topic name with a wildcard, or empty, closes the connection (v5 DISCONNECT 0x90 / 0x82)', async (t) => {
  const b = await testBroker(t);
  for (const [v, topic] of [[4, 'a/#'], [4, 'a/+'], [5, 'a/+/b'], [4, '']] as const) {
    const { client } = await rawConnected(t, b, { protocolVersion: v });
    await client.send({ cmd: 'publish', topic, payload: 'x', qos: 0, retain: false, dup: false });
    if (v === 5) t.is((await client.nextPacket('disconnect')).reasonCode, 0x90);
    await client.expectClosed();
  }
});

test('[MQTT-2.3.1-1] (v5 [MQTT-2.2.1-3]) publish: a QoS 1 PUBLISH with packet id 0 closes the connection', async (t) => {
  const b = await testBroker(t);
  const { client } = await rawConnected(t, b);
  await client.writeRaw(Buffer.from([0x32, 7, 0, 3, 0x61, 0x2f, 0x62, 0, 0]));
  await client.expectClosed();
  t.false(client.pending().some((p) => p.cmd === 'puback'));
});

test('[v5 §3.4.2.1] publish: a v5 QoS 1/2 PUBLISH nobody subscribed to is acked with No matching subscribers', async (t) => {
  const b = await testBroker(t);
  const { client } = await rawConnected(t, b, { protocolVersion: 5 });
  const [ack] = await client.publish('nobody/here', 'x', { qos: 1 });
  t.is(ack!.cmd === 'puback' ? ack.reasonCode : undefined, 0x10);
  const [rec] = await client.publish('nobody/here', 'x', { qos: 2 });
  t.is(rec!.cmd === 'pubrec' ? rec.reasonCode : undefined, 0x10);
});

test('[MQTT-3.3.1-2] publish: DUP set on a QoS 0 PUBLISH closes the connection (v5 DISCONNECT 0x81, as mosquitto)', async (t) => {
  const b = await testBroker(t);
  for (const v of [4, 5] as const) {
    const { client } = await rawConnected(t, b, { protocolVersion: v });
    await client.send({ cmd: 'publish', topic: 'dup/q0', payload: 'x', qos: 0, retain: false, dup: true });
    if (v === 5) t.is((await client.nextPacket('disconnect')).reasonCode, 0x81);
    await client.expectClosed();
  }
});

test('[EMQX retry_interval] publish: a 3.1.1 client that does not acknowledge a QoS 1 PUBLISH gets it again with DUP, until it does', async (t) => {
  const b = await testBroker(t, { mqtt: { retry_interval_ms: 150 } });
  const sub = (await rawConnected(t, b, { connect: { clientId: 'retry-sub' } })).client;
  const pub = (await rawConnected(t, b)).client;
  await sub.subscribe('retry/t', 1);
  await pub.publish('retry/t', 'again', { qos: 1 });
  const first = await sub.nextPacket('publish');
  t.false(first.dup);
  // The retry timer is armed by the message in flight (an idle session has none).
  const second = await sub.nextPacket('publish');
  t.deepEqual([second.payload.toString(), second.messageId, second.dup], ['again', first.messageId, true]);
  await sub.ackPublish(second);
  await roundTrip(sub);
  t.like(await sessionInfo(b, 'retry-sub'), { inflight: 0 });
  // A later message in flight arms it again.
  await pub.publish('retry/t', 'later', { qos: 1 });
  const third = await sub.nextPacket('publish');
  const fourth = await sub.nextPacket('publish');
  t.deepEqual([fourth.payload.toString(), fourth.messageId, fourth.dup], ['later', third.messageId, true]);
  await sub.ackPublish(fourth);
});

test('[EMQX await_rel_timeout] publish: an incoming QoS 2 id never released is forgotten after await_rel_timeout', async (t) => {
  const b = await testBroker(t, { mqtt: { retry_interval_ms: 100, await_rel_timeout_ms: 100 } });
  const pub = (await rawConnected(t, b, { connect: { clientId: 'rel-pub' } })).client;
  await pub.send({ cmd: 'publish', topic: 'rel/t', payload: 'x', qos: 2, messageId: 7, retain: false, dup: false });
  t.is((await pub.nextPacket('pubrec')).messageId, 7);
  t.is((await sessionInfo(b, 'rel-pub')).awaitingRel, 1);
  // Bounded wait on the session's own state: the retry timer armed by the id expires it.
  const deadline = Date.now() + 5_000;
  while ((await sessionInfo(b, 'rel-pub')).awaitingRel !== 0 && Date.now() < deadline) await roundTrip(pub);
  t.is((await sessionInfo(b, 'rel-pub')).awaitingRel, 0);
});
