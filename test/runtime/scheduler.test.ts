/**
 * The scheduler: a busy process never starves timers or I/O, parked processes keep
 * their mailbox, and a slice alternates fairly between runnable processes.
 */
import test from 'ava';
import type { Ctx } from '../../runtime/index.js';
import { REDUCTIONS } from '../../runtime/process/scheduler.js';
import { recorder, testNode } from '../helpers/runtime.js';

test('scheduler: a process that sends itself messages forever does not stop a timer from firing', async (t) => {
  const node = await testNode(t);
  let spins = 0;
  const busy = node.spawn({
    init: (ctx: Ctx) => ctx.send(ctx.self, 'spin'),
    handle: (_m: unknown, ctx: Ctx) => {
      spins++;
      ctx.send(ctx.self, 'spin');
    },
  });
  // A Node timer and a runtime timer both fire while the busy process keeps going.
  await new Promise<void>((resolve) => setTimeout(resolve, 20));
  const out = recorder(node);
  node.core.sendAfter(out.pid, 'tick', 20);
  await out.next((m) => m === 'tick', 'the sendAfter timer');
  t.true(spins > 0);
  t.true(node.core.isAlive(busy));
  node.run(() => node.core.lookup(busy)!.exit(busy, 'kill'));
});

test('scheduler: two busy processes share the slices (neither monopolises the run queue)', async (t) => {
  const node = await testNode(t);
  const counts = [0, 0];
  const mk = (i: number) =>
    node.spawn({
      init: (ctx: Ctx) => ctx.send(ctx.self, 'go'),
      handle: (_m: unknown, ctx: Ctx) => {
        counts[i]!++;
        ctx.send(ctx.self, 'go');
      },
    });
  const a = mk(0);
  const b = mk(1);
  const out = recorder(node);
  node.core.sendAfter(out.pid, 'stop', 30);
  await out.next((m) => m === 'stop', 'the stop timer');
  node.run(() => {
    node.core.lookup(a)!.exit(a, 'kill');
    node.core.lookup(b)!.exit(b, 'kill');
  });
  // Each turn gives a process at most REDUCTIONS messages, then the other runs.
  t.true(Math.abs(counts[0]! - counts[1]!) <= REDUCTIONS, `counts ${counts.join('/')}`);
  t.true(counts[0]! > REDUCTIONS && counts[1]! > REDUCTIONS);
});

test('scheduler: a parked process queues messages and handles them after its promise settles', async (t) => {
  const node = await testNode(t);
  const out = recorder(node);
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const seen: unknown[] = [];
  const p = node.spawn({
    handle: (m: unknown, ctx: Ctx) => {
      seen.push(m);
      if (m === 'park') return gate.then(() => ctx.send(out.pid, 'released'));
      if (m === 'last') ctx.send(out.pid, 'done');
      return undefined;
    },
  });
  node.send(p, 'park');
  node.send(p, 'a');
  node.send(p, 'last');
  await out.sync();
  t.deepEqual(seen, ['park'], 'parked: later messages wait');
  t.is(node.core.lookup(p)!.mailbox.length, 2);
  release();
  await out.next((m) => m === 'done', 'the queued messages');
  t.deepEqual(seen, ['park', 'a', 'last']);
  t.deepEqual(out.messages, ['released', 'done']);
});

test('scheduler: a rejected promise from a step crashes the process with [error, err]', async (t) => {
  const node = await testNode(t);
  const p = node.spawn({ handle: () => Promise.reject(new RangeError('async boom')) });
  const exited = node.waitExit(p);
  node.send(p, 'go');
  const r = await exited;
  t.true(Array.isArray(r) && r[0] === 'error' && r[1] instanceof RangeError);
});
