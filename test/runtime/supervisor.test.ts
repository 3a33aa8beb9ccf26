/**
 * Supervisors as processes: restarts by strategy, intensity, ordered shutdown with
 * each shutdown kind, the child-management calls, simple_one_for_one and nesting.
 */
import test from 'ava';
import {
  ExitError,
  formatTerm,
  genServer,
  spawnLink,
  supervisor,
  supervisorChild,
  worker,
  type Ctx,
  type GenServer,
  type LocalNode,
  type Pid,
  type Reason,
  type RestartType,
  type Shutdown,
  type Strategy,
} from '../../runtime/index.js';
import { captureLogs, testNode } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

interface WP {
  casts: { die: { args: [reason: Reason] } };
}
type WS = { id: string; events: string[] };

const w: GenServer<WP, WS, WS> = {
  init: (s) => {
    s.events.push(`start:${s.id}`);
    return genServer.ok(s);
  },
  handleCast: (msg, s) => genServer.stop(msg[1], s),
  terminate: (reason, s) => void s.events.push(`stop:${s.id}:${formatTerm(reason)}`),
};

const child = (events: string[], id: string, restart: RestartType = 'permanent', shutdown: Shutdown = 5000) =>
  worker(id, () => genServer.startLink(w, { id, events }, { trapExit: true }), { restart, shutdown });

async function sup(node: LocalNode, strategy: Strategy, children: ReturnType<typeof child>[], intensity = 5): Promise<Pid> {
  return node.run(() => supervisor.start({ strategy, intensity, periodS: 10, children }));
}

const pidOf = async (node: LocalNode, s: Pid, id: string): Promise<Pid | undefined> =>
  (await node.run(() => supervisor.whichChildren(s))).find((c) => c.id === id)?.pid;

async function crash(node: LocalNode, s: Pid, id: string, reason: Reason = 'boom'): Promise<Pid> {
  const old = (await pidOf(node, s, id))!;
  const gone = node.waitExit(old);
  node.run(() => genServer.cast<WP>(old, ['die', reason]));
  await gone;
  return old;
}

async function restarted(node: LocalNode, s: Pid, id: string, old: Pid): Promise<Pid> {
  return waitFor(async () => {
    const p = await pidOf(node, s, id);
    return p !== undefined && !p.equals(old) ? p : undefined;
  }, `${id} to be restarted`);
}

test('supervisor: starts children in order; one_for_one restarts only the crashed child', async (t) => {
  const node = await testNode(t);
  const events: string[] = [];
  const s = await sup(node, 'one_for_one', [child(events, 'a'), child(events, 'b'), child(events, 'c')]);
  t.deepEqual(events, ['start:a', 'start:b', 'start:c']);
  const a = await pidOf(node, s, 'a');
  const old = await crash(node, s, 'b');
  await restarted(node, s, 'b', old);
  t.deepEqual(events.slice(3), ['stop:b:boom', 'start:b']);
  t.true((await pidOf(node, s, 'a'))!.equals(a));
});

test('supervisor: one_for_all stops the others in reverse order and restarts all in order', async (t) => {
  const node = await testNode(t);
  const events: string[] = [];
  const s = await sup(node, 'one_for_all', [child(events, 'a'), child(events, 'b'), child(events, 'c')]);
  const old = await crash(node, s, 'b');
  await restarted(node, s, 'b', old);
  await waitFor(() => events.length === 9, 'all restarted');
  t.deepEqual(events.slice(3), ['stop:b:boom', 'stop:c:shutdown', 'stop:a:shutdown', 'start:a', 'start:b', 'start:c']);
});

test('supervisor: rest_for_one restarts the crashed child and those started after it', async (t) => {
  const node = await testNode(t);
  const events: string[] = [];
  const s = await sup(node, 'rest_for_one', [child(events, 'a'), child(events, 'b'), child(events, 'c')]);
  const old = await crash(node, s, 'b');
  await restarted(node, s, 'b', old);
  await waitFor(() => events.length === 7, 'b and c restarted');
  t.deepEqual(events.slice(3), ['stop:b:boom', 'stop:c:shutdown', 'start:b', 'start:c']);
});

test('supervisor: too many restarts shut it down with reason shutdown, children in reverse order', async (t) => {
  const node = await testNode(t);
  const logs = captureLogs(t);
  const events: string[] = [];
  const s = await node.run(() =>
    supervisor.start({ strategy: 'one_for_one', intensity: 1, periodS: 10, children: [child(events, 'a'), child(events, 'b')] }, { name: 'intensity_sup' }),
  );
  const exited = node.waitExit(s);
  const old = await crash(node, s, 'b');
  await restarted(node, s, 'b', old);
  await crash(node, s, 'b');
  t.is(await exited, 'shutdown');
  t.deepEqual(events, ['start:a', 'start:b', 'stop:b:boom', 'start:b', 'stop:b:boom', 'stop:a:shutdown']);
  const mine = logs.filter((l) => l.fields?.['supervisor'] === 'intensity_sup');
  t.truthy(mine.find((l) => l.event === 'reached_max_restart_intensity'));
  t.is(mine.filter((l) => l.event === 'child_terminated').length, 2, 'a supervisor report per abnormal exit');
});

test('supervisor: transient children stay down after a clean exit; temporary ones are forgotten', async (t) => {
  const node = await testNode(t);
  const events: string[] = [];
  const s = await sup(node, 'one_for_one', [child(events, 'tr', 'transient'), child(events, 'tmp', 'temporary')]);
  await crash(node, s, 'tr', 'normal');
  await crash(node, s, 'tmp', 'boom');
  const kids = await node.run(() => supervisor.whichChildren(s));
  t.deepEqual(kids.map((k) => [k.id, k.pid]), [['tr', undefined]]);
  t.deepEqual(await node.run(() => supervisor.countChildren(s)), { specs: 1, active: 0, supervisors: 0, workers: 1 });
  // A transient child that crashes is restarted.
  await node.run(() => supervisor.restartChild(s, 'tr'));
  const old = await crash(node, s, 'tr', 'boom');
  t.truthy(await restarted(node, s, 'tr', old));
});

test('supervisor: shutdown kinds — a stubborn child is killed after its timeout, brutal_kill at once', async (t) => {
  const node = await testNode(t);
  // A child that traps exits and ignores the supervisor's shutdown signal.
  const stubborn = (id: string, shutdown: Shutdown) =>
    worker(id, async () => spawnLink({ init: (ctx: Ctx) => void ctx.trapExit(true), handle: () => undefined }), { shutdown });
  const s = await node.run(() =>
    supervisor.start({ strategy: 'one_for_one', children: [stubborn('slow', 50), stubborn('brutal', 'brutal_kill')] }),
  );
  const slow = (await pidOf(node, s, 'slow'))!;
  const brutal = (await pidOf(node, s, 'brutal'))!;
  const slowExit = node.waitExit(slow);
  const brutalExit = node.waitExit(brutal);
  await node.run(() => supervisor.terminateChild(s, 'brutal'));
  t.is(await brutalExit, 'killed');
  await node.run(() => supervisor.terminateChild(s, 'slow'));
  t.is(await slowExit, 'killed', 'shutdown ignored, then killed after 50 ms');
});

test('supervisor: startChild, terminateChild, restartChild, deleteChild and their errors', async (t) => {
  const node = await testNode(t);
  const events: string[] = [];
  const s = await sup(node, 'one_for_one', [child(events, 'a')]);
  const b = await node.run(() => supervisor.startChild(s, child(events, 'b')));
  t.true((await pidOf(node, s, 'b'))!.equals(b));
  const dup = await t.throwsAsync(node.run(() => supervisor.startChild(s, child(events, 'b'))), { instanceOf: ExitError });
  t.deepEqual(dup?.reason, ['already_started', b]);
  t.is((await t.throwsAsync(node.run(() => supervisor.deleteChild(s, 'b'))))?.message.includes('running'), true);
  await node.run(() => supervisor.terminateChild(s, 'b'));
  t.is(await pidOf(node, s, 'b'), undefined);
  const present = await t.throwsAsync(node.run(() => supervisor.startChild(s, child(events, 'b'))), { instanceOf: ExitError });
  t.is(present?.reason, 'already_present');
  const b2 = await node.run(() => supervisor.restartChild(s, 'b'));
  t.false(b2.equals(b));
  await node.run(() => supervisor.terminateChild(s, 'b'));
  await node.run(() => supervisor.deleteChild(s, 'b'));
  t.deepEqual((await node.run(() => supervisor.whichChildren(s))).map((c) => c.id), ['a']);
  const nf = await t.throwsAsync(node.run(() => supervisor.terminateChild(s, 'zz')), { instanceOf: ExitError });
  t.is(nf?.reason, 'not_found');
});

test('supervisor: simple_one_for_one starts instances with arguments and restarts them with the same', async (t) => {
  const node = await testNode(t);
  const events: string[] = [];
  const template = worker('conn', (...args: never[]) => genServer.startLink(w, { id: String(args[0]), events }, { trapExit: true }), { restart: 'transient' });
  const s = await node.run(() => supervisor.start({ strategy: 'simple_one_for_one', children: [template] }));
  const p1 = await node.run(() => supervisor.startChild(s, ['one']));
  const p2 = await node.run(() => supervisor.startChild(s, ['two']));
  t.deepEqual(events, ['start:one', 'start:two']);
  t.deepEqual(await node.run(() => supervisor.countChildren(s)), { specs: 1, active: 2, supervisors: 0, workers: 2 });
  const gone = node.waitExit(p1);
  node.run(() => genServer.cast<WP>(p1, ['die', 'boom']));
  await gone;
  await waitFor(() => events.includes('start:one') && events.lastIndexOf('start:one') > 1, 'instance one restarted');
  await node.run(() => supervisor.terminateChild(s, p2));
  await waitFor(async () => (await node.run(() => supervisor.countChildren(s))).active === 1, 'two removed');
  t.deepEqual(events.slice(2), ['stop:one:boom', 'start:one', 'stop:two:shutdown']);
});

test('supervisor: a simple_one_for_one start_child by genServer.callHere is answered in the caller\'s turn, the child recorded and linked as by startChild', async (t) => {
  const node = await testNode(t);
  const events: string[] = [];
  const template = worker(
    'conn',
    (...args: never[]) => {
      if (args[0] === 'bad') throw new ExitError('bad_args');
      return genServer.spawnLink(w, { id: String(args[0]), events });
    },
    { restart: 'temporary' },
  );
  const s = await node.run(() => supervisor.start({ strategy: 'simple_one_for_one', children: [template] }, { name: 'conns' }));
  const conns = supervisor.supervisorRef('conns');
  type Seen = { here: unknown; bad: unknown; busyWaits: boolean; busy: unknown };
  const seen = await new Promise<Seen>((resolve) => {
    node.spawn(async (self) => {
      const here = genServer.callHere(self, conns, ['start_child', ['two']], Infinity);
      const bad = genServer.callHere(self, conns, ['start_child', ['bad']], Infinity);
      // A message queued at the supervisor comes first: the start waits for its turn.
      self.send(s, ['$sup_try_again', 'none']);
      const busy = genServer.callHere(self, conns, ['start_child', ['three']], Infinity);
      resolve({ here, bad, busyWaits: busy instanceof Promise, busy: await busy });
    });
  });
  t.deepEqual(seen.bad, ['error', 'bad_args']);
  t.true(seen.busyWaits);
  t.is((seen.busy as readonly unknown[])[0], 'ok');
  t.true(Array.isArray(seen.here) && seen.here[0] === 'ok', 'answered at once, not a promise');
  const here = (seen.here as readonly ['ok', Pid])[1];
  t.true(node.core.lookup(here)?.links?.has(s.key) === true, 'linked to the supervisor');
  t.deepEqual(await node.run(() => supervisor.countChildren(s)), { specs: 1, active: 2, supervisors: 0, workers: 2 });
  t.true((await node.run(() => supervisor.whichChildren(s))).some((c) => c.pid?.equals(here) === true));
  await waitFor(() => events.includes('start:two') && events.includes('start:three'), 'the children started');
  // Its exit reaches the supervisor through the link: the temporary child is forgotten.
  const gone = node.waitExit(here);
  node.run(() => genServer.cast<WP>(here, ['die', 'boom']));
  await gone;
  await waitFor(async () => (await node.run(() => supervisor.countChildren(s))).active === 1, 'two forgotten');
  t.deepEqual(events, ['start:two', 'start:three', 'stop:two:boom']);
});

test('supervisor: nested supervisors — the outer one restarts a killed inner one with its children', async (t) => {
  const node = await testNode(t);
  const events: string[] = [];
  const inner = supervisorChild('inner', () => supervisor.startLink({ strategy: 'one_for_one', children: [child(events, 'x'), child(events, 'y')] }));
  const outer = await node.run(() => supervisor.start({ strategy: 'one_for_one', children: [child(events, 'a'), inner] }));
  const innerPid = (await pidOf(node, outer, 'inner'))!;
  t.deepEqual(await node.run(() => supervisor.countChildren(outer)), { specs: 2, active: 2, supervisors: 1, workers: 1 });
  const gone = node.waitExit(innerPid);
  node.run(() => node.core.lookup(innerPid)!.exit(innerPid, 'kill'));
  t.is(await gone, 'killed');
  await restarted(node, outer, 'inner', innerPid);
  await waitFor(() => events.filter((e) => e === 'start:x').length === 2, 'x restarted with the inner supervisor');
  // The inner children trap exits, so they run terminate when their supervisor is killed.
  t.deepEqual([...events].sort(), ['start:a', 'start:x', 'start:x', 'start:y', 'start:y', 'stop:x:killed', 'stop:y:killed']);
});

test('supervisor: a child that fails to start fails the supervisor start, after stopping the ones already started', async (t) => {
  const node = await testNode(t);
  const events: string[] = [];
  const failing = worker('bad', () => genServer.startLink({ init: () => genServer.stop('no') }, undefined));
  const e = await t.throwsAsync(node.run(() => supervisor.start({ children: [child(events, 'a'), failing, child(events, 'c')] })), { instanceOf: ExitError });
  t.deepEqual(e?.reason, ['shutdown', ['failed_to_start_child', 'bad', 'no']]);
  t.deepEqual(events, ['start:a', 'stop:a:shutdown']);
});
