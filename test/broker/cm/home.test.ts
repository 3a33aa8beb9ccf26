/** broker/cm/home.ts: every node computes the same home, ids spread evenly, and a member change moves only the ids it must. */
import test from 'ava';
import fc from 'fast-check';
import { homeOf, registryNodes } from '../../../broker/cm/home.js';

const members = ['n1@127.0.0.1', 'n2@127.0.0.1', 'n3@127.0.0.1', 'n4@127.0.0.1'];

test('home: the same home whatever the order of the member list', (t) => {
  fc.assert(
    fc.property(fc.string(), fc.shuffledSubarray(members, { minLength: 4, maxLength: 4 }), (id, order) => homeOf(id, order) === homeOf(id, members)),
  );
  t.pass();
});

test('home: 40 000 ids spread within 10% of even over four members', (t) => {
  const count = new Map<string, number>();
  for (let i = 0; i < 40_000; i++) {
    const h = homeOf(`client-${i}`, members);
    count.set(h, (count.get(h) ?? 0) + 1);
  }
  t.deepEqual([...count.keys()].sort(), members);
  for (const [m, c] of count) t.true(Math.abs(c - 10_000) < 1_000, `${m} has ${c}`);
});

test('home: when a member leaves, only the ids it was home to move, and they move to their former backup', (t) => {
  const rest = members.filter((m) => m !== 'n2@127.0.0.1');
  for (let i = 0; i < 5_000; i++) {
    const id = `c${i}`;
    const before = homeOf(id, members);
    const after = homeOf(id, rest);
    if (before !== 'n2@127.0.0.1') t.is(after, before, id);
    else t.is(after, registryNodes(id, members, before)[1]!, `${id}: the backup takes over`);
  }
});

test('home: the backup copy is kept only when the session lives on its home', (t) => {
  const id = 'some-client';
  const home = homeOf(id, members);
  const other = members.find((m) => m !== home)!;
  t.deepEqual(registryNodes(id, members, other), [home]);
  const both = registryNodes(id, members, home);
  t.is(both.length, 2);
  t.is(both[0], home);
  t.not(both[1], home);
  t.deepEqual(registryNodes(id, [home], home), [home], 'a single node has no backup');
  t.throws(() => homeOf(id, []), { instanceOf: RangeError });
});
