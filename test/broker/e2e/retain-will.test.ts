/**
 * Retained messages (set, replace, clear, QoS, retain_available) and will messages
 * (abnormal close, keepalive timeout, protocol error, normal DISCONNECT, v5 reason
 * codes, properties, Will Delay Interval against reconnects and session expiry, and
 * takeover), end to end with the raw packet client.
 */
import test from 'ava';
import type { IPublishPacket } from 'mqtt-packet';
import { rawConnected, sessionGone, testBroker } from '../../helpers/broker.js';
import type { ConnectFields, MqttTestClient } from '../../helpers/mqtt.js';

async function untilMarker(sub: MqttTestClient, pub: MqttTestClient, topic = 'marker'): Promise<IPublishPacket[]> {
  await pub.publish(topic, 'MARKER', { qos: 1 });
  const got: IPublishPacket[] = [];
  for (let p = await sub.nextPacket('publish'); p.payload.toString() !== 'MARKER'; p = await sub.nextPacket('publish')) {
    got.push(p);
    await sub.ackPublish(p);
  }
  return got;
}

const will = (payload: string, extra: Partial<NonNullable<ConnectFields['will']>> = {}): NonNullable<ConnectFields['will']> => ({
  topic: 'will/t',
  payload: Buffer.from(payload),
  qos: 1,
  retain: false,
  ...extra,
});

test('[MQTT-3.3.1-5] [MQTT-3.3.1-8] retain: the last retained message per topic reaches new subscribers with RETAIN=1, at the lower QoS', async (t) => {
  const b = await testBroker(t);
  const pub = (await rawConnected(t, b)).client;
  await pub.publish('ret/a', 'first', { qos: 1, retain: true });
  await pub.publish('ret/a', 'second', { qos: 2, retain: true });
  await pub.publish('ret/b', 'qos0', { qos: 0, retain: true });
  await pub.publish('ret/c', 'not retained', { qos: 1 });
  const sub = (await rawConnected(t, b)).client;
  await sub.subscribe('marker', 1);
  await sub.subscribe('ret/#', 1);
  const got = await untilMarker(sub, pub);
  t.deepEqual(got.map((p) => [p.topic, p.payload.toString(), p.qos, p.retain]).sort(), [
    ['ret/a', 'second', 1, true],
    ['ret/b', 'qos0', 0, true],
  ]);
});

test('[MQTT-3.3.1-6] [MQTT-3.3.1-7] retain: an empty retained message clears the topic, and still goes to current subscribers', async (t) => {
  const b = await testBroker(t);
  const pub = (await rawConnected(t, b)).client;
  const live = (await rawConnected(t, b)).client;
  await live.subscribe([{ topic: 'clr/t', qos: 1 }, { topic: 'marker', qos: 1 }]);
  await pub.publish('clr/t', 'kept', { qos: 1, retain: true });
  await pub.publish('clr/t', '', { qos: 1, retain: true });
  t.deepEqual((await untilMarker(live, pub)).map((p) => p.payload.toString()), ['kept', '']);
  const late = (await rawConnected(t, b)).client;
  await late.subscribe([{ topic: 'marker', qos: 1 }, { topic: 'clr/#', qos: 1 }]);
  t.deepEqual(await untilMarker(late, pub), [], 'nothing retained any more');
  t.is(b.broker.ctx.retained.size, 0);
});

test('retain: with mqtt.retain_available false, CONNACK says so and a retained PUBLISH is a DISCONNECT 0x9A', async (t) => {
  const b = await testBroker(t, { mqtt: { retain_available: false } });
  const { client, connack } = await rawConnected(t, b, { protocolVersion: 5 });
  t.false(connack.properties?.retainAvailable);
  await client.send({ cmd: 'publish', topic: 'r', payload: 'x', qos: 0, retain: true, dup: false });
  t.is((await client.nextPacket('disconnect')).reasonCode, 0x9a);
  await client.expectClosed();
});

test('[MQTT-3.1.2-8] will: published when the connection closes without DISCONNECT, with its QoS and RETAIN', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b)).client;
  await sub.subscribe('will/t', 2);
  const dying = (await rawConnected(t, b, { connect: { will: will('gone', { qos: 2, retain: true }) } })).client;
  await dying.close();
  const p = await sub.nextPacket('publish');
  t.deepEqual([p.topic, p.payload.toString(), p.qos], ['will/t', 'gone', 2]);
  await sub.ackPublish(p);
  const late = (await rawConnected(t, b)).client;
  await late.subscribe('will/t', 1);
  const r = await late.nextPacket('publish');
  t.deepEqual([r.payload.toString(), r.retain], ['gone', true], '[MQTT-3.1.2-17] a will with RETAIN is retained');
});

test('[MQTT-3.1.2-10] will: not published after a normal DISCONNECT (3.1.1, and v5 0x00)', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b)).client;
  await sub.subscribe([{ topic: 'will/t', qos: 1 }, { topic: 'marker', qos: 1 }]);
  for (const v of [4, 5] as const) {
    const c = (await rawConnected(t, b, { protocolVersion: v, connect: { clientId: `normal-${v}`, will: will(`v${v}`) } })).client;
    await c.disconnect(v === 5 ? 0 : undefined);
    await sessionGone(b, `normal-${v}`); // a will would have gone before the session ended
  }
  const pub = (await rawConnected(t, b)).client;
  t.deepEqual(await untilMarker(sub, pub), []);
});

test('will: a v5 DISCONNECT with 0x04 or an error code publishes the will; 0x00 does not', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b)).client;
  await sub.subscribe([{ topic: 'will/t', qos: 1 }, { topic: 'marker', qos: 1 }]);
  for (const rc of [0x04, 0x80, 0x00]) {
    const c = (await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: `rc-${rc}`, will: will(`rc${rc}`) } })).client;
    await c.disconnect(rc);
    await sessionGone(b, `rc-${rc}`);
  }
  const pub = (await rawConnected(t, b)).client;
  t.deepEqual((await untilMarker(sub, pub)).map((p) => p.payload.toString()).sort(), ['rc128', 'rc4']);
});

test('will: published when the server closes the connection (keepalive timeout, protocol error)', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b)).client;
  await sub.subscribe('will/t', 1);
  const silent = (await rawConnected(t, b, { connect: { keepalive: 1, will: will('timeout') } })).client;
  t.is((await sub.nextPacket('publish', 5_000)).payload.toString(), 'timeout');
  await silent.expectClosed();
  const rude = (await rawConnected(t, b, { protocolVersion: 5, connect: { will: will('protocol error') } })).client;
  await rude.sendConnect();
  t.is((await sub.nextPacket('publish')).payload.toString(), 'protocol error');
});

test('[v5 §3.1.3.2] will: v5 will properties reach the subscriber untouched', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b, { protocolVersion: 5 })).client;
  await sub.subscribe('will/t', 1);
  const properties = {
    payloadFormatIndicator: true,
    messageExpiryInterval: 3600,
    contentType: 'text/plain',
    responseTopic: 'reply/here',
    correlationData: Buffer.from('corr'),
    userProperties: { a: '1', b: ['2', '3'] },
  };
  const c = (await rawConnected(t, b, { protocolVersion: 5, connect: { will: will('props', { properties }) } })).client;
  await c.close();
  const p = await sub.nextPacket('publish');
  t.like(p.properties, { payloadFormatIndicator: true, contentType: 'text/plain', responseTopic: 'reply/here', userProperties: { a: '1', b: ['2', '3'] } });
  t.deepEqual(p.properties?.correlationData, Buffer.from('corr'));
  t.true(p.properties!.messageExpiryInterval! <= 3600 && p.properties!.messageExpiryInterval! > 3590);
});

test('[MQTT-3.1.3-9] will: a reconnect within the Will Delay Interval cancels the will', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b)).client;
  await sub.subscribe('will/t', 1);
  const persist = (payload: string): ConnectFields => ({
    clientId: 'delayed',
    clean: false,
    properties: { sessionExpiryInterval: 60 },
    will: will(payload, { properties: { willDelayInterval: 1 } }),
  });
  const first = (await rawConnected(t, b, { protocolVersion: 5, connect: persist('first') })).client;
  await first.close();
  const second = await rawConnected(t, b, { protocolVersion: 5, connect: persist('second') });
  t.true(second.connack.sessionPresent);
  await second.client.close();
  // 'first' would have come a second after the first close, before 'second' can.
  const p = await sub.nextPacket('publish', 5_000);
  t.is(p.payload.toString(), 'second');
});

test('will: the Will Delay Interval is cut short when the session ends first', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b)).client;
  await sub.subscribe('will/t', 1);
  const noSession = (await rawConnected(t, b, { protocolVersion: 5, connect: { will: will('at once', { properties: { willDelayInterval: 600 } }) } })).client;
  await noSession.close();
  t.is((await sub.nextPacket('publish')).payload.toString(), 'at once', 'Session Expiry 0: the will goes when the connection does');
  const short = (await rawConnected(t, b, { protocolVersion: 5, connect: { properties: { sessionExpiryInterval: 1 }, will: will('at expiry', { properties: { willDelayInterval: 600 } }) } })).client;
  await short.close();
  t.is((await sub.nextPacket('publish', 5_000)).payload.toString(), 'at expiry');
});

test('[MQTT-3.1.4-3] will: on takeover a v5 will without delay is published, one with a delay is not (the session goes on); 3.1.1 publishes it', async (t) => {
  const b = await testBroker(t);
  const sub = (await rawConnected(t, b)).client;
  await sub.subscribe([{ topic: 'will/t', qos: 1 }, { topic: 'marker', qos: 1 }]);
  const cases: [4 | 5, string, number][] = [[5, 'v5 no delay', 0], [5, 'v5 delay', 30], [4, 'v4', 0]];
  for (const [v, payload, delay] of cases) {
    const fields: ConnectFields = {
      clientId: `take-${payload}`,
      clean: false,
      ...(v === 5 ? { properties: { sessionExpiryInterval: 60 } } : {}),
      will: will(payload, v === 5 ? { properties: { willDelayInterval: delay } } : {}),
    };
    const old = (await rawConnected(t, b, { protocolVersion: v, connect: fields })).client;
    const neu = await rawConnected(t, b, { protocolVersion: v, connect: { ...fields, will: will(`${payload} (new)`) } });
    t.true(neu.connack.sessionPresent);
    if (v === 5) t.is((await old.nextPacket('disconnect')).reasonCode, 0x8e);
    await old.expectClosed();
    await neu.client.disconnect(v === 5 ? 0 : undefined);
  }
  const pub = (await rawConnected(t, b)).client;
  t.deepEqual((await untilMarker(sub, pub)).map((p) => p.payload.toString()).sort(), ['v4', 'v5 no delay']);
});
