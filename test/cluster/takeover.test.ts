/**
 * Client ids across a cluster of OS processes: a persistent session that follows its
 * client to another node with nothing lost or doubled, a takeover under continuous
 * publishing, racing CONNECTs with one id on two nodes, the will of a client whose
 * node is killed, and session expiry leaving nothing behind.
 */
import test from 'ava';
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { mqttClient, startCluster, type Cluster } from '../helpers/cluster.js';
import { connectAndWaitConnack, type MqttTestClient } from '../helpers/mqtt.js';
import { waitFor } from '../helpers/wait.js';
import type { ClientLookup } from '../../broker/index.js';

const ENV = { BEAMQ_MQTT__MAX_MQUEUE_LEN: '5000' };
const persistent = (clientId: string) => ({ clientId, clean: false, keepalive: 60, properties: { sessionExpiryInterval: 300 } });

/**
 * A QoS 1/2 receiver that keeps its protocol state across connections, as a real
 * client's persistent store does: a QoS 2 PUBLISH whose packet id is still awaiting
 * PUBREL is a resend (answered, not counted again), exactly as MQTT's method B.
 */
class Receiver {
  readonly got: string[] = [];
  readonly dupFlags: string[] = [];
  /** Reason codes of DISCONNECTs the broker sent. */
  readonly disconnects: number[] = [];
  private readonly awaitingRel = new Set<number>();
  private pumping: Promise<void> | undefined;

  /**
   * Read and acknowledge everything `c` receives until it is closed and nothing it
   * received is left. One client with one session state: a second connection's packets
   * are handled only after all of the first's, as a client reads its old connection to
   * the end — otherwise a PUBLISH still unread on the old one, completed meanwhile on
   * the new one (resent there with DUP), would look new when read late.
   */
  attach(c: MqttTestClient): Promise<void> {
    const before = this.pumping;
    const pump = async (): Promise<void> => {
      if (before !== undefined) await before;
      for (let i = 0; i < 1_000_000; i++) {
        let p: Packet;
        try {
          p = await c.nextPacket(undefined, 60_000);
        } catch {
          return; // closed, and everything received was read
        }
        await this.handle(c, p).catch(() => undefined);
      }
    };
    this.pumping = pump();
    return this.pumping;
  }

  private async handle(c: MqttTestClient, p: Packet): Promise<void> {
    if (p.cmd === 'publish') {
      const pub: IPublishPacket = p;
      const body = pub.payload.toString();
      if (pub.dup) this.dupFlags.push(body);
      if (pub.qos === 2) {
        const id = pub.messageId!;
        if (!this.awaitingRel.has(id)) this.got.push(body);
        this.awaitingRel.add(id);
        await c.send({ cmd: 'pubrec', messageId: id });
      } else {
        this.got.push(body);
        if (pub.qos === 1) await c.send({ cmd: 'puback', messageId: pub.messageId! });
      }
    } else if (p.cmd === 'disconnect') {
      this.disconnects.push(p.reasonCode ?? 0);
    } else if (p.cmd === 'pubrel') {
      this.awaitingRel.delete(p.messageId!);
      await c.send({ cmd: 'pubcomp', messageId: p.messageId! });
    }
  }
}

function duplicates(xs: readonly string[]): string[] {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(x) ? true : (seen.add(x), false)));
}

async function lookups(c: Cluster, node: string, ids: readonly string[]): Promise<ClientLookup[]> {
  const r = await c.ctl(node, 'clients', 'show', ...ids, '--json');
  if (r.code !== 0) throw new Error(`ctl clients show failed: ${r.stdout}${r.stderr}`);
  const v = JSON.parse(r.stdout) as ClientLookup | ClientLookup[];
  return Array.isArray(v) ? v : [v];
}

for (const qos of [1, 2] as const) {
  test.serial(`takeover: a persistent QoS ${qos} session subscribed on node1 is found on node3 with all 1000 messages published from node2 while away, once each and in order`, async (t) => {
    const c = await startCluster(t, 3, ENV);
    await c.joinAll();
    const [n1, n2, n3] = c.nodes as [Cluster['nodes'][0], Cluster['nodes'][0], Cluster['nodes'][0]];
    const id = `follow-q${qos}`;
    const first = await connectAndWaitConnack(n1.tcp, { protocolVersion: 5, connect: persistent(id) });
    t.teardown(() => first.client.close());
    await first.client.subscribe('follow/#', qos);
    await first.client.disconnect();

    const pub = await mqttClient(t, n2.tcp, { clientId: `pub-q${qos}` });
    // Publish acknowledgements are awaited in windows of 50, so the forwarded stream is
    // really concurrent, while each message's order is fixed by one publisher.
    const N = 1000;
    for (let i = 0; i < N; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, k) => pub.publishAsync('follow/x', String(i + k), { qos })));
    }
    await waitFor(async () => (await lookups(c, n1.name, [id]))[0]!.node === n1.name, 'the offline session still registered on node1');

    const second = await connectAndWaitConnack(n3.tcp, { protocolVersion: 5, connect: persistent(id) });
    t.teardown(() => second.client.close());
    t.is(second.connack.reasonCode, 0);
    t.true(second.connack.sessionPresent, 'CONNACK says Session Present');
    const r = new Receiver();
    void r.attach(second.client);
    await waitFor(() => r.got.length >= N, `all ${N} messages on node3`, 60_000);
    // A marker published after them arrives after them: nothing else is on its way.
    await pub.publishAsync('follow/x', 'end', { qos });
    await waitFor(() => r.got.includes('end'), 'the end marker', 20_000);
    t.deepEqual(duplicates(r.got), [], 'no message twice');
    t.deepEqual(r.got, [...Array.from({ length: N }, (_, i) => String(i)), 'end'], 'all, in order');
    const [where] = await lookups(c, n1.name, [id]);
    t.is(where!.node, n3.name, 'the registry has the session on node3');
    const local1 = JSON.parse((await c.ctl(n1.name, 'clients', 'local', '--json')).stdout) as string[];
    t.false(local1.includes(id), 'node1 no longer holds it');
  });
}

test.serial('takeover: the same client connecting on node2 closes node1 with 0x8E, and QoS 2 messages published meanwhile are neither lost nor doubled', async (t) => {
  const c = await startCluster(t, 3, ENV);
  await c.joinAll();
  const [n1, n2, n3] = c.nodes as [Cluster['nodes'][0], Cluster['nodes'][0], Cluster['nodes'][0]];
  const id = 'moving';
  const first = await connectAndWaitConnack(n1.tcp, { protocolVersion: 5, connect: persistent(id) });
  t.teardown(() => first.client.close());
  await first.client.subscribe('move/#', 2);
  const r = new Receiver();
  const firstDone = r.attach(first.client);

  const pub = await mqttClient(t, n3.tcp, { clientId: 'mover-pub' });
  const N = 1500;
  let sent = 0;
  const publishing = (async () => {
    // Windows of 20 acknowledgements: the stream keeps flowing during the takeover.
    for (; sent < N; sent += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => pub.publishAsync('move/x', String(sent + k), { qos: 2 })));
  })();
  await waitFor(() => r.got.length >= 300, 'node1 to receive some', 30_000);

  const second = await connectAndWaitConnack(n2.tcp, { protocolVersion: 5, connect: persistent(id) });
  t.teardown(() => second.client.close());
  t.is(second.connack.reasonCode, 0);
  t.true(second.connack.sessionPresent);
  void r.attach(second.client);
  // node1's connection is told why, then closed.
  await firstDone;
  t.true(first.client.closed, 'node1 closed the old connection');
  const seenByOld = r.got.length;
  t.true(seenByOld < N, 'the takeover happened while messages were still being published');
  await publishing;
  await waitFor(() => r.got.length >= N, `all ${N} messages`, 60_000);
  await pub.publishAsync('move/x', 'end', { qos: 2 });
  await waitFor(() => r.got.includes('end'), 'the end marker', 20_000);
  t.deepEqual(duplicates(r.got), [], 'no QoS 2 message delivered twice');
  t.is(r.got.length, N + 1, 'none lost');
  t.deepEqual([...r.got].sort(), [...Array.from({ length: N }, (_, i) => String(i)), 'end'].sort());
  t.deepEqual(r.disconnects, [0x8e], 'the old connection was told: Session Taken Over');
});

test.serial('takeover: node1\'s connection gets DISCONNECT 0x8E (Session Taken Over) when the id connects on node2', async (t) => {
  const c = await startCluster(t, 2);
  await c.joinAll();
  const [n1, n2] = c.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
  const first = await connectAndWaitConnack(n1.tcp, { protocolVersion: 5, connect: persistent('taken') });
  t.teardown(() => first.client.close());
  const second = await connectAndWaitConnack(n2.tcp, { protocolVersion: 5, connect: persistent('taken') });
  t.teardown(() => second.client.close());
  const d = await first.client.nextPacket('disconnect', 10_000);
  t.is(d.reasonCode, 0x8e);
  await first.client.expectClosed(10_000);
  t.true(second.connack.sessionPresent);
  const [where] = await lookups(c, n2.name, ['taken']);
  t.is(where!.node, n2.name);
});

test.serial('takeover: 100 pairs of clients racing with the same ids on two nodes — exactly one of each stays connected, and every node\'s registry agrees', async (t) => {
  const c = await startCluster(t, 3);
  await c.joinAll();
  const [n1, n2] = c.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
  const ids = Array.from({ length: 100 }, (_, i) => `race-${i}`);
  const pairs = await Promise.all(
    ids.map(async (id) => {
      const [a, b] = await Promise.all([n1, n2].map(async (n) => {
        const x = await connectAndWaitConnack(n.tcp, { protocolVersion: 5, connect: { clientId: id, clean: true, keepalive: 60 }, timeoutMs: 30_000 });
        t.teardown(() => x.client.close());
        return { node: n.name, ...x };
      }));
      return [a!, b!] as const;
    }),
  );
  // Each pair ends with one closed: wait for that, then check the other is alive.
  await waitFor(() => pairs.every(([a, b]) => a.client.closed || b.client.closed), 'one of each pair to be closed', 30_000);
  const winners = new Map<string, string>();
  for (const [i, [a, b]] of pairs.entries()) {
    t.false(a.client.closed && b.client.closed, `${ids[i]}: not both closed`);
    const w = a.client.closed ? b : a;
    await w.client.send({ cmd: 'pingreq' });
    await w.client.nextPacket('pingresp', 10_000);
    winners.set(ids[i]!, w.node);
  }
  for (const n of c.nodes) {
    const seen = await lookups(c, n.name, ids);
    t.deepEqual(
      seen.map((l) => [l.id, l.node]),
      ids.map((id) => [id, winners.get(id)]),
      `the registry as seen from ${n.name}`,
    );
  }
  const local = await Promise.all(c.nodes.map(async (n) => new Set(JSON.parse((await c.ctl(n.name, 'clients', 'local', '--json')).stdout) as string[])));
  for (const id of ids) t.is(local.filter((s) => s.has(id)).length, 1, `${id} lives on exactly one node`);
});

test.serial('takeover: kill -9 of the node holding clients with wills — every will is published once to subscribers on the surviving nodes', async (t) => {
  const c = await startCluster(t, 3);
  await c.joinAll();
  const [n1, n2, n3] = c.nodes as [Cluster['nodes'][0], Cluster['nodes'][0], Cluster['nodes'][0]];
  const subs = await Promise.all([n2, n3].map((n, i) => mqttClient(t, n.tcp, { clientId: `will-sub-${i}` })));
  const got = subs.map(() => [] as string[]);
  for (const [i, s] of subs.entries()) {
    s.on('message', (_tp, m) => got[i]!.push(m.toString()));
    await s.subscribeAsync('wills/#', { qos: 1 });
  }
  // Several ids, so some have their registry home on the node that dies (its backup
  // copy must publish) and some on a survivor.
  const ids = Array.from({ length: 12 }, (_, i) => `dying-${i}`);
  for (const id of ids) {
    const x = await connectAndWaitConnack(n1.tcp, {
      protocolVersion: 4,
      connect: { clientId: id, clean: true, keepalive: 60, will: { topic: `wills/${id}`, payload: Buffer.from(`${id} gone`), qos: 1, retain: false } },
    });
    t.teardown(() => x.client.close());
  }
  const homes = await lookups(c, n2.name, ids);
  t.true(homes.every((h) => h.node === n1.name && h.will), 'every will registered with the cluster');
  n1.child.kill('SIGKILL');
  await n1.child.exited(10_000);
  const want = ids.map((id) => `${id} gone`).sort();
  await waitFor(() => got.every((g) => g.length >= ids.length), 'the wills on both survivors', 30_000);
  // A sync message through each subscriber shows nothing else is still on its way.
  const p = await mqttClient(t, n3.tcp, { clientId: 'will-sync' });
  await p.publishAsync('wills/sync', 'sync', { qos: 1 });
  await waitFor(() => got.every((g) => g.includes('sync')), 'the sync message');
  for (const g of got) t.deepEqual(g.filter((m) => m !== 'sync').sort(), want);
  const after = await lookups(c, n3.name, ids);
  t.true(after.every((h) => h.node === null), 'no registry entry left for the dead node\'s clients');
});

test.serial('takeover: an expired session leaves no route and no registry entry on any node', async (t) => {
  const c = await startCluster(t, 2);
  await c.joinAll();
  const [n1, n2] = c.nodes as [Cluster['nodes'][0], Cluster['nodes'][0]];
  const x = await connectAndWaitConnack(n1.tcp, { protocolVersion: 5, connect: { clientId: 'brief', clean: true, keepalive: 60, properties: { sessionExpiryInterval: 1 } } });
  t.teardown(() => x.client.close());
  await x.client.subscribe('brief/topic', 1);
  await waitFor(async () => JSON.stringify(JSON.parse((await c.ctl(n2.name, 'routes', 'list', '--json')).stdout)).includes('brief/topic'), 'the route on node2');
  t.is((await lookups(c, n2.name, ['brief']))[0]!.node, n1.name, 'registered while connected');
  // (That it outlives its connection until the interval ends is the single-node
  // session-expiry tests' business: here a ctl call may take longer than the interval.)
  await x.client.disconnect();
  await waitFor(async () => {
    for (const n of c.nodes) {
      const routes = (await c.ctl(n.name, 'routes', 'list', '--json')).stdout;
      if (routes.includes('brief/topic')) return false;
      if ((await lookups(c, n.name, ['brief']))[0]!.node !== null) return false;
      if ((await c.ctl(n.name, 'clients', 'local', '--json')).stdout.includes('brief')) return false;
    }
    return true;
  }, 'the expired session gone everywhere', 20_000, 300);
  t.pass();
});
