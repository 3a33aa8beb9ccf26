/**
 * Fault isolation: a session actor that is killed (`exit(pid, 'kill')`, no terminate
 * runs) or that throws affects only its own client: that client's connection is
 * closed, its subscriptions and routes go, session_sup restarts nothing (sessions are
 * temporary children), every other client and the rest of broker_sup carry on, and
 * the client can connect again.
 */
import test from 'ava';
import { exit, supervisor, type Pid } from '../../../runtime/index.js';
import { rawConnected, sessionGone, sessionPid, testBroker, type TestBroker } from '../../helpers/broker.js';
import type { MqttTestClient } from '../../helpers/mqtt.js';
import { captureLogs } from '../../helpers/runtime.js';

async function children(b: TestBroker, sup: string): Promise<Map<string, string>> {
  const list = await b.node.run(() => supervisor.whichChildren(supervisor.supervisorRef(sup)));
  return new Map(list.map((c) => [c.pid?.toString() ?? '-', c.id]));
}

async function served(c: MqttTestClient, topic: string, n: number): Promise<void> {
  await c.publish(topic, `ping-${n}`, { qos: 1 });
  const p = await c.nextPacket('publish');
  if (p.payload.toString() !== `ping-${n}`) throw new Error(`unexpected ${p.payload.toString()}`);
  await c.ackPublish(p);
}

for (const how of ['killed', 'throws'] as const) {
  test(`crash: a session actor that ${how === 'killed' ? 'is killed' : 'throws'} takes down only its own client; nothing is restarted; the client can come back`, async (t) => {
    const b = await testBroker(t);
    const logs = captureLogs(t);
    const victim = (await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'victim' } })).client;
    await victim.subscribe('victim/t', 1);
    const others: MqttTestClient[] = [];
    for (let i = 0; i < 3; i++) {
      const c = (await rawConnected(t, b, { protocolVersion: i === 0 ? 4 : 5, connect: { clientId: `other-${i}` } })).client;
      await c.subscribe(`other/${i}`, 1);
      others.push(c);
    }
    const topSup = await children(b, 'broker_sup');
    const before = await children(b, 'session_sup');
    t.is(before.size, 4);
    const pid = sessionPid(b, 'victim')!;

    if (how === 'killed') b.node.run(() => exit(pid, 'kill'));
    else b.node.send(pid, ['deliver', { opts: { qos: 1 } }, null]); // a message no session can handle: it throws

    await victim.expectClosed();
    await sessionGone(b, 'victim');
    for (const [i, c] of others.entries()) await served(c, `other/${i}`, i);
    const after = await children(b, 'session_sup');
    t.deepEqual([...after.values()].length, 3, 'no session restarted');
    for (const k of after.keys()) t.true(before.has(k), 'the other sessions are the same actors');
    t.deepEqual(await children(b, 'broker_sup'), topSup, 'router, broker, cm, listeners untouched');
    t.false(b.broker.ctx.subs.filters().includes('victim/t'), "the victim's subscription is gone");
    t.false(b.broker.ctx.routes.all().some((r) => r.filter === 'victim/t'), 'and its route');
    if (how === 'throws') t.true(logs.some((l) => l.event === 'crash_report' && String(l.fields?.['pid']) === pid.toString()), 'the crash is reported');

    const back = (await rawConnected(t, b, { protocolVersion: 5, connect: { clientId: 'victim' } })).client;
    await back.subscribe('victim/t', 1);
    await served(back, 'victim/t', 9);
    t.not((sessionPid(b, 'victim') as Pid).toString(), pid.toString());
  });
}
