/**
 * MQTT 5 Topic Alias from the client (set, use, invalid, unknown, per connection),
 * never sent on to subscribers; Maximum Packet Size both ways; request/response and
 * user properties passed through untouched; and the server's DISCONNECT reason codes.
 */
import test from 'ava';
import { rawConnected, roundTrip, sessionInfo, testBroker } from '../../helpers/broker.js';

test('[MQTT-3.3.2-12] topic alias: an alias set with a topic stands for it on later PUBLISH; subscribers get the full topic and no alias', async (t) => {
  const b = await testBroker(t, { mqtt: { max_topic_alias: 10 } });
  const sub = (await rawConnected(t, b, { protocolVersion: 5 })).client;
  await sub.subscribe('alias/#', 1);
  const { client: pub, connack } = await rawConnected(t, b, { protocolVersion: 5 });
  t.is(connack.properties?.topicAliasMaximum, 10);
  await pub.publish('alias/one', 'a', { qos: 1, properties: { topicAlias: 3 } });
  await pub.publish('', 'b', { qos: 1, properties: { topicAlias: 3 } });
  await pub.publish('alias/two', 'c', { qos: 1, properties: { topicAlias: 3 } }); // re-pointed
  await pub.publish('', 'd', { qos: 1, properties: { topicAlias: 3 } });
  const got = [];
  for (let i = 0; i < 4; i++) {
    const p = await sub.nextPacket('publish');
    await sub.ackPublish(p);
    got.push([p.topic, p.payload.toString(), p.properties?.topicAlias]);
  }
  t.deepEqual(got, [['alias/one', 'a', undefined], ['alias/one', 'b', undefined], ['alias/two', 'c', undefined], ['alias/two', 'd', undefined]]);
});

test('[MQTT-3.3.2-8] [MQTT-3.3.2-9] topic alias: 0 or above our Topic Alias Maximum is a DISCONNECT 0x94; an unknown alias 0x82', async (t) => {
  const b = await testBroker(t, { mqtt: { max_topic_alias: 5 } });
  for (const [topic, alias, rc] of [['a', 0, 0x94], ['a', 6, 0x94], ['', 2, 0x82]] as const) {
    const { client } = await rawConnected(t, b, { protocolVersion: 5 });
    await client.send({ cmd: 'publish', topic, payload: 'x', qos: 0, retain: false, dup: false, properties: { topicAlias: alias } });
    t.is((await client.nextPacket('disconnect')).reasonCode, rc, `alias ${alias}`);
    await client.expectClosed();
  }
});

test('[MQTT-3.3.2-7] topic alias: aliases do not survive a reconnect of the same session', async (t) => {
  const b = await testBroker(t);
  const fields = { clientId: 'alias-persist', clean: false, properties: { sessionExpiryInterval: 60 } };
  const c = (await rawConnected(t, b, { protocolVersion: 5, connect: fields })).client;
  await c.publish('x/y', 'a', { qos: 1, properties: { topicAlias: 1 } });
  await c.disconnect(0);
  const again = (await rawConnected(t, b, { protocolVersion: 5, connect: fields })).client;
  await again.send({ cmd: 'publish', topic: '', payload: 'x', qos: 0, retain: false, dup: false, properties: { topicAlias: 1 } });
  t.is((await again.nextPacket('disconnect')).reasonCode, 0x82);
});

test('[MQTT-3.1.2-24] [MQTT-3.1.2-25] packet size: a message over the client\'s Maximum Packet Size is not sent to it (and frees its slot); others are', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'small', properties: { maximumPacketSize: 64 } } })).client;
  await sub.subscribe('size/#', 1);
  const pub = (await rawConnected(t, b, { protocolVersion: 5 })).client;
  await pub.publish('size/t', 'x'.repeat(100), { qos: 1 });
  await pub.publish('size/t', 'y'.repeat(45), { qos: 1, properties: { userProperties: { k: 'vvvvvvvvvvvvvvvvv' } } });
  await pub.publish('size/t', 'fits', { qos: 1 });
  const p = await sub.nextPacket('publish');
  t.is(p.payload.toString(), 'fits');
  t.is((await sessionInfo(b, 'small')).inflight, 1, 'only the one sent awaits its ack');
});

test('[v5 §3.2.2.3.6] packet size: a packet over our Maximum Packet Size closes the connection (v5 DISCONNECT 0x95)', async (t) => {
  const b = await testBroker(t, { mqtt: { max_packet_size: 1024 } });
  for (const v of [4, 5] as const) {
    const { client, connack } = await rawConnected(t, b, { protocolVersion: v });
    if (v === 5) t.is(connack.properties?.maximumPacketSize, 1024);
    await client.publish('big', 'z'.repeat(1000), { qos: 0 });
    await roundTrip(client);
    await client.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(1100), qos: 0, retain: false, dup: false });
    if (v === 5) t.is((await client.nextPacket('disconnect')).reasonCode, 0x95);
    await client.expectClosed();
  }
});

test('[MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18] properties: request/response, payload format, content type and user properties pass through untouched', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b, { protocolVersion: 5 })).client;
  await sub.subscribe('req/t', 1);
  const pub = (await rawConnected(t, b, { protocolVersion: 5 })).client;
  const properties = {
    payloadFormatIndicator: true,
    contentType: 'application/json',
    responseTopic: 'resp/t',
    correlationData: Buffer.from([0, 1, 2, 255]),
    userProperties: { first: 'a', second: ['b', 'c'], 'with space': 'ü' },
  };
  await pub.publish('req/t', '{"q":1}', { qos: 1, properties });
  const p = await sub.nextPacket('publish');
  t.deepEqual({ ...p.properties }, properties);
});

test('disconnect: the broker stopping tells v5 clients 0x8B', async (t) => {
  const b = await testBroker(t);
  const v5 = (await rawConnected(t, b, { protocolVersion: 5 })).client;
  const v4 = (await rawConnected(t, b, { protocolVersion: 4 })).client;
  await b.broker.stop();
  t.is((await v5.nextPacket('disconnect')).reasonCode, 0x8b);
  await v5.expectClosed();
  await v4.expectClosed();
  t.false(v4.pending().some((p) => p.cmd === 'disconnect'), '3.1.1 has no server DISCONNECT');
});
