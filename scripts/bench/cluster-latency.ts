/**
 * Publish latency at a fixed offered rate: one publisher, one subscriber (on another
 * node, or the same one for the reference), QoS 0. Each payload starts with its send
 * time (process.hrtime, in this one process, so both ends read the same clock); the
 * subscriber keeps arrival − send. The rate is modest on purpose: this is the latency
 * of an unloaded path, not of a queue filling up. Open loop: a tick that comes late
 * sends what was due, as real clients would not wait for the broker either.
 */
import type mqtt from 'mqtt';
import { connect, endAll, subscribe } from './cluster-mqtt.js';

export interface LatencyOptions {
  readonly tag: string;
  /** Messages per second offered. */
  readonly rate: number;
  readonly seconds: number;
  readonly payloadBytes: number;
}

export interface LatencyResult {
  readonly sent: number;
  readonly received: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

/** After the last publish, how long stragglers may take. */
const TAIL_MS = 5_000;

export async function latency(pubPort: number, subPort: number, o: LatencyOptions): Promise<LatencyResult> {
  const clients: mqtt.MqttClient[] = [];
  try {
    const total = Math.round(o.rate * o.seconds);
    const samples = new Float64Array(total);
    let received = 0;
    const sub = await connect(subPort, `${o.tag}_sub`);
    clients.push(sub);
    sub.on('message', (_topic: string, payload: Buffer) => {
      const sentAt = payload.readBigUInt64BE(0);
      if (received < total) samples[received++] = Number(process.hrtime.bigint() - sentAt) / 1000;
    });
    await subscribe(sub, `bench/${o.tag}/#`, 0);
    const pub = await connect(pubPort, `${o.tag}_pub`);
    clients.push(pub);

    const topic = `bench/${o.tag}/x`;
    const size = Math.max(8, o.payloadBytes);
    const t0 = performance.now();
    // Twice the planned time at most: a machine too busy to keep up still ends the run.
    const deadline = t0 + o.seconds * 2_000;
    let sent = 0;
    while (sent < total && performance.now() < deadline) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * o.rate));
      for (; sent < due; sent++) {
        // A fresh buffer each time: the socket may still hold the previous one.
        const payload = Buffer.alloc(size, 0x61);
        payload.writeBigUInt64BE(process.hrtime.bigint(), 0);
        pub.publish(topic, payload, { qos: 0 });
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    const end = performance.now() + TAIL_MS;
    while (received < sent && performance.now() < end) await new Promise((r) => setTimeout(r, 10));

    const got = samples.subarray(0, received).sort();
    return { sent, received, p50Us: quantile(got, 0.5), p99Us: quantile(got, 0.99), maxUs: got.length === 0 ? NaN : got[got.length - 1]! };
  } finally {
    endAll(clients);
  }
}

/** The q-quantile of ascending `sorted` (nearest rank); NaN when empty. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}
