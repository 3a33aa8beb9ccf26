/** broker/mqtt/publish-codec.ts: the fast paths give exactly mqtt-packet's bytes and packet objects, and step aside for the rest. */
import test from 'ava';
import fc from 'fast-check';
import { generate, parser, type IPublishPacket, type Packet } from 'mqtt-packet';
import { decodeFast, encodeFast, encodePublish } from '../../../broker/mqtt/publish-codec.js';

function parseWithMqttPacket(b: Buffer, protocolVersion: 4 | 5): Packet {
  let out: Packet | undefined;
  const p = parser({ protocolVersion });
  p.on('packet', (pk: Packet) => (out = pk));
  p.parse(b);
  if (out === undefined) throw new Error('mqtt-packet parsed nothing');
  return out;
}

/** Fixed header of a whole packet in `b`: [body start, end]. */
function bounds(b: Buffer): [number, number] {
  let i = 1;
  while ((b[i]! & 0x80) !== 0) i++;
  return [i + 1, b.length];
}

const publishArb = fc.record({
  topic: fc.string({ unit: 'grapheme', maxLength: 40 }),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
  dup: fc.boolean(),
  retain: fc.boolean(),
  messageId: fc.integer({ min: 1, max: 65535 }),
  version: fc.constantFrom(4 as const, 5 as const),
});

test('publish-codec: encodePublish gives mqtt-packet bytes, for every QoS, flag, topic and payload (v3.1.1 and v5)', (t) => {
  fc.assert(
    fc.property(publishArb, (a) => {
      const p: IPublishPacket = { cmd: 'publish', topic: a.topic, payload: a.payload, qos: a.qos, dup: a.dup, retain: a.retain, ...(a.qos > 0 ? { messageId: a.messageId } : {}) };
      const ours = encodePublish(p, a.version);
      t.truthy(ours);
      t.deepEqual(ours, generate(p, { protocolVersion: a.version }));
    }),
  );
});

test('publish-codec: a payload encoded for two subscribers keeps each packet id and QoS apart', (t) => {
  const payload = Buffer.from('shared');
  const q0 = encodePublish({ cmd: 'publish', topic: 't', payload, qos: 0, dup: false, retain: false }, 4)!;
  const a = encodePublish({ cmd: 'publish', topic: 't', payload, qos: 1, dup: false, retain: false, messageId: 7 }, 4)!;
  const b = encodePublish({ cmd: 'publish', topic: 't', payload, qos: 1, dup: false, retain: false, messageId: 9 }, 4)!;
  const q0again = encodePublish({ cmd: 'publish', topic: 't', payload, qos: 0, dup: false, retain: false }, 4)!;
  const other = encodePublish({ cmd: 'publish', topic: 'u', payload, qos: 0, dup: false, retain: true }, 5)!;
  t.is(parseWithMqttPacket(a, 4).messageId, 7);
  t.is(parseWithMqttPacket(b, 4).messageId, 9);
  t.deepEqual(q0, q0again);
  t.deepEqual(other, generate({ cmd: 'publish', topic: 'u', payload, qos: 0, dup: false, retain: true }, { protocolVersion: 5 }));
});

test('publish-codec: encodePublish leaves packets with properties or string payloads to mqtt-packet', (t) => {
  t.is(encodePublish({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, dup: false, retain: false, properties: { contentType: 'a' } }, 5), undefined);
  t.is(encodePublish({ cmd: 'publish', topic: 't', payload: 'x', qos: 0, dup: false, retain: false }, 4), undefined);
});

test('publish-codec: decodeFast reads PUBLISH as mqtt-packet does (v3.1.1 and v5 without properties)', (t) => {
  fc.assert(
    fc.property(publishArb, (a) => {
      const p: IPublishPacket = { cmd: 'publish', topic: a.topic, payload: a.payload, qos: a.qos, dup: a.dup, retain: a.retain, ...(a.qos > 0 ? { messageId: a.messageId } : {}) };
      const b = generate(p, { protocolVersion: a.version });
      const [body, end] = bounds(b);
      const ours = decodeFast(b, 0, body, end, a.version);
      t.deepEqual({ ...ours }, { ...parseWithMqttPacket(b, a.version) });
    }),
  );
});

test('publish-codec: decodeFast reads 2-byte acks and PINGREQ as mqtt-packet does (v5 acks may omit the reason code)', (t) => {
  const rows: [string, number[]][] = [
    ['puback', [0x40, 2, 0, 1]],
    ['pubrec', [0x50, 2, 1, 44]],
    ['pubrel', [0x62, 2, 0xff, 0xff]],
    ['pubcomp', [0x70, 2, 0, 2]],
    ['pingreq', [0xc0, 0]],
  ];
  for (const version of [4, 5] as const) {
    for (const [what, raw] of rows) {
      const b = Buffer.from(raw);
      t.deepEqual({ ...decodeFast(b, 0, 2, b.length, version) }, { ...parseWithMqttPacket(b, version) }, `${what} v${version}`);
    }
  }
});

test('publish-codec: decodeFast steps aside for properties, reason codes, bad flags and short packets', (t) => {
  const withProps = generate({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 0, dup: false, retain: false, properties: { contentType: 'a' } }, { protocolVersion: 5 });
  const ackWithCode = generate({ cmd: 'puback', messageId: 1, reasonCode: 0x10 }, { protocolVersion: 5 });
  const rows: [string, Buffer, 4 | 5][] = [
    ['publish with properties', withProps, 5],
    ['puback with a reason code', ackWithCode, 5],
    ['pubrel with flags 0', Buffer.from([0x60, 2, 0, 1]), 4],
    ['puback with flags 2', Buffer.from([0x42, 2, 0, 1]), 4],
    ['publish with QoS 3', Buffer.from([0x36, 5, 0, 1, 0x74, 0, 1]), 4],
    ['publish whose topic runs past the end', Buffer.from([0x30, 3, 0, 9, 0x74]), 4],
    ['QoS 1 publish without a packet id', Buffer.from([0x32, 3, 0, 1, 0x74]), 4],
    ['unsubscribe', generate({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: ['a'] }), 4],
  ];
  for (const [what, b, v] of rows) {
    const [body, end] = bounds(b);
    t.is(decodeFast(b, 0, body, end, v), undefined, what);
  }
});

test('publish-codec: encodeFast gives mqtt-packet bytes for acks, CONNACK, SUBACK and PINGRESP', (t) => {
  const rows: Packet[] = [
    { cmd: 'puback', messageId: 1 },
    { cmd: 'puback', messageId: 258, reasonCode: 0 },
    { cmd: 'puback', messageId: 258, reasonCode: 0x10 },
    { cmd: 'pubrec', messageId: 65535 },
    { cmd: 'pubrec', messageId: 7, reasonCode: 0x87 },
    { cmd: 'pubrel', messageId: 9 },
    { cmd: 'pubrel', messageId: 9, reasonCode: 0x92 },
    { cmd: 'pubcomp', messageId: 300 },
    { cmd: 'suback', messageId: 3, granted: [0, 1, 2, 0x80] },
    { cmd: 'pingresp' },
  ];
  for (const version of [4, 5] as const) {
    for (const p of rows) t.deepEqual(encodeFast(p, version), generate(p, { protocolVersion: version }), `${JSON.stringify(p)} v${version}`);
  }
  for (const p of [
    { cmd: 'connack', sessionPresent: false, returnCode: 0 },
    { cmd: 'connack', sessionPresent: true, returnCode: 0 },
    { cmd: 'connack', sessionPresent: false, returnCode: 5 },
  ] as Packet[]) {
    t.deepEqual(encodeFast(p, 4), generate(p, { protocolVersion: 4 }));
    t.is(encodeFast(p, 5), undefined, 'v5 CONNACK goes to mqtt-packet');
  }
  t.is(encodeFast({ cmd: 'puback', messageId: 1, properties: { reasonString: 'x' } }, 5), undefined);
  t.is(encodeFast({ cmd: 'subscribe', messageId: 1, subscriptions: [] }, 4), undefined);
});

const subArb = fc.record({
  messageId: fc.integer({ min: 1, max: 65535 }),
  subs: fc.array(
    fc.record({ topic: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), qos: fc.constantFrom(0 as const, 1 as const, 2 as const), nl: fc.boolean(), rap: fc.boolean(), rh: fc.constantFrom(0, 1, 2) }),
    { minLength: 1, maxLength: 5 },
  ),
  version: fc.constantFrom(4 as const, 5 as const),
});

test('publish-codec: decodeFast reads SUBSCRIBE as mqtt-packet does (v3.1.1, and v5 without properties)', (t) => {
  fc.assert(
    fc.property(subArb, (a) => {
      const subscriptions = a.subs.map((x) => (a.version === 5 ? x : { topic: x.topic, qos: x.qos }));
      const b = generate({ cmd: 'subscribe', messageId: a.messageId, subscriptions }, { protocolVersion: a.version });
      const [body, end] = bounds(b);
      t.deepEqual({ ...decodeFast(b, 0, body, end, a.version) }, { ...parseWithMqttPacket(b, a.version) });
    }),
  );
});

test('publish-codec: decodeFast leaves odd SUBSCRIBEs to mqtt-packet', (t) => {
  const withProps = generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }], properties: { subscriptionIdentifier: 3 } }, { protocolVersion: 5 });
  const rows: [string, Buffer, 4 | 5][] = [
    ['v5 with a subscription identifier', withProps, 5],
    ['no payload', Buffer.from([0x82, 2, 0, 1]), 4],
    ['reserved option bits set (3.1.1)', Buffer.from([0x82, 6, 0, 1, 0, 1, 0x61, 0x04]), 4],
    ['QoS 3', Buffer.from([0x82, 6, 0, 1, 0, 1, 0x61, 0x03]), 4],
    ['retain handling 3', Buffer.from([0x82, 7, 0, 1, 0, 0, 1, 0x61, 0x30]), 5],
    ['no options byte', Buffer.from([0x82, 5, 0, 1, 0, 1, 0x61]), 4],
    ['topic past the end', Buffer.from([0x82, 5, 0, 1, 0, 9, 0x61]), 4],
  ];
  for (const [what, b, v] of rows) {
    const [body, end] = bounds(b);
    t.is(decodeFast(b, 0, body, end, v), undefined, what);
  }
});

const connectArb = fc.record({
  version: fc.constantFrom(4 as const, 5 as const),
  clean: fc.boolean(),
  keepalive: fc.integer({ min: 0, max: 65535 }),
  clientId: fc.string({ unit: 'grapheme', maxLength: 30 }),
  username: fc.option(fc.string({ unit: 'grapheme', maxLength: 20 }), { nil: undefined }),
  password: fc.option(fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)), { nil: undefined }),
}).filter((a) => (a.clean || a.clientId !== '') && (a.password === undefined || a.username !== undefined)); // what mqtt-packet will write

test('publish-codec: decodeFast reads a CONNECT without will or properties as mqtt-packet does', (t) => {
  fc.assert(
    fc.property(connectArb, (a) => {
      const p: Packet = {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: a.version,
        clean: a.clean,
        keepalive: a.keepalive,
        clientId: a.clientId,
        ...(a.username === undefined ? {} : { username: a.username }),
        ...(a.password === undefined ? {} : { password: a.password }),
      };
      const b = generate(p, { protocolVersion: a.version });
      const [body, end] = bounds(b);
      const ours = decodeFast(b, 0, body, end, 5);
      t.truthy(ours);
      t.deepEqual({ ...ours }, { ...parseWithMqttPacket(b, 5) });
    }),
  );
});

test('publish-codec: decodeFast leaves CONNECTs with a will, properties, MQTT 3.1 or bad flags to mqtt-packet', (t) => {
  const base = { cmd: 'connect' as const, protocolId: 'MQTT' as const, clean: true, keepalive: 10, clientId: 'c' };
  const rows: [string, Buffer][] = [
    ['will', generate({ ...base, protocolVersion: 4, will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false } })],
    ['v5 properties', generate({ ...base, protocolVersion: 5, properties: { sessionExpiryInterval: 10 } }, { protocolVersion: 5 })],
    ['MQTT 3.1', generate({ ...base, protocolId: 'MQIsdp', protocolVersion: 3 })],
    ['reserved flag', Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x03, 0, 10, 0, 1, 0x63])],
    ['will QoS without will', Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x0a, 0, 10, 0, 1, 0x63])],
    ['client id past the end', Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 10, 0, 9, 0x63])],
  ];
  for (const [what, b] of rows) {
    const [body, end] = bounds(b);
    t.is(decodeFast(b, 0, body, end, 5), undefined, what);
  }
});
