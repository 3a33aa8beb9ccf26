import test from 'ava';
import { Timers } from '../../runtime/process/timers.js';
import { SimulatedClock } from '../helpers/clock.js';
import { recorder, testNode } from '../helpers/runtime.js';

test('timers: fire in deadline order across durations, once each', (t) => {
  const clock = new SimulatedClock();
  const timers = new Timers(clock);
  const fired: string[] = [];
  timers.after(30, () => fired.push('30a'));
  timers.after(10, () => fired.push('10'));
  timers.after(30, () => fired.push('30b'));
  timers.after(20, () => fired.push('20'));
  clock.advance(15);
  t.deepEqual(fired, ['10']);
  clock.advance(100);
  t.deepEqual(fired, ['10', '20', '30a', '30b']);
  t.is(timers.pending(), 0);
  t.is(clock.timersPending, 0, 'no clock timer left armed');
});

test('timers: cancel returns the time left, and a cancelled head re-arms the next', (t) => {
  const clock = new SimulatedClock();
  const timers = new Timers(clock);
  const fired: string[] = [];
  const a = timers.after(50, () => fired.push('a'));
  clock.advance(10);
  timers.after(50, () => fired.push('b'));
  t.is(timers.cancel(a), 40);
  t.false(timers.cancel(a), 'a second cancel says false');
  clock.advance(45);
  t.deepEqual(fired, []);
  clock.advance(5);
  t.deepEqual(fired, ['b']);
  t.false(timers.remaining(a));
});

test('timers: a callback may set a timer of the same duration', (t) => {
  const clock = new SimulatedClock();
  const timers = new Timers(clock);
  let n = 0;
  const again = (): void => {
    if (++n < 5) timers.after(10, again);
  };
  timers.after(10, again);
  clock.advance(100);
  t.is(n, 5);
  t.is(clock.timersPending, 0);
});

test('timers: sendAfter delivers; cancelTimer stops it and tells the time left', async (t) => {
  const clock = new SimulatedClock();
  const node = await testNode(t, { clock });
  const out = recorder(node);
  node.core.sendAfter(out.pid, 'a', 100);
  const b = node.core.sendAfter(out.pid, 'b', 200);
  clock.advance(150);
  t.is(node.core.cancelTimer(b), 50);
  t.false(node.core.cancelTimer(b));
  clock.advance(100);
  await out.sync();
  t.deepEqual(out.messages, ['a']);
});
