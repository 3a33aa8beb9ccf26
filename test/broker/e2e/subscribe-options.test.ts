/**
 * SUBSCRIBE and UNSUBSCRIBE end to end with the raw packet client: `+` and `#`,
 * filter validation, the `$` rule, replacing a subscription, and the v5
 * subscription options (No Local, Retain As Published, Retain Handling 0/1/2,
 * Subscription Identifiers). "Nothing else arrived" is proved by a marker message
 * published after, which the subscriber receives after anything sent before it.
 */
import test from 'ava';
import type { IPublishPacket } from 'mqtt-packet';
import { rawConnected, roundTrip, testBroker, type TestBroker } from '../../helpers/broker.js';
import type { MqttTestClient } from '../../helpers/mqtt.js';

/** Everything `sub` receives up to the marker `pub` sends on `markerTopic` (which `sub` must match), acked. */
async function receivedUntilMarker(sub: MqttTestClient, pub: MqttTestClient, markerTopic: string): Promise<IPublishPacket[]> {
  await pub.publish(markerTopic, 'MARKER', { qos: 1 });
  const got: IPublishPacket[] = [];
  for (;;) {
    const p = await sub.nextPacket('publish');
    await sub.ackPublish(p);
    if (p.payload.toString() === 'MARKER') return got;
    got.push(p);
  }
}

async function pair(t: Parameters<typeof rawConnected>[0], b: TestBroker, v: 4 | 5 = 5): Promise<[MqttTestClient, MqttTestClient]> {
  return [(await rawConnected(t, b, { protocolVersion: v })).client, (await rawConnected(t, b, { protocolVersion: v })).client];
}

test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] subscribe: + matches one level, # the parent and every level below', async (t) => {
  const b = await testBroker(t);
  const pub = (await rawConnected(t, b)).client;
  const topics = ['a', 'a/b', 'a/b/c', 'a/x/c', 'a/b/c/d', '/a', 'a/', 'b/b/c'];
  const cases: [string, string[]][] = [
    ['a/+/c', ['a/b/c', 'a/x/c']],
    ['a/#', ['a', 'a/b', 'a/b/c', 'a/x/c', 'a/b/c/d', 'a/']],
    ['+', ['a']],
    ['+/+', ['a/b', '/a', 'a/']],
    ['#', topics],
    ['/+', ['/a']],
    ['+/b/#', ['a/b', 'a/b/c', 'a/b/c/d', 'b/b/c']],
    ['a/b/c', ['a/b/c']],
  ];
  const subs: MqttTestClient[] = [];
  for (const [filter] of cases) {
    const s = (await rawConnected(t, b)).client;
    t.deepEqual((await s.subscribe([{ topic: filter, qos: 1 }, { topic: 'marker', qos: 1 }])).granted, [1, 1]);
    subs.push(s);
  }
  for (const topic of topics) await pub.publish(topic, topic, { qos: 1 });
  for (const [i, [filter, expected]] of cases.entries()) {
    const got = (await receivedUntilMarker(subs[i]!, pub, 'marker')).map((p) => p.topic);
    t.deepEqual(got, expected, filter);
  }
});

test('[MQTT-4.7.2-1] subscribe: filters starting with a wildcard do not match topics starting with $', async (t) => {
  const b = await testBroker(t);
  const [sub, pub] = await pair(t, b, 4);
  await sub.subscribe([{ topic: '#', qos: 0 }, { topic: '+/x', qos: 0 }, { topic: '+', qos: 0 }, { topic: '$dollar/#', qos: 0 }]);
  for (const topic of ['$dollar/x', '$dollar', '$SYS/x', 'plain/x']) await pub.publish(topic, topic, { qos: 0 });
  const got = (await receivedUntilMarker(sub, pub, 'marker')).map((p) => p.topic);
  // plain/x matches # and +/x: one copy per subscription, as EMQX sends them.
  t.deepEqual([...new Set(got)].sort(), ['$dollar', '$dollar/x', 'plain/x'], 'only $dollar/# sees $ topics');
});

test('[MQTT-3.8.4-5] [MQTT-4.7.1-1] subscribe: an invalid filter fails alone in its SUBACK (3.1.1 0x80, v5 0x8F), the others are granted', async (t) => {
  const b = await testBroker(t);
  const bad = ['a/#/b', 'a+', '#a', 'a/b#', 'a/+b', '', '$share/g', '$share//a', '$share/g+/a'];
  for (const v of [4, 5] as const) {
    const { client } = await rawConnected(t, b, { protocolVersion: v });
    const ack = await client.subscribe([{ topic: 'ok/1', qos: 1 }, ...bad.map((topic) => ({ topic, qos: 0 as const })), { topic: 'ok/2', qos: 2 }]);
    t.deepEqual(ack.granted, [1, ...bad.map(() => (v === 5 ? 0x8f : 0x80)), 2]);
    await roundTrip(client);
  }
});

test('subscribe: wildcard and shared subscriptions can be switched off (v5 0xA2, 0x9E)', async (t) => {
  const b = await testBroker(t, { mqtt: { wildcard_subscription: false, shared_subscription: false } });
  const { client, connack } = await rawConnected(t, b, { protocolVersion: 5 });
  t.like(connack.properties, { wildcardSubscriptionAvailable: false, sharedSubscriptionAvailable: false });
  t.deepEqual((await client.subscribe([{ topic: 'a/+', qos: 0 }, { topic: '$share/g/a', qos: 0 }, { topic: 'a/b', qos: 0 }])).granted, [0xa2, 0x9e, 0]);
});

test('[MQTT-3.8.4-3] subscribe: subscribing again to the same filter replaces it (new QoS), one copy per message', async (t) => {
  const b = await testBroker(t);
  const [sub, pub] = await pair(t, b, 4);
  await sub.subscribe('re/t', 0);
  t.deepEqual((await sub.subscribe('re/t', 2)).granted, [2]);
  await sub.subscribe('marker', 0);
  await pub.publish('re/t', 'x', { qos: 2 });
  const got = await receivedUntilMarker(sub, pub, 'marker');
  t.deepEqual(got.map((p) => [p.topic, p.qos]), [['re/t', 2]]);
});

test('[MQTT-3.10.4-1] [MQTT-3.10.4-5] unsubscribe: delivery stops; UNSUBACK also for a filter never subscribed (v5 0x00 / 0x11 / 0x8F)', async (t) => {
  const b = await testBroker(t);
  const [sub, pub] = await pair(t, b);
  await sub.subscribe([{ topic: 'un/+', qos: 1 }, { topic: 'marker', qos: 1 }]);
  const ack = await sub.unsubscribe(['un/+', 'never/subscribed', 'bad/#/filter']);
  t.deepEqual(ack.granted, [0x00, 0x11, 0x8f]);
  await pub.publish('un/x', 'gone', { qos: 1 });
  t.deepEqual(await receivedUntilMarker(sub, pub, 'marker'), []);
  const [sub4, pub4] = await pair(t, b, 4);
  await sub4.subscribe('un4/t', 0);
  await sub4.unsubscribe(['un4/t', 'never']);
  await sub4.subscribe('marker', 0);
  await pub4.publish('un4/t', 'gone', { qos: 0 });
  t.deepEqual(await receivedUntilMarker(sub4, pub4, 'marker'), []);
});

test('[MQTT-3.8.3-3] subscribe: No Local keeps a client\'s own messages from it, and only those', async (t) => {
  const b = await testBroker(t);
  const [me, other] = await pair(t, b);
  await me.subscribe([{ topic: 'nl/t', qos: 1, nl: true }, { topic: 'marker', qos: 1 }]);
  await me.publish('nl/t', 'mine', { qos: 1 });
  await other.publish('nl/t', 'theirs', { qos: 1 });
  t.deepEqual((await receivedUntilMarker(me, other, 'marker')).map((p) => p.payload.toString()), ['theirs']);
  await me.subscribe([{ topic: 'nl/t', qos: 1, nl: false }]);
  await me.publish('nl/t', 'mine again', { qos: 1 });
  t.deepEqual((await receivedUntilMarker(me, other, 'marker')).map((p) => p.payload.toString()), ['mine again'], 'without No Local, own messages come back');
});

test('[MQTT-3.8.3-4] subscribe: No Local on a shared subscription is a Protocol Error (DISCONNECT 0x82)', async (t) => {
  const b = await testBroker(t);
  const { client } = await rawConnected(t, b, { protocolVersion: 5 });
  await client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '$share/g/t', qos: 0, nl: true }] });
  t.is((await client.nextPacket('disconnect')).reasonCode, 0x82);
  await client.expectClosed();
});

test('[MQTT-3.3.1-12] [MQTT-3.3.1-13] subscribe: Retain As Published keeps the RETAIN flag of a live message; without it the flag is 0', async (t) => {
  const b = await testBroker(t);
  const [pub, rap] = await pair(t, b);
  const plain = (await rawConnected(t, b, { protocolVersion: 5 })).client;
  const v4 = (await rawConnected(t, b, { protocolVersion: 4 })).client;
  await rap.subscribe([{ topic: 'rap/t', qos: 1, rap: true }, { topic: 'marker', qos: 1 }]);
  await plain.subscribe([{ topic: 'rap/t', qos: 1 }, { topic: 'marker', qos: 1 }]);
  await v4.subscribe([{ topic: 'rap/t', qos: 1 }, { topic: 'marker', qos: 1 }]);
  await pub.publish('rap/t', 'kept', { qos: 1, retain: true });
  t.deepEqual((await receivedUntilMarker(rap, pub, 'marker')).map((p) => p.retain), [true]);
  t.deepEqual((await receivedUntilMarker(plain, pub, 'marker')).map((p) => p.retain), [false]);
  t.deepEqual((await receivedUntilMarker(v4, pub, 'marker')).map((p) => p.retain), [false], '[MQTT-3.3.1-9] 3.1.1');
});

test('[MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] subscribe: Retain Handling 0 sends retained messages on every subscribe, 1 only on a new one, 2 never', async (t) => {
  const b = await testBroker(t);
  const [pub] = await pair(t, b);
  await pub.publish('rh/t', 'retained', { qos: 1, retain: true });
  const counts: number[] = [];
  for (const rh of [0, 1, 2] as const) {
    const { client } = await rawConnected(t, b, { protocolVersion: 5 });
    await client.subscribe('marker', 1);
    for (let i = 0; i < 2; i++) await client.subscribe([{ topic: 'rh/+', qos: 1, rh }]);
    const got = await receivedUntilMarker(client, pub, 'marker');
    t.true(got.every((p) => p.retain && p.payload.toString() === 'retained'), '[MQTT-3.3.1-8] RETAIN set on messages sent for a subscribe');
    counts.push(got.length);
  }
  t.deepEqual(counts, [2, 1, 0]);
});

test('[MQTT-3.3.4-3] [MQTT-3.8.4-3] subscribe: each matching subscription\'s identifier comes with the message; a new SUBSCRIBE replaces it', async (t) => {
  const b = await testBroker(t);
  const [sub, pub] = await pair(t, b);
  const { connack } = await rawConnected(t, b, { protocolVersion: 5 });
  t.true(connack.properties?.subscriptionIdentifiersAvailable);
  await sub.subscribe('marker', 1);
  await sub.subscribe([{ topic: 'sid/+', qos: 1 }], 0, { subscriptionIdentifier: 7 });
  await sub.subscribe([{ topic: 'sid/b', qos: 1 }], 0, { subscriptionIdentifier: 9 });
  await sub.subscribe([{ topic: 'sid/none', qos: 1 }]);
  await pub.publish('sid/b', 'both', { qos: 1 });
  await pub.publish('sid/none', 'plain', { qos: 1 });
  const got = await receivedUntilMarker(sub, pub, 'marker');
  const ids = (p: IPublishPacket): number[] => [p.properties?.subscriptionIdentifier ?? []].flat();
  t.deepEqual(got.filter((p) => p.payload.toString() === 'both').flatMap(ids).sort(), [7, 9]);
  const none = got.filter((p) => p.topic === 'sid/none').map((p) => ids(p));
  t.deepEqual(none.sort((x, y) => x.length - y.length), [[], [7]], 'sid/none matches sid/+ (7) and sid/none (no identifier)');
  await sub.subscribe([{ topic: 'sid/b', qos: 1 }], 0, { subscriptionIdentifier: 11 });
  await pub.publish('sid/b', 'again', { qos: 1 });
  t.deepEqual((await receivedUntilMarker(sub, pub, 'marker')).flatMap(ids).sort((x, y) => x - y), [7, 11]);
});
