/**
 * A TCP port free on loopback right now, for a server that a child process (mosquitto,
 * erl, one of our nodes) will bind a moment later.
 *
 * Why not the kernel's pick (listen on port 0)? That port comes from the ephemeral range,
 * the same range every outgoing connect draws its local port from. Between our close and
 * the child's bind, any client on the machine (tests run in parallel) can be given that
 * port, and the child fails with "address in use". So we pick below the ephemeral range,
 * where no outgoing connection lands, at a random start per process so that parallel test
 * workers do not walk the same ports, and check each candidate by binding it.
 */
import fs from 'node:fs';
import net from 'node:net';

const LOW = 10_000;
const ATTEMPTS = 200;

function ephemeralLow(): number {
  try {
    const [lo] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    const n = Number(lo);
    if (Number.isInteger(n) && n > LOW + 1000) return n;
  } catch {
    // not Linux: fall back to the IANA dynamic range's start
  }
  return 32_768;
}

const HIGH = ephemeralLow(); // exclusive
let next = LOW + Math.floor(Math.random() * (HIGH - LOW));

function tryBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/**
 * Listen on a loopback port of the kernel's choosing (fine for a server in this very
 * process: nothing else can take the port in between); resolves with that port.
 */
export function listenLoopback(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve((server.address() as net.AddressInfo).port));
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = next;
    // A stride rather than +1: two processes that started near each other drift apart.
    next = LOW + ((next - LOW + 7919) % (HIGH - LOW));
    if (await tryBind(port, host)) return port;
  }
  throw new Error(`no free port on ${host} in ${LOW}..${HIGH} after ${ATTEMPTS} tries`);
}
