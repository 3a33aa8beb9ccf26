/**
 * broker/connection/keepalive-sweep.ts: the node's keepalive sweep tells a session
 * once when its check is due, leaves the others, and drops the entry of a session that
 * died without forgetting it; end to end, a silent client is still closed after 1.5 ×
 * its keepalive and a talking one never is.
 */
import test from 'ava';
import { KeepaliveTable } from '../../../broker/connection/keepalive-sweep.js';
import { Keepalive } from '../../../broker/connection/keepalive.js';
import { exit, isProcessAlive, startNode, type Pid, type Self } from '../../../runtime/index.js';
import { rawConnected, testBroker } from '../../helpers/broker.js';
import { waitFor } from '../../helpers/wait.js';

test('keepalive-sweep: a due check is sent once, a later one not yet, and a dead session loses its entry', async (t) => {
  const node = await startNode();
  t.teardown(() => node.stop());
  const idle = (): Pid => node.spawn(async (self: Self) => void (await self.receive(() => true, 60_000)));
  const [a, b, dead] = [idle(), idle(), idle()];
  node.run(() => exit(dead, 'kill'));
  await waitFor(() => !node.run(() => isProcessAlive(dead)), 'the kill to land');
  const table = new KeepaliveTable();
  const ka = new Keepalive(10, 0);
  const kb = new Keepalive(10, 0);
  const kd = new Keepalive(10, 0);
  table.watch(ka, a, 1_000);
  table.watch(kb, b, 5_000);
  table.watch(kd, dead, 1_000);
  const sent: Pid[] = [];
  node.run(() => table.sweep(2_000, (p) => sent.push(p)));
  t.deepEqual(sent.map(String), [String(a)], 'only the due one, and not the dead one');
  t.is(table.size, 2, "the dead session's entry is gone");
  node.run(() => table.sweep(3_000, (p) => sent.push(p)));
  t.is(sent.length, 1, 'told once until it sets its next check');
  table.watch(ka, a, 4_000);
  node.run(() => table.sweep(6_000, (p) => sent.push(p)));
  t.deepEqual(sent.slice(1).map(String).sort(), [String(a), String(b)].sort());
  table.forget(ka);
  table.forget(kb);
  t.is(table.size, 0);
});

test('[MQTT-3.1.2-24] keepalive-sweep: a client that keeps talking is never closed; a silent one is, and its entry goes', async (t) => {
  const b = await testBroker(t);
  const talker = (await rawConnected(t, b, { protocolVersion: 4, connect: { clientId: 'talker', keepalive: 1 } })).client;
  const silent = (await rawConnected(t, b, { protocolVersion: 4, connect: { clientId: 'silent', keepalive: 1 } })).client;
  t.is(b.broker.ctx.keepalives.size, 2);
  const closed = silent.expectClosed(5_000);
  // Pings every 500 ms for 3 s: twice the 1.5 s timeout, with sweeps in between.
  for (let i = 0; i < 6; i++) {
    await talker.send({ cmd: 'pingreq' });
    await talker.nextPacket('pingresp');
    await new Promise((r) => setTimeout(r, 500)); // the client's pace, not a wait for the broker
  }
  await closed;
  t.false(talker.closed, 'the talking client is still connected');
  await waitFor(() => b.broker.ctx.keepalives.size === 1, 'the silent connection to leave the table');
});
