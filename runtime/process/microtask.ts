/**
 * `microtask(fn)`: run `fn` when the current job ends, as `queueMicrotask` does, for the
 * runtime's per-turn flushes and scheduler drains. Node's `queueMicrotask` wraps every
 * callback in an AsyncResource, a bound function and a `runInAsyncScope` closure
 * (about 600 bytes and a few hundred ns each; a connect storm queued three or four per
 * client); a reaction on a settled promise is one small object. Both go on V8's one
 * microtask queue, so the order between them is kept. An exception thrown by `fn` is an
 * unhandled rejection, which ends the Node process as an exception from a
 * `queueMicrotask` callback does.
 */
const SETTLED: Promise<void> = Promise.resolve();

export function microtask(fn: () => void): void {
  void SETTLED.then(fn);
}
