/** broker/mqtt/trie.ts: property tests against brute-force matching and a refcount model, plus the edge cases by name. */
import test from 'ava';
import fc from 'fast-check';
import { Trie } from '../../../broker/mqtt/trie.js';
import { match } from '../../../broker/mqtt/topic.js';

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

function trieOf(...filters: string[]): Trie {
  const t = new Trie();
  for (const f of filters) t.insert(f);
  return t;
}

// Words from a small alphabet so random filters and topics collide often; '' and '$x'
// cover empty levels and the '$' rule.
const word = fc.constantFrom('a', 'b', 'c', '', '$x');
// An empty string is neither a valid name nor a valid filter [MQTT-4.7.3-1].
const topicArb = fc
  .array(word, { minLength: 1, maxLength: 5 })
  .map((ws) => ws.join('/'))
  .filter((s) => s !== '');
const filterArb = fc
  .tuple(fc.array(fc.oneof(word, word, fc.constant('+')), { minLength: 1, maxLength: 5 }), fc.boolean())
  .map(([ws, hash]) => (hash ? [...ws.slice(1), '#'] : ws).join('/'))
  .filter((s) => s !== '');

test('trie: match equals brute-force filtering over random filter sets and topics', (t) => {
  fc.assert(
    fc.property(fc.array(filterArb, { maxLength: 40 }), fc.array(topicArb, { minLength: 1, maxLength: 10 }), (filters, topics) => {
      const trie = trieOf(...filters);
      const distinct = [...new Set(filters)];
      for (const topic of topics) {
        const got = trie.match(topic);
        const want = distinct.filter((f) => match(f, topic));
        if (got.length !== new Set(got).size) return false; // each filter once
        if (JSON.stringify(sorted(got)) !== JSON.stringify(sorted(want))) return false;
      }
      return trie.size === distinct.length;
    }),
    { numRuns: 1_000 },
  );
  t.pass();
});

type Op = readonly ['insert' | 'delete', string];

test('trie: random insert/delete sequences keep refcounts, size and matches equal to a multiset model', (t) => {
  const op: fc.Arbitrary<Op> = fc.tuple(fc.constantFrom('insert' as const, 'delete' as const), filterArb);
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), fc.array(topicArb, { minLength: 1, maxLength: 8 }), (ops, topics) => {
      const trie = new Trie();
      const model = new Map<string, number>();
      for (const [kind, f] of ops) {
        const refs = model.get(f) ?? 0;
        if (kind === 'insert') {
          if (trie.insert(f) !== (refs === 0)) return false; // true only for the first reference
          model.set(f, refs + 1);
        } else {
          if (trie.delete(f) !== (refs === 1)) return false; // true only for the last reference
          if (refs > 1) model.set(f, refs - 1);
          else model.delete(f);
        }
      }
      for (const [f, n] of model) if (trie.refs(f) !== n || !trie.has(f)) return false;
      if (trie.size !== model.size || trie.isEmpty() !== (model.size === 0)) return false;
      if (JSON.stringify(sorted(trie.filters())) !== JSON.stringify(sorted(model.keys()))) return false;
      for (const topic of topics) {
        const want = [...model.keys()].filter((f) => match(f, topic));
        if (JSON.stringify(sorted(trie.match(topic))) !== JSON.stringify(sorted(want))) return false;
      }
      // Deleting every reference leaves no node behind.
      for (const [f, n] of model) for (let i = 0; i < n; i++) trie.delete(f);
      return trie.isEmpty() && trie.nodeCount === 0;
    }),
    { numRuns: 1_000 },
  );
  t.pass();
});

test('trie: the same filter inserted twice needs two deletes', (t) => {
  const trie = trieOf('a/+', 'a/+');
  t.is(trie.size, 1);
  t.is(trie.refs('a/+'), 2);
  t.false(trie.delete('a/+'), 'one reference left');
  t.deepEqual(trie.match('a/b'), ['a/+']);
  t.true(trie.delete('a/+'), 'last reference gone');
  t.deepEqual(trie.match('a/b'), []);
  t.false(trie.delete('a/+'), 'deleting an absent filter is a no-op');
  t.true(trie.isEmpty());
});

test('trie: # matches the parent level and everything below it', (t) => {
  const trie = trieOf('sport/tennis/player1/#', '#', 'sport/#');
  t.deepEqual(sorted(trie.match('sport/tennis/player1')), ['#', 'sport/#', 'sport/tennis/player1/#']);
  t.deepEqual(sorted(trie.match('sport/tennis/player1/score/wimbledon')), ['#', 'sport/#', 'sport/tennis/player1/#']);
  t.deepEqual(sorted(trie.match('sport')), ['#', 'sport/#']);
  t.deepEqual(sorted(trie.match('sports')), ['#']);
});

test('trie: + matches exactly one level, empty levels included', (t) => {
  const trie = trieOf('+/+', '/+', '+', 'a/+/c');
  t.deepEqual(sorted(trie.match('/finance')), ['+/+', '/+']);
  t.deepEqual(sorted(trie.match('x')), ['+']);
  t.deepEqual(sorted(trie.match('a//c')), ['a/+/c']);
  t.deepEqual(trie.match('a/b/c/d'), []);
});

test('[MQTT-4.7.2-1] trie: root-level wildcards do not match $ topics', (t) => {
  const trie = trieOf('#', '+/monitor/Clients', '+', '$SYS/#', '$SYS/+/Clients');
  t.deepEqual(sorted(trie.match('$SYS/monitor/Clients')), ['$SYS/#', '$SYS/+/Clients']);
  t.deepEqual(sorted(trie.match('$SYS')), ['$SYS/#']);
  t.deepEqual(trie.match('$other'), []);
  t.deepEqual(sorted(trie.match('x/monitor/Clients')), ['#', '+/monitor/Clients']);
});

test('trie: exact filters work too', (t) => {
  const trie = trieOf('a/b', 'a/b/c', 'a');
  t.deepEqual(trie.match('a/b'), ['a/b']);
  t.deepEqual(trie.match('a'), ['a']);
  t.deepEqual(trie.match('a/b/c/d'), []);
});

test('trie: deleting prunes empty branches but keeps shared prefixes', (t) => {
  const trie = trieOf('a/b/#', 'a/b/c/+', 'a/+');
  t.is(trie.nodeCount, 6); // a, a/b, a/b/#, a/b/c, a/b/c/+, a/+
  t.true(trie.delete('a/b/c/+'));
  t.is(trie.nodeCount, 4);
  t.deepEqual(sorted(trie.match('a/b/c/d')), ['a/b/#']);
  t.deepEqual(sorted(trie.match('a/b')), ['a/+', 'a/b/#']);
  t.true(trie.delete('a/b/#'));
  t.true(trie.delete('a/+'));
  t.true(trie.isEmpty());
  t.is(trie.nodeCount, 0);
  t.deepEqual([...trie], []);
  t.true(trie.insert('a/b/#'), 're-inserting after pruning works');
  t.deepEqual(trie.match('a/b'), ['a/b/#']);
});

test('trie: a prefix of a stored filter is not itself stored', (t) => {
  const trie = trieOf('a/b/c');
  t.false(trie.has('a/b'));
  t.false(trie.delete('a/b'));
  t.is(trie.refs('a/b/c'), 1);
  t.deepEqual(trie.match('a/b'), []);
});

test('trie: invalid filters are refused', (t) => {
  const trie = new Trie();
  for (const bad of ['a/#/b', 'a+', '+a', '', '#/']) t.throws(() => trie.insert(bad), { instanceOf: RangeError }, bad);
  t.true(trie.isEmpty());
});

test('trie: iterating yields each stored filter once', (t) => {
  const filters = ['#', '+', 'a', 'a/#', 'a/+', 'a/+/b', '/', '$SYS/#'];
  const trie = trieOf(...filters, ...filters);
  t.deepEqual(sorted(trie), sorted(filters));
  t.is(trie.size, filters.length);
});

test('trie: a topic with the most levels a valid name can have does not overflow the stack', (t) => {
  const deep = Array.from({ length: 32_768 }, () => 'a').join('/'); // 65535 bytes
  const trie = trieOf('#', 'a/#', 'a/+/#', deep.replace(/a$/, '+'));
  t.deepEqual(sorted(trie.match(deep)), sorted(['#', 'a/#', 'a/+/#', deep.replace(/a$/, '+')]));
  t.true(trie.delete(deep.replace(/a$/, '+')));
  t.is(trie.nodeCount, 5); // #, a, a/#, a/+, a/+/#
});
