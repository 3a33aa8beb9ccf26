/**
 * The MQTT test client (test/helpers/mqtt.ts) checked against a real broker,
 * mosquitto, before any test trusts it against ours: v3.1, v3.1.1 and v5 over TCP
 * and WebSocket, the QoS 0/1/2 flows in both directions, retained messages, a
 * second CONNECT, raw bytes. Skipped, with a log line, when mosquitto is missing.
 */
import test, { type ExecutionContext } from 'ava';
import { generate, type IPublishPacket } from 'mqtt-packet';
import { connect, connectAndWaitConnack, mosquittoBinary, startMosquitto, type MqttTestClient, type ProtocolVersion } from './helpers/mqtt.js';
import { WaitTimeout } from './helpers/wait.js';

const bin = mosquittoBinary();
const mqttTest = bin === undefined ? test.skip : test;
if (bin === undefined) console.log('helpers-mqtt: mosquitto not installed (apt-get install mosquitto); harness tests skipped');

async function broker(t: ExecutionContext): Promise<{ port: number; wsPort: number }> {
  return startMosquitto(t, bin!);
}

async function client(t: ExecutionContext, port: number, protocolVersion: ProtocolVersion, transport: 'tcp' | 'ws' = 'tcp'): Promise<MqttTestClient> {
  const { client: c, connack } = await connectAndWaitConnack(port, { protocolVersion, transport });
  t.teardown(() => c.close());
  if (protocolVersion === 5) t.is(connack.reasonCode, 0, 'v5 CONNACK success');
  else t.is(connack.returnCode, 0, 'CONNACK accepted');
  t.false(connack.sessionPresent);
  return c;
}

for (const v of [3, 4, 5] as const) {
  mqttTest(`helpers-mqtt: MQTT v${v} connect, subscribe, and QoS 0/1/2 in both directions against mosquitto`, async (t) => {
    const { port } = await broker(t);
    const sub = await client(t, port, v);
    const pub = await client(t, port, v);
    const suback = await sub.subscribe('beamq/+/x', 2);
    t.deepEqual(suback.granted, [2]);

    for (const qos of [0, 1, 2] as const) {
      const acks = await pub.publish(`beamq/q${qos}/x`, `payload ${qos}`, { qos });
      t.deepEqual(
        acks.map((a) => a.cmd),
        [[], ['puback'], ['pubrec', 'pubcomp']][qos],
        `publisher side of QoS ${qos}`,
      );
      const got = await sub.nextPacket('publish');
      t.is(got.topic, `beamq/q${qos}/x`);
      t.is(got.qos, qos);
      t.is(got.payload.toString(), `payload ${qos}`);
      t.is(got.retain, false);
      if (qos > 0) t.is(typeof got.messageId, 'number');
      await sub.ackPublish(got); // subscriber side: PUBACK, or PUBREC → PUBREL → PUBCOMP
    }
    t.deepEqual(sub.pending(), [], 'nothing left over');
    const unsuback = await sub.unsubscribe('beamq/+/x');
    t.is(unsuback.cmd, 'unsuback');
    await pub.disconnect();
    t.true(pub.closed);
  });
}

mqttTest('helpers-mqtt: MQTT v5 over WebSocket (subprotocol mqtt) against mosquitto', async (t) => {
  const { wsPort } = await broker(t);
  const sub = await client(t, wsPort, 5, 'ws');
  const pub = await client(t, wsPort, 5, 'ws');
  await sub.subscribe('ws/#', 1);
  await pub.publish('ws/a', 'over ws', { qos: 1, properties: { userProperties: { k: 'v' }, contentType: 'text/plain' } });
  const got = await sub.nextPacket('publish');
  t.is(got.payload.toString(), 'over ws');
  t.deepEqual(got.properties?.userProperties, { k: 'v' });
  t.is(got.properties?.contentType, 'text/plain');
  await sub.ackPublish(got);
});

mqttTest('helpers-mqtt: MQTT v3.1.1 over WebSocket against mosquitto', async (t) => {
  const { wsPort } = await broker(t);
  const c = await client(t, wsPort, 4, 'ws');
  await c.subscribe('loop', 2);
  await c.publish('loop', 'self', { qos: 2 });
  const got = await c.nextPacket('publish');
  t.is(got.payload.toString(), 'self');
  await c.ackPublish(got);
});

for (const v of [4, 5] as const) {
  mqttTest(`helpers-mqtt: MQTT v${v} retained message reaches a later subscriber with RETAIN set`, async (t) => {
    const { port } = await broker(t);
    const pub = await client(t, port, v);
    await pub.publish('state/lamp', 'on', { qos: 1, retain: true });
    const sub = await client(t, port, v);
    await sub.subscribe('state/#', 1);
    const got: IPublishPacket = await sub.nextPacket('publish');
    t.is(got.topic, 'state/lamp');
    t.is(got.payload.toString(), 'on');
    t.true(got.retain, 'RETAIN set on a message sent because of a new subscription');
    await sub.ackPublish(got);
    // An empty retained payload clears it: a third subscriber gets nothing retained.
    await pub.publish('state/lamp', '', { qos: 1, retain: true });
    await sub.ackPublish(await sub.nextPacket('publish'));
    const late = await client(t, port, v);
    await late.subscribe('state/#', 1);
    await pub.publish('state/ping', 'live', { qos: 1 });
    const next = await late.nextPacket('publish');
    t.is(next.topic, 'state/ping', 'the cleared retained message was not delivered first');
  });
}

for (const v of [4, 5] as const) {
  mqttTest(`helpers-mqtt: MQTT v${v} a second CONNECT gets the connection closed [MQTT-3.1.0-2]`, async (t) => {
    const { port } = await broker(t);
    const c = await client(t, port, v);
    await c.sendConnect();
    await c.expectClosed();
    t.true(c.closed);
    t.false(c.pending().some((p) => p.cmd === 'connack'), 'no second CONNACK');
    await t.throwsAsync(c.nextPacket('pingresp', 100), { message: /connection already closed; waited for pingresp/ });
  });
}

mqttTest('helpers-mqtt: raw bytes go out as they are; a packet before CONNECT gets the connection closed', async (t) => {
  const { port } = await broker(t);
  const c = await connect(port);
  t.teardown(() => c.close());
  await c.writeRaw(Buffer.from([0xc0, 0x00])); // PINGREQ before CONNECT [MQTT-3.1.0-1]
  await c.expectClosed();
  t.deepEqual(c.pending(), []);
});

mqttTest('helpers-mqtt: a CONNECT split across writes is reassembled by the server', async (t) => {
  const { port } = await broker(t);
  const c = await connect(port);
  t.teardown(() => c.close());
  const bytes = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'split', clean: true, keepalive: 0 });
  for (const b of bytes) await c.writeRaw(Buffer.of(b));
  const connack = await c.nextPacket('connack');
  t.is(connack.returnCode, 0);
  await c.send({ cmd: 'pingreq' });
  t.is((await c.nextPacket('pingresp')).cmd, 'pingresp');
});

mqttTest('helpers-mqtt: a wait that times out says what it waited for', async (t) => {
  const { port } = await broker(t);
  const c = await client(t, port, 4);
  const err = await t.throwsAsync(c.nextPacket('publish', 200));
  t.true(err instanceof WaitTimeout);
  t.regex(err.message, /timed out after 200 ms waiting for publish/);
  await t.throwsAsync(c.expectClosed(200), { instanceOf: WaitTimeout, message: /the connection to close/ });
});

mqttTest('helpers-mqtt: packets of other kinds stay queued while one kind is awaited', async (t) => {
  const { port } = await broker(t);
  const c = await client(t, port, 5);
  await c.subscribe('q/#', 0);
  await c.publish('q/1', 'a');
  await c.send({ cmd: 'pingreq' });
  // Whatever order they arrive in, each is found by kind.
  t.is((await c.nextPacket('pingresp')).cmd, 'pingresp');
  t.is((await c.nextPacket('publish')).topic, 'q/1');
});
