/**
 * The broker's MQTT 5 features as MQTT.js uses them, over TCP and WebSocket: assigned
 * client ids, takeover (DISCONNECT 0x8E), subscription options (No Local, Retain As
 * Published, Retain Handling), Subscription Identifiers, topic aliases MQTT.js
 * assigns itself, request/response, message expiry, Maximum Packet Size, wills,
 * Session Expiry, shared subscriptions, $SYS, and password refusals.
 */
import test, { type ExecutionContext } from 'ava';
import mqtt from 'mqtt';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IPublishPacket } from 'mqtt-packet';
import { passwordLine } from '../../../broker/index.js';
import { mqttjs, sessionGone, sessionUp, tcpUrl, testBroker, wsUrl, type TestBroker } from '../../helpers/broker.js';
import { waitFor, withTimeout } from '../../helpers/wait.js';

type Got = { topic: string; payload: string; packet: IPublishPacket };

function collect(c: mqtt.MqttClient): Got[] {
  const got: Got[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), packet }));
  return got;
}

/** Everything up to a marker (which `c` must be subscribed to) has been received when this resolves. */
async function marker(pub: mqtt.MqttClient, got: Got[], topic = 'marker'): Promise<Got[]> {
  const m = `M-${Math.random()}`;
  await pub.publishAsync(topic, m, { qos: 1 });
  await waitFor(() => got.some((g) => g.payload === m), 'the marker');
  return got.splice(0).filter((g) => g.payload !== m);
}

const urls = (b: TestBroker): [string, string][] => [['tcp', tcpUrl(b)], ['ws', wsUrl(b)]];

test('mqttjs: v5 empty client id gets an Assigned Client Identifier; a second connection with an id takes over (0x8E)', async (t) => {
  const b = await testBroker(t);
  for (const [proto, url] of urls(b)) {
    const anon = await mqttjs(t, url, { protocolVersion: 5, clientId: '' });
    const assigned = (anon as unknown as { connackPacket?: { properties?: { assignedClientIdentifier?: string } } }).connackPacket?.properties?.assignedClientIdentifier;
    t.truthy(assigned, proto);
    const first = await mqttjs(t, url, { protocolVersion: 5, clientId: `dup-${proto}` });
    const kicked = new Promise<number | undefined>((resolve) => first.once('disconnect', (p) => resolve(p.reasonCode)));
    await mqttjs(t, url, { protocolVersion: 5, clientId: `dup-${proto}` });
    t.is(await withTimeout(kicked, 'DISCONNECT on the old connection'), 0x8e, proto);
  }
});

test('mqttjs: No Local, Retain As Published and Retain Handling as subscription options', async (t) => {
  const b = await testBroker(t);
  for (const [proto, url] of urls(b)) {
    const me = await mqttjs(t, url, { protocolVersion: 5 });
    const got = collect(me);
    await me.subscribeAsync({ [`nl/${proto}`]: { qos: 1, nl: true }, marker: { qos: 1 } });
    await me.publishAsync(`nl/${proto}`, 'own', { qos: 1 });
    t.deepEqual(await marker(me, got), [], `${proto}: No Local`);

    const pub = await mqttjs(t, url, { protocolVersion: 5 });
    await pub.publishAsync(`rh/${proto}`, 'kept', { qos: 1, retain: true });
    const counts: number[] = [];
    for (const rh of [0, 1, 2] as const) {
      const c = await mqttjs(t, url, { protocolVersion: 5 });
      const g = collect(c);
      await c.subscribeAsync({ marker: { qos: 1 } });
      await c.subscribeAsync({ [`rh/${proto}`]: { qos: 1, rh } });
      await c.subscribeAsync({ [`rh/${proto}`]: { qos: 1, rh, rap: true } });
      await pub.publishAsync(`rh/${proto}`, 'live', { qos: 1, retain: true });
      const all = await marker(pub, g);
      counts.push(all.filter((x) => x.payload === 'kept').length);
      t.deepEqual(all.filter((x) => x.payload === 'live').map((x) => x.packet.retain), [true], `${proto}: RAP keeps RETAIN on a live message`);
      await pub.publishAsync(`rh/${proto}`, 'kept', { qos: 1, retain: true });
    }
    t.deepEqual(counts, [2, 1, 0], `${proto}: Retain Handling 0, 1, 2`);
  }
});

test('mqttjs: Subscription Identifiers, message expiry, request/response properties, user properties', async (t) => {
  const b = await testBroker(t);
  for (const [proto, url] of urls(b)) {
    const responder = await mqttjs(t, url, { protocolVersion: 5 });
    await responder.subscribeAsync(`svc/${proto}`, { qos: 1, properties: { subscriptionIdentifier: 77 } });
    responder.on('message', (_topic, payload, packet) => {
      const p = packet.properties!;
      t.is(p.subscriptionIdentifier, 77);
      t.true(p.messageExpiryInterval! > 0 && p.messageExpiryInterval! <= 30, 'the time left');
      void responder.publish(p.responseTopic!, `echo ${payload.toString()}`, { qos: 1, properties: { correlationData: p.correlationData!, userProperties: p.userProperties! } });
    });
    const requester = await mqttjs(t, url, { protocolVersion: 5 });
    await requester.subscribeAsync(`reply/${proto}`, { qos: 1 });
    const answer = new Promise<IPublishPacket>((resolve) => requester.once('message', (_t, _p, packet) => resolve(packet)));
    await requester.publishAsync(`svc/${proto}`, 'hello', {
      qos: 1,
      properties: { responseTopic: `reply/${proto}`, correlationData: Buffer.from('c-42'), messageExpiryInterval: 30, userProperties: { trace: 'abc' } },
    });
    const a = await withTimeout(answer, 'the response');
    t.is(a.payload.toString(), 'echo hello');
    t.deepEqual(a.properties?.correlationData, Buffer.from('c-42'));
    t.deepEqual(a.properties?.userProperties, { trace: 'abc' });
  }
});

test('mqttjs: topic aliases MQTT.js assigns itself reach subscribers as full topics', async (t) => {
  const b = await testBroker(t, { mqtt: { max_topic_alias: 4 } });
  for (const [proto, url] of urls(b)) {
    const sub = await mqttjs(t, url, { protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync(['alias/#', 'marker'], { qos: 1 });
    const pub = await mqttjs(t, url, { protocolVersion: 5, autoAssignTopicAlias: true });
    const aliased: string[] = [];
    pub.on('packetsend', (p) => {
      if (p.cmd === 'publish' && p.properties?.topicAlias !== undefined) aliased.push(`${p.topic}|${p.properties.topicAlias}`);
    });
    for (const i of [1, 2, 3]) await pub.publishAsync('alias/long/topic/name', `m${i}`, { qos: 1 });
    await pub.publishAsync('alias/other', 'o', { qos: 1 });
    t.true(aliased.some((a) => a.startsWith('|')), `${proto}: MQTT.js sent a PUBLISH with only an alias: ${aliased.join(', ')}`);
    const all = await marker(pub, got);
    t.deepEqual(all.map((g) => [g.topic, g.payload, g.packet.properties?.topicAlias]), [
      ['alias/long/topic/name', 'm1', undefined],
      ['alias/long/topic/name', 'm2', undefined],
      ['alias/long/topic/name', 'm3', undefined],
      ['alias/other', 'o', undefined],
    ]);
  }
});

test('mqttjs: a v5 client\'s Maximum Packet Size keeps larger messages from it', async (t) => {
  const b = await testBroker(t);
  for (const [proto, url] of urls(b)) {
    const small = await mqttjs(t, url, { protocolVersion: 5, properties: { maximumPacketSize: 128 } });
    const got = collect(small);
    await small.subscribeAsync([`size/${proto}`, 'marker'], { qos: 1 });
    const pub = await mqttjs(t, url, { protocolVersion: 5 });
    await pub.publishAsync(`size/${proto}`, Buffer.alloc(500), { qos: 1 });
    await pub.publishAsync(`size/${proto}`, 'fits', { qos: 1 });
    t.deepEqual((await marker(pub, got)).map((g) => g.payload), ['fits'], proto);
  }
});

test('mqttjs: a will on a lost connection, a Session Expiry that keeps the session, and $share groups', async (t) => {
  const b = await testBroker(t, { sys: { interval_ms: 100 } });
  for (const [proto, url] of urls(b)) {
    const watcher = await mqttjs(t, url, { protocolVersion: 5 });
    const got = collect(watcher);
    await watcher.subscribeAsync(['will/#', 'marker'], { qos: 1 });
    const dying = await mqttjs(t, url, { protocolVersion: 5, clientId: `dying-${proto}`, will: { topic: `will/${proto}`, payload: Buffer.from('bye'), qos: 1, retain: false } });
    await sessionUp(b, `dying-${proto}`);
    dying.stream.destroy();
    await sessionGone(b, `dying-${proto}`);
    t.deepEqual((await marker(watcher, got)).map((g) => [g.topic, g.payload]), [[`will/${proto}`, 'bye']]);

    const opts = { protocolVersion: 5 as const, clientId: `keep-${proto}`, clean: false, properties: { sessionExpiryInterval: 30 } };
    const keep = await mqttjs(t, url, opts);
    await keep.subscribeAsync(`kept/${proto}`, { qos: 1 });
    await keep.endAsync();
    await watcher.publishAsync(`kept/${proto}`, 'while away', { qos: 1 });
    const back = mqtt.connect(url, { ...opts, reconnectPeriod: 0 });
    t.teardown(() => back.end(true));
    const backGot = collect(back);
    const ack = await withTimeout(new Promise<mqtt.IConnackPacket>((resolve) => back.once('connect', resolve)), 'reconnect');
    t.true(ack.sessionPresent);
    await waitFor(() => backGot.length === 1, 'the queued message');
    t.is(backGot[0]!.payload, 'while away');

    const members = [await mqttjs(t, url, { protocolVersion: 5 }), await mqttjs(t, url, { protocolVersion: 4 })];
    const shares = members.map(collect);
    for (const m of members) await m.subscribeAsync([`$share/g/job/${proto}`, 'marker'], { qos: 1 });
    for (let i = 0; i < 6; i++) await watcher.publishAsync(`job/${proto}`, `j${i}`, { qos: 1 });
    await watcher.publishAsync('marker', 'END', { qos: 1 });
    await waitFor(() => shares.every((s) => s.some((g) => g.payload === 'END')), 'the marker at both members');
    const split = shares.map((s) => s.filter((g) => g.topic !== 'marker').map((g) => g.payload));
    t.deepEqual(split, [['j0', 'j2', 'j4'], ['j1', 'j3', 'j5']], `${proto}: round robin`);

    const sys = await mqttjs(t, url, { protocolVersion: 4 });
    const version = new Promise<string>((resolve) => sys.on('message', (topic, payload) => topic.endsWith('/version') && resolve(payload.toString())));
    await sys.subscribeAsync('$SYS/brokers/+/version');
    t.is(await withTimeout(version, '$SYS version'), '0.1.0');
  }
});

async function passwordBroker(t: ExecutionContext): Promise<TestBroker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-mqttjs-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'passwd'), passwordLine('carol', 'pa55') + '\n');
  return testBroker(t, { auth: { password_file: path.join(dir, 'passwd'), allow_anonymous: false } });
}

test('mqttjs: a wrong password or none is refused with the version\'s code', async (t) => {
  const b = await passwordBroker(t);
  for (const [proto, url] of urls(b)) {
    for (const v of [4, 5] as const) {
      await mqttjs(t, url, { protocolVersion: v, username: 'carol', password: 'pa55' });
      const bad = await t.throwsAsync(mqtt.connectAsync(url, { protocolVersion: v, username: 'carol', password: 'nope', reconnectPeriod: 0 }));
      t.is((bad as Error & { code?: number }).code, v === 5 ? 0x86 : 4, `${proto} v${v} bad password`);
      const anon = await t.throwsAsync(mqtt.connectAsync(url, { protocolVersion: v, reconnectPeriod: 0 }));
      t.is((anon as Error & { code?: number }).code, v === 5 ? 0x87 : 5, `${proto} v${v} anonymous`);
    }
  }
});
