/**
 * The scheduler's busy wait (erl's +sbwt): after processes ran, the event loop keeps
 * an immediate pending (so libuv polls without blocking) for the level's threshold,
 * then lets go; `none` never keeps it. Seen from outside through Node's list of
 * active resources, not through timings.
 */
import test from 'ava';
import { busyWait, isBusyWait, setBusyWait, startNode, type BusyWait } from '../../runtime/index.js';
import { waitFor } from '../helpers/wait.js';

const immediates = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Immediate').length;

/** The loop has let go: no immediate pending (waited for from timers, which run no process). */
const slept = (): Promise<boolean> => waitFor(() => immediates() === 0, 'the busy wait to end', 2_000, 5);

/** Have a process run (one drain), synchronously from here: the drain is a microtask. */
async function drainOnce(node: Awaited<ReturnType<typeof startNode>>): Promise<void> {
  await new Promise<void>((resolve) => node.spawn(() => resolve()));
}

test.serial('busy wait: polls after a drain for the threshold, then sleeps; none never polls', async (t) => {
  const before = busyWait();
  t.teardown(() => setBusyWait(before));
  const node = await startNode({ busyWait: 'long' }); // 1 ms
  t.teardown(() => node.stop());
  t.is(busyWait(), 'long');

  t.true(await slept()); // whatever start-up left polling is over
  await drainOnce(node);
  t.true(immediates() >= 1, 'an immediate keeps the loop polling right after the drain');
  t.true(await slept(), 'and it lets go once the threshold has passed');

  setBusyWait('none');
  await drainOnce(node);
  t.is(immediates(), 0);
});

test('busy wait: the levels are those of erl +sbwt', (t) => {
  for (const l of ['none', 'very_short', 'short', 'medium', 'long', 'very_long'] satisfies BusyWait[]) t.true(isBusyWait(l));
  t.false(isBusyWait('forever'));
  t.false(isBusyWait('toString'));
});
