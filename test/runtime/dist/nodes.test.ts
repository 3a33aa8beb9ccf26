/**
 * Two and three beamq nodes in this OS process over loopback TCP: connect, send by pid
 * and by name, links and monitors across nodes with `noconnection` on loss, remote
 * spawn, node monitoring and the transitive mesh.
 */
import test from 'ava';
import { ExitError, type Ref, connectNode, disconnectNode, exportModule, monitorNodes, nodes, spawnOn, type Ctx, type Pid } from '../../../runtime/index.js';
import { distNode, testEpmd } from '../../helpers/dist.js';
import { recorder } from '../../helpers/runtime.js';
import { waitFor } from '../../helpers/wait.js';

test('dist: connect_node is true, nodes() lists the peer on both sides', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  t.true(await a.run(() => connectNode(b.name)));
  t.deepEqual(a.run(() => nodes()), [b.name]);
  await waitFor(() => b.run(() => nodes()).includes(a.name), 'b to see a');
  t.false(await a.run(() => connectNode('nobody@127.0.0.1')), 'an unregistered node is false');
});

test('dist: send to a remote pid and to [name, node] arrives in order', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  const rec = recorder(b, { name: 'inbox' });
  // Sending to an unconnected node connects on demand.
  a.run(() => {
    for (let i = 0; i < 100; i++) a.send(rec.pid, ['n', i]);
    a.send(['inbox', b.name], 'by-name');
  });
  await rec.next((m) => m === 'by-name', 'the named message');
  t.deepEqual(rec.messages.slice(0, 100), Array.from({ length: 100 }, (_, i) => ['n', i]));
});

test('dist: a remote monitor fires with the exit reason, noproc for a dead pid', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  const victim = b.spawn({ handle: (_m: unknown, ctx: Ctx) => ctx.stop('boom') });
  const out = recorder(a);
  let ref: unknown;
  a.spawn({ init: (ctx: Ctx) => void (ref = ctx.monitor(victim)), handle: (m: unknown, ctx: Ctx) => ctx.send(out.pid, m) });
  await waitFor(() => (b.core.lookup(victim)?.monitoredBy?.size ?? 0) === 1, 'the monitor to reach b');
  b.send(victim, 'die');
  t.deepEqual(await out.next((m) => Array.isArray(m) && m[0] === 'DOWN', 'DOWN'), ['DOWN', ref, 'process', victim, 'boom']);
  let ref2: unknown;
  a.spawn({ init: (ctx: Ctx) => void (ref2 = ctx.monitor(victim)), handle: (m: unknown, ctx: Ctx) => ctx.send(out.pid, m) });
  t.deepEqual(await out.next((m) => Array.isArray(m) && ref2 !== undefined && (ref2 as Ref).equals(m[1]), 'noproc DOWN'), ['DOWN', ref2, 'process', victim, 'noproc']);
});

test('dist: links across nodes carry exits both ways; losing the node gives noconnection', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  const remote = b.spawn({ handle: (m: unknown, ctx: Ctx) => ctx.stop(m as string) });
  const out = recorder(a);
  const local = a.spawn({
    init: (ctx: Ctx) => {
      ctx.trapExit(true);
      ctx.link(remote);
    },
    handle: (m: unknown, ctx: Ctx) => ctx.send(out.pid, m),
  });
  await waitFor(() => b.core.lookup(remote)?.links?.size === 1, 'the link to reach b');
  b.send(remote, 'crashed');
  t.deepEqual(await out.next((m) => Array.isArray(m) && m[0] === 'EXIT', 'EXIT'), ['EXIT', remote, 'crashed']);

  // Now a link, a trapped link and a monitor to a process on a node that goes away.
  const remote2 = b.spawn({ handle: () => undefined });
  const linked = a.spawn({ init: (ctx: Ctx) => ctx.link(remote2), handle: () => undefined });
  const linkedExit = a.waitExit(linked);
  let mref: Ref | undefined;
  a.spawn({ init: (ctx: Ctx) => void (mref = ctx.monitor(remote2)), handle: (m: unknown, ctx: Ctx) => ctx.send(out.pid, m) });
  const trapper = a.spawn({
    init: (ctx: Ctx) => {
      ctx.trapExit(true);
      ctx.link(remote2);
    },
    handle: (m: unknown, ctx: Ctx) => ctx.send(out.pid, m),
  });
  await waitFor(() => b.core.lookup(remote2)?.links?.size === 2 && b.core.lookup(remote2)?.monitoredBy?.size === 1, 'links and monitor to reach b');
  a.run(() => disconnectNode(b.name));
  t.deepEqual(await out.next((m) => Array.isArray(m) && mref !== undefined && mref.equals(m[1]), 'DOWN noconnection'), ['DOWN', mref, 'process', remote2, 'noconnection']);
  t.deepEqual(await out.next((m) => Array.isArray(m) && m[0] === 'EXIT' && remote2.equals(m[1]), 'EXIT noconnection'), ['EXIT', remote2, 'noconnection']);
  t.is(await linkedExit, 'noconnection', 'a non-trapping linked process dies with noconnection');
  t.true(a.core.isAlive(local) && a.core.isAlive(trapper));
});

test('dist: spawn on a remote node runs an exported function, with link and monitor', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  const out = recorder(a);
  b.run(() =>
    exportModule('echo', {
      start: (to: Pid, tag: string) => ({ init: (ctx: Ctx) => ctx.send(to, [tag, ctx.node]), handle: (_m: unknown, ctx: Ctx) => ctx.stop('done') }),
    }),
  );
  const pid = await a.run(() => spawnOn(b.name, 'echo', 'start', [out.pid, 'hello']));
  t.is(pid.node, b.name);
  t.deepEqual(await out.next((m) => Array.isArray(m) && m[0] === 'hello', 'hello from b'), ['hello', b.name]);
  const e = await t.throwsAsync(a.run(() => spawnOn(b.name, 'echo', 'missing', [])), { instanceOf: ExitError });
  t.is(e?.reason, 'undef');
  // With monitor: the DOWN comes with the reason.
  a.spawn(async (self) => {
    const p = await spawnOn(b.name, 'echo', 'start', [out.pid, 'again'], { monitor: true });
    self.send(p, 'stop');
    const down = await self.receive((m) => (Array.isArray(m) && m[0] === 'DOWN' ? m : undefined), 5000);
    self.send(out.pid, ['got', down]);
  });
  const got = (await out.next((m) => Array.isArray(m) && m[0] === 'got', 'the DOWN')) as [string, unknown[]];
  t.is(got[1][4], 'done');
});

test('dist: monitorNodes sees nodeup and nodedown; three nodes mesh transitively', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  const c = await distNode(t, epmd);
  const out = recorder(a);
  a.spawn({ init: () => monitorNodes(true), handle: (m: unknown, ctx: Ctx) => ctx.send(out.pid, m) });
  await out.sync();
  t.true(await b.run(() => connectNode(c.name)));
  t.true(await a.run(() => connectNode(b.name)));
  // a learns of c through b and connects to it.
  await waitFor(() => a.run(() => nodes()).includes(c.name), 'a to reach c transitively');
  await out.next((m) => Array.isArray(m) && m[0] === 'nodeup' && m[1] === c.name, 'nodeup c');
  t.deepEqual(c.run(() => nodes()).sort(), [a.name, b.name].sort());
  await c.stop();
  t.deepEqual(await out.next((m) => Array.isArray(m) && m[0] === 'nodedown', 'nodedown c'), ['nodedown', c.name]);
  await waitFor(() => !a.run(() => nodes()).includes(c.name), 'nodes() to shrink');
});
