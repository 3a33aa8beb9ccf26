import test from 'ava';
import { microtask } from '../../runtime/process/microtask.js';

test('microtask: runs after the current job, before timers, in order with promise reactions and queueMicrotask', async (t) => {
  const seen: string[] = [];
  const timer = new Promise<void>((resolve) => setTimeout(() => (seen.push('timer'), resolve()), 0));
  microtask(() => seen.push('a'));
  void Promise.resolve().then(() => seen.push('promise'));
  queueMicrotask(() => seen.push('queueMicrotask'));
  microtask(() => {
    seen.push('b');
    microtask(() => seen.push('nested'));
  });
  seen.push('sync');
  await timer;
  t.deepEqual(seen, ['sync', 'a', 'promise', 'queueMicrotask', 'b', 'nested', 'timer']);
});
