/**
 * CONNECT latency: from writing CONNECT on an open TCP connection to reading its
 * CONNACK, one client at a time (an unloaded path, not a storm). Two cases:
 *
 *   new     a client id nobody holds: in a cluster the id's home node is asked first
 *           (one round trip when the home is another node), on a standalone node not
 *   takeover  the id's persistent session lives on another node (or, standalone, on
 *           the same node): the old session is taken over and moved before CONNACK
 *
 * The client is a few lines over a raw socket with mqtt-packet, so the figure is the
 * broker's, not a client library's.
 */
import net from 'node:net';
import mqttPacket from 'mqtt-packet';

export interface ConnectLatency {
  readonly samples: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** CONNACKs without Session Present where a session was expected (takeover). */
  readonly notPresent: number;
}

const STEP_TIMEOUT_MS = 20_000;

interface RawConn {
  readonly socket: net.Socket;
  /** Send CONNECT; resolves with [µs until CONNACK, Session Present]. */
  connect(clientId: string, clean: boolean): Promise<[number, boolean]>;
  close(): void;
}

function open(port: number): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`connect to ${port} timed out`))), STEP_TIMEOUT_MS);
    socket.once('error', (err) => (clearTimeout(timer), reject(err)));
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.on('error', () => undefined); // a takeover closes the old one; that is expected
      resolve({
        socket,
        connect: (clientId, clean) =>
          new Promise((res, rej) => {
            let got = Buffer.alloc(0);
            const t0 = process.hrtime.bigint();
            const fail = (why: string): void => {
              clearTimeout(timer2);
              socket.off('data', onData);
              rej(new Error(`${clientId}: ${why}`));
            };
            const timer2 = setTimeout(() => fail('no CONNACK in time'), STEP_TIMEOUT_MS);
            const onData = (b: Buffer): void => {
              got = Buffer.concat([got, b]);
              if (got.length < 4) return;
              const us = Number(process.hrtime.bigint() - t0) / 1000;
              clearTimeout(timer2);
              socket.off('data', onData);
              if (got[0] !== 0x20 || got[3] !== 0) return rej(new Error(`${clientId}: refused (${got.subarray(0, 4).toString('hex')})`));
              res([us, (got[2]! & 1) === 1]);
            };
            socket.on('data', onData);
            socket.once('close', () => fail('closed before CONNACK'));
            socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean, clientId, keepalive: 0 }));
          }),
        close: () => socket.destroy(),
      });
    });
  });
}

function summary(us: number[], notPresent: number): ConnectLatency {
  us.sort((a, b) => a - b);
  const at = (q: number): number => Math.round(us[Math.min(us.length - 1, Math.floor(q * us.length))] ?? 0);
  return { samples: us.length, p50Us: at(0.5), p99Us: at(0.99), maxUs: Math.round(us[us.length - 1] ?? 0), notPresent };
}

/** `n` new ids, connecting round-robin to `ports`, each closed after its CONNACK. */
export async function connectNew(ports: readonly number[], n: number, tag: string): Promise<ConnectLatency> {
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = await open(ports[i % ports.length]!);
    try {
      us.push((await c.connect(`${tag}-${i}`, true))[0]);
    } finally {
      c.close();
    }
  }
  return summary(us, 0);
}

/**
 * `n` takeovers: a persistent session opened on `fromPort`, then the same id connects
 * on `toPort` (timed). Both sockets are closed afterwards; the moved session stays until
 * the node stops (clean = false, no expiry in 3.1.1), which also keeps the registry busy.
 */
export async function connectTakeover(fromPort: number, toPort: number, n: number, tag: string): Promise<ConnectLatency> {
  const us: number[] = [];
  let notPresent = 0;
  for (let i = 0; i < n; i++) {
    const id = `${tag}-${i}`;
    const first = await open(fromPort);
    const second = await open(toPort);
    try {
      await first.connect(id, false);
      const [t, present] = await second.connect(id, false);
      us.push(t);
      if (!present) notPresent++;
    } finally {
      first.close();
      second.close();
    }
  }
  return summary(us, notPresent);
}
