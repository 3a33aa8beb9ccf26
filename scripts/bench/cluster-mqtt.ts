/**
 * MQTT.js clients for the cluster benches: connected with a bounded wait, published
 * into with the socket's backpressure respected (MQTT.js itself would buffer a whole
 * run in memory), and ended without waiting on the broker.
 */
import mqtt from 'mqtt';

const CONNECT_TIMEOUT_MS = 30_000;
/** QoS 0 publishes written between looks at the socket's buffer. */
const CHUNK = 64;
/** Outstanding QoS 1 publishes per client (the broker's default Receive Maximum is 32; this is the client's window). */
const QOS1_WINDOW = 64;
const DRAIN_TIMEOUT_MS = 10_000;

/** A connected MQTT 3.1.1 client on 127.0.0.1:`port` with no reconnects and no keep-alive pings. */
export async function connect(port: number, clientId: string): Promise<mqtt.MqttClient> {
  const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, clean: true, keepalive: 0, reconnectPeriod: 0, connectTimeout: CONNECT_TIMEOUT_MS, protocolVersion: 4 });
  // An 'error' with no listener would throw from the emitter and take the bench down.
  c.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${clientId}: no CONNACK within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS + 1_000);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      c.end(true);
      reject(err);
    };
    const closed = (): void => fail(new Error(`${clientId}: closed before CONNACK`));
    c.once('connect', () => {
      clearTimeout(timer);
      c.off('error', fail);
      c.off('close', closed);
      resolve(c);
    });
    c.once('error', fail);
    c.once('close', closed);
  });
}

/** Subscribe and wait for the SUBACK; throws when the broker refused the filter. */
export async function subscribe(c: mqtt.MqttClient, filter: string, qos: 0 | 1): Promise<void> {
  const granted = await c.subscribeAsync(filter, { qos });
  const q = granted[0]?.qos;
  if (q === undefined || q >= 0x80) throw new Error(`subscribe ${filter}: refused (${q})`);
}

/**
 * Publish `n` messages, `payload(i)` each, to `topic`, as fast as the socket takes them
 * (QoS 0) or the PUBACKs come back (QoS 1, a window of QOS1_WINDOW). Stops early at
 * `deadline` (performance.now()); returns how many were handed to the socket.
 */
export async function publishMany(c: mqtt.MqttClient, topic: string, n: number, qos: 0 | 1, payload: (i: number) => Buffer, deadline: number): Promise<number> {
  if (qos === 0) {
    let i = 0;
    while (i < n && performance.now() < deadline) {
      const end = Math.min(n, i + CHUNK);
      for (; i < end; i++) c.publish(topic, payload(i), { qos: 0 });
      await writable(c);
    }
    return i;
  }
  let inflight = 0;
  let wake: (() => void) | undefined;
  const acked = (): void => {
    inflight--;
    const w = wake;
    wake = undefined;
    w?.();
  };
  let i = 0;
  for (; i < n && performance.now() < deadline; i++) {
    // Woken by a PUBACK, or after a while anyway so that the deadline still applies.
    while (inflight >= QOS1_WINDOW && performance.now() < deadline) {
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 100);
        wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
    inflight++;
    c.publish(topic, payload(i), { qos: 1 }, acked);
  }
  // Let the last window be acked (bounded: a lost PUBACK must not hang the bench).
  const end = performance.now() + DRAIN_TIMEOUT_MS;
  while (inflight > 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 5));
  return i;
}

/** Resolve once the client's socket buffer has drained below its high-water mark. */
async function writable(c: mqtt.MqttClient): Promise<void> {
  const s = c.stream;
  if (!s.writableNeedDrain) return new Promise((r) => setImmediate(r));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, DRAIN_TIMEOUT_MS);
    function done(): void {
      clearTimeout(timer);
      s.off('drain', done);
      s.off('close', done);
      resolve();
    }
    s.once('drain', done);
    s.once('close', done);
  });
}

/** Close every client at once, without a DISCONNECT handshake to wait on. */
export function endAll(clients: Iterable<mqtt.MqttClient>): void {
  for (const c of clients) c.end(true);
}
