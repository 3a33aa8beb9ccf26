/**
 * Membership through `scripts/ctl` against OS-process nodes: join, leave, force-leave
 * and status (as EMQX prints it), static discovery in any start order, a restarted
 * member rejoining by itself, and a node that left staying out.
 */
import test from 'ava';
import { COOKIE, mqttClient, startCluster } from '../helpers/cluster.js';
import { freePort } from '../helpers/ports.js';
import { startRepl } from '../helpers/repl.js';
import { waitFor } from '../helpers/wait.js';

interface Status {
  running_nodes: string[];
  stopped_nodes: string[];
}

test.serial('cluster: join, status, leave and force-leave through scripts/ctl', async (t) => {
  const c = await startCluster(t, 3);
  const [n1, n2, n3] = c.nodes.map((n) => n.name) as [string, string, string];
  const j = await c.ctl(n2, 'cluster', 'join', n1);
  t.is(j.code, 0);
  t.regex(j.stdout, /^Join the cluster successfully\.\nCluster status: #\{running_nodes => \[.*\],stopped_nodes => \[\]\}\n$/);
  t.is((await c.ctl(n3, 'cluster', 'join', n1)).code, 0);
  const status = async (n: string): Promise<Status> => JSON.parse((await c.ctl(n, 'cluster', 'status', '--json')).stdout) as Status;
  await waitFor(async () => (await status(n2)).running_nodes.length === 3, 'n2 to see all three');
  t.deepEqual(await status(n1), { running_nodes: [n1, n2, n3].sort(), stopped_nodes: [] });
  const plain = await c.ctl(n1, 'cluster', 'status');
  t.is(plain.stdout, `Cluster status: #{running_nodes => [${[n1, n2, n3].sort().map((n) => `'${n}'`).join(',')}],stopped_nodes => []}\n`);
  t.regex((await c.ctl(n2, 'cluster', 'join', n1)).stdout, /Failed to join the cluster: \{already_in_cluster/);

  // leave: n3 is on its own, and nobody counts it any more.
  const l = await c.ctl(n3, 'cluster', 'leave');
  t.regex(l.stdout, /^Leave the cluster successfully\./);
  await waitFor(async () => (await status(n1)).running_nodes.length === 2, 'n1 to drop n3');
  t.deepEqual(await status(n3), { running_nodes: [n3], stopped_nodes: [] });
  t.regex((await c.ctl(n3, 'cluster', 'leave')).stdout, /Failed to leave the cluster: node_not_in_cluster/);

  // force-leave of a running member: it leaves by itself.
  t.regex((await c.ctl(n1, 'cluster', 'force-leave', n2)).stdout, /^Remove the node from cluster successfully\./);
  await waitFor(async () => (await status(n2)).running_nodes.length === 1, 'n2 to be on its own');
  t.deepEqual((await status(n1)).running_nodes, [n1]);
});

test.serial('cluster: force-leave of a stopped member removes it everywhere; a restarted member rejoins by itself', async (t) => {
  const c = await startCluster(t, 3);
  await c.joinAll();
  const [a, b, d] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0]];
  const status = async (n: string): Promise<Status> => JSON.parse((await c.ctl(n, 'cluster', 'status', '--json')).stdout) as Status;
  // A restarted member finds its cluster again from its data dir.
  b.child.kill('SIGKILL');
  await waitFor(async () => (await status(a.name)).stopped_nodes.includes(b.name), 'b to be seen stopped');
  await b.restart();
  await waitFor(async () => (await status(a.name)).running_nodes.includes(b.name), 'b to be running again', 30_000);
  await waitFor(async () => (await status(b.name)).running_nodes.length === 3, 'b to see the cluster');
  // A stopped member is force-left: gone from every member's view.
  d.child.kill('SIGKILL');
  await waitFor(async () => (await status(a.name)).stopped_nodes.includes(d.name), 'd to be seen stopped');
  t.regex((await c.ctl(a.name, 'cluster', 'force-leave', d.name)).stdout, /successfully/);
  await waitFor(async () => !JSON.stringify(await status(b.name)).includes(d.name), 'b to forget d');
  t.deepEqual(await status(a.name), { running_nodes: [a.name, b.name].sort(), stopped_nodes: [] });
});

test.serial('cluster: static discovery forms one cluster in any start order; a node that left stays out', async (t) => {
  // Discovery points every node at all three; they start in the order s3, s1, s2.
  const tag = `${process.pid}_d${Date.now() % 100000}`;
  const names = [3, 1, 2].map((i) => `s${i}_${tag}@127.0.0.1`);
  const c = await startCluster(t, 3, {
    BEAMQ_CLUSTER__DISCOVERY_STRATEGY: 'static',
    BEAMQ_CLUSTER__STATIC__SEEDS: names.join(','),
  }, names);
  const status = async (n: string): Promise<Status> => JSON.parse((await c.ctl(n, 'cluster', 'status', '--json')).stdout) as Status;
  for (const n of names) await waitFor(async () => (await status(n)).running_nodes.length === 3, `${n} to see all three`, 40_000, 200);
  // A node told to leave is not pulled back in by discovery.
  const leaver = names[2]!;
  t.is((await c.ctl(leaver, 'cluster', 'leave')).code, 0);
  await waitFor(async () => (await status(names[0]!)).running_nodes.length === 2, 'the others to drop the leaver');
  // Two discovery rounds (5 s each) later it is still alone.
  const marker = Date.now();
  await waitFor(() => Date.now() - marker > 11_000 || undefined, 'two discovery rounds', 20_000, 500);
  t.deepEqual(await status(leaver), { running_nodes: [leaver], stopped_nodes: [] });
  t.is((await status(names[0]!)).running_nodes.length, 2);
});

test.serial('cluster: the ctl commands are bound in the REPL of a broker node', async (t) => {
  const c = await startCluster(t, 1);
  const n1 = c.nodes[0]!;
  const name = `repl${process.pid}@127.0.0.1`;
  const tcp = await freePort();
  const repl = await startRepl(t, ['--name', name, '--cookie', COOKIE, '--broker'], {
    ERL_EPMD_PORT: String(c.epmd.port),
    BEAMQ_LOG_LEVEL: 'warn',
    BEAMQ_NODE__DATA_DIR: c.dataDir,
    BEAMQ_SYS__INTERVAL_MS: '0',
    BEAMQ_LISTENERS__TCP__BIND: `127.0.0.1:${tcp}`,
    BEAMQ_LISTENERS__WS__BIND: `127.0.0.1:${await freePort()}`,
  });
  t.regex(await repl.eval(`cluster_join('${n1.name}')`, 30_000), /^\[ok,/);
  const st = await repl.eval('cluster_status()');
  t.true(st.includes(n1.name) && st.includes(name), st);
  const sub = await mqttClient(t, tcp, { clientId: 'in-repl' });
  await sub.subscribeAsync('repl/topic', { qos: 1 });
  t.regex(await repl.eval('routes_list()'), /repl\/topic/);
  t.regex(await repl.eval("clients_show('in-repl')"), new RegExp(name.replace('.', '\\.')));
  t.regex(await repl.eval('clients_local()'), /in-repl/);
});
