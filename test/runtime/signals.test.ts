/**
 * Every exit-signal rule of OTP (FEATURES P2–P5), one row each: who sends what to
 * whom, trapping or not, and what must happen to the receiver.
 */
import test from 'ava';
import type { Pid} from '../../runtime/index.js';
import { exit, isProcessAlive, type Ctx, type Reason } from '../../runtime/index.js';
import { captureLogs, recorder, testNode } from '../helpers/runtime.js';

type Outcome = readonly ['dies', Reason] | readonly ['message', Reason] | readonly ['unaffected'];
type How = 'link-exit' | 'link-killed' | 'exit2' | 'exit2-self';

interface Row {
  title: string;
  how: How;
  trap: boolean;
  reason: Reason;
  expect: Outcome;
}

const rows: Row[] = [
  { title: 'linked process exits normal: ignored', how: 'link-exit', trap: false, reason: 'normal', expect: ['unaffected'] },
  { title: 'linked process exits normal, trapping: EXIT message', how: 'link-exit', trap: true, reason: 'normal', expect: ['message', 'normal'] },
  { title: 'linked process exits abnormally: dies with the same reason', how: 'link-exit', trap: false, reason: 'boom', expect: ['dies', 'boom'] },
  { title: 'linked process exits abnormally, trapping: EXIT message', how: 'link-exit', trap: true, reason: 'boom', expect: ['message', 'boom'] },
  { title: 'linked process exits {shutdown, x}: dies with it', how: 'link-exit', trap: false, reason: ['shutdown', 'x'], expect: ['dies', ['shutdown', 'x']] },
  { title: 'linked process killed: dies with killed', how: 'link-killed', trap: false, reason: 'kill', expect: ['dies', 'killed'] },
  { title: 'linked process killed, trapping: EXIT killed message', how: 'link-killed', trap: true, reason: 'kill', expect: ['message', 'killed'] },
  { title: 'linked process exits with reason kill: an ordinary reason over a link', how: 'link-exit', trap: false, reason: 'kill', expect: ['dies', 'kill'] },
  { title: 'linked process exits with reason kill, trapping: EXIT kill message', how: 'link-exit', trap: true, reason: 'kill', expect: ['message', 'kill'] },
  { title: 'exit(pid, kill): killed', how: 'exit2', trap: false, reason: 'kill', expect: ['dies', 'killed'] },
  { title: 'exit(pid, kill) is untrappable', how: 'exit2', trap: true, reason: 'kill', expect: ['dies', 'killed'] },
  { title: 'exit(pid, normal): ignored', how: 'exit2', trap: false, reason: 'normal', expect: ['unaffected'] },
  { title: 'exit(pid, normal) to a trapping process: a message', how: 'exit2', trap: true, reason: 'normal', expect: ['message', 'normal'] },
  { title: 'exit(pid, boom): dies', how: 'exit2', trap: false, reason: 'boom', expect: ['dies', 'boom'] },
  { title: 'exit(pid, boom), trapping: a message', how: 'exit2', trap: true, reason: 'boom', expect: ['message', 'boom'] },
  { title: 'exit(self(), normal) ends the caller', how: 'exit2-self', trap: false, reason: 'normal', expect: ['dies', 'normal'] },
];

for (const row of rows) {
  test(`signals: ${row.title}`, async (t) => {
    const node = await testNode(t);
    const target = recorder(node, { trapExit: row.trap });
    const targetExit = node.waitExit(target.pid); // watch before anything can happen
    let from: Pid;
    if (row.how === 'link-exit' || row.how === 'link-killed') {
      // A partner linked to the target, told to end with the row's reason.
      from = node.spawn({
        init: (ctx: Ctx) => ctx.link(target.pid),
        handle: (m: unknown, ctx: Ctx) => ctx.stop(m as Reason),
      });
      await target.sync(); // the partner ran init: the link exists
      const fromExit = node.waitExit(from);
      if (row.how === 'link-killed') node.run(() => exit(from, 'kill'));
      else node.send(from, row.reason);
      t.deepEqual(await fromExit, row.how === 'link-killed' ? 'killed' : row.reason);
    } else if (row.how === 'exit2') {
      // Signals are handled when sent: once the sender is gone, the target has had it.
      from = node.spawn({
        init: (ctx: Ctx) => {
          ctx.exit(target.pid, row.reason);
          ctx.stop('normal');
        },
        handle: () => undefined,
      });
      const fromExit = node.waitExit(from);
      t.is(await fromExit, 'normal');
    } else {
      // The target signals itself: a handler that calls exit(self(), normal).
      from = node.spawn({ init: (ctx: Ctx) => ctx.exit(ctx.self, 'normal'), handle: () => undefined });
      const fromExit = node.waitExit(from);
      t.deepEqual(await fromExit, 'normal');
      t.false(node.run(() => isProcessAlive(from)));
      return;
    }
    const [kind, reason] = row.expect;
    if (kind === 'dies') {
      t.deepEqual(await targetExit, reason);
      t.false(node.run(() => isProcessAlive(target.pid)));
    } else if (kind === 'message') {
      const m = await target.next((x) => Array.isArray(x) && x[0] === 'EXIT', 'EXIT message');
      t.deepEqual(m, ['EXIT', from, reason]);
      t.true(node.run(() => isProcessAlive(target.pid)));
    } else {
      await target.sync();
      t.true(node.run(() => isProcessAlive(target.pid)));
      t.false(target.messages.some((x) => Array.isArray(x) && x[0] === 'EXIT'));
    }
  });
}

test('signals: unlink before the exit means no signal', async (t) => {
  const node = await testNode(t);
  const target = recorder(node);
  const partner = node.spawn({
    init: (ctx: Ctx) => ctx.link(target.pid),
    handle: (m: unknown, ctx: Ctx) => {
      if (m === 'unlink') ctx.unlink(target.pid);
      else ctx.stop('boom');
    },
  });
  node.send(partner, 'unlink');
  node.send(partner, 'die');
  t.is(await node.waitExit(partner), 'boom');
  await target.sync();
  t.true(node.run(() => isProcessAlive(target.pid)));
});

test('signals: linking to a dead process gives noproc (death, or a message when trapping)', async (t) => {
  const node = await testNode(t);
  const dead = node.spawn({ init: (ctx: Ctx) => ctx.stop('normal'), handle: () => undefined });
  await node.waitExit(dead);
  const trapping = recorder(node, { trapExit: true });
  const linker = node.spawn({ init: (ctx: Ctx) => ctx.link(dead), handle: () => undefined });
  t.is(await node.waitExit(linker), 'noproc');
  node.spawn({
    init: (ctx: Ctx) => {
      ctx.trapExit(true);
      ctx.link(dead);
      ctx.send(trapping.pid, ['linked', ctx.self]);
    },
    handle: (m: unknown, ctx: Ctx) => ctx.send(trapping.pid, m),
  });
  const m = await trapping.next((x) => Array.isArray(x) && x[0] === 'EXIT', 'EXIT noproc forwarded');
  t.deepEqual(m, ['EXIT', dead, 'noproc']);
});

test('signals: monitors stack, fire once each with the reason, and noproc for the dead', async (t) => {
  const node = await testNode(t);
  const watcher = recorder(node);
  const victim = node.spawn({ handle: (_m: unknown, ctx: Ctx) => ctx.stop('boom') });
  const refs: unknown[] = [];
  node.spawn({
    init: (ctx: Ctx) => {
      refs.push(ctx.monitor(victim), ctx.monitor(victim));
    },
    handle: (m: unknown, ctx: Ctx) => ctx.send(watcher.pid, m),
  });
  await watcher.sync();
  node.send(victim, 'go');
  await node.waitExit(victim);
  await watcher.next(() => watcher.messages.length >= 2, 'two DOWNs');
  t.deepEqual(watcher.messages, refs.map((r) => ['DOWN', r, 'process', victim, 'boom']));
  // A monitor taken after death answers noproc at once.
  let late: unknown;
  node.spawn({ init: (ctx: Ctx) => void (late = ctx.monitor(victim)), handle: (m: unknown, ctx: Ctx) => ctx.send(watcher.pid, m) });
  const down = await watcher.next((m) => Array.isArray(m) && m[1] === late, 'noproc DOWN');
  t.deepEqual(down, ['DOWN', late, 'process', victim, 'noproc']);
});

test('signals: demonitor with flush removes a DOWN already queued', async (t) => {
  const node = await testNode(t);
  const out = recorder(node);
  const victim = node.spawn({ handle: (_m: unknown, ctx: Ctx) => ctx.stop('boom') });
  node.spawn(async (self) => {
    const ref = self.monitor(victim);
    self.send(victim, 'die');
    await self.receive((m) => (m === 'go' ? m : undefined));
    // By now the DOWN sits in the mailbox (the victim died before 'go' was sent).
    const before = self.mailboxLength;
    const removed = self.demonitor(ref, { flush: true });
    self.send(out.pid, ['result', before, removed, self.mailboxLength]);
  });
  await node.waitExit(victim);
  const [p] = [...node.core.procs.values()].filter((x) => x.pid.id !== out.pid.id && x.pid.id !== node.kernelSup.id);
  node.send(p!.pid, 'go');
  const r = await out.next((m) => Array.isArray(m) && m[0] === 'result', 'result');
  t.deepEqual(r, ['result', 1, false, 0], 'the DOWN was flushed (the monitor itself had already fired)');
});

test('signals: a thrown exception ends the process with [error, err] and a crash report', async (t) => {
  const node = await testNode(t);
  const logs = captureLogs(t);
  const p = node.spawn({
    handle: () => {
      throw new TypeError('bad thing');
    },
  });
  node.send(p, 'go');
  const reason = await node.waitExit(p);
  t.true(Array.isArray(reason) && reason[0] === 'error' && reason[1] instanceof TypeError);
  const report = logs.find((l) => l.event === 'crash_report');
  t.truthy(report);
  t.is(report?.level, 'error');
  t.is(report?.fields?.['pid'], p.toString());
  t.regex(String(report?.fields?.['error']), /TypeError: bad thing/);
});

test('signals: a linked chain of 20000 processes dies without overflowing the stack', async (t) => {
  const node = await testNode(t);
  let prev: Pid | undefined;
  const pids: Pid[] = [];
  for (let i = 0; i < 20_000; i++) {
    const link = prev;
    prev = node.spawn({ init: (ctx: Ctx) => (link === undefined ? undefined : ctx.link(link)), handle: () => undefined });
    pids.push(prev);
  }
  const last = recorder(node);
  await last.sync(); // every init ran
  const lastExit = node.waitExit(pids[pids.length - 1]!);
  node.run(() => exit(pids[0]!, 'boom'));
  t.is(await lastExit, 'boom');
});
