/** broker/session/packet-id.ts: order, wraparound, skipping ids in use, exhaustion. */
import test from 'ava';
import { MAX_PACKET_ID, nextPacketId, PacketIds } from '../../../broker/session/packet-id.js';

test('packet-id: ids start at 1 and count up', (t) => {
  const ids = new PacketIds();
  t.deepEqual([ids.next(), ids.next(), ids.next()], [1, 2, 3]);
  t.is(ids.last, 3);
});

test('[MQTT-2.2.1-4] packet-id: wraps from 65535 to 1, never 0', (t) => {
  const ids = new PacketIds(MAX_PACKET_ID - 1);
  t.is(ids.next(), 65_535);
  t.is(ids.next(), 1);
  t.is(nextPacketId(0, () => false), 1);
  t.is(nextPacketId(65_535, () => false), 1);
});

test('[MQTT-2.2.1-4] packet-id: ids still in use are skipped, across the wrap too', (t) => {
  const used = new Set([65_535, 1, 2, 4]);
  const ids = new PacketIds(65_534);
  const inUse = (id: number): boolean => used.has(id);
  t.is(ids.next(inUse), 3);
  t.is(ids.next(inUse), 5);
});

test('packet-id: exhausted when every id is in use, and the last id stays', (t) => {
  const ids = new PacketIds(10);
  t.is(ids.next(() => true), undefined);
  t.is(ids.last, 10);
  // One free id anywhere is found.
  t.is(ids.next((id) => id !== 9), 9);
});

test('packet-id: a full cycle hands out each id once', (t) => {
  const ids = new PacketIds();
  const seen = new Set<number>();
  for (let i = 0; i < MAX_PACKET_ID; i++) seen.add(ids.next()!);
  t.is(seen.size, MAX_PACKET_ID);
  t.false(seen.has(0));
  t.is(ids.next(), 1);
});

test('packet-id: a bad starting id is refused', (t) => {
  t.throws(() => new PacketIds(-1), { instanceOf: RangeError });
  t.throws(() => new PacketIds(65_536), { instanceOf: RangeError });
  t.throws(() => new PacketIds(1.5), { instanceOf: RangeError });
});
