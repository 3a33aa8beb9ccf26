/**
 * pg process groups across in-process named nodes: members seen from every node,
 * leave, removal on a member's death and on its node's stop, a late node learning the
 * groups, and scope/group monitors.
 */
import test from 'ava';
import { connectNode, ExitError, nodes, pg, type Ctx, type LocalNode, type Pid } from '../../../runtime/index.js';
import { distNode, testEpmd } from '../../helpers/dist.js';
import { recorder } from '../../helpers/runtime.js';
import { waitFor } from '../../helpers/wait.js';

const idle = (n: LocalNode): Pid => n.spawn({ handle: (_m: unknown, _ctx: Ctx) => undefined });
const keys = (ps: readonly Pid[]): string[] => ps.map((p) => p.key).sort();

/** Wait until `group` has exactly `pids` as members on every node given. */
async function members(ns: readonly LocalNode[], group: string, pids: readonly Pid[], what: string): Promise<void> {
  const want = JSON.stringify(keys(pids));
  await waitFor(() => ns.every((n) => JSON.stringify(keys(n.run(() => pg.getMembers(group)))) === want), what);
}

async function cluster(t: Parameters<typeof testEpmd>[0], count = 3): Promise<LocalNode[]> {
  const epmd = await testEpmd(t);
  const ns: LocalNode[] = [];
  for (let i = 0; i < count; i++) ns.push(await distNode(t, epmd));
  for (const n of ns.slice(1)) t.true(await ns[0]!.run(() => connectNode(n.name)));
  await waitFor(() => ns.every((n) => n.run(() => nodes()).length === count - 1), 'a full mesh');
  return ns;
}

test('pg: members joined on two nodes are seen from a third', async (t) => {
  const ns = await cluster(t);
  const [a, b, c] = ns as [LocalNode, LocalNode, LocalNode];
  const pa = idle(a);
  const pb = idle(b);
  await a.run(() => pg.join('g', pa));
  await b.run(() => pg.join('g', [pb]));
  await members(ns, 'g', [pa, pb], 'both members on every node');
  t.deepEqual(c.run(() => pg.whichGroups()), ['g']);
  t.deepEqual(keys(a.run(() => pg.getLocalMembers('g'))), [pa.key]);
  t.deepEqual(c.run(() => pg.getLocalMembers('g')), []);
});

test('pg: leave removes one membership everywhere; an empty group is gone', async (t) => {
  const ns = await cluster(t);
  const [a, b] = ns as [LocalNode, LocalNode];
  const pa = idle(a);
  await a.run(() => pg.join('g', pa));
  await a.run(() => pg.join('g', pa));
  await a.run(() => pg.join('h', pa));
  await members(ns, 'g', [pa, pa], 'a pid that joined twice counts twice');
  t.is(await a.run(() => pg.leave('g', pa)), 'ok');
  await members(ns, 'g', [pa], 'one membership left');
  t.is(await a.run(() => pg.leave('g', [pa])), 'ok');
  await members(ns, 'g', [], 'g empty everywhere');
  t.deepEqual(b.run(() => pg.whichGroups()), ['h'], 'empty groups do not exist');
  t.is(await a.run(() => pg.leave('g', pa)), 'not_joined');
});

test('pg: a member that dies is removed everywhere', async (t) => {
  const ns = await cluster(t);
  const [a, b] = ns as [LocalNode, LocalNode];
  const mortal = a.spawn({ handle: (_m: unknown, ctx: Ctx) => ctx.stop('normal') });
  const pb = idle(b);
  await a.run(() => pg.join('g', mortal));
  await a.run(() => pg.join('other', mortal));
  await b.run(() => pg.join('g', pb));
  await members(ns, 'g', [mortal, pb], 'both members');
  a.send(mortal, 'die');
  await members(ns, 'g', [pb], 'the dead member gone everywhere');
  await members(ns, 'other', [], 'and from its other group');
});

test('pg: the members of a node that stops are removed everywhere', async (t) => {
  const ns = await cluster(t);
  const [a, b, c] = ns as [LocalNode, LocalNode, LocalNode];
  const pa = idle(a);
  await a.run(() => pg.join('g', pa));
  await c.run(() => pg.join('g', [idle(c), idle(c)]));
  await waitFor(() => a.run(() => pg.getMembers('g')).length === 3, 'all three members on a');
  await c.stop();
  await members([a, b], 'g', [pa], "c's members gone from a and b");
});

test('pg: a node that connects later learns the existing groups, and they learn its', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  t.true(await a.run(() => connectNode(b.name)));
  const pa = idle(a);
  const pb = idle(b);
  await a.run(() => pg.join('g', pa));
  await b.run(() => pg.join('h', pb));
  const c = await distNode(t, epmd);
  const pc = idle(c);
  await c.run(() => pg.join('g', pc));
  t.true(await c.run(() => connectNode(a.name)));
  await members([a, b, c], 'g', [pa, pc], 'g merged on every node');
  await members([a, b, c], 'h', [pb], 'h on every node');
});

test('pg: join takes local pids only', async (t) => {
  const ns = await cluster(t, 2);
  const [a, b] = ns as [LocalNode, LocalNode];
  const pb = idle(b);
  const e = await t.throwsAsync(a.run(() => pg.join('g', pb)), { instanceOf: ExitError });
  t.deepEqual(e?.reason, ['nolocal', pb]);
});

test('pg: scope and group monitors get join and leave notices', async (t) => {
  const ns = await cluster(t, 2);
  const [a, b] = ns as [LocalNode, LocalNode];
  const out = recorder(a);
  const watch = (group: string | undefined): Pid =>
    a.spawn(async (self) => {
      const { ref } = group === undefined ? await pg.monitorScope() : await pg.monitor(group);
      self.send(out.pid, ['ref', group ?? 'scope', ref]);
      for (;;) self.send(out.pid, [group ?? 'scope', await self.receive()]);
    });
  watch(undefined);
  watch('g');
  await out.next((m) => Array.isArray(m) && m[0] === 'ref' && m[1] === 'scope', 'the scope monitor');
  await out.next((m) => Array.isArray(m) && m[0] === 'ref' && m[1] === 'g', 'the group monitor');
  const pb = idle(b);
  await b.run(() => pg.join('h', pb));
  await b.run(() => pg.join('g', pb));
  const notice = (who: string, kind: string, group: string) => (m: unknown) =>
    Array.isArray(m) && m[0] === who && Array.isArray(m[1]) && m[1][1] === kind && m[1][2] === group;
  const seen = (await out.next(notice('scope', 'join', 'g'), 'scope join g')) as [string, [unknown, string, string, Pid[]]];
  t.true(seen[1][3][0]?.equals(pb));
  await out.next(notice('scope', 'join', 'h'), 'scope join h');
  await out.next(notice('g', 'join', 'g'), 'group join g');
  await b.run(() => pg.leave('g', pb));
  await out.next(notice('g', 'leave', 'g'), 'group leave g');
  await out.next(notice('scope', 'leave', 'g'), 'scope leave g');
  t.false(out.messages.some(notice('g', 'join', 'h')), 'a group monitor hears only its group');
});
