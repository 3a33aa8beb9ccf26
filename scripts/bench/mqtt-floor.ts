/**
 * The `node-floor` server: started by mqtt-broker-host.ts (the reference in the storm
 * and memory scenarios) and by each storm load thread (which warms its own client code
 * against it before a storm is timed).
 */
import net from 'node:net';
import { listenLoopback } from './ports.js';

/** A floor server on a free loopback port: its port, and how to close it. */
export async function startFloor(): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = net.createServer({ noDelay: true }, floorConnection);
  const port = await listenLoopback(server);
  return { port, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/**
 * Not a broker: the least a Node server on node:net can do
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
