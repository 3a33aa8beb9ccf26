/**
 * Hostile input on real sockets: thousands of random and bit-flipped packets from a
 * corpus of valid ones (seeded PRNG, bounded count), oversize and malformed Remaining
 * Lengths, byte-at-a-time writes, half-open connections. The broker answers as the
 * spec requires or closes the offender; no actor crashes, and a witness client is
 * served throughout.
 */
import test, { type ExecutionContext } from 'ava';
import { generate, type Packet } from 'mqtt-packet';
import { rawClient, rawConnected, sessionGone, testBroker, type TestBroker } from '../../helpers/broker.js';
import { captureLogs, type LogLine } from '../../helpers/runtime.js';
import { rawConnect } from '../../helpers/raw-tcp.js';
import type { MqttTestClient } from '../../helpers/mqtt.js';

/** mulberry32: a small seeded PRNG, so a failure replays from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const MAX_PACKET = 2048;
const SUBACK_ID = Buffer.from([0xbe, 0xef]);
const PINGS_THEN_SUBSCRIBE = Buffer.concat([
  Buffer.from('c000'.repeat(MAX_PACKET / 2 + 1), 'hex'),
  generate({ cmd: 'subscribe', messageId: 0xbeef, subscriptions: [{ topic: 'end', qos: 0 }] }),
]);

function corpus(v: 4 | 5): Buffer[] {
  const props5 = v === 5;
  const packets: Packet[] = [
    { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fz/+', qos: 2 }, { topic: 'fz/#', qos: 1 }], ...(props5 ? { properties: { subscriptionIdentifier: 3 } } : {}) },
    { cmd: 'publish', topic: 'fz/a', payload: Buffer.from('hello'), qos: 0, retain: false, dup: false },
    { cmd: 'publish', topic: 'fz/b', payload: Buffer.from('q1'), qos: 1, messageId: 2, retain: true, dup: false, ...(props5 ? { properties: { topicAlias: 1, userProperties: { k: 'v' }, messageExpiryInterval: 9 } } : {}) },
    { cmd: 'publish', topic: 'fz/c', payload: Buffer.from('q2'), qos: 2, messageId: 3, retain: false, dup: false },
    { cmd: 'pubrel', messageId: 3 },
    { cmd: 'puback', messageId: 1 },
    { cmd: 'pubrec', messageId: 1 },
    { cmd: 'pubcomp', messageId: 1 },
    { cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['fz/+'] },
    { cmd: 'pingreq' },
    { cmd: 'disconnect', ...(props5 ? { reasonCode: 0x04 } : {}) },
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion: v, clientId: 'fz-again', clean: true, keepalive: 10 },
  ];
  return packets.map((p) => generate(p, { protocolVersion: v }));
}

function connectPacket(v: 4 | 5, i: number): Buffer {
  return generate(
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: v,
      clientId: `fz-${i}`,
      clean: i % 3 !== 0,
      keepalive: 30,
      will: { topic: 'fz/will', payload: Buffer.from('w'), qos: 1, retain: false },
      ...(v === 5 ? { properties: { sessionExpiryInterval: 2, receiveMaximum: 5, topicAliasMaximum: 3 } } : {}),
    },
    { protocolVersion: v },
  );
}

function mutate(b: Buffer, rnd: () => number): Buffer {
  const out = Buffer.from(b);
  switch (Math.floor(rnd() * 6)) {
    case 0: // flip 1..4 bits
      for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) {
        const i = Math.floor(rnd() * out.length);
        out[i]! ^= 1 << Math.floor(rnd() * 8);
      }
      return out;
    case 1: // replace a byte
      out[Math.floor(rnd() * out.length)] = Math.floor(rnd() * 256);
      return out;
    case 2: // truncate
      return out.subarray(0, Math.floor(rnd() * out.length));
    case 3: // extend with random bytes
      return Buffer.concat([out, randomBytes(1 + Math.floor(rnd() * 16), rnd)]);
    case 4: // all random
      return randomBytes(1 + Math.floor(rnd() * 64), rnd);
    default: // the remaining length byte
      out[1] = Math.floor(rnd() * 256);
      return out;
  }
}

function randomBytes(n: number, rnd: () => number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

/** The witness publishes to itself and gets it back: the broker still serves. */
async function witnessServed(w: MqttTestClient, n: number): Promise<void> {
  await w.publish('witness/t', `alive-${n}`, { qos: 1 });
  const p = await w.nextMatching((x): x is Extract<Packet, { cmd: 'publish' }> => x.cmd === 'publish' && x.payload.toString() === `alive-${n}`, `witness message ${n}`);
  await w.ackPublish(p);
}

function crashes(logs: readonly LogLine[]): LogLine[] {
  return logs.filter((l) => l.level === 'error');
}

async function witness(t: ExecutionContext, b: TestBroker): Promise<MqttTestClient> {
  const w = (await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'the-witness-0451' } })).client;
  await w.subscribe('witness/t', 1);
  return w;
}

test('hostile: random and bit-flipped packets from a corpus: every offender is answered or closed, no actor crashes, others are served', async (t) => {
  const b = await testBroker(t, { mqtt: { max_packet_size: MAX_PACKET, idle_timeout_ms: 5_000 } });
  const logs = captureLogs(t);
  const w = await witness(t, b);
  // MQTT_FUZZ_SEED replays (or explores) another sequence.
  const seed = Number(process.env['MQTT_FUZZ_SEED'] ?? 0x5eed);
  const rnd = prng(seed);
  t.log(`seed ${seed}`);
  let packets = 0;
  const outcome = { closed: 0, alive: 0 };
  for (let i = 0; i < 400; i++) {
    const v = rnd() < 0.5 ? 4 : 5;
    const c = corpus(v);
    const rate = rnd() * 0.6; // some connections get far before their first bad packet
    const parts: Buffer[] = [rnd() < 0.15 ? mutate(connectPacket(v, i), rnd) : connectPacket(v, i)];
    for (let k = 1 + Math.floor(rnd() * 8); k > 0; k--) {
      const p = c[Math.floor(rnd() * c.length)]!;
      parts.push(rnd() < rate ? mutate(p, rnd) : p);
    }
    packets += parts.length;
    const conn = await rawConnect(b.tcp);
    // Random write boundaries; then PINGREQs enough to complete any packet the broker may
    // still be reading (none may exceed MAX_PACKET), and a SUBSCRIBE: the broker must
    // either close or answer it.
    const all = Buffer.concat(parts);
    for (let at = 0; at < all.length; ) {
      const n = 1 + Math.floor(rnd() * all.length);
      await conn.write(all.subarray(at, at + n));
      at += n;
    }
    if (!conn.isClosed()) await conn.write(PINGS_THEN_SUBSCRIBE);
    const got = await Promise.race([conn.waitClose(10_000).then(() => 'closed' as const), waitSuback(conn)]);
    outcome[got]++;
    conn.destroy();
    if (i % 50 === 49) await witnessServed(w, i);
  }
  t.log(`${packets} packets on 400 connections: ${outcome.closed} closed by the broker, ${outcome.alive} still served`);
  await witnessServed(w, -1);
  t.deepEqual(crashes(logs), [], 'no crash reports');
  t.true(outcome.closed > 0);
});

/** Resolves once the SUBACK of the final SUBSCRIBE (packet id 0xBEEF) has arrived. */
async function waitSuback(conn: Awaited<ReturnType<typeof rawConnect>>): Promise<'alive'> {
  for (let n = 4; ; n = conn.received().length + 1) {
    const got = await conn.waitBytes(n, 10_000).catch(() => new Promise<never>(() => undefined)); // a close wins the race
    const at = got.indexOf(SUBACK_ID);
    if (at >= 2 && got[at - 2] === 0x90) return 'alive';
  }
}

test('[MQTT-1.5.5-1] hostile: a Remaining Length over five bytes or over the maximum packet size closes at once, before and after CONNECT', async (t) => {
  const b = await testBroker(t, { mqtt: { max_packet_size: MAX_PACKET } });
  const w = await witness(t, b);
  const cases: [string, Buffer][] = [
    ['varint of 5 bytes', Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ['268 MB declared', Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])],
    ['just over the limit', Buffer.from([0x30, (MAX_PACKET - 1) & 0x7f | 0x80, (MAX_PACKET - 1) >> 7])],
  ];
  for (const [what, bytes] of cases) {
    const pre = await rawConnect(b.tcp);
    await pre.write(Buffer.concat([Buffer.from([0x10]), bytes.subarray(1)]));
    await pre.waitClose(5_000);
    t.pass(`before CONNECT: ${what}`);
    for (const v of [4, 5] as const) {
      const { client } = await rawConnected(t, b, { protocolVersion: v });
      await client.writeRaw(bytes);
      if (v === 5) t.is((await client.nextPacket('disconnect')).reasonCode, what.startsWith('varint') ? 0x81 : 0x95, what);
      await client.expectClosed();
    }
  }
  await witnessServed(w, 0);
});

test('hostile: packets written one byte at a time are handled as whole packets', async (t) => {
  const b = await testBroker(t);
  const c = await rawClient(t, b);
  const bytes = Buffer.concat([
    generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'slow', clean: true, keepalive: 0 }),
    generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'slow/t', qos: 1 }] }),
    generate({ cmd: 'publish', topic: 'slow/t', payload: Buffer.from('drip'), qos: 1, messageId: 2, retain: false, dup: false }),
  ]);
  for (const byte of bytes) await c.writeRaw(Buffer.from([byte]));
  t.is((await c.nextPacket('connack')).returnCode, 0);
  await c.nextPacket('suback');
  await c.nextPacket('puback');
  t.is((await c.nextPacket('publish')).payload.toString(), 'drip');
});

test('[MQTT-3.1.2-24] hostile: half-open connections (the peer vanished without a FIN) are closed by keepalive; their sessions end; others are served', async (t) => {
  const b = await testBroker(t);
  const logs = captureLogs(t);
  const w = await witness(t, b);
  const ghosts: Awaited<ReturnType<typeof rawConnect>>[] = [];
  for (let i = 0; i < 5; i++) {
    const g = await rawConnect(b.tcp);
    await g.write(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `ghost-${i}`, clean: true, keepalive: 1 }));
    await g.waitBytes(4);
    g.socket.pause(); // never reads nor writes again, never closes
    ghosts.push(g);
  }
  for (const [i, g] of ghosts.entries()) {
    await g.waitClose(5_000);
    await sessionGone(b, `ghost-${i}`);
  }
  await witnessServed(w, 1);
  t.deepEqual(crashes(logs), []);
});

test('[v5 §2.2.2.2] hostile: a PUBLISH with a user property cut short, or a repeated property, is refused; a retained one never reaches later subscribers', async (t) => {
  const b = await testBroker(t);
  const logs = captureLogs(t);
  const w = await witness(t, b);
  // PUBLISH QoS 0 RETAIN 'x', properties [User Property with a 9-byte name that is not there], payload 'hello'.
  const cut = Buffer.from([0x31, 12, 0, 1, 0x78, 3, 0x26, 0x00, 0x09, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);
  // Content Type (0x03) twice.
  const twice = Buffer.from([0x30, 12, 0, 1, 0x78, 8, 0x03, 0, 1, 0x61, 0x03, 0, 1, 0x62]);
  for (const [bytes, rc] of [[cut, 0x81], [twice, 0x82]] as const) {
    const { client } = await rawConnected(t, b, { protocolVersion: 5 });
    await client.writeRaw(bytes);
    t.is((await client.nextPacket('disconnect')).reasonCode, rc);
    await client.expectClosed();
  }
  const late = (await rawConnected(t, b, { protocolVersion: 5 })).client;
  await late.subscribe([{ topic: 'x', qos: 0 }, { topic: 'marker', qos: 0 }]);
  await late.publish('marker', 'M', { qos: 0 });
  t.is((await late.nextPacket('publish')).topic, 'marker', 'nothing was retained');
  await witnessServed(w, 2);
  t.deepEqual(crashes(logs), []);
});
