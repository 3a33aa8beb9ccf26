/**
 * The bad-input catalogue for the distribution port, over real loopback sockets: bytes
 * that are no handshake, a cut send_name, an oversize handshake length, a send_name and
 * then silence, junk frames and an oversize frame after a completed handshake (as a
 * beamq peer and as a BEAM-like one). Each time the node closes that connection, logs
 * why, and carries on: a well-behaved node still connects and messages flow both ways.
 */
import test, { type ExecutionContext } from 'ava';
import net from 'node:net';
import type { Daemon } from '../../../epmd/index.js';
import { connectNode, nodes, type LocalNode } from '../../../runtime/index.js';
import { advertisedFlags, BEAMQ_FLAG } from '../../../runtime/dist/flags.js';
import { SocketFrameIO } from '../../../runtime/dist/framing.js';
import { initiate, MAX_HANDSHAKE_MESSAGE } from '../../../runtime/dist/handshake.js';
import { encodeSendName } from '../../../runtime/dist/handshake-messages.js';
import { distNode, testEpmd } from '../../helpers/dist.js';
import { rawConnect, type RawConn } from '../../helpers/raw-tcp.js';
import { captureLogs, recorder, type LogLine } from '../../helpers/runtime.js';
import { waitFor, withTimeout } from '../../helpers/wait.js';

/** Short enough that a silent peer is dropped quickly, long enough for a loaded CI box. */
const SETUP_MS = 500;
const CLOSE_WAIT_MS = 5_000;

let seq = 0;

/** A node under test with a short net_setuptime, and our log lines. */
async function target(t: ExecutionContext): Promise<{ epmd: Daemon; node: LocalNode; logs: LogLine[]; port: number }> {
  const logs = captureLogs(t);
  const epmd = await testEpmd(t);
  const node = await distNode(t, epmd, { prefix: 'target', setupTimeMs: SETUP_MS });
  return { epmd, node, logs, port: node.dist!.port };
}

/** A raw connection, and how the node names it until it learns a name: its address. */
async function raw(t: ExecutionContext, port: number): Promise<RawConn & { readonly addr: string }> {
  const c = await rawConnect(port);
  t.teardown(() => c.destroy());
  return { ...c, addr: `127.0.0.1:${c.socket.localPort}` };
}

/** A 2-byte-length handshake frame. */
function hsFrame(body: Buffer): Buffer {
  const h = Buffer.alloc(2);
  h.writeUInt16BE(body.length, 0);
  return Buffer.concat([h, body]);
}

/** A 4-byte-length connected frame. */
function frame(body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length, 0);
  return Buffer.concat([h, body]);
}

/** Deterministic bytes (a xorshift stream), so a failure can be replayed. */
function noise(seed: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** The log line `event` whose fields satisfy `pred` (tests run side by side: match the peer). */
function logged(logs: LogLine[], event: string, pred: (f: Record<string, unknown>) => boolean, what: string): Promise<LogLine> {
  return waitFor(() => logs.find((l) => l.event === event && pred(l.fields ?? {})), what);
}

/** The node still works: a fresh well-behaved node connects, and messages go both ways. */
async function carriesOn(t: ExecutionContext, epmd: Daemon, node: LocalNode, peer?: LocalNode): Promise<void> {
  const good = peer ?? (await distNode(t, epmd, { prefix: 'good' }));
  t.true(await good.run(() => connectNode(node.name)), 'a well-behaved node connects');
  const there = recorder(node);
  const back = recorder(good);
  good.send(there.pid, ['hello', back.pid]);
  const m = (await there.next((x) => Array.isArray(x) && x[0] === 'hello', 'hello on the node under test')) as [string, unknown];
  node.send(m[1] as typeof back.pid, 'hello back');
  await back.next((x) => x === 'hello back', 'the answer on the good node');
  t.true(node.run(() => nodes()).includes(good.name));
}

// --- during the handshake --------------------------------------------------------

test('dist bad input: random bytes are refused and logged', async (t) => {
  const { epmd, node, logs, port } = await target(t);
  const conns: string[] = [];
  for (const seed of [1, 2, 3]) {
    // Noise with a length that fits, so the node judges the bytes rather than waiting.
    const c = await raw(t, port);
    conns.push(c.addr);
    await c.write(hsFrame(noise(seed, 40)));
    const reply = await c.waitClose(CLOSE_WAIT_MS);
    t.is(reply.length, 0, `seed ${seed}: no answer to noise`);
  }
  // Pure noise, length included: refused as malformed or, if the length asks for more, at net_setuptime.
  const c = await raw(t, port);
  await c.write(noise(4, 300));
  await c.waitClose(CLOSE_WAIT_MS);
  const peers = new Set([...conns, c.addr]);
  const refusals = await waitFor(() => {
    const r = logs.filter((l) => l.event === 'handshake_refused' && peers.has(l.fields?.['peer'] as string));
    return r.length === 4 && r;
  }, 'four refusals in the log');
  for (const r of refusals) {
    t.is(r.level, r.fields?.['code'] === 'timeout' ? 'warn' : 'error');
    t.true(['protocol', 'timeout'].includes(r.fields?.['code'] as string));
    t.regex(String(r.fields?.['reason']), /bad handshake message|did not complete/);
  }
  await carriesOn(t, epmd, node);
});

test('dist bad input: a send_name cut short inside its frame is refused as malformed', async (t) => {
  const { epmd, node, logs, port } = await target(t);
  const whole = encodeSendName({ flags: advertisedFlags(), creation: 5, name: `cut${++seq}@127.0.0.1` });
  const c = await raw(t, port);
  // The frame is complete, the message in it is not: flags and half the creation.
  await c.write(hsFrame(whole.subarray(0, 11)));
  t.is((await c.waitClose(CLOSE_WAIT_MS)).length, 0);
  const l = await logged(logs, 'handshake_refused', (f) => f['peer'] === c.addr, 'the refusal of the cut send_name');
  t.is(l.fields?.['code'], 'protocol');
  t.is(l.level, 'error');
  t.regex(String(l.fields?.['reason']), /bad handshake message/);
  await carriesOn(t, epmd, node);
});

test('dist bad input: a send_name cut short on the wire is dropped at net_setuptime', async (t) => {
  const { epmd, node, logs, port } = await target(t);
  const whole = hsFrame(encodeSendName({ flags: advertisedFlags(), creation: 5, name: `cut${++seq}@127.0.0.1` }));
  const c = await raw(t, port);
  await c.write(whole.subarray(0, whole.length - 4));
  t.is((await c.waitClose(SETUP_MS + CLOSE_WAIT_MS)).length, 0);
  const l = await logged(logs, 'handshake_refused', (f) => f['peer'] === c.addr, 'the timeout');
  t.is(l.fields?.['code'], 'timeout');
  t.regex(String(l.fields?.['reason']), new RegExp(`did not complete within ${SETUP_MS} ms`));
  await carriesOn(t, epmd, node);
});

test('dist bad input: a handshake length beyond any handshake message is refused at once', async (t) => {
  const { epmd, node, logs, port } = await target(t);
  const c = await raw(t, port);
  // Only the length: the node must not wait for 65535 bytes (nor for net_setuptime).
  await c.write(Buffer.from([0xff, 0xff]));
  await c.waitClose(CLOSE_WAIT_MS);
  const l = await logged(logs, 'handshake_refused', (f) => f['peer'] === c.addr, 'the refusal of the oversize frame');
  t.is(l.fields?.['code'], 'protocol');
  t.regex(String(l.fields?.['reason']), new RegExp(`65535 bytes exceeds the limit of ${MAX_HANDSHAKE_MESSAGE}`));
  await carriesOn(t, epmd, node);
});

test('dist bad input: a valid send_name and then silence is dropped at net_setuptime, and the name is free again', async (t) => {
  const { epmd, node, logs, port } = await target(t);
  // The silent peer borrows the name of the node that connects afterwards: the
  // pending entry it left must be gone, or that node would be refused.
  const good = await distNode(t, epmd, { prefix: 'good' });
  const c = await raw(t, port);
  await c.write(hsFrame(encodeSendName({ flags: advertisedFlags(), creation: 5, name: good.name })));
  const answer = await c.waitBytes(2 + 3); // status 'sok'
  t.is(answer.subarray(2, 5).toString('latin1'), 'sok', 'the node answered status ok');
  await c.waitClose(SETUP_MS + CLOSE_WAIT_MS);
  const l = await logged(logs, 'handshake_refused', (f) => f['peer'] === good.name, 'the setup timeout');
  t.is(l.fields?.['code'], 'timeout');
  t.is(l.level, 'warn');
  t.regex(String(l.fields?.['reason']), /net_setuptime/);
  await carriesOn(t, epmd, node, good);
});

// --- after a completed handshake -------------------------------------------------

/**
 * Complete a real handshake with the node as `rogue<n>`, then hand back the socket
 * (with `beamq` the node then expects batch frames; without, ETF as from a BEAM).
 */
async function rogue(t: ExecutionContext, node: LocalNode, beamq: boolean): Promise<{ name: string; socket: net.Socket; closed: Promise<void> }> {
  const name = `rogue${process.pid}_${++seq}@127.0.0.1`;
  const socket = net.connect({ host: '127.0.0.1', port: node.dist!.port });
  t.teardown(() => socket.destroy());
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.on('error', () => undefined); // a reset shows up as close
  await withTimeout(new Promise((r) => socket.once('connect', r)), 'TCP connect to the node');
  const io = new SocketFrameIO(socket, { peer: node.name });
  const flags = beamq ? advertisedFlags() : advertisedFlags() & ~BEAMQ_FLAG;
  const hs = await initiate(io, { name, peer: node.name, creation: 9, cookie: 'test', flags });
  t.is(hs.beamqPeer, beamq);
  io.detach().socket.resume(); // read and drop whatever the node sends
  await waitFor(() => node.run(() => nodes()).includes(name), 'the node to see the rogue up');
  return { name, socket, closed };
}

const junk: [string, Buffer][] = [
  ['noise', noise(7, 64)],
  ['one byte', Buffer.from([0x01])],
  ['a CBOR tuple of the old format', Buffer.from([0x83, 0x02, 0x60, 0x01])],
  ['an ETF pass-through with a cut control', Buffer.from([112, 131, 104, 3, 97])],
];

for (const beamq of [true, false]) {
  const as = beamq ? 'a beamq peer' : 'a BEAM peer';
  test(`dist bad input: junk frames after the handshake (${as}) close only that connection`, async (t) => {
    const { epmd, node, logs } = await target(t);
    for (const [what, body] of junk) {
      const r = await rogue(t, node, beamq);
      r.socket.write(frame(body));
      await withTimeout(r.closed, `the node to close the connection after ${what}`, CLOSE_WAIT_MS);
      const l = await logged(logs, 'dist_protocol_error', (f) => f['node'] === r.name, `the log line for ${what}`);
      t.is(l.level, 'error');
      // ETF tells a value cut short ('truncated') from a wrong one; both are bad input.
      t.true(['malformed', 'truncated'].includes(l.fields?.['code'] as string), `${what}: code ${String(l.fields?.['code'])}`);
      t.truthy(l.fields?.['error'], `${what}: the log says what was wrong`);
      await logged(logs, 'nodedown', (f) => f['node'] === r.name && f['reason'] === 'protocol_error', `nodedown for ${what}`);
      t.false(node.run(() => nodes()).includes(r.name), `${what}: the rogue is gone from nodes()`);
    }
    await carriesOn(t, epmd, node);
  });

  test(`dist bad input: an oversize frame after the handshake (${as}) is refused from its length`, async (t) => {
    const { epmd, node, logs } = await target(t);
    const r = await rogue(t, node, beamq);
    // The length alone (2 GiB) must do: the node may not wait for, nor buffer, the body.
    r.socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x00]));
    await withTimeout(r.closed, 'the node to close the connection', CLOSE_WAIT_MS);
    const l = await logged(logs, 'dist_protocol_error', (f) => f['node'] === r.name, 'the log line');
    t.is(l.fields?.['code'], 'too_large');
    t.regex(String(l.fields?.['error']), /2147483647 bytes exceeds the limit/);
    await carriesOn(t, epmd, node);
  });
}
