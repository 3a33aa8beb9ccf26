/**
 * The bad-input catalogue of OTP's epmd_SUITE, against our daemon over loopback:
 * every case closes only its own connection (no reply) and the daemon keeps serving.
 * Reference behaviour: shared/reference/erlang/epmd-reference.md §0 and §6.
 */
import test from 'ava';
import { names, portPlease, register } from '../../epmd/index.js';
import { assertHealthy, daemon } from '../helpers/epmd.js';
import { exchange, hex, rawConnect, type RawConn } from '../helpers/raw-tcp.js';
import { waitFor } from '../helpers/wait.js';

const closesSilently: [string, string][] = [
  ['0000', 'length 0'],
  ['ffff6e', 'length 65535'],
  ['0bf2', 'length 3058, one past the input buffer'],
  ['000151', 'unknown opcode Q'],
  ['000578afc94d00', 'ALIVE2 body shorter than 14 bytes'],
  ['000d78afc94d00000600050000' + '0000', 'ALIVE2 with an empty name (over-long packet)'],
  ['000e78afe64d000006000500c8616263', 'ALIVE2 name length beyond the packet'],
  ['001778afea4d0000060005000a6370726f6265006e756c0000', 'ALIVE2 with NUL inside the name'],
  ['00047a610062', 'PORT_PLEASE2 with NUL inside the name'],
  ['00017a', 'PORT_PLEASE2 without a name'],
  ['00016e00016e', 'two NAMES pipelined in one write'],
  ['00027a6100', 'more bytes than announced'],
];

for (const [bytes, what] of closesSilently) {
  test(`bad input: ${what} is closed without a reply`, async (t) => {
    const d = await daemon(t);
    const keep = await register('bystander', 40000, { port: d.port });
    const reply = await exchange(d.port, hex(bytes));
    t.is(reply.length, 0, 'no reply');
    await assertHealthy(t, d);
    t.deepEqual(d.registered().map((r) => r.name), ['bystander'], 'other registrations untouched');
    await keep.close();
  });
}

test('bad input: a truncated body followed by FIN is closed without a reply', async (t) => {
  const d = await daemon(t);
  const c = await rawConnect(d.port);
  await c.write(hex('00147a6162'));
  c.socket.end();
  t.is((await c.waitClose()).length, 0);
  await assertHealthy(t, d);
});

test('bad input: a request sent one byte at a time is reassembled and answered', async (t) => {
  const d = await daemon(t);
  const r = await register('slowpoke', 41000, { port: d.port });
  const c = await rawConnect(d.port);
  const req = hex('00097a736c6f77706f6b65');
  for (const b of req) await c.write(Buffer.of(b));
  const reply = await c.waitClose();
  t.is(reply.readUInt16BE(2), 41000);
  t.is(reply.subarray(0, 2).toString('hex'), '7700');
  await r.close();
});

test('bad input: a 3057-byte request (the largest) is accepted and answered', async (t) => {
  const d = await daemon(t);
  const body = Buffer.alloc(3057);
  body[0] = 0x6e; // NAMES, padded: the real daemon reads the code and ignores the rest
  const reply = await exchange(d.port, Buffer.concat([hex('0bf1'), body]));
  t.is(reply.readUInt32BE(0), d.port);
});

test('bad input: stalled peers (nothing, 1 byte, header, partial body) are served around, then timed out', async (t) => {
  const d = await daemon(t, { packetTimeoutMs: 400 });
  const stalls: RawConn[] = [];
  for (const b of ['', '00', '0009', '000979736c']) {
    const c = await rawConnect(d.port);
    if (b !== '') await c.write(hex(b));
    stalls.push(c);
  }
  await assertHealthy(t, d);
  for (const c of stalls) t.is((await c.waitClose(10_000)).length, 0, 'closed by the packet timeout, no reply');
  await waitFor(() => d.connections() === 0, 'the daemon to forget the stalled connections');
  await assertHealthy(t, d);
});

test('bad input: a stalled peer does not delay anybody (default 60 s timeout)', async (t) => {
  const d = await daemon(t);
  const c = await rawConnect(d.port);
  await c.write(hex('00'));
  await assertHealthy(t, d);
  t.false(c.isClosed(), 'the stalled connection is still pending, and others were served');
  c.destroy();
});

test('bad input: 1000 concurrent idle connections, and 200 parallel queries, while every request is answered', async (t) => {
  const d = await daemon(t);
  const r = await register('busy', 42000, { port: d.port });
  const idle: RawConn[] = [];
  for (let i = 0; i < 1000; i++) idle.push(await rawConnect(d.port));
  t.is(d.connections(), 1001);
  await assertHealthy(t, d);
  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? names({ port: d.port }) : portPlease('busy', { port: d.port }))),
  );
  for (const [i, a] of answers.entries()) {
    if (i % 2 === 0) t.deepEqual((a as Awaited<ReturnType<typeof names>>).nodes, [{ name: 'busy', port: 42000 }]);
    else t.like(a, { port: 42000 });
  }
  t.true(idle.every((c) => !c.isClosed()), 'idle connections are held, not dropped');
  for (const c of idle) c.destroy();
  await r.close();
});

test('bad input: connections beyond the limit are dropped and the daemon carries on', async (t) => {
  const d = await daemon(t, { maxConnections: 5 });
  const held: RawConn[] = [];
  for (let i = 0; i < 5; i++) held.push(await rawConnect(d.port));
  const over = await rawConnect(d.port); // accepted by the kernel, closed by the daemon
  t.is((await over.waitClose()).length, 0);
  for (const c of held) c.destroy();
  await waitFor(() => d.connections() === 0, 'the held connections to close');
  await assertHealthy(t, d);
});
