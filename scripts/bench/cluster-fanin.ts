/**
 * Fan-in throughput: several publishers on one broker node, one wildcard subscriber on
 * another (or the same, for the single-node reference), each publisher sending its
 * share as fast as its socket takes it. The figure is what arrived at the subscriber
 * over the time from the first publish to the last arrival: messages lost on the way
 * (QoS 0 may be dropped when a queue overflows) lower it rather than hide in it.
 */
import type mqtt from 'mqtt';
import { connect, endAll, publishMany, subscribe } from './cluster-mqtt.js';

export interface FaninOptions {
  /** Unique among the runs on one cluster: client ids and the topic root are made of it. */
  readonly tag: string;
  readonly publishers: number;
  /** In all, over every publisher. */
  readonly messages: number;
  readonly qos: 0 | 1;
  readonly payloadBytes: number;
  /** Longest the whole run may take, publishing included. */
  readonly timeoutMs: number;
}

export interface FaninResult {
  readonly sent: number;
  readonly received: number;
  readonly seconds: number;
  readonly msgsPerS: number;
}

/** Stop waiting for stragglers once nothing has arrived for this long. */
const IDLE_MS = 3_000;

export async function fanIn(pubPort: number, subPort: number, o: FaninOptions): Promise<FaninResult> {
  const clients: mqtt.MqttClient[] = [];
  try {
    const sub = await connect(subPort, `${o.tag}_sub`);
    clients.push(sub);
    let received = 0;
    let last = 0;
    sub.on('message', () => {
      received++;
      last = performance.now();
    });
    // The SUBACK comes once every member has the route, so node1 forwards from the first publish.
    await subscribe(sub, `bench/${o.tag}/#`, o.qos);
    const pubs = await Promise.all(Array.from({ length: o.publishers }, (_, p) => connect(pubPort, `${o.tag}_pub${p}`)));
    clients.push(...pubs);

    const per = Math.ceil(o.messages / o.publishers);
    const payload = Buffer.alloc(o.payloadBytes, 0x61);
    const t0 = performance.now();
    const deadline = t0 + o.timeoutMs;
    const counts = await Promise.all(pubs.map((c, p) => publishMany(c, `bench/${o.tag}/p${p}`, per, o.qos, () => payload, deadline)));
    const sent = counts.reduce((a, b) => a + b, 0);

    // The rest still in flight: until all are in, nothing comes for IDLE_MS, or the deadline.
    let seen = received;
    let progressAt = performance.now();
    while (received < sent && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      if (received !== seen) {
        seen = received;
        progressAt = performance.now();
      } else if (performance.now() - progressAt > IDLE_MS) break;
    }
    const seconds = received === 0 ? 0 : (last - t0) / 1000;
    return { sent, received, seconds, msgsPerS: seconds > 0 ? received / seconds : 0 };
  } finally {
    endAll(clients);
  }
}
