/**
 * Async processes with selective receive: the save queue keeps skipped messages in
 * order, per-sender FIFO holds, timeouts, and an exit signal ends a waiting receive.
 */
import test from 'ava';
import fc from 'fast-check';
import { ExitSignal, TIMEOUT, type Pid } from '../../runtime/index.js';
import { recorder, testNode } from '../helpers/runtime.js';

test('receive: selective receive takes the first match and leaves the rest in order (property)', async (t) => {
  const node = await testNode(t);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 9 }), async (msgs, want) => {
      const out = recorder(node);
      const p = node.spawn(async (self) => {
        await self.receive((m) => (m === 'go' ? m : undefined));
        const got = await self.receive((m) => (m === want ? m : undefined), 0);
        const rest: unknown[] = [];
        for (;;) {
          const m = await self.receive((x) => x, 0);
          if (m === TIMEOUT) break;
          rest.push(m);
        }
        self.send(out.pid, ['done', got, rest]);
      });
      for (const m of msgs) node.send(p, m);
      node.send(p, 'go');
      const [, got, rest] = (await out.next((m) => Array.isArray(m) && m[0] === 'done', 'done')) as [string, unknown, unknown[]];
      const i = msgs.indexOf(want);
      const expectRest = i < 0 ? msgs : [...msgs.slice(0, i), ...msgs.slice(i + 1)];
      return (i < 0 ? got === TIMEOUT : got === want) && JSON.stringify(rest) === JSON.stringify(expectRest);
    }),
    { numRuns: 60 },
  );
  t.pass();
});

test('receive: messages from one sender arrive in the order sent, across many senders', async (t) => {
  const node = await testNode(t);
  const out = recorder(node);
  const collector = node.spawn(async (self) => {
    const seen = new Map<string, number[]>();
    for (let i = 0; i < 4 * 500; i++) {
      const m = (await self.receive()) as [string, number];
      (seen.get(m[0]) ?? seen.set(m[0], []).get(m[0])!).push(m[1]);
    }
    self.send(out.pid, ['seen', [...seen.values()]]);
  });
  for (const name of ['a', 'b', 'c', 'd']) {
    node.spawn(async (self) => {
      for (let i = 0; i < 500; i++) {
        self.send(collector, [name, i]);
        if (i % 50 === 0) await Promise.resolve();
      }
    });
  }
  const [, lists] = (await out.next((m) => Array.isArray(m) && m[0] === 'seen', 'collector')) as [string, number[][]];
  t.is(lists.length, 4);
  for (const l of lists) t.deepEqual(l, Array.from({ length: 500 }, (_, i) => i));
});

test('receive: a timeout resolves with TIMEOUT and a later message is still received', async (t) => {
  const node = await testNode(t);
  const out = recorder(node);
  const p = node.spawn(async (self) => {
    const first = await self.receive((m) => (m === 'x' ? m : undefined), 20);
    self.send(out.pid, ['first', first === TIMEOUT ? 'timeout' : first]);
    const second = await self.receive((m) => (m === 'x' ? m : undefined));
    self.send(out.pid, ['second', second]);
  });
  await out.next((m) => Array.isArray(m) && m[0] === 'first', 'first receive');
  node.send(p, 'x');
  await out.next((m) => Array.isArray(m) && m[0] === 'second', 'second receive');
  t.deepEqual(out.messages, [['first', 'timeout'], ['second', 'x']]);
});

test('receive: an exit signal rejects a waiting receive with ExitSignal and ends the process', async (t) => {
  const node = await testNode(t);
  const out = recorder(node);
  let caught: unknown;
  const victim: Pid = node.spawn(async (self) => {
    try {
      self.send(out.pid, 'waiting');
      await self.receive((m) => (m === 'never' ? m : undefined));
    } catch (e) {
      caught = e;
      throw e;
    }
  });
  await out.next((m) => m === 'waiting', 'the victim waits');
  const exited = node.waitExit(victim);
  node.run(() => node.core.lookup(victim)!.exit(victim, 'boom'));
  t.is(await exited, 'boom');
  t.true(caught instanceof ExitSignal);
  t.is((caught as ExitSignal).reason, 'boom');
});

test('receive: a trapping async process gets exit signals as messages', async (t) => {
  const node = await testNode(t);
  const out = recorder(node);
  const p = node.spawn(async (self) => {
    self.trapExit(true);
    const partner = self.spawnLink(async (s2) => {
      await s2.receive((m) => (m === 'die' ? m : undefined));
      throw new ExitSignal('bye');
    });
    self.send(partner, 'die');
    const m = await self.receive((x) => (Array.isArray(x) && x[0] === 'EXIT' ? x : undefined), 5000);
    self.send(out.pid, m);
  });
  const m = (await out.next((x) => Array.isArray(x), 'EXIT message')) as unknown[];
  t.is(m[0], 'EXIT');
  t.is(m[2], 'bye');
  await out.sync();
  t.false(node.core.isAlive(p), 'the async process ended after reporting');
});
