/**
 * broker/mqtt/message-wire.ts: a Message survives the forward encoding (positional array)
 * through the real beamq dist codec (batch.ts over cbor-codec.ts): MQTT 5 properties,
 * expiry, retain/dup flags, shared-subscription redispatch, empty and large payloads.
 */
import test from 'ava';
import { newMessage, withDup, withHeaders, type Message } from '../../../broker/mqtt/message.js';
import { fromWire, toWire } from '../../../broker/mqtt/message-wire.js';
import { BatchReader, BatchWriter } from '../../../runtime/dist/batch.js';
import type { Endpoints } from '../../../runtime/dist/cbor-codec.js';
import { CTRL } from '../../../runtime/dist/etf-dist.js';
import { Pid } from '../../../runtime/terms.js';

const A = 'a@127.0.0.1';
const B = 'b@127.0.0.1';
const atA: Endpoints = { self: A, selfCreation: 1, peer: B, peerCreation: 2 };
const atB: Endpoints = { self: B, selfCreation: 2, peer: A, peerCreation: 1 };
const T0 = 1_700_000_000_000;

/** `msg` as a forward from A, read at B and turned back into a Message. */
function overTheWire(msg: Message): Message {
  const w = new BatchWriter(atA);
  const fwd = ['forward', 2, ['t/#'], toWire(msg)];
  if (!w.add([CTRL.SEND_SENDER, new Pid(A, 1, 0, 1), new Pid(B, 2, 0, 2)], fwd)) throw new Error(w.refusal);
  let got: unknown;
  new BatchReader(atB).read(w.take().subarray(4), (_ctl, m) => {
    got = m;
    return true;
  });
  return fromWire((got as unknown[])[3]);
}

const cases: Record<string, Message> = {
  'v3.1.1 qos 0': newMessage({ qos: 0, topic: 't/1', payload: 'hello', from: 'c1', headers: { protocolVersion: 4, peerhost: '127.0.0.1:5000' } }, T0),
  'retain, username': newMessage({ qos: 1, topic: 't/2', payload: 'x', from: 'c2', retain: true, headers: { protocolVersion: 4, username: 'u', peerhost: 'h' } }, T0),
  'dup and retain': withDup(newMessage({ qos: 2, topic: 't/3', payload: 'y', from: 'c3', retain: true }, T0)),
  'dup only': withDup(newMessage({ qos: 1, topic: 't/3', payload: 'y', from: 'c3' }, T0)),
  'empty payload, no headers': newMessage({ qos: 0, topic: 't/empty', payload: Buffer.alloc(0), from: '' }, T0),
  'large payload': newMessage({ qos: 1, topic: 't/big', payload: Buffer.alloc(1_000_000, 7), from: 'c4' }, T0),
  'v5 properties and expiry': newMessage(
    {
      qos: 1,
      topic: 't/v5/ü',
      payload: Buffer.from([0, 1, 2, 255]),
      from: 'c5',
      properties: {
        messageExpiryInterval: 60,
        payloadFormatIndicator: true,
        contentType: 'application/json',
        responseTopic: 'r/1',
        correlationData: Buffer.from('corr'),
        userProperties: { a: '1', b: ['2', '3'] },
        subscriptionIdentifier: 5,
      },
      headers: { protocolVersion: 5, peerhost: '127.0.0.1:1' },
    },
    T0,
  ),
  'expiry interval 0': newMessage({ qos: 0, topic: 't/e0', payload: 'z', from: 'c6', properties: { messageExpiryInterval: 0 } }, T0),
  'shared redispatch': withHeaders(newMessage({ qos: 1, topic: 't/s', payload: 's', from: 'c7' }, T0), { redispatchTo: { group: 'g', filter: 't/#' } }),
};

for (const [name, msg] of Object.entries(cases)) {
  test(`message-wire: ${name} round-trips through the dist codec`, (t) => {
    const back = overTheWire(msg);
    t.deepEqual(back, msg);
    t.true(Buffer.isBuffer(back.payload));
    t.is(back.expiryAt, msg.expiryAt);
    t.is('expiryAt' in back, 'expiryAt' in msg);
  });
}

test('message-wire: the encoding is an array of plain values (no field names on the wire)', (t) => {
  const w = toWire(cases['retain, username']!);
  t.true(Array.isArray(w));
  t.is(w[5], 1);
  t.is(toWire(cases['dup and retain']!)[5], 3);
});

test('message-wire: anything else is refused with a TypeError', (t) => {
  t.throws(() => fromWire({ id: 'x' }), { instanceOf: TypeError });
  t.throws(() => fromWire([]), { instanceOf: TypeError });
  const w = [...toWire(cases['v3.1.1 qos 0']!)];
  w[1] = 3;
  t.throws(() => fromWire(w), { instanceOf: TypeError });
});
