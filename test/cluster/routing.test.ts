/**
 * A three-node cluster of OS processes: route replication (the seed example), a
 * publish forwarded at most once per node, SUBACK meaning "reachable from anywhere",
 * and a node killed under traffic.
 */
import test from 'ava';
import { mqttClient, startCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait.js';

test.serial('cluster: the seed example — every route table is exactly the union, and t/a is forwarded once to each matching node', async (t) => {
  const c = await startCluster(t, 3);
  await c.joinAll();
  const [n1, n2, n3] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0]];
  const client1 = await mqttClient(t, n1.tcp, { clientId: 'client1' });
  const client2 = await mqttClient(t, n2.tcp, { clientId: 'client2' });
  const client3 = await mqttClient(t, n3.tcp, { clientId: 'client3' });
  await client1.subscribeAsync(['t/+/x', 't/+/y'], { qos: 1 });
  await client2.subscribeAsync('t/#', { qos: 1 });
  await client3.subscribeAsync(['t/+/x', 't/a'], { qos: 1 });
  const expected = [
    { filter: 't/#', nodes: [n2.name] },
    { filter: 't/+/x', nodes: [n1.name, n3.name].sort() },
    { filter: 't/+/y', nodes: [n1.name] },
    { filter: 't/a', nodes: [n3.name] },
  ];
  for (const n of c.nodes) {
    const r = await c.ctl(n.name, 'routes', 'list', '--json');
    t.deepEqual(JSON.parse(r.stdout), expected, `routes on ${n.name}`);
  }
  const before = JSON.parse((await c.ctl(n1.name, 'forwarded')).stdout) as Record<string, number>;
  const got = { c1: [] as string[], c2: [] as string[], c3: [] as string[] };
  client1.on('message', (tp) => got.c1.push(tp));
  client2.on('message', (tp) => got.c2.push(tp));
  client3.on('message', (tp) => got.c3.push(tp));
  await client1.publishAsync('t/a', 'hello', { qos: 1 });
  await waitFor(() => got.c2.length === 1 && got.c3.length === 1, 'client2 and client3 to receive t/a');
  // A round trip through each subscriber's node proves nothing else is on its way.
  await client2.publishAsync('t/sync', 'x', { qos: 1 });
  await waitFor(() => got.c2.includes('t/sync'), 'the sync message');
  t.deepEqual(got.c1, []);
  t.deepEqual(got.c2.filter((x) => x === 't/a'), ['t/a']);
  t.deepEqual(got.c3, ['t/a']);
  const after = JSON.parse((await c.ctl(n1.name, 'forwarded')).stdout) as Record<string, number>;
  t.is((after[n2.name] ?? 0) - (before[n2.name] ?? 0), 1, 'one forward to node2');
  t.is((after[n3.name] ?? 0) - (before[n3.name] ?? 0), 1, 'one forward to node3');
  t.is(Object.keys(after).length, 2, 'no forward to anyone else');
});

test.serial('cluster: subscribe on node1, SUBACK, publish at once from node3 — delivered, 1000 times', async (t) => {
  const c = await startCluster(t, 3);
  await c.joinAll();
  const sub = await mqttClient(t, c.nodes[0]!.tcp, { clientId: 'sub1' });
  const pub = await mqttClient(t, c.nodes[2]!.tcp, { clientId: 'pub3' });
  const got = new Set<string>();
  sub.on('message', (tp) => got.add(tp));
  for (let i = 0; i < 1000; i++) {
    await sub.subscribeAsync(`race/${i}`, { qos: 1 });
    await pub.publishAsync(`race/${i}`, 'x', { qos: 1 });
  }
  await waitFor(() => got.size === 1000, 'all 1000 messages', 30_000);
  t.is(got.size, 1000);
});

test.serial('cluster: kill -9 of a node under traffic — its routes go, nothing is forwarded to it, its clients carry on elsewhere', async (t) => {
  const c = await startCluster(t, 3);
  await c.joinAll();
  const [n1, n2, n3] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0]];
  const victimSub = await mqttClient(t, n3.tcp, { clientId: 'v' });
  await victimSub.subscribeAsync('load/#', { qos: 0 });
  const sub2 = await mqttClient(t, n2.tcp, { clientId: 's2' });
  await sub2.subscribeAsync('load/#', { qos: 1 });
  let got2 = 0;
  sub2.on('message', () => got2++);
  const pub = await mqttClient(t, n1.tcp, { clientId: 'p1' });
  let stop = false;
  let sent = 0;
  const traffic = (async () => {
    while (!stop && sent < 100_000) {
      await pub.publishAsync('load/x', String(sent), { qos: 1 });
      sent++;
    }
  })();
  await waitFor(() => got2 > 50, 'traffic to flow');
  n3.child.kill('SIGKILL');
  await waitFor(async () => {
    const r = JSON.parse((await c.ctl(n1.name, 'routes', 'list', '--json')).stdout) as { filter: string; nodes: string[] }[];
    return r.every((x) => !x.nodes.includes(n3.name));
  }, 'node3 routes to be purged on node1', 20_000, 100);
  const fwdBefore = (JSON.parse((await c.ctl(n1.name, 'forwarded')).stdout) as Record<string, number>)[n3.name] ?? 0;
  const mark = got2;
  await waitFor(() => got2 > mark + 50, 'traffic to go on after the kill');
  const fwdAfter = (JSON.parse((await c.ctl(n1.name, 'forwarded')).stdout) as Record<string, number>)[n3.name] ?? 0;
  t.is(fwdAfter, fwdBefore, 'nothing forwarded to the dead node');
  // Its client reconnects to another node and carries on.
  const back = await mqttClient(t, n2.tcp, { clientId: 'v' });
  let gotBack = 0;
  back.on('message', () => gotBack++);
  await back.subscribeAsync('load/#', { qos: 0 });
  await waitFor(() => gotBack > 10, 'the moved client to receive');
  stop = true;
  await traffic;
  t.pass();
});
