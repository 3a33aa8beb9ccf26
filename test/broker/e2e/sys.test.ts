/**
 * `$SYS/brokers/<node>/…` end to end: version, uptime, clients connected, messages
 * received and sent, subscriptions count, published (retained) every sys.interval_ms,
 * and never matched by a root-level wildcard.
 */
import test from 'ava';
import type { IPublishPacket } from 'mqtt-packet';
import { rawConnected, sessionGone, testBroker } from '../../helpers/broker.js';
import type { MqttTestClient } from '../../helpers/mqtt.js';
import { VERSION } from '../../../broker/mgmt/sys.js';

/** The next value published on `$SYS/brokers/<node>/<key>` that `accept` takes. */
async function sysValue(c: MqttTestClient, key: string, accept: (v: string) => boolean = () => true): Promise<string> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const p: IPublishPacket = await c.nextMatching((x): x is IPublishPacket => x.cmd === 'publish' && x.topic.endsWith(`/${key}`), `$SYS …/${key}`, 5_000);
    const v = p.payload.toString();
    if (accept(v)) return v;
  }
  throw new Error(`no accepted value of $SYS …/${key} within 5 s`);
}

test('sys: the broker publishes its figures under $SYS/brokers/<node>/, retained and periodically', async (t) => {
  const b = await testBroker(t, { sys: { interval_ms: 100 } });
  const node = b.node.name;
  const watcher = (await rawConnected(t, b, { connect: { clientId: 'watcher' } })).client;
  const ack = await watcher.subscribe(`$SYS/brokers/${node}/#`, 0);
  t.deepEqual(ack.granted, [0]);
  // Retained: the first values arrive at once, flagged RETAIN.
  const first = await watcher.nextPacket('publish');
  t.true(first.retain);
  t.true(first.topic.startsWith(`$SYS/brokers/${node}/`));
  t.is(await sysValue(watcher, 'version'), VERSION);
  const up = Number(await sysValue(watcher, 'uptime'));
  t.true(Number.isInteger(up) && up >= 0);
  t.true(Number(await sysValue(watcher, 'subscriptions/count', (v) => v === '1')) === 1);

  // Figures follow what happens.
  const other = (await rawConnected(t, b, { connect: { clientId: 'other' } })).client;
  await sysValue(watcher, 'clients/connected', (v) => v === '2');
  await other.subscribe('counted/t', 1);
  await sysValue(watcher, 'subscriptions/count', (v) => v === '2');
  const received = Number(await sysValue(watcher, 'messages/received'));
  const sent = Number(await sysValue(watcher, 'messages/sent'));
  await watcher.publish('counted/t', 'one', { qos: 1 });
  await other.nextPacket('publish');
  await sysValue(watcher, 'messages/received', (v) => Number(v) === received + 1);
  await sysValue(watcher, 'messages/sent', (v) => Number(v) > sent);
  await other.disconnect();
  await sessionGone(b, 'other');
  await sysValue(watcher, 'clients/connected', (v) => v === '1');
  await sysValue(watcher, 'subscriptions/count', (v) => v === '1');
});

test('[MQTT-4.7.2-1] sys: # and +/… subscribers do not get $SYS messages', async (t) => {
  const b = await testBroker(t, { sys: { interval_ms: 50 } });
  const all = (await rawConnected(t, b)).client;
  await all.subscribe([{ topic: '#', qos: 0 }, { topic: '+/brokers/#', qos: 0 }]);
  const sys = (await rawConnected(t, b)).client;
  await sys.subscribe('$SYS/#', 0);
  // A periodic (not retained) $SYS publish reached `sys`: it went to `all` too, if at all, before the marker.
  await sys.nextMatching((p): p is IPublishPacket => p.cmd === 'publish' && !p.retain, 'a periodic $SYS publish');
  await all.publish('marker', 'M', { qos: 0 });
  const p = await all.nextPacket('publish');
  t.is(p.topic, 'marker');
});
