/** broker/routing/route-table.ts: exact and wildcard routes, and the per-topic match cache never answering stale. */
import test from 'ava';
import { RouteTable } from '../../../broker/routing/route-table.js';

const filters = (rs: readonly { filter: string }[]): string[] => rs.map((r) => r.filter).sort();

test('route-table: a topic matches its exact route and the wildcard routes over it', (t) => {
  const rt = new RouteTable();
  rt.add('a/b', 'n1');
  rt.add('a/+', 'n1');
  rt.add('#', 'n2');
  rt.add('x/#', 'n1');
  t.deepEqual(filters(rt.match('a/b')), ['#', 'a/+', 'a/b']);
  t.deepEqual(filters(rt.match('x')), ['#', 'x/#']);
  t.deepEqual([...rt.match('a/b').find((r) => r.filter === '#')!.nodes], ['n2']);
});

test('route-table: every add, delete and purge is seen by the next match of a cached topic', (t) => {
  const rt = new RouteTable();
  t.deepEqual(filters(rt.match('a/b')), []);
  rt.add('a/+', 'n1');
  t.deepEqual(filters(rt.match('a/b')), ['a/+'], 'after add');
  rt.add('a/b', 'n2');
  t.deepEqual(filters(rt.match('a/b')), ['a/+', 'a/b'], 'after a second add');
  rt.add('a/+', 'n2');
  t.deepEqual([...rt.match('a/b').find((r) => r.filter === 'a/+')!.nodes].sort(), ['n1', 'n2'], 'a new node on a known filter');
  rt.delete('a/+', 'n1');
  t.deepEqual([...rt.match('a/b').find((r) => r.filter === 'a/+')!.nodes], ['n2'], 'after delete of one node');
  rt.purge('n2');
  t.deepEqual(filters(rt.match('a/b')), [], 'after purge');
  t.is(rt.size, 0);
});

test('route-table: many distinct topics keep matching right past the cache bound', (t) => {
  const rt = new RouteTable();
  rt.add('d/+/temp', 'n1');
  for (let i = 0; i < 25_000; i++) t.is(rt.match(`d/${i}/temp`).length, 1);
  t.is(rt.match('d/1/hum').length, 0);
});

test('route-table: shared groups joining and leaving a cached filter are seen by the next match', (t) => {
  const rt = new RouteTable();
  rt.add('s/+', 'n1', 'g1');
  const groups = (): [string, string[]][] => [...(rt.match('s/x').find((r) => r.filter === 's/+')?.groups ?? [])].map(([g, ns]) => [g, [...ns].sort()]);
  t.deepEqual(groups(), [['g1', ['n1']]]);
  rt.add('s/+', 'n2', 'g1');
  rt.add('s/+', 'n1', 'g2');
  t.deepEqual(groups(), [['g1', ['n1', 'n2']], ['g2', ['n1']]], 'after adds');
  rt.add('s/+', 'n3');
  t.deepEqual([...rt.match('s/x')[0]!.nodes], ['n3'], 'an ordinary subscriber next to the groups');
  rt.delete('s/+', 'n1', 'g2');
  rt.delete('s/+', 'n3');
  t.deepEqual(groups(), [['g1', ['n1', 'n2']]], 'after deletes');
  rt.purge('n1');
  rt.purge('n2');
  t.deepEqual(rt.match('s/x'), [], 'after purges');
  t.is(rt.size, 0);
});

test('route-table: random adds, deletes and purges over three nodes agree with a plain model, and entries never share a changed set', (t) => {
  const rt = new RouteTable();
  const other = new RouteTable(); // sharing the per-node sets must not leak between tables
  other.add('x/1', 'n1');
  const model = new Map<string, Set<string>>();
  const fs = ['a/1', 'a/2', 'a/+', 'b/#'];
  const ns = ['n1', 'n2', 'n3'];
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  for (let step = 0; step < 3000; step++) {
    const f = fs[rnd(fs.length)]!;
    const n = ns[rnd(ns.length)]!;
    const op = rnd(10);
    if (op < 5) t.is(rt.add(f, n), !(model.get(f)?.has(n) ?? false), `add ${f} ${n}`);
    else if (op < 9) t.is(rt.delete(f, n), model.get(f)?.has(n) ?? false, `delete ${f} ${n}`);
    else {
      rt.purge(n);
      for (const s of model.values()) s.delete(n);
    }
    if (op < 5) (model.get(f) ?? model.set(f, new Set()).get(f)!).add(n);
    else if (op < 9) model.get(f)?.delete(n);
    for (const g of fs) {
      const want = [...(model.get(g) ?? [])].sort();
      const got = rt.match(g.replace('+', '1').replace('#', 'z')).find((r) => r.filter === g);
      t.deepEqual(got === undefined ? [] : [...got.nodes].sort(), want, `nodes of ${g} after step ${step}`);
      for (const x of ns) t.is(rt.has(g, x), want.includes(x));
    }
  }
  t.deepEqual([...other.match('x/1')[0]!.nodes], ['n1'], "the other table's route is untouched");
});
