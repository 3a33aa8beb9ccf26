/**
 * broker/routing/broker.ts subscribeHere: on a lone node a session subscribes in its
 * own turn (no call to the broker), and the broker, told by a cast, still monitors it,
 * so a session that ends — even before the broker has read the cast — leaves no
 * subscription and no route behind.
 */
import test from 'ava';
import { subscribeHere, type SubscribeRequest } from '../../../broker/routing/broker.js';
import { exit, type Self } from '../../../runtime/index.js';
import { testBroker } from '../../helpers/broker.js';
import { waitFor } from '../../helpers/wait.js';

const req = (filter: string): SubscribeRequest => ({ raw: filter, filter, opts: { qos: 1, nl: false, rap: false, rh: 0 } });

test('subscribeHere: the tables are written in the caller\'s turn; a caller that ends at once leaves nothing behind', async (t) => {
  const b = await testBroker(t);
  const ctx = b.broker.ctx;
  let seen: { granted: number[] | undefined; subscribedAlready: boolean; routedAlready: boolean } | undefined;
  b.node.spawn((self: Self) => {
    const granted = subscribeHere(self, ctx, 'here-1', [req('here/a/+'), req('here/b')]);
    seen = { granted, subscribedAlready: ctx.subs.filters().includes('here/a/+'), routedAlready: ctx.routes.all().some((r) => r.filter === 'here/b') };
    // Ends in the same turn: the broker's monitor is set up after, and answers DOWN at once.
  });
  await waitFor(() => seen, 'the subscriber to run');
  t.deepEqual(seen!.granted, [1, 1]);
  t.true(seen!.subscribedAlready, 'subscribed before the call returned');
  t.true(seen!.routedAlready, 'and routed');
  await waitFor(() => !ctx.subs.filters().some((f) => f.startsWith('here/')), 'the subscriptions of the ended process to go');
  await waitFor(() => !ctx.routes.all().some((r) => r.filter.startsWith('here/')), 'and its routes');
  t.false(ctx.broker.monitored.size > 0, 'the broker no longer counts it as monitored');
});

test('subscribeHere: after the broker restarts, a new subscriber is monitored by the new broker', async (t) => {
  const b = await testBroker(t);
  const ctx = b.broker.ctx;
  const before = ctx.broker;
  const old = b.node.whereis('broker')!;
  b.node.run(() => exit(old, 'kill'));
  await waitFor(() => { const p = b.node.whereis('broker'); return p !== undefined && p.toString() !== old.toString(); }, 'the broker to restart');
  t.not(ctx.broker, before, 'a new ledger: the old monitors died with the old broker');
  let stop: (() => void) | undefined;
  const pid = b.node.spawn(async (self: Self) => {
    t.deepEqual(subscribeHere(self, ctx, 'here-2', [req('here/c')]), [1]);
    await new Promise<void>((r) => (stop = r));
  });
  await waitFor(() => stop, 'the subscriber to run');
  await waitFor(() => ctx.routes.all().some((r) => r.filter === 'here/c'), 'its route');
  b.node.run(() => exit(pid, 'kill'));
  await waitFor(() => !ctx.routes.all().some((r) => r.filter === 'here/c'), 'its route to go with it');
  t.false(ctx.subs.filters().includes('here/c'));
});
