/**
 * Shared subscriptions `$share/<group>/<filter>` end to end with the raw packet
 * client (v5 and 3.1.1): one member per group gets each message, round robin by
 * default, random or by hash of the publisher's client id when configured; groups
 * and plain subscribers each get their copy; no retained messages on subscribe.
 */
import test from 'ava';
import type { IPublishPacket } from 'mqtt-packet';
import { rawConnected, sessionGone, testBroker, type TestBroker } from '../../helpers/broker.js';
import type { MqttTestClient } from '../../helpers/mqtt.js';

/** What each client received up to the marker each gets (they all subscribe to `marker`). */
async function collect(clients: readonly MqttTestClient[], pub: MqttTestClient): Promise<string[][]> {
  await pub.publish('marker', 'MARKER', { qos: 1 });
  const out: string[][] = [];
  for (const c of clients) {
    const got: string[] = [];
    for (let p: IPublishPacket = await c.nextPacket('publish'); p.payload.toString() !== 'MARKER'; p = await c.nextPacket('publish')) {
      await c.ackPublish(p);
      got.push(p.payload.toString());
    }
    out.push(got);
  }
  return out;
}

async function members(t: Parameters<typeof rawConnected>[0], b: TestBroker, filters: readonly string[], v: 4 | 5 = 5): Promise<MqttTestClient[]> {
  const out: MqttTestClient[] = [];
  for (const [i, f] of filters.entries()) {
    const c = (await rawConnected(t, b, { protocolVersion: i % 2 === 0 ? v : 4, connect: { clientId: `member-${i}` } })).client;
    t.deepEqual((await c.subscribe([{ topic: f, qos: 1 }, { topic: 'marker', qos: 1 }])).granted, [1, 1]);
    out.push(c);
  }
  return out;
}

test('[v5 §4.8.2] shared: round robin by default; each group and each plain subscriber gets every message once', async (t) => {
  const b = await testBroker(t);
  const subs = await members(t, b, ['$share/g1/sh/+', '$share/g1/sh/+', '$share/g1/sh/+', '$share/g2/sh/#', 'sh/+']);
  const pub = (await rawConnected(t, b)).client;
  for (let i = 0; i < 9; i++) await pub.publish('sh/t', `m${i}`, { qos: 1 });
  const got = await collect(subs, pub);
  const all = Array.from({ length: 9 }, (_, i) => `m${i}`);
  t.deepEqual(got.slice(0, 3), [['m0', 'm3', 'm6'], ['m1', 'm4', 'm7'], ['m2', 'm5', 'm8']], 'g1 in turn');
  t.deepEqual(got[3], all, 'g2 has one member');
  t.deepEqual(got[4], all, 'the plain subscriber');
});

test('shared: random spreads messages, each delivered to exactly one member', async (t) => {
  const b = await testBroker(t, { mqtt: { shared_subscription_strategy: 'random' } });
  const subs = await members(t, b, ['$share/g/rnd', '$share/g/rnd', '$share/g/rnd']);
  const pub = (await rawConnected(t, b)).client;
  for (let i = 0; i < 60; i++) await pub.publish('rnd', `m${i}`, { qos: 1 });
  const got = await collect(subs, pub);
  t.deepEqual(got.flat().sort(), Array.from({ length: 60 }, (_, i) => `m${i}`).sort());
  t.true(got.filter((g) => g.length > 0).length >= 2, `spread: ${got.map((g) => g.length).join('/')}`);
});

test('shared: hash_clientid sends all of one publisher\'s messages to the same member', async (t) => {
  const b = await testBroker(t, { mqtt: { shared_subscription_strategy: 'hash_clientid' } });
  const subs = await members(t, b, ['$share/g/h', '$share/g/h', '$share/g/h']);
  const owners = new Set<number>();
  for (let k = 0; k < 6; k++) {
    const pub = (await rawConnected(t, b, { connect: { clientId: `publisher-${k}` } })).client;
    for (let i = 0; i < 5; i++) await pub.publish('h', `p${k}-${i}`, { qos: 1 });
    const got = await collect(subs, pub);
    const holders = got.map((g, i) => (g.length > 0 ? i : -1)).filter((i) => i >= 0);
    t.is(holders.length, 1, `publisher-${k}'s messages all went to one member`);
    t.deepEqual(got[holders[0]!], [0, 1, 2, 3, 4].map((i) => `p${k}-${i}`));
    owners.add(holders[0]!);
  }
  t.true(owners.size >= 2, 'different publishers hash to different members');
});

test('[v5 §4.8.2] shared: retained messages are not sent to a new shared subscription', async (t) => {
  const b = await testBroker(t);
  const pub = (await rawConnected(t, b)).client;
  await pub.publish('shr/t', 'retained', { qos: 1, retain: true });
  const subs = await members(t, b, ['$share/g/shr/t', 'shr/t']);
  t.deepEqual(await collect(subs, pub), [[], ['retained']]);
});

test('shared: a member that unsubscribes or goes away leaves the group; the rest get everything', async (t) => {
  const b = await testBroker(t);
  const subs = await members(t, b, ['$share/g/leave', '$share/g/leave', '$share/g/leave']);
  const pub = (await rawConnected(t, b)).client;
  t.deepEqual((await subs[0]!.unsubscribe('$share/g/leave')).granted, [0]);
  await subs[1]!.disconnect();
  await sessionGone(b, 'member-1');
  for (let i = 0; i < 4; i++) await pub.publish('leave', `m${i}`, { qos: 1 });
  const got = await collect([subs[0]!, subs[2]!], pub);
  t.deepEqual(got, [[], ['m0', 'm1', 'm2', 'm3']]);
});

test('shared: $queue/<filter> is the legacy group $queue', async (t) => {
  const b = await testBroker(t);
  const subs = await members(t, b, ['$queue/q/t', '$queue/q/t'], 4);
  const pub = (await rawConnected(t, b)).client;
  for (let i = 0; i < 4; i++) await pub.publish('q/t', `m${i}`, { qos: 1 });
  t.deepEqual(await collect(subs, pub), [['m0', 'm2'], ['m1', 'm3']]);
});
