/**
 * Opening sessions on one node: a new client id takes its lock in the registry's
 * table and starts its session without an opener process (open-session.ts); a second
 * connection with the id at the same moment goes the long way and waits for that lock.
 * Real TCP clients against a broker in this process, and the lock table on its own.
 */
import test from 'ava';
import { RegistryTable } from '../../../broker/cm/registry-table.js';
import { Pid, supervisor } from '../../../runtime/index.js';
import { rawClient, roundTrip, testBroker } from '../../helpers/broker.js';
import { waitFor } from '../../helpers/wait.js';

test('open: 50 pairs of connections racing with one new client id each — the second takes the first\'s session over (Session Present), one session and one registry entry per id, no lock left', async (t) => {
  const b = await testBroker(t);
  const ctx = b.broker.ctx;
  const pairs = 50;
  const ids = Array.from({ length: pairs }, (_, i) => `race-${i}`);
  const clients = await Promise.all(ids.map(async () => [await rawClient(t, b, { protocolVersion: 5 }), await rawClient(t, b, { protocolVersion: 5 })] as const));
  // Both CONNECTs of a pair leave in one turn: the broker reads them in either order.
  // Persistent sessions: the one that waited for the lock finds the first's session.
  const connect = { clean: false, properties: { sessionExpiryInterval: 60 } };
  await Promise.all(clients.flatMap(([a, c], i) => [a.sendConnect({ clientId: ids[i]!, ...connect }), c.sendConnect({ clientId: ids[i]!, ...connect })]));
  for (const [i, pair] of clients.entries()) {
    const acks = [];
    for (const c of pair) acks.push(await c.nextPacket('connack'));
    t.deepEqual(acks.map((a) => a.reasonCode), [0, 0], `${ids[i]}: both answered`);
    t.deepEqual(acks.map((a) => a.sessionPresent).sort(), [false, true], `${ids[i]}: one started the session, the other took it over`);
    const winner = pair[acks[0]!.sessionPresent ? 0 : 1];
    const loser = pair[acks[0]!.sessionPresent ? 1 : 0];
    t.is((await loser.nextPacket('disconnect')).reasonCode, 0x8e, `${ids[i]}: the first is told it was taken over`);
    await loser.expectClosed();
    await roundTrip(winner);
    t.false(winner.closed, `${ids[i]}: the second stays connected`);
  }
  t.is(ctx.metrics.takeovers, pairs);
  await waitFor(() => ctx.registry.locks.size === 0, 'every lock released');
  for (const id of ids) {
    const pid = ctx.sessions.get(id);
    t.truthy(pid, `${id}: a session`);
    t.true(ctx.registry.entries.get(id)?.pid.equals(pid!) === true, `${id}: the registry names that session`);
  }
});

test('open: a new id whose session cannot start is refused with 0x89 (Server Busy) and its lock is released', async (t) => {
  const b = await testBroker(t);
  const ctx = b.broker.ctx;
  // session_sup gone (as while the broker restarts it): the start fails at once.
  await b.node.run(() => supervisor.terminateChild(b.broker.sup, 'session_sup'));
  const c = await rawClient(t, b, { protocolVersion: 5 });
  await c.sendConnect({ clientId: 'nowhere', clean: true });
  t.is((await c.nextPacket('connack')).reasonCode, 0x89);
  await c.expectClosed();
  await waitFor(() => ctx.registry.locks.size === 0, 'the lock released');
  t.false(ctx.sessions.has('nowhere'));
});

test('open: the registry table — a new id\'s free lock is taken once; a held lock, a known id or a will waiting sends the claim to the registry', (t) => {
  const r = new RegistryTable();
  t.true(r.tryClaimNew('a'));
  t.false(r.tryClaimNew('a'), 'held: the next one waits at the registry');
  t.is(r.tryClaim('a', undefined), 'busy');
  const pid = new Pid('n@h', 1, 0, 1);
  const reg = { node: 'n@h', pid, will: undefined, since: 1 };
  r.entries.set('b', reg);
  t.false(r.tryClaimNew('b'), 'a known id may have a session to take over');
  t.is(r.tryClaim('b', pid), reg, 'a free lock on a known id is taken, with its entry');
  t.is(r.tryClaim('b', pid), 'busy');
  r.wills.set('c', { msg: undefined as never, timer: undefined as never });
  t.false(r.tryClaimNew('c'), 'a will waiting is for the registry to cancel');
  t.is(r.tryClaim('c', pid), 'busy');
  t.deepEqual([...r.locks.keys()], ['a', 'b']);
});
