/**
 * GenServer as OTP's gen_server: call/cast/info, deferred replies, stop and terminate,
 * and calls that fail with Erlang's reasons (noproc, timeout, the server's exit reason).
 */
import test from 'ava';
import { ExitError, genServer, type GenServer, type Pid, serverName, type Reason } from '../../runtime/index.js';
import { captureLogs, recorder, testNode } from '../helpers/runtime.js';

interface CounterProtocol {
  calls: {
    get: { args: []; reply: number };
    add: { args: [n: number]; reply: number };
    later: { args: []; reply: string };
    crash: { args: []; reply: never };
    stop_with: { args: [reason: Reason]; reply: 'bye' };
    sleep: { args: []; reply: 'never' };
  };
  casts: { inc: { args: [] }; release: { args: [] } };
  info: 'bump';
}

interface CState {
  n: number;
  pending: genServer.From[];
}

const terminated: [Reason, number][] = [];

const counter: GenServer<CounterProtocol, CState, number> = {
  init: (n) => genServer.ok({ n, pending: [] }),
  handleCall(req, from, s) {
    switch (req[0]) {
      case 'get':
        return genServer.reply(s.n, s);
      case 'add':
        return genServer.reply(s.n + req[1], { ...s, n: s.n + req[1] });
      case 'later':
        s.pending.push(from);
        return genServer.noreply(s);
      case 'crash':
        throw new Error('crash in handleCall');
      case 'stop_with':
        return genServer.stop(req[1], s, 'bye' as const);
      case 'sleep':
        return genServer.noreply(s);
    }
  },
  handleCast(msg, s, ctx) {
    switch (msg[0]) {
      case 'inc':
        return genServer.noreply({ ...s, n: s.n + 1 });
      case 'release':
        for (const f of s.pending) genServer.replyTo(f, `released by ${ctx.self.id}`);
        return genServer.noreply({ ...s, pending: [] });
    }
  },
  handleInfo(msg, s, ctx) {
    if (msg === 'bump') return genServer.noreply({ ...s, n: s.n + 100 });
    return genServer.unexpected(ctx.log, 'info', msg, s);
  },
  terminate(reason, s) {
    terminated.push([reason, s.n]);
  },
};

const COUNTER = serverName<CounterProtocol>('counter');

test.serial('gen_server: call, cast and info update the state in order', async (t) => {
  const node = await testNode(t);
  const pid = await node.run(() => genServer.start(counter, 5, { name: 'counter' }));
  t.is(node.whereis('counter')?.id, pid.id);
  t.is(await node.run(() => genServer.call(COUNTER, ['add', 2])), 7);
  node.run(() => genServer.cast(COUNTER, ['inc']));
  node.send(pid, 'bump');
  t.is(await node.run(() => genServer.call(COUNTER, ['get'])), 108);
});

test.serial('gen_server: a deferred reply (noreply now, replyTo later) reaches each caller', async (t) => {
  const node = await testNode(t);
  const pid = await node.run(() => genServer.start(counter, 0));
  const a = node.run(() => genServer.call<CounterProtocol, readonly ['later']>(pid, ['later']));
  const b = node.run(() => genServer.call<CounterProtocol, readonly ['later']>(pid, ['later']));
  node.run(() => genServer.cast<CounterProtocol>(pid, ['release']));
  t.deepEqual(await Promise.all([a, b]), [`released by ${pid.id}`, `released by ${pid.id}`]);
});

test.serial('gen_server: call to a missing name or dead pid rejects with noproc', async (t) => {
  const node = await testNode(t);
  const e1 = await t.throwsAsync(node.run(() => genServer.call(COUNTER, ['get'])), { instanceOf: ExitError });
  t.is(e1?.reason, 'noproc');
  const pid = await node.run(() => genServer.start(counter, 0));
  await node.run(() => genServer.stopServer(pid));
  const e2 = await t.throwsAsync(node.run(() => genServer.call<CounterProtocol, readonly ['get']>(pid, ['get'])), { instanceOf: ExitError });
  t.is(e2?.reason, 'noproc');
});

test.serial('gen_server: call times out with reason timeout, and a late reply is dropped', async (t) => {
  const node = await testNode(t);
  const pid = await node.run(() => genServer.start(counter, 0));
  const e = await t.throwsAsync(node.run(() => genServer.call<CounterProtocol, readonly ['sleep']>(pid, ['sleep'], 30)), { instanceOf: ExitError });
  t.is(e?.reason, 'timeout');
  t.deepEqual(e?.detail, ['gen_server', 'call', [pid, ['sleep']]]);
  t.deepEqual([...node.core.aliases.keys()], [0], 'no reply handle is left behind (0 is the entry kept, see NodeCore.aliases)');
  t.is(await node.run(() => genServer.call<CounterProtocol, readonly ['get']>(pid, ['get'])), 0, 'the server is fine');
});

test.serial('gen_server: a crash in handleCall fails the call with the exit reason and runs terminate', async (t) => {
  const node = await testNode(t);
  const logs = captureLogs(t);
  const pid = await node.run(() => genServer.start(counter, 41));
  terminated.length = 0;
  const e = await t.throwsAsync(node.run(() => genServer.call<CounterProtocol, readonly ['crash']>(pid, ['crash'])), { instanceOf: ExitError });
  t.true(Array.isArray(e?.reason) && e.reason[0] === 'error');
  t.deepEqual(terminated.map(([r, n]): unknown[] => [Array.isArray(r) ? (r[0] as unknown) : r, n]), [['error', 41]]);
  const report = logs.find((l) => l.event === 'crash_report');
  t.is(report?.fields?.['behaviour'], 'gen_server');
  t.regex(String(report?.fields?.['last_message']), /crash/);
});

test.serial('gen_server: stop with a reply answers the caller first, then terminates with the reason', async (t) => {
  const node = await testNode(t);
  const pid = await node.run(() => genServer.start(counter, 9));
  terminated.length = 0;
  const exited = node.waitExit(pid);
  t.is(await node.run(() => genServer.call<CounterProtocol, readonly ['stop_with', Reason]>(pid, ['stop_with', 'normal'])), 'bye');
  t.is(await exited, 'normal');
  t.deepEqual(terminated, [['normal', 9]]);
});

test.serial('gen_server: a mid-call exit of the server rejects the call with that reason', async (t) => {
  const node = await testNode(t);
  const pid = await node.run(() => genServer.start(counter, 0));
  const pending = node.run(() => genServer.call<CounterProtocol, readonly ['sleep']>(pid, ['sleep'], 5000));
  await node.run(() => genServer.call<CounterProtocol, readonly ['get']>(pid, ['get'])); // the sleep call was taken
  node.run(() => node.core.lookup(pid)!.exit(pid, 'kill'));
  const e = await t.throwsAsync(pending, { instanceOf: ExitError });
  t.is(e?.reason, 'killed');
});

test.serial('gen_server: init stop rejects start with the reason; unexpected messages are logged and ignored', async (t) => {
  const node = await testNode(t);
  const logs = captureLogs(t);
  const bad: GenServer<CounterProtocol, CState, void> = { init: () => genServer.stop('no_way') };
  const e = await t.throwsAsync(node.run(() => genServer.start(bad, undefined)), { instanceOf: ExitError });
  t.is(e?.reason, 'no_way');
  const pid = await node.run(() => genServer.start(counter, 1));
  node.send(pid, ['what', 'is', 'this']);
  t.is(await node.run(() => genServer.call<CounterProtocol, readonly ['get']>(pid, ['get'])), 1);
  const u = logs.find((l) => l.event === 'unexpected_info');
  t.is(u?.level, 'warn');
  t.regex(String(u?.fields?.['msg']), /what/);
});

test.serial('gen_server: startLink links to the calling process; a trapping server terminates when its parent exits', async (t) => {
  const node = await testNode(t);
  const out = recorder(node);
  terminated.length = 0;
  let child: Pid | undefined;
  const parent = node.spawn(async (self) => {
    child = await genServer.startLink(counter, 3, { trapExit: true });
    self.send(out.pid, 'started');
    await self.receive((m) => (m === 'die' ? m : undefined));
    throw new Error('parent dies');
  });
  await out.next((m) => m === 'started', 'child started');
  t.deepEqual(node.core.lookup(child!)!.links?.has(parent.key), true);
  const childExit = node.waitExit(child!);
  node.send(parent, 'die');
  const r = await childExit;
  t.true(Array.isArray(r) && r[0] === 'error');
  t.is(terminated.length, 1, 'terminate ran in the child');
});

test.serial('gen_server: stopServer runs terminate and resolves once the server is gone', async (t) => {
  const node = await testNode(t);
  const pid = await node.run(() => genServer.start(counter, 77, { name: 'counter' }));
  terminated.length = 0;
  await node.run(() => genServer.stopServer('counter', 'shutdown'));
  t.deepEqual(terminated, [['shutdown', 77]]);
  t.false(node.core.isAlive(pid));
  t.is(node.whereis('counter'), undefined);
});

test.serial('gen_server: a server can await a call to another server (it parks, others keep running)', async (t) => {
  const node = await testNode(t);
  const inner = await node.run(() => genServer.start(counter, 10));
  interface P {
    calls: { relay: { args: []; reply: number } };
  }
  const relay: GenServer<P, null, void> = {
    init: () => genServer.ok(null),
    async handleCall(_req, _from, s) {
      const v = await genServer.call<CounterProtocol, readonly ['add', number]>(inner, ['add', 5]);
      return genServer.reply(v, s);
    },
  };
  const r = await node.run(() => genServer.start(relay, undefined));
  const results = await Promise.all([1, 2, 3].map(() => node.run(() => genServer.call<P, readonly ['relay']>(r, ['relay']))));
  t.deepEqual(results, [15, 20, 25]);
});

test.serial('gen_server: spawnLink returns the pid before init runs; the server is linked and serves', async (t) => {
  const node = await testNode(t);
  const out = recorder(node);
  let initRan = false;
  const lazy: GenServer<CounterProtocol, CState, number> = {
    ...counter,
    init: (n) => {
      initRan = true;
      return genServer.ok({ n, pending: [] });
    },
  };
  node.spawn(async (self) => {
    const pid = genServer.spawnLink(lazy, 4);
    self.send(out.pid, ['spawned', pid, initRan]);
    self.send(out.pid, ['got', await genServer.call<CounterProtocol, readonly ['get']>(pid, ['get']), node.core.lookup(pid)!.links?.has(self.self.key)]);
  });
  const spawned = (await out.next((m) => Array.isArray(m) && m[0] === 'spawned', 'spawned')) as unknown[];
  t.is(spawned[2], false, 'init had not run when the pid came back');
  t.deepEqual(await out.next((m) => Array.isArray(m) && m[0] === 'got', 'get answered'), ['got', 4, true]);
});

test.serial('gen_server: a spawnLink whose init fails exits with the reason, and the link tells the parent', async (t) => {
  const node = await testNode(t);
  const out = recorder(node);
  const bad: GenServer<CounterProtocol, CState, void> = { init: () => genServer.stop('no_way') };
  node.spawn(async (self) => {
    self.trapExit(true);
    const pid = genServer.spawnLink(bad, undefined);
    const exit = await self.receive((m) => (Array.isArray(m) && m[0] === 'EXIT' ? m : undefined), 5_000);
    self.send(out.pid, ['exit', pid, exit]);
  });
  const [, pid, exit] = (await out.next((m) => Array.isArray(m) && m[0] === 'exit', 'EXIT from the child')) as [string, Pid, unknown[]];
  t.true((exit[1] as Pid).equals(pid));
  t.is(exit[2], 'no_way');
});

interface LogProtocol {
  calls: { seen: { args: []; reply: string[] }; boom: { args: []; reply: never } };
  casts: { note: { args: [what: string] }; crash: { args: [] }; self_note: { args: [what: string] } };
  info: readonly ['note', string];
}
/** Every note logServer handled, in order, as it handles it (visible without asking it). */
const handledNotes: string[] = [];
const logServer: GenServer<LogProtocol, string[], void> = {
  init: () => genServer.ok([]),
  handleCall(req, _from, s) {
    if (req[0] === 'boom') throw new Error('boom');
    return genServer.reply([...s], s);
  },
  handleCast(msg, s, ctx) {
    if (msg[0] === 'crash') throw new Error('boom');
    if (msg[0] === 'self_note') {
      // Inside its own turn the server is not waiting: castHere must fall back to a message.
      genServer.castHere<LogProtocol>(ctx, ctx.self, ['note', `${msg[1]}:later`]);
      s.push(`${msg[1]}:now`);
      return genServer.noreply(s);
    }
    s.push(msg[1]);
    handledNotes.push(msg[1]);
    return genServer.noreply(s);
  },
  handleInfo: (msg, s) => {
    s.push(`info:${(msg as readonly ['note', string])[1]}`);
    return genServer.noreply(s);
  },
};

test('gen_server: castHere runs the cast in a waiting server at once, after anything queued otherwise, and a crash there ends only the server', async (t) => {
  const node = await testNode(t);
  const server = await node.run(() => genServer.start(logServer, undefined));
  const out = await new Promise<{ atOnce: string[]; queued: string[]; after: string[]; callerAlive: boolean }>((resolve) => {
    node.spawn(async (self) => {
      genServer.castHere<LogProtocol>(self, server, ['note', 'a']);
      // Handled before castHere returned, in this turn.
      const atOnce = [...handledNotes];
      // A message already queued comes first: the cast is sent after it, not run ahead.
      self.send(server, ['note', 'queued']);
      genServer.castHere<LogProtocol>(self, server, ['note', 'b']);
      genServer.castHere<LogProtocol>(self, server, ['self_note', 'c']);
      const queued = await genServer.call<LogProtocol, readonly ['seen']>(server, ['seen']);
      // Its own cast to itself went behind that call.
      const after = await genServer.call<LogProtocol, readonly ['seen']>(server, ['seen']);
      const gone = new Promise<void>((r) => {
        self.monitor(server);
        void self.receive((m) => (Array.isArray(m) && m[0] === 'DOWN' ? m : undefined)).then(() => r());
      });
      genServer.castHere<LogProtocol>(self, server, ['crash']);
      await gone;
      resolve({ atOnce, queued, after, callerAlive: node.core.lookup(self.self) !== undefined });
    });
  });
  t.deepEqual(out.atOnce, ['a']);
  t.deepEqual(out.queued, ['a', 'info:queued', 'b', 'c:now']);
  t.deepEqual(out.after, ['a', 'info:queued', 'b', 'c:now', 'c:later']);
  t.true(out.callerAlive);
});

test('gen_server: callHere answers a waiting server\'s reply in the caller\'s turn; a deferred reply, a busy server and a crash go as a call does', async (t) => {
  const node = await testNode(t);
  const pid = await node.run(() => genServer.start(counter, 1));
  const log = await node.run(() => genServer.start(logServer, undefined));
  type Out = { now: unknown; laterWaits: boolean; later: unknown; busyWaits: boolean; busy: unknown; boom: unknown };
  const out = await new Promise<Out>((resolve) => {
    node.spawn(async (self) => {
      const now = genServer.callHere<CounterProtocol, readonly ['add', number]>(self, pid, ['add', 2]);
      // Answered later (noreply, then replyTo): a promise, as call gives.
      const later = genServer.callHere<CounterProtocol, readonly ['later']>(self, pid, ['later']);
      genServer.cast<CounterProtocol>(pid, ['release']);
      self.send(pid, 'bump');
      // Messages queued before it: a plain call, answered after them.
      const busy = genServer.callHere<CounterProtocol, readonly ['get']>(self, pid, ['get']);
      const boom = genServer.callHere<LogProtocol, readonly ['boom']>(self, log, ['boom']);
      resolve({
        now,
        laterWaits: later instanceof Promise,
        later: await later,
        busyWaits: busy instanceof Promise,
        busy: await busy,
        boom: await Promise.resolve(boom).then(
          () => 'answered',
          (e: unknown) => e,
        ),
      });
    });
  });
  t.is(out.now, 3);
  t.true(out.laterWaits);
  t.is(out.later, `released by ${pid.id}`);
  t.true(out.busyWaits);
  t.is(out.busy, 103);
  t.true(out.boom instanceof ExitError);
  t.is(((out.boom as ExitError).reason as readonly unknown[])[0], 'error');
});
