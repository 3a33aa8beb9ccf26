/**
 * The `node-floor` server: started by mqtt-broker-host.ts (the reference in the storm
 * and memory scenarios) and by each storm load thread (which warms its own client code
 * against it before a storm is timed).
 */
import net from 'node:net';
import { handleBindings, listenHandle } from '../../broker/connection/tcp-handle.js';
import { TcpTransport, type Transport } from '../../broker/connection/transport.js';
import { listenLoopback } from './ports.js';

/**
 * A floor server on a free loopback port: its port, and how to close it. On the socket
 * layer beamq's TCP listener uses (libuv's handle, else node:net), so that
 * beamq/node-floor says what beamq's own work costs.
 */
export async function startFloor(): Promise<{ port: number; stop: () => Promise<void> }> {
  const b = handleBindings();
  if (b !== undefined) {
    const h = await listenHandle(b, '127.0.0.1', 0, floorConnection);
    return { port: h.port, stop: h.close };
  }
  const server = net.createServer({ noDelay: true }, (s) => floorConnection(new TcpTransport(s)));
  const port = await listenLoopback(server);
  return { port, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const ignore = (): void => undefined;

/**
 * Not a broker: the least a Node server can do for a connection of the storm and
 * memory scenarios (CONNACK to CONNECT, SUBACK granting what was asked to SUBSCRIBE,
 * PINGRESP; nothing stored, nothing routed). What any Node broker pays before its own
 * work (the accept, the socket's JS side, the kernel's loopback TCP), measured on the
 * same machine in the same run.
 */
function floorConnection(t: Transport): void {
  let pending: Buffer | undefined;
  t.receive({ data: (_t, chunk) => (pending = floorData(t, pending, chunk)), closed: ignore, drain: ignore });
}

/** Answer the whole packets of `pending` + `chunk`; what is left of an incomplete one. */
function floorData(t: Transport, pending: Buffer | undefined, chunk: Buffer): Buffer | undefined {
  const buf = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
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
    if (type === 1) t.write(CONNACK);
    else if (type === 8) t.write(suback(buf, at, at + len));
    else if (type === 12) t.write(PINGRESP);
    else if (type === 14) t.end();
    i = at + len;
  }
  return i < buf.length ? buf.subarray(i) : undefined;
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
