/**
 * global names across in-process named nodes: replication to every node, send by name,
 * uniqueness under concurrent registration, removal when the process dies or its node
 * stops, re-registration, and the clash resolution when two halves meet.
 */
import test from 'ava';
import { connectNode, ExitError, global, nodes, type Ctx, type LocalNode, type Pid } from '../../../runtime/index.js';
import { distNode, testEpmd } from '../../helpers/dist.js';
import { recorder } from '../../helpers/runtime.js';
import { waitFor, withTimeout } from '../../helpers/wait.js';

const idle = (n: LocalNode): Pid => n.spawn({ handle: (_m: unknown, _ctx: Ctx) => undefined });

/** Wait until `name` stands for `pid` (or nothing) on every node given. */
async function everywhere(ns: readonly LocalNode[], name: string, pid: Pid | undefined, what: string): Promise<void> {
  await waitFor(() => ns.every((n) => {
    const p = n.run(() => global.whereisName(name));
    return pid === undefined ? p === undefined : pid.equals(p);
  }), what);
}

/** Three nodes in one mesh. */
async function cluster(t: Parameters<typeof testEpmd>[0]): Promise<LocalNode[]> {
  const epmd = await testEpmd(t);
  const ns = [await distNode(t, epmd), await distNode(t, epmd), await distNode(t, epmd)];
  const [a, b, c] = ns as [LocalNode, LocalNode, LocalNode];
  t.true(await a.run(() => connectNode(b.name)));
  t.true(await a.run(() => connectNode(c.name)));
  await waitFor(() => ns.every((n) => n.run(() => nodes()).length === 2), 'a full mesh');
  return ns;
}

test('global: a name registered on one node is found on every node and reaches its process', async (t) => {
  const ns = await cluster(t);
  const [a, b, c] = ns as [LocalNode, LocalNode, LocalNode];
  const rec = recorder(b);
  t.is(await a.run(() => global.registerName('svc', rec.pid)), 'yes', 'a registers a pid of b');
  await everywhere(ns, 'svc', rec.pid, 'svc on every node');
  t.deepEqual(c.run(() => global.registeredNames()), ['svc']);
  t.true(rec.pid.equals(c.run(() => global.send('svc', 'hello from c'))));
  await rec.next((m) => m === 'hello from c', 'the message sent by global name');
  const e = t.throws(() => c.run(() => global.send('nobody', 'x')), { instanceOf: ExitError });
  t.deepEqual(e?.reason, ['badarg', ['nobody', 'x']]);
});

test('global: a name taken on another node answers no', async (t) => {
  const ns = await cluster(t);
  const [a, b] = ns as [LocalNode, LocalNode];
  const pa = idle(a);
  t.is(await a.run(() => global.registerName('x', pa)), 'yes');
  t.is(await b.run(() => global.registerName('x', idle(b))), 'no');
  t.is(await a.run(() => global.registerName('x', pa)), 'no', 'even for the same pid, as OTP');
  await everywhere(ns, 'x', pa, 'x still standing for the first pid');
});

test('global: concurrent registrations of one name from two nodes give exactly one yes', async (t) => {
  const ns = await cluster(t);
  const [a, b] = ns as [LocalNode, LocalNode];
  const names = Array.from({ length: 20 }, (_, i) => `race${i}`);
  const pa = idle(a);
  const pb = idle(b);
  const answers = await withTimeout(
    Promise.all(names.map((n) => Promise.all([a.run(() => global.registerName(n, pa)), b.run(() => global.registerName(n, pb))]))),
    'every registration to answer',
  );
  for (const [i, [ya, yb]] of answers.entries()) {
    t.deepEqual([ya, yb].filter((y) => y === 'yes').length, 1, `one yes for ${names[i]}`);
    await everywhere(ns, names[i]!, ya === 'yes' ? pa : pb, `${names[i]} to agree everywhere`);
  }
});

test('global: the name goes everywhere when its process dies', async (t) => {
  const ns = await cluster(t);
  const [a, b] = ns as [LocalNode, LocalNode];
  const pid = b.spawn({ handle: (_m: unknown, ctx: Ctx) => ctx.stop('normal') });
  t.is(await a.run(() => global.registerName('mortal', pid)), 'yes');
  await everywhere(ns, 'mortal', pid, 'the name on every node');
  b.send(pid, 'die');
  await everywhere(ns, 'mortal', undefined, 'the name gone from every node');
  t.is(await a.run(() => global.registerName('mortal', idle(a))), 'yes', 'the name is free again');
});

test('global: the names of a node go everywhere when the node stops', async (t) => {
  const ns = await cluster(t);
  const [a, b, c] = ns as [LocalNode, LocalNode, LocalNode];
  const pc = idle(c);
  t.is(await c.run(() => global.registerName('on_c', pc)), 'yes');
  await everywhere(ns, 'on_c', pc, 'on_c everywhere');
  await c.stop();
  await everywhere([a, b], 'on_c', undefined, 'on_c gone from a and b');
});

test('global: re-register moves a name, unregister removes it everywhere', async (t) => {
  const ns = await cluster(t);
  const [a, b, c] = ns as [LocalNode, LocalNode, LocalNode];
  const p1 = idle(a);
  const p2 = idle(b);
  t.is(await a.run(() => global.registerName('mover', p1)), 'yes');
  t.is(await c.run(() => global.reRegisterName('mover', p2)), 'yes');
  await everywhere(ns, 'mover', p2, 'mover pointing at the new pid');
  await b.run(() => global.unregisterName('mover'));
  await everywhere(ns, 'mover', undefined, 'mover gone');
  await c.run(() => global.unregisterName('never_there'));
  t.deepEqual(a.run(() => global.registeredNames()), []);
});

test('global: after two halves meet, the pid on the lower node name keeps a clashing name and the other is killed', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  const pa = idle(a);
  const pb = idle(b);
  // Apart, each half may register the name.
  t.is(await a.run(() => global.registerName('clash', pa)), 'yes');
  t.is(await b.run(() => global.registerName('clash', pb)), 'yes');
  const [winner, loser, loserNode] = a.name < b.name ? [pa, pb, b] : [pb, pa, a];
  const loserExit = loserNode.waitExit(loser);
  t.true(await a.run(() => connectNode(b.name)));
  t.is(await withTimeout(loserExit, 'the loser to be killed'), 'killed');
  await everywhere([a, b], 'clash', winner, 'both halves to agree on the winner');
  t.true(a.core.isAlive(winner) || b.core.isAlive(winner), 'the winner lives');
});
