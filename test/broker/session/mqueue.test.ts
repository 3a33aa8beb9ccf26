/** broker/session/mqueue.ts: FIFO, the QoS 0-first drop policy, priorities, counters, and a sorted-array model. */
import test from 'ava';
import fc from 'fast-check';
import { MQueue, type Queueable } from '../../../broker/session/mqueue.js';
import { newMessage } from '../../../broker/mqtt/message.js';

interface M extends Queueable {
  readonly id: string;
}
const m = (id: string, qos: 0 | 1 | 2 = 1, topic = 't'): M => ({ id, qos, topic });
const idsOf = (xs: readonly M[]): string[] => xs.map((x) => x.id);
const drainIds = (q: MQueue<M>): string[] => idsOf(q.drain());

test('mqueue: FIFO when there are no priorities', (t) => {
  const q = new MQueue<M>({ maxLen: 0, storeQos0: true });
  for (const id of ['a', 'b', 'c']) t.is(q.push(m(id)), undefined);
  t.is(q.len, 3);
  t.is(q.peek()?.id, 'a');
  t.is(q.pop()?.id, 'a');
  t.deepEqual(idsOf(q.toArray()), ['b', 'c']);
  t.is(q.pop()?.id, 'b');
  t.is(q.pop()?.id, 'c');
  t.is(q.pop(), undefined);
  t.true(q.isEmpty());
});

test('mqueue: QoS 0 is refused unless storeQos0, and not counted as dropped', (t) => {
  const q = new MQueue<M>({ maxLen: 10, storeQos0: false });
  const x = m('x', 0);
  t.is(q.push(x), x);
  t.is(q.len, 0);
  t.is(q.dropped, 0);
  t.is(q.push(m('y', 1)), undefined);
  t.is(q.len, 1);
});

test('mqueue: when full, the oldest message is dropped and counted', (t) => {
  const q = new MQueue<M>({ maxLen: 3, storeQos0: true });
  for (const id of ['a', 'b', 'c']) q.push(m(id, 1));
  t.true(q.isFull());
  t.is(q.push(m('d', 2))?.id, 'a');
  t.is(q.push(m('e', 1))?.id, 'b');
  t.is(q.len, 3);
  t.is(q.dropped, 2);
  t.deepEqual(q.stats(), { len: 3, maxLen: 3, dropped: 2 });
  t.deepEqual(drainIds(q), ['c', 'd', 'e']);
});

test('mqueue: when full, QoS 0 messages are dropped before older QoS 1/2 ones', (t) => {
  const q = new MQueue<M>({ maxLen: 4, storeQos0: true });
  q.push(m('a1', 1));
  q.push(m('b0', 0));
  q.push(m('c2', 2));
  q.push(m('d0', 0));
  t.is(q.push(m('e1', 1))?.id, 'b0', 'the oldest QoS 0 goes first');
  t.is(q.push(m('f1', 1))?.id, 'd0', 'then the next QoS 0');
  t.is(q.push(m('g1', 1))?.id, 'a1', 'no QoS 0 left: the oldest');
  t.is(q.dropped, 3);
  t.deepEqual(drainIds(q), ['c2', 'e1', 'f1', 'g1'], 'order of the rest is kept');
});

test('mqueue: a QoS 0 arriving at a full queue of QoS 1/2 is the one dropped', (t) => {
  const q = new MQueue<M>({ maxLen: 2, storeQos0: true });
  q.push(m('a', 1));
  q.push(m('b', 2));
  const z = m('z', 0);
  t.is(q.push(z), z);
  t.is(q.dropped, 1);
  t.deepEqual(drainIds(q), ['a', 'b']);
});

test('mqueue: maxLen 0 is unlimited', (t) => {
  const q = new MQueue<M>({ maxLen: 0, storeQos0: true });
  for (let i = 0; i < 10_000; i++) t.is(q.push(m(String(i), (i % 3) as 0 | 1 | 2)), undefined);
  t.is(q.len, 10_000);
  t.false(q.isFull());
  t.is(q.dropped, 0);
});

test('mqueue: higher priorities leave first, FIFO within a priority', (t) => {
  const priorities = new Map([
    ['hi', 10],
    ['mid', 5],
  ]);
  const q = new MQueue<M>({ maxLen: 0, storeQos0: true, priorities });
  q.push(m('l1', 1, 'other'));
  q.push(m('m1', 1, 'mid'));
  q.push(m('h1', 1, 'hi'));
  q.push(m('l2', 1, 'other'));
  q.push(m('h2', 1, 'hi'));
  t.deepEqual(idsOf(q.toArray()), ['h1', 'h2', 'm1', 'l1', 'l2']);
  t.deepEqual(idsOf([q.pop()!, q.pop()!, q.pop()!, q.pop()!, q.pop()!]), ['h1', 'h2', 'm1', 'l1', 'l2']);
});

test('mqueue: the default priority can be highest or a number', (t) => {
  const priorities = new Map([['p', 1]]);
  const hi = new MQueue<M>({ maxLen: 0, storeQos0: true, priorities, defaultPriority: 'highest' });
  hi.push(m('p1', 1, 'p'));
  hi.push(m('x1', 1, 'x'));
  t.deepEqual(drainIds(hi), ['x1', 'p1']);
  const same = new MQueue<M>({ maxLen: 0, storeQos0: true, priorities, defaultPriority: 1 });
  same.push(m('p1', 1, 'p'));
  same.push(m('x1', 1, 'x'));
  t.deepEqual(drainIds(same), ['p1', 'x1'], 'one level shared by both');
});

test('mqueue: when full with priorities, QoS 0 first, then the oldest of the lowest priority', (t) => {
  const priorities = new Map([['hi', 1]]);
  const q = new MQueue<M>({ maxLen: 3, storeQos0: true, priorities });
  q.push(m('h0', 0, 'hi'));
  q.push(m('h1', 1, 'hi'));
  q.push(m('l1', 1, 'lo'));
  t.is(q.push(m('l2', 1, 'lo'))?.id, 'h0', 'QoS 0 goes first, whatever its priority');
  t.is(q.push(m('h2', 1, 'hi'))?.id, 'l1', 'then the oldest of the lowest priority');
  t.deepEqual(idsOf(q.toArray()), ['h1', 'h2', 'l2']);
  t.is(q.push(m('l3', 1, 'lo'))?.id, 'l2');
  // An incoming message of a priority below everything queued is itself the victim.
  const r = new MQueue<M>({ maxLen: 1, storeQos0: true, priorities });
  r.push(m('h', 1, 'hi'));
  t.is(r.push(m('l', 1, 'lo'))?.id, 'l');
  t.deepEqual(drainIds(r), ['h']);
  t.is(r.dropped, 1);
});

test('mqueue: filter removes and counts, drain empties', (t) => {
  const q = new MQueue<M>({ maxLen: 0, storeQos0: true });
  for (const [id, qos] of [['a', 0], ['b', 1], ['c', 0], ['d', 2]] as const) q.push(m(id, qos));
  q.filter((x) => x.qos !== 0);
  t.is(q.len, 2);
  t.is(q.dropped, 2);
  t.deepEqual(drainIds(q), ['b', 'd']);
  t.true(q.isEmpty());
  t.is(q.pop(), undefined);
  // Usable after a drain, and the QoS 0 list is consistent after filtering.
  q.push(m('e', 0));
  q.push(m('f', 1));
  t.deepEqual(drainIds(q), ['e', 'f']);
});

test('mqueue: holds broker messages by default', (t) => {
  const q = new MQueue({ maxLen: 1, storeQos0: false });
  const msg = newMessage({ qos: 1, topic: 'a', payload: 'x', from: 'c' }, 0);
  t.is(q.push(msg), undefined);
  t.is(q.pop(), msg);
  t.throws(() => new MQueue({ maxLen: -1, storeQos0: true }), { instanceOf: RangeError });
});

test('mqueue: drop policy and order match a sorted-array model under random pushes and pops', (t) => {
  const priorities = new Map([
    ['a', 3],
    ['b', 1],
  ]);
  const prio = (topic: string): number => priorities.get(topic) ?? 0;
  type Op = { readonly pop: true } | { readonly pop: false; readonly qos: 0 | 1 | 2; readonly topic: string };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.constant({ pop: true } as const),
    fc.record({ pop: fc.constant(false as const), qos: fc.constantFrom(0 as const, 1 as const, 2 as const), topic: fc.constantFrom('a', 'b', 'c') }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 60 }), (maxLen, ops) => {
      const q = new MQueue<M>({ maxLen, storeQos0: true, priorities });
      let model: { msg: M; seq: number }[] = [];
      let seq = 0;
      let dropped = 0;
      // Lowest priority first, oldest first within it.
      const victimOf = (xs: { msg: M; seq: number }[]): { msg: M; seq: number } | undefined =>
        [...xs].sort((x, y) => prio(x.msg.topic) - prio(y.msg.topic) || x.seq - y.seq)[0];
      for (const o of ops) {
        if (o.pop) {
          const want = [...model].sort((x, y) => prio(y.msg.topic) - prio(x.msg.topic) || x.seq - y.seq)[0];
          if (q.pop() !== want?.msg) return false;
          model = model.filter((x) => x !== want);
          continue;
        }
        const incoming = { msg: m(`m${seq}`, o.qos, o.topic), seq: seq++ };
        let want: M | undefined;
        if (model.length >= maxLen) {
          const all = [...model, incoming];
          const qos0 = all.filter((x) => x.msg.qos === 0);
          const v = victimOf(qos0.length > 0 ? qos0 : all)!;
          want = v.msg;
          model = all.filter((x) => x !== v);
          dropped++;
        } else model.push(incoming);
        if (q.push(incoming.msg) !== want) return false;
      }
      const order = [...model].sort((x, y) => prio(y.msg.topic) - prio(x.msg.topic) || x.seq - y.seq).map((x) => x.msg);
      const got = q.toArray();
      return q.len === model.length && q.dropped === dropped && got.length === order.length && got.every((x, i) => x === order[i]);
    }),
    { numRuns: 500 },
  );
  t.pass();
});
