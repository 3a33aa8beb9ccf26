/** broker/mqtt/message.ts: construction, sortable unique ids, expiry arithmetic, QoS downgrade, and a CBOR round trip. */
import test from 'ava';
import { decode, encode } from 'cbor-x';
import {
  downgradeQos,
  GuidGen,
  guidTimestamp,
  isExpired,
  newMessage,
  remainingExpiryS,
  withDup,
  withHeaders,
  withRemainingExpiry,
  withRetain,
  type Message,
} from '../../../broker/mqtt/message.js';

const T0 = 1_700_000_000_000;

const sample = (over: Partial<Parameters<typeof newMessage>[0]> = {}): Message =>
  newMessage({ qos: 1, topic: 'a/b', payload: 'hello', from: 'c1', ...over }, T0);

test('message: newMessage fills the record', (t) => {
  const m = sample({ retain: true });
  t.is(m.qos, 1);
  t.is(m.topic, 'a/b');
  t.deepEqual(m.payload, Buffer.from('hello'));
  t.is(m.from, 'c1');
  t.deepEqual(m.flags, { retain: true, dup: false });
  t.deepEqual(m.headers, {});
  t.is(m.timestamp, T0);
  t.false('expiryAt' in m, 'no expiry unless the publisher set one');
  t.is(m.id.length, 32);
  t.is(guidTimestamp(m.id), T0);
});

test('message: ids are unique and sort in creation order, even when the clock stalls or steps back', (t) => {
  const g = new GuidGen(Buffer.from('000000000001', 'hex'));
  const times = [5, 5, 5, 4, 6, 6, 1, 7];
  const ids = times.map((ms) => g.next(T0 + ms));
  t.is(new Set(ids).size, ids.length);
  t.deepEqual([...ids].sort(), ids);
  t.true(ids.every((id) => id.endsWith('000000000001')), 'the origin tag is last');
  // Two origins in the same millisecond still differ.
  const other = new GuidGen(Buffer.from('000000000002', 'hex'));
  t.not(other.next(T0), new GuidGen(Buffer.from('000000000001', 'hex')).next(T0));
  t.throws(() => new GuidGen(Buffer.alloc(3)), { instanceOf: RangeError });
});

test('[MQTT-3.3.2-5] message: expires once its Message Expiry Interval has passed', (t) => {
  const m = sample({ properties: { messageExpiryInterval: 10 } });
  t.is(m.expiryAt, T0 + 10_000);
  t.false(isExpired(m, T0));
  t.false(isExpired(m, T0 + 10_000), 'not passed at the very moment');
  t.true(isExpired(m, T0 + 10_001));
  t.false(isExpired(sample(), T0 + 1e12), 'no interval: never expires');
  const zero = sample({ properties: { messageExpiryInterval: 0 } });
  t.false(isExpired(zero, T0), 'an interval of 0 still reaches who is online on arrival');
  t.true(isExpired(zero, T0 + 1));
  t.is(remainingExpiryS(zero, T0), 0);
});

test('[MQTT-3.3.2-6] message: the interval sent on is what remains, rounded up', (t) => {
  const m = sample({ properties: { messageExpiryInterval: 10, contentType: 'text/plain' } });
  t.is(remainingExpiryS(m, T0), 10);
  t.is(remainingExpiryS(m, T0 + 1), 10);
  t.is(remainingExpiryS(m, T0 + 1_000), 9);
  t.is(remainingExpiryS(m, T0 + 9_999), 1, 'never 0 while alive');
  t.is(remainingExpiryS(m, T0 + 10_000), 0);
  t.is(remainingExpiryS(sample(), T0), undefined);
  const out = withRemainingExpiry(m, T0 + 3_500);
  t.is(out.headers.properties?.messageExpiryInterval, 7);
  t.is(out.headers.properties?.contentType, 'text/plain', 'other properties pass through');
  t.is(m.headers.properties?.messageExpiryInterval, 10, 'the original is not modified');
  const plain = sample();
  t.is(withRemainingExpiry(plain, T0 + 5), plain);
});

test('[MQTT-3.8.4-8] message: downgrade to a maximum QoS', (t) => {
  const m2 = sample({ qos: 2 });
  t.is(downgradeQos(m2, 2), m2, 'unchanged: same object');
  t.is(downgradeQos(m2, 1).qos, 1);
  t.is(downgradeQos(m2, 0).qos, 0);
  const m0 = sample({ qos: 0 });
  t.is(downgradeQos(m0, 2), m0, 'never upgraded');
  t.is(m2.qos, 2);
});

test('message: flag and header helpers return new records', (t) => {
  const m = sample();
  const d = withDup(m);
  t.true(d.flags.dup);
  t.false(m.flags.dup);
  t.is(withDup(d), d);
  t.true(withRetain(m, true).flags.retain);
  t.is(withRetain(m, false), m);
  const h = withHeaders(m, { redispatchTo: { group: 'g', filter: 'a/+' } });
  t.deepEqual(h.headers.redispatchTo, { group: 'g', filter: 'a/+' });
  t.deepEqual(m.headers, {});
});

test('message: survives a CBOR round trip unchanged', (t) => {
  const m = newMessage(
    {
      qos: 2,
      topic: 'a/b',
      payload: Buffer.from([0, 1, 2, 255]),
      from: 'c1',
      retain: true,
      properties: {
        messageExpiryInterval: 60,
        payloadFormatIndicator: true,
        contentType: 'application/octet-stream',
        responseTopic: 'r/t',
        correlationData: Buffer.from('corr'),
        userProperties: { a: '1', b: ['2', '3'] },
      },
      headers: { redispatchTo: { group: 'g', filter: 'a/#' }, protocolVersion: 5, username: 'u', peerhost: '127.0.0.1' },
    },
    T0,
  );
  const back = decode(encode(m)) as Message;
  t.deepEqual(back, m);
  t.true(Buffer.isBuffer(back.payload));
  t.true(Buffer.isBuffer(back.headers.properties?.correlationData));
});
