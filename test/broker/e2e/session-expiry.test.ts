/**
 * Sessions end to end with the raw packet client: 3.1.1 clean session, v5 Clean
 * Start and Session Expiry Interval (CONNECT, capped by the server, changed on
 * DISCONNECT), the offline queue (bounded, drops counted) delivered on reconnect,
 * and v5 Message Expiry. Where time must pass, another session's expiry (1 s) is the
 * event awaited, never a sleep.
 */
import test from 'ava';
import type { IPublishPacket } from 'mqtt-packet';
import { rawConnected, roundTrip, sessionGone, sessionInfo, testBroker, type TestBroker } from '../../helpers/broker.js';
import type { ConnectFields, MqttTestClient } from '../../helpers/mqtt.js';

/** Resolves once at least `s` seconds have passed, by the broker's own session-expiry timer. */
async function brokerSeconds(t: Parameters<typeof rawConnected>[0], b: TestBroker, s: number): Promise<void> {
  const clientId = `clock-${Math.random()}`;
  const c = (await rawConnected(t, b, { protocolVersion: 5, connect: { clientId, properties: { sessionExpiryInterval: s } } })).client;
  await c.disconnect(0);
  await sessionGone(b, clientId, s * 1000 + 5_000);
}

async function drain(c: MqttTestClient, n: number): Promise<IPublishPacket[]> {
  const out: IPublishPacket[] = [];
  for (let i = 0; i < n; i++) {
    const p = await c.nextPacket('publish');
    await c.ackPublish(p);
    out.push(p);
  }
  return out;
}

test('[MQTT-3.1.2-4] [MQTT-3.1.2-5] [MQTT-3.1.2-6] session: 3.1.1 CleanSession 0 keeps subscriptions and queues QoS 1/2 while away; CleanSession 1 starts empty', async (t) => {
  const b = await testBroker(t);
  const fields: ConnectFields = { clientId: 'cs', clean: false };
  const sub = (await rawConnected(t, b, { connect: fields })).client;
  await sub.subscribe('cs/t', 2);
  await sub.disconnect();
  const pub = (await rawConnected(t, b)).client;
  for (const qos of [1, 2, 1] as const) await pub.publish('cs/t', `q${qos}`, { qos });
  t.like(await sessionInfo(b, 'cs'), { connected: false, mqueue: 3 });
  const back = await rawConnected(t, b, { connect: fields });
  t.true(back.connack.sessionPresent);
  t.deepEqual((await drain(back.client, 3)).map((p) => [p.payload.toString(), p.qos]), [['q1', 1], ['q2', 2], ['q1', 1]]);
  await back.client.disconnect();
  const clean = await rawConnected(t, b, { connect: { clientId: 'cs', clean: true } });
  t.false(clean.connack.sessionPresent);
  t.deepEqual((await sessionInfo(b, 'cs')).subscriptions, {}, 'the old subscriptions are gone');
  await clean.client.disconnect();
  await sessionGone(b, 'cs');
  t.is(b.broker.ctx.subs.count, 0);
  t.is(b.broker.ctx.routes.size, 0, 'and their routes');
});

test('[MQTT-3.1.2-23] session: v5 Session Expiry Interval 0 ends the session with the connection; > 0 keeps it that long', async (t) => {
  const b = await testBroker(t);
  const zero = (await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'se0', clean: false } })).client;
  await zero.subscribe('se/t', 1);
  await zero.close();
  await sessionGone(b, 'se0');
  const one = (await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'se1', clean: false, properties: { sessionExpiryInterval: 1 } } })).client;
  await one.subscribe('se/t', 1);
  await one.close();
  await roundTrip((await rawConnected(t, b)).client);
  t.true(b.broker.ctx.sessions.has('se1'), 'kept after the connection closed');
  await sessionGone(b, 'se1', 5_000);
  const back = await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'se1', clean: false, properties: { sessionExpiryInterval: 1 } } });
  t.false(back.connack.sessionPresent, 'expired');
});

test('[v5 §3.2.2.3.2] session: a Session Expiry Interval above mqtt.max_session_expiry_s is capped and CONNACK says so', async (t) => {
  const b = await testBroker(t, { mqtt: { max_session_expiry_s: 10 } });
  const asked = await rawConnected(t, b, { protocolVersion: 5, connect: { properties: { sessionExpiryInterval: 100 } } });
  t.is(asked.connack.properties?.sessionExpiryInterval, 10);
  const within = await rawConnected(t, b, { protocolVersion: 5, connect: { properties: { sessionExpiryInterval: 5 } } });
  t.is(within.connack.properties?.sessionExpiryInterval, undefined);
});

test('[v5 §3.14.2.2.2] session: DISCONNECT may shorten the Session Expiry Interval, but not raise it from 0', async (t) => {
  const b = await testBroker(t);
  const c = (await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'shorten', properties: { sessionExpiryInterval: 600 } } })).client;
  await c.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  await sessionGone(b, 'shorten');
  const z = (await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'raise' } })).client;
  await z.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 60 } });
  t.is((await z.nextPacket('disconnect')).reasonCode, 0x82);
  await z.expectClosed();
  await sessionGone(b, 'raise');
});

test('session: the offline queue is bounded by mqtt.max_mqueue_len; the oldest go first and are counted', async (t) => {
  const b = await testBroker(t, { mqtt: { max_mqueue_len: 5 } });
  const fields: ConnectFields = { clientId: 'bounded', clean: false, properties: { sessionExpiryInterval: 60 } };
  const sub = (await rawConnected(t, b, { protocolVersion: 5, connect: fields })).client;
  await sub.subscribe('bq/t', 1);
  await sub.disconnect(0);
  const pub = (await rawConnected(t, b)).client;
  for (let i = 0; i < 8; i++) await pub.publish('bq/t', `m${i}`, { qos: 1 });
  t.like(await sessionInfo(b, 'bounded'), { mqueue: 5, dropped: 3 });
  t.is(b.broker.ctx.metrics.messagesDropped, 3);
  const back = (await rawConnected(t, b, { protocolVersion: 5, connect: fields })).client;
  t.deepEqual((await drain(back, 5)).map((p) => p.payload.toString()), ['m3', 'm4', 'm5', 'm6', 'm7']);
  await roundTrip(back);
  t.false(back.pending().some((p) => p.cmd === 'publish'));
});

test('session: QoS 0 is queued offline only with mqtt.mqueue_store_qos0', async (t) => {
  for (const store of [true, false]) {
    const b = await testBroker(t, { mqtt: { mqueue_store_qos0: store } });
    const fields: ConnectFields = { clientId: 'q0', clean: false };
    const sub = (await rawConnected(t, b, { connect: fields })).client;
    await sub.subscribe('q0/t', 1);
    await sub.disconnect();
    const pub = (await rawConnected(t, b)).client;
    await pub.publish('q0/t', 'zero', { qos: 0 });
    await pub.publish('q0/t', 'one', { qos: 1 });
    const back = (await rawConnected(t, b, { connect: fields })).client;
    const expected = store ? ['zero', 'one'] : ['one'];
    t.deepEqual((await drain(back, expected.length)).map((p) => p.payload.toString()), expected, `store_qos0 ${store}`);
  }
});

test('[MQTT-3.3.2-5] [MQTT-3.3.2-6] session: an expired queued message is not delivered; others carry the time they have left', async (t) => {
  const b = await testBroker(t);
  const fields: ConnectFields = { clientId: 'mexp', clean: false, properties: { sessionExpiryInterval: 60 } };
  const sub = (await rawConnected(t, b, { protocolVersion: 5, connect: fields })).client;
  await sub.subscribe('mexp/t', 1);
  await sub.disconnect(0);
  const pub = (await rawConnected(t, b, { protocolVersion: 5 })).client;
  await pub.publish('mexp/t', 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
  await pub.publish('mexp/t', 'long', { qos: 1, properties: { messageExpiryInterval: 600 } });
  await pub.publish('mexp/t', 'forever', { qos: 1 });
  await pub.publish('mexp/ret', 'retained short', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
  await brokerSeconds(t, b, 1);
  const back = (await rawConnected(t, b, { protocolVersion: 5, connect: fields })).client;
  const got = await drain(back, 2);
  t.deepEqual(got.map((p) => p.payload.toString()), ['long', 'forever']);
  const left = got[0]!.properties?.messageExpiryInterval ?? 0;
  t.true(left > 0 && left < 600, `remaining expiry ${left}`);
  t.is(got[1]!.properties?.messageExpiryInterval, undefined);
  await back.subscribe([{ topic: 'mexp/ret', qos: 1 }, { topic: 'marker', qos: 1 }]);
  await pub.publish('marker', 'MARKER', { qos: 1 });
  t.is((await back.nextPacket('publish')).payload.toString(), 'MARKER', 'the expired retained message is not sent');
});
