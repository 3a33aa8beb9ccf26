import test from 'ava';
import fc from 'fast-check';
import { SmallMap } from '../../runtime/process/small-map.js';

type Op = { op: 'set'; k: number; v: number } | { op: 'delete'; k: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), k: fc.integer({ min: 0, max: 5 }), v: fc.integer() }),
  fc.record({ op: fc.constant('delete' as const), k: fc.integer({ min: 0, max: 5 }) }),
);

test('small-map: any run of set and delete answers as a Map does, entries in the same order', (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const m = new Map<number, number>();
      const s = new SmallMap<number, number>();
      for (const o of ops) {
        if (o.op === 'set') {
          s.set(o.k, o.v);
          m.set(o.k, o.v);
        } else if (s.delete(o.k) !== m.delete(o.k)) return false;
        if (s.size !== m.size) return false;
        for (let k = 0; k <= 5; k++) if (s.has(k) !== m.has(k) || s.get(k) !== m.get(k)) return false;
        if (JSON.stringify([...s.values()]) !== JSON.stringify([...m.values()])) return false;
        if (JSON.stringify([...s]) !== JSON.stringify([...m]) || JSON.stringify([...s.entries()]) !== JSON.stringify([...m.entries()])) return false;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('small-map: two entries stay inline, the third makes a Map that keeps order', (t) => {
  const s = new SmallMap<string, string>();
  s.set('a', '1').set('b', '2');
  t.deepEqual([...s.values()], ['1', '2']);
  s.delete('a');
  t.deepEqual([...s.values()], ['2'], 'the second entry moved up');
  s.set('c', '3').set('d', '4');
  t.is(s.size, 3);
  t.deepEqual([...s.values()], ['2', '3', '4']);
  t.false(s.delete('3'), 'a value is not a key');
  t.true(s.delete('c'));
  t.deepEqual([...s.values()], ['2', '4']);
});
