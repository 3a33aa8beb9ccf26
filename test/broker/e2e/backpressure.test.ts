/**
 * Backpressure end to end: a subscriber that stops reading its socket does not slow
 * the publisher or the other subscribers, and its session holds at most
 * mqtt.max_mqueue_len messages (the rest dropped and counted) once its socket's
 * backlog passed mqtt.socket_high_water. Asserted on the session's own `info`, not on
 * timing. When it reads again, the newest messages reach it.
 */
import test, { type ExecutionContext } from 'ava';
import { generate } from 'mqtt-packet';
import WebSocket from 'ws';
import { rawConnected, sessionInfo, testBroker, type TestBroker } from '../../helpers/broker.js';
import { rawConnect } from '../../helpers/raw-tcp.js';
import { waitFor, withTimeout } from '../../helpers/wait.js';

const PAYLOAD = Buffer.alloc(4096, 0x61);
const COUNT = 4000; // 16 MB: more than loopback's socket buffers hold
const BATCH = 20;

/** A subscriber over TCP or WebSocket that stops reading once subscribed; `resume` reads again. */
async function stuckSubscriber(t: ExecutionContext, b: TestBroker, kind: 'tcp' | 'ws', qos: 0 | 1): Promise<{ resume(): void }> {
  const connect = generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'stuck', clean: true, keepalive: 0 });
  const subscribe = generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'bp/t', qos }] });
  if (kind === 'tcp') {
    const c = await rawConnect(b.tcp);
    t.teardown(() => c.destroy());
    await c.write(Buffer.concat([connect, subscribe]));
    await c.waitBytes(4 + 5); // CONNACK + SUBACK
    c.socket.pause();
    return { resume: () => c.socket.resume() };
  }
  const ws = new WebSocket(`ws://127.0.0.1:${b.ws}/mqtt`, 'mqtt');
  t.teardown(() => ws.terminate());
  await new Promise((resolve) => ws.once('open', resolve));
  let got = 0;
  const acked = new Promise((resolve) => ws.on('message', (m: Buffer) => (got += m.length) >= 9 && resolve(undefined)));
  ws.send(Buffer.concat([connect, subscribe]));
  await withTimeout(acked, 'CONNACK and SUBACK over WebSocket');
  ws.pause();
  return { resume: () => ws.resume() };
}

// TCP on libuv's handle (the default) and on node:net (listeners.tcp.backend = net).
for (const [kind, qos, backend] of [['tcp', 0, 'handle'], ['tcp', 1, 'handle'], ['tcp', 0, 'net'], ['ws', 0, 'handle']] as const) {
  test(`backpressure: a subscriber that never reads (${kind}${backend === 'net' ? ' on net' : ''}, QoS ${qos}) blocks nobody; its queue stays within max_mqueue_len and drops are counted`, async (t) => {
    const b = await testBroker(t, { mqtt: { max_mqueue_len: 50, socket_high_water: 64 * 1024, max_inflight: 10 }, listeners: { tcp: { backend } } });
    const stuck = await stuckSubscriber(t, b, kind, qos);
    const reader = (await rawConnected(t, b, { connect: { clientId: 'reader' } })).client;
    await reader.subscribe('bp/t', 0);
    const pub = (await rawConnected(t, b)).client;
    // In batches the reader keeps up with (the test runs both ends in one process): each
    // batch reaches the reader in full while the stuck one's backlog and queue fill.
    for (let i = 0; i < COUNT; i += BATCH) {
      for (let k = 0; k < BATCH - 1; k++) await pub.publish('bp/t', PAYLOAD, { qos: 0 });
      await pub.publish('bp/t', PAYLOAD, { qos: 1, timeoutMs: 20_000 }); // the publisher is never held up
      for (let k = 0; k < BATCH; k++) await reader.nextPacket('publish', 20_000);
    }
    t.pass(`the reading subscriber got all ${COUNT} messages`);

    const info = await sessionInfo(b, 'stuck');
    t.log(`stuck session: ${JSON.stringify(info)}`);
    t.is(info.mqueue, 50, 'the queue is full at its limit, no more');
    t.true(info.dropped > 0, 'and the overflow was dropped, counted');
    t.true(info.inflight <= 10);
    t.true(info.socketBacklog < 64 * 1024 + 2 * PAYLOAD.length, `socket writes stopped near the high-water mark (${info.socketBacklog} bytes)`);
    t.true(b.broker.ctx.metrics.messagesDropped >= info.dropped);
    if (qos === 1) {
      t.is(info.inflight, 10, 'QoS 1: the window is full of unacknowledged messages');
      return;
    }
    // Reading again, it gets the newest messages: the queue drains as the socket does.
    stuck.resume();
    const before = info.dropped;
    await waitFor(async () => (await sessionInfo(b, 'stuck')).mqueue === 0 || undefined, 'the queue to drain', 20_000);
    t.is((await sessionInfo(b, 'stuck')).dropped, before, 'nothing more dropped');
  });
}
