/** broker/session/inflight.ts: Receive Maximum, order kept across updates, redelivery and retry, and an ordered-map model. */
import test from 'ava';
import fc from 'fast-check';
import { Inflight, type InflightEntry } from '../../../broker/session/inflight.js';

const ack = (message: string, sentAtMs = 0): InflightEntry<string> => ({ phase: 'wait_ack', message, sentAtMs });
const comp = (sentAtMs = 0): InflightEntry<string> => ({ phase: 'wait_comp', sentAtMs });
const ids = (w: Inflight<string>): number[] => [...w].map(([id]) => id);

test('[MQTT-3.3.4-9] inflight: full at Receive Maximum, and a freed slot can be reused', (t) => {
  const w = new Inflight<string>(2);
  t.true(w.insert(1, ack('a')));
  t.false(w.isFull());
  t.true(w.insert(2, ack('b')));
  t.true(w.isFull());
  t.false(w.insert(3, ack('c')), 'no third entry');
  t.is(w.size, 2);
  t.deepEqual(w.delete(1), ack('a'));
  t.false(w.isFull());
  t.true(w.insert(3, ack('c')));
  t.deepEqual(ids(w), [2, 3]);
});

test('inflight: max 0 means no limit', (t) => {
  const w = new Inflight<string>(0);
  for (let i = 1; i <= 1000; i++) t.true(w.insert(i, ack(String(i))));
  t.false(w.isFull());
});

test('inflight: an id in use is not inserted twice', (t) => {
  const w = new Inflight<string>(10);
  t.true(w.insert(7, ack('a')));
  t.false(w.insert(7, ack('b')));
  t.deepEqual(w.get(7), ack('a'));
});

test('inflight: update keeps the position, delete of an absent id is undefined', (t) => {
  const w = new Inflight<string>(10);
  w.insert(5, ack('a'));
  w.insert(3, ack('b'));
  w.insert(9, ack('c'));
  t.true(w.update(5, comp(1))); // PUBREC for 5: now waiting for PUBCOMP
  t.deepEqual(ids(w), [5, 3, 9]);
  t.deepEqual(w.get(5), comp(1));
  t.false(w.update(42, comp()));
  t.is(w.delete(42), undefined);
  t.deepEqual(w.oldest(), [5, comp(1)]);
  w.delete(5);
  t.deepEqual(w.oldest(), [3, ack('b')]);
});

test('[MQTT-4.4.0-1] inflight: redelivery resends PUBLISH with DUP and PUBREL as is, oldest first', (t) => {
  const w = new Inflight<string>(10);
  w.insert(10, ack('a', 100));
  w.insert(11, ack('b', 200));
  w.insert(12, ack('c', 300));
  w.update(11, comp(250));
  t.deepEqual(w.redeliver(1000), [
    { kind: 'publish', packetId: 10, message: 'a', dup: true },
    { kind: 'pubrel', packetId: 11 },
    { kind: 'publish', packetId: 12, message: 'c', dup: true },
  ]);
  t.deepEqual(ids(w), [10, 11, 12], 'order kept');
  t.true([...w].every(([, e]) => e.sentAtMs === 1000), 'send times renewed');
});

test('inflight: retryDue picks only entries older than the interval and renews them', (t) => {
  const w = new Inflight<string>(10);
  w.insert(1, ack('a', 0));
  w.insert(2, ack('b', 5_000));
  w.insert(3, comp(1_000));
  t.deepEqual(w.retryDue(10_000, 30_000), []);
  t.deepEqual(w.retryDue(31_000, 30_000), [
    { kind: 'publish', packetId: 1, message: 'a', dup: true },
    { kind: 'pubrel', packetId: 3 },
  ]);
  t.is(w.earliestSentAtMs(), 5_000);
  t.deepEqual(w.retryDue(61_000, 30_000).map((r) => r.packetId), [1, 2, 3]);
  t.is(new Inflight<string>(1).earliestSentAtMs(), undefined);
});

test('inflight: shrinking below the size keeps entries and stays full until enough are acked', (t) => {
  const w = new Inflight<string>(4);
  for (const id of [1, 2, 3, 4]) w.insert(id, ack('x'));
  w.resize(2);
  t.is(w.size, 4);
  t.true(w.isFull());
  w.delete(1);
  w.delete(2);
  t.true(w.isFull());
  w.delete(3);
  t.false(w.isFull());
  t.throws(() => w.resize(65_536), { instanceOf: RangeError });
  t.throws(() => new Inflight(-1), { instanceOf: RangeError });
});

test('inflight: behaves as an ordered map under random operations', (t) => {
  type Op = readonly ['insert' | 'delete' | 'update', number];
  const op: fc.Arbitrary<Op> = fc.tuple(fc.constantFrom('insert' as const, 'delete' as const, 'update' as const), fc.integer({ min: 1, max: 20 }));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 8 }), fc.array(op, { maxLength: 100 }), (max, ops) => {
      const w = new Inflight<string>(max);
      const model: number[] = []; // ids, oldest first
      for (const [kind, id] of ops) {
        const present = model.includes(id);
        if (kind === 'insert') {
          const ok = !present && (max === 0 || model.length < max);
          if (w.insert(id, ack(String(id))) !== ok) return false;
          if (ok) model.push(id);
        } else if (kind === 'delete') {
          if ((w.delete(id) !== undefined) !== present) return false;
          if (present) model.splice(model.indexOf(id), 1);
        } else if (w.update(id, comp()) !== present) return false;
      }
      return JSON.stringify(ids(w)) === JSON.stringify(model) && w.size === model.length && w.isFull() === (max !== 0 && model.length >= max);
    }),
  );
  t.pass();
});
