/**
 * QoS 1 and QoS 2 across reconnects with MQTT.js, over TCP and WebSocket, 3.1.1 and
 * 5.0: a subscriber's connection is cut twice (no DISCONNECT) and a publisher's once
 * while hundreds of messages flow; every message arrives, and no QoS 2 message arrives
 * twice (deliveries counted per message, across the subscriber's three connections).
 */
import test from 'ava';
import mqtt from 'mqtt';
import { sessionInfo, tcpUrl, testBroker, wsUrl } from '../../helpers/broker.js';
import { waitFor, withTimeout } from '../../helpers/wait.js';

const N = 150;

for (const [proto, v] of [['tcp', 4], ['tcp', 5], ['ws', 4], ['ws', 5]] as const) {
  test(`mqttjs: ${proto} v${v} — QoS 1 and 2 across the subscriber's and the publisher's reconnects: nothing lost, QoS 2 exactly once`, async (t) => {
    const b = await testBroker(t);
    const url = proto === 'tcp' ? tcpUrl(b) : wsUrl(b);
    const persistent = v === 5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };
    const counts = new Map<string, number>();
    // One incoming store across the subscriber's instances: MQTT.js keeps QoS 2 state there.
    const incomingStore = new mqtt.Store();
    const clients: mqtt.MqttClient[] = [];
    t.teardown(() => clients.forEach((c) => c.end(true)));

    /** A subscriber instance, listening before it connects (queued messages follow CONNACK at once). */
    const subscriber = async (): Promise<mqtt.MqttClient> => {
      const c = mqtt.connect(url, { clientId: `dur-sub-${proto}-${v}`, protocolVersion: v, reconnectPeriod: 0, incomingStore, ...persistent });
      clients.push(c);
      c.on('message', (_topic, payload) => counts.set(payload.toString(), (counts.get(payload.toString()) ?? 0) + 1));
      c.on('error', () => undefined);
      await withTimeout(new Promise((resolve) => c.once('connect', resolve)), 'the subscriber to connect');
      return c;
    };

    let sub = await subscriber();
    await sub.subscribeAsync('dur/#', { qos: 2 });
    const pub = mqtt.connect(url, { clientId: `dur-pub-${proto}-${v}`, protocolVersion: v, reconnectPeriod: 0, ...persistent });
    clients.push(pub);
    pub.on('error', () => undefined);
    await withTimeout(new Promise((resolve) => pub.once('connect', resolve)), 'the publisher to connect');

    const sent: Promise<unknown>[] = [];
    const cuts = new Set([N / 3, (2 * N) / 3].map(Math.floor));
    for (let i = 0; i < N; i++) {
      sent.push(pub.publishAsync('dur/q1', `q1-${i}`, { qos: 1 }), pub.publishAsync('dur/q2', `q2-${i}`, { qos: 2 }));
      if (cuts.has(i)) {
        // The subscriber's network goes: no DISCONNECT, its session keeps what is in flight.
        await waitFor(() => counts.size >= i, `the subscriber to be receiving (${i})`);
        sub.stream.destroy();
        await withTimeout(new Promise((resolve) => (sub.connected ? sub.once('close', () => resolve(undefined)) : resolve(undefined))), 'the old subscriber to close');
        // Not ended: end() would close the shared store. Closed, it does not reconnect.
        sub = await subscriber();
      }
      if (i === Math.floor(N / 2)) {
        // The publisher's too: MQTT.js sends its unacknowledged QoS 1/2 again, DUP set, on reconnect.
        pub.stream.destroy();
        await withTimeout(new Promise((resolve) => pub.once('close', () => resolve(undefined))), 'the publisher to close');
        // reconnect() would start from empty stores unless given the old ones.
        pub.reconnect({ incomingStore: pub.incomingStore, outgoingStore: pub.outgoingStore });
        await withTimeout(new Promise((resolve) => pub.once('connect', resolve)), 'the publisher to reconnect');
      }
    }
    await withTimeout(Promise.all(sent), 'every publish to be acknowledged', 20_000);
    // A marker after everything: the broker has sent all it will before it. QoS 2, because
    // MQTT.js hands a QoS 2 message over at its PUBREL, after any QoS 1 sent later.
    await pub.publishAsync('dur/marker', 'marker', { qos: 2 });
    await waitFor(() => counts.has('marker'), 'the marker', 20_000);

    const missing = [];
    const twice = [];
    for (let i = 0; i < N; i++) {
      if (!counts.has(`q1-${i}`)) missing.push(`q1-${i}`);
      const c2 = counts.get(`q2-${i}`) ?? 0;
      if (c2 === 0) missing.push(`q2-${i}`);
      if (c2 > 1) twice.push(`q2-${i}×${c2}`);
    }
    t.deepEqual(missing, [], 'nothing lost');
    t.deepEqual(twice, [], 'no QoS 2 message delivered twice');
    const dupQ1 = [...counts].filter(([k, n]) => k.startsWith('q1-') && n > 1).length;
    t.log(`${proto} v${v}: ${2 * N} messages, ${dupQ1} QoS 1 redelivered (allowed)`);
    await waitFor(async () => (await sessionInfo(b, `dur-sub-${proto}-${v}`)).inflight === 0 || undefined, 'the subscriber to ack everything');
  });
}
