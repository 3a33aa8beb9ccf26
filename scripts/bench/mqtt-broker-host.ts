/**
 * A Node broker under test, alone in this OS process (forked by mqtt-brokers.ts with
 * --expose-gc): `beamq` (a fresh node with the broker), `aedes`, or `node-floor` (see
 * floorServer), listening on a free loopback port. IPC: sends {t:'ready', port}; answers {t:'gc'} with {t:'gc_done'}
 * (so memory is sampled after a full collection); {t:'stop'} or a lost parent ends it.
 */
import net from 'node:net';
import { Aedes } from 'aedes';
import { loadConfig, startBroker } from '../../broker/index.js';
import { startNode } from '../../runtime/index.js';

type HostMsg = { readonly t: 'gc' } | { readonly t: 'stop' };

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const send = (m: object): void => void process.send?.(m);

/** Start `impl`; returns the port and how to stop it. */
async function start(impl: string): Promise<{ port: number; stop: () => Promise<void> }> {
  if (impl === 'beamq') {
    const node = await startNode();
    // Limits shared with the other brokers come from mqtt-brokers.ts as BEAMQ_MQTT__* variables.
    const cfg = loadConfig({ listeners: { tcp: { bind: '127.0.0.1:0' }, ws: { enable: false } }, sys: { interval_ms: 0 } }, process.env);
    const b = await startBroker(node, cfg);
    const port = b.ports().tcp;
    if (port === undefined) throw new Error('beamq: no tcp listener');
    return { port, stop: () => node.stop() };
  }
  if (impl === 'aedes') {
    const aedes = await Aedes.createBroker();
    const server = net.createServer({ noDelay: true }, aedes.handle);
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve((server.address() as net.AddressInfo).port));
    });
    return {
      port,
      stop: () =>
        new Promise<void>((resolve) => {
          server.close();
          aedes.close(() => resolve());
        }),
    };
  }
  if (impl === 'node-floor') {
    const server = net.createServer({ noDelay: true }, floorConnection);
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve((server.address() as net.AddressInfo).port));
    });
    return { port, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }
  throw new Error(`unknown broker ${impl}`);
}

/**
 * The `node-floor` reference: not a broker, the least a Node server on node:net can do
 * for a connection of the storm and memory scenarios (CONNACK to CONNECT, SUBACK
 * granting what was asked to SUBSCRIBE, PINGRESP; nothing stored, nothing routed). What
 * any Node broker pays before its own work (the accept, Node's Socket and its streams,
 * the kernel's loopback TCP), measured on the same machine in the same run.
 */
function floorConnection(socket: net.Socket): void {
  let pending: Buffer | undefined;
  socket.on('error', () => undefined); // 'close' follows
  socket.on('data', (chunk: Buffer) => {
    const buf = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    pending = undefined;
    let i = 0;
    while (i + 2 <= buf.length) {
      let len = 0;
      let mult = 1;
      let j = i + 1;
      for (; j < buf.length && j < i + 5; j++) {
        len += (buf[j]! & 0x7f) * mult;
        mult *= 128;
        if ((buf[j]! & 0x80) === 0) break;
      }
      if (j >= buf.length || j + 1 + len > buf.length) break;
      const at = j + 1;
      const type = buf[i]! >> 4;
      if (type === 1) socket.write(CONNACK);
      else if (type === 8) socket.write(suback(buf, at, at + len));
      else if (type === 12) socket.write(PINGRESP);
      else if (type === 14) socket.end();
      i = at + len;
    }
    if (i < buf.length) pending = buf.subarray(i);
  });
}

const CONNACK = Buffer.from([0x20, 2, 0, 0]);
const PINGRESP = Buffer.from([0xd0, 0]);

/** SUBACK for the MQTT 3.1.1 SUBSCRIBE in buf[at..end): its packet id, each requested QoS granted. */
function suback(buf: Buffer, at: number, end: number): Buffer {
  const granted: number[] = [];
  for (let k = at + 2; k + 2 <= end; ) {
    k += 2 + buf.readUInt16BE(k);
    granted.push(buf[k]! & 3);
    k++;
  }
  return Buffer.from([0x90, 2 + granted.length, buf[at]!, buf[at + 1]!, ...granted]);
}

const impl = process.argv[2] ?? '';
const running = await start(impl);
process.on('disconnect', () => process.exit(0)); // the bench is gone: so are we
process.on('message', (m: HostMsg) => {
  if (m.t === 'gc') {
    gc();
    gc();
    send({ t: 'gc_done' });
  } else if (m.t === 'stop') {
    void running.stop().finally(() => process.exit(0));
  }
});
send({ t: 'ready', port: running.port });
