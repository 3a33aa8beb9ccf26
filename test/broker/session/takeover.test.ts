/** broker/session/takeover.ts: the data a moving session carries — pendings, subscriptions again, merged deliveries. */
import test from 'ava';
import { mergePendings, pendingOf, resubscribeRequests } from '../../../broker/session/takeover.js';
import { newMessage } from '../../../broker/mqtt/message.js';
import type { SessionSnapshot, SubOpts } from '../../../broker/session/session.js';

const opts = (qos: 0 | 1 | 2, extra: Partial<SubOpts> = {}): SubOpts => ({ qos, nl: false, rap: false, rh: 0, ...extra });
const msg = (qos: 0 | 1 | 2, retain = false) => newMessage({ qos, topic: 't/x', payload: 'p', from: 'pub', retain }, 1_000);

test('takeover: a pending delivery goes out at the lower of the two QoS, retain only with Retain As Published', (t) => {
  const m = msg(2, true);
  t.is(pendingOf(opts(1), m).qos, 1);
  t.is(pendingOf(opts(2), m).qos, 2);
  t.is(pendingOf(opts(0), msg(1)).qos, 0);
  t.false(pendingOf(opts(2), m).retain);
  t.true(pendingOf(opts(2, { rap: true }), m).retain);
  t.is(pendingOf(opts(1, { subId: 7 }), m).subId, 7);
});

test('takeover: the moved session subscribes again to each valid filter, shared ones included', (t) => {
  const snap: SessionSnapshot = {
    clientId: 'c',
    subscriptions: [['a/+', opts(1)], ['$share/g/b/#', opts(2, { share: 'g' })], ['bad/#/x', opts(0)]],
    inflight: [],
    mqueue: [],
    awaitingRel: [],
    lastPacketId: 0,
  };
  const reqs = resubscribeRequests(snap);
  t.deepEqual(reqs.map((r) => r.raw), ['a/+', '$share/g/b/#']);
  t.is(reqs[0]!.opts.qos, 1);
});

test('takeover: merged deliveries are the old session\'s first, then the new one\'s, each message once', (t) => {
  const [a, b, c, d] = [msg(1), msg(1), msg(1), msg(1)];
  const p = (m: typeof a) => pendingOf(opts(1), m);
  const seen = new Set([a.id]); // already restored from the snapshot
  const out = mergePendings(seen, [p(a), p(b), p(c)], [p(c), p(d), p(b)]);
  t.deepEqual(out.map((x) => x.msg.id), [b.id, c.id, d.id]);
  t.deepEqual([...seen].sort(), [a.id, b.id, c.id, d.id].sort());
});
