/** broker/connection/inbound.ts: packets cut from any split of the stream, headers checked before bodies are held, mqtt-packet for the rest. */
import test from 'ava';
import fc from 'fast-check';
import { generate, type Packet } from 'mqtt-packet';
import { Inbound, parseWhole } from '../../../broker/connection/inbound.js';

const stream: Packet[] = [
  { cmd: 'publish', topic: 'a/b', payload: Buffer.from('one'), qos: 0, dup: false, retain: false },
  { cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'x/#', qos: 1 }] },
  { cmd: 'publish', topic: 'big', payload: Buffer.alloc(20_000, 7), qos: 1, messageId: 5, dup: false, retain: true },
  { cmd: 'puback', messageId: 9 },
  { cmd: 'pingreq' },
  { cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['x/#'] },
  { cmd: 'publish', topic: 'c', payload: Buffer.alloc(0), qos: 2, messageId: 6, dup: true, retain: false },
  { cmd: 'disconnect' },
];
const bytes = Buffer.concat(stream.map((p) => generate(p)));

/** What matters of a packet, whichever decoder made it. */
function shape(p: Packet): unknown {
  const o: Record<string, unknown> = { ...p };
  delete o['length'];
  for (const [k, v] of Object.entries(o)) if (v === null || v === undefined) delete o[k];
  if (Buffer.isBuffer(o['payload'])) o['payload'] = (o['payload']).toString('hex');
  return o;
}

function feed(inb: Inbound, chunks: Buffer[]): Packet[] {
  const out: Packet[] = [];
  for (const c of chunks) {
    const r = inb.push(c);
    if (r.t !== 'ok' || r.error !== undefined) throw new Error(`unexpected ${r.t}`);
    out.push(...r.packets);
  }
  return out;
}

test('inbound: the same packets from one chunk, from byte-at-a-time, and from any split', (t) => {
  const whole = feed(new Inbound(4, 0), [bytes]).map(shape);
  t.is(whole.length, stream.length);
  t.deepEqual(feed(new Inbound(4, 0), [...bytes].map((b) => Buffer.from([b]))).map(shape), whole);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }), (cuts) => {
      const at = [0, ...cuts.sort((a, b) => a - b), bytes.length];
      const chunks = at.slice(1).map((end, i) => bytes.subarray(at[i], end));
      t.deepEqual(feed(new Inbound(4, 0), chunks).map(shape), whole);
    }),
  );
});

test('inbound: a packet over the maximum size is refused from its header alone', (t) => {
  const inb = new Inbound(4, 1000);
  const big = generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(5000), qos: 0, dup: false, retain: false });
  t.deepEqual(inb.push(big.subarray(0, 4)), { t: 'too_large' });
});

test('[MQTT-1.5.5-1] inbound: a Remaining Length of more than 4 bytes is malformed', (t) => {
  t.deepEqual(new Inbound(4, 0).push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), { t: 'malformed' });
});

test('inbound: a bad header refuses the whole chunk, even after good packets', (t) => {
  const good = generate({ cmd: 'pingreq' });
  t.deepEqual(new Inbound(4, 0).push(Buffer.concat([good, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff])])), { t: 'malformed' });
});

test('inbound: mqtt-packet errors come after the packets before them, and nothing after', (t) => {
  const good = generate({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, dup: false, retain: false });
  // SUBSCRIBE with reserved flags 0 instead of 2 [MQTT-2.2.2-1].
  const bad = Buffer.from([0x80, 6, 0, 1, 0, 1, 0x61, 0]);
  const r = new Inbound(4, 0).push(Buffer.concat([good, bad, good]));
  t.is(r.t, 'ok');
  if (r.t !== 'ok') return;
  t.is(r.packets.length, 1);
  t.truthy(r.error);
});

test('inbound: v5 packets with properties go through mqtt-packet', (t) => {
  const p: Packet = { cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 1, messageId: 2, dup: false, retain: false, properties: { userProperties: { k: 'v' } } };
  const got = feed(new Inbound(5, 0), [generate(p, { protocolVersion: 5 })]);
  t.deepEqual(got.map(shape), [shape(p)]);
});

test('inbound: the shared parser reads each packet at its own protocol version, whatever a CONNECT before said', (t) => {
  const out: Packet[] = [];
  t.is(parseWhole(generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'c', keepalive: 0 }), 5, out), undefined);
  t.is(out[0]?.cmd, 'connect');
  const sub: Packet = { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 1, nl: false, rap: false, rh: 0 }], properties: { subscriptionIdentifier: 7 } };
  const got = feed(new Inbound(5, 0), [generate(sub, { protocolVersion: 5 })]);
  t.deepEqual((got[0] as { properties?: unknown }).properties, { subscriptionIdentifier: 7 });
});

test('inbound: the shared parser reads good packets after any malformed one (its state does not leak across uses)', (t) => {
  const v4 = (): Buffer => generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'raw', clean: true, keepalive: 0 });
  const bad: Buffer[] = [];
  let b = v4();
  b[8] = 6; // protocol level 6
  bad.push(b);
  b = v4();
  b[4] = 0x41; // protocol name 'AQTT'
  bad.push(b);
  b = v4();
  b[9]! |= 1; // reserved connect flag
  bad.push(b);
  // Needs mqtt-packet (properties), so never the fast decoder.
  const good = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'a', clean: true, keepalive: 0, properties: { receiveMaximum: 10 } }, { protocolVersion: 5 });
  for (const x of bad) {
    const none: Packet[] = [];
    t.not(parseWhole(x, 5, none), undefined, 'the malformed CONNECT is an error');
    const out: Packet[] = [];
    t.is(parseWhole(good, 5, out), undefined);
    t.is(out.length, 1);
    t.like(out[0], { cmd: 'connect', clientId: 'a', protocolVersion: 5, properties: { receiveMaximum: 10 } });
  }
});
