import test from 'ava';
import fc from 'fast-check';
import net from 'node:net';
import { DistProtocolError } from '../../../runtime/dist/errors.js';
import {
  encodeFrame,
  encodeTick,
  FrameIOError,
  FrameReader,
  memoryPair,
  SocketFrameIO,
  type FrameMode,
} from '../../../runtime/dist/framing.js';
import { waitFor, withTimeout } from '../../helpers/wait.js';

/** Feed `bytes` cut at `cuts` and collect every frame that comes out. */
function reassemble(bytes: Buffer, cuts: number[], mode: FrameMode): Buffer[] {
  const r = new FrameReader(mode);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...new Set(cuts)].sort((a, b) => a - b).concat(bytes.length)) {
    r.push(bytes.subarray(prev, p));
    prev = p;
    for (let f = r.next(); f !== undefined; f = r.next()) out.push(Buffer.from(f));
  }
  if (r.buffered !== 0) throw new Error(`${r.buffered} bytes left over`);
  return out;
}

test('framing: encodeFrame prefixes 2 or 4 length bytes; a tick is four zero bytes', (t) => {
  t.is(encodeFrame(Buffer.from('abc'), 'handshake').toString('hex'), '0003616263');
  t.is(encodeFrame(Buffer.from('abc'), 'connected').toString('hex'), '00000003616263');
  t.is(encodeTick().toString('hex'), '00000000');
  t.throws(() => encodeFrame(Buffer.alloc(0x10000), 'handshake'), { instanceOf: DistProtocolError, message: /65535/ });
  t.throws(() => encodeFrame(Buffer.alloc(11), 'connected', 10), { instanceOf: DistProtocolError });
});

test('framing: any split of several frames reassembles them in order (both modes)', (t) => {
  const payloads = fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 6 });
  for (const mode of ['handshake', 'connected'] as const) {
    fc.assert(
      fc.property(payloads, fc.array(fc.nat(), { maxLength: 12 }), (ps, rawCuts) => {
        const bytes = Buffer.concat(ps.map((p) => encodeFrame(p, mode)));
        const cuts = rawCuts.map((c) => c % (bytes.length + 1));
        const out = reassemble(bytes, cuts, mode);
        return out.length === ps.length && out.every((f, i) => f.equals(Buffer.from(ps[i]!)));
      }),
    );
  }
  t.pass();
});

test('framing: byte at a time, and several frames in one chunk', (t) => {
  const bytes = Buffer.concat([encodeFrame(Buffer.from('one'), 'connected'), encodeTick(), encodeFrame(Buffer.from('three'), 'connected')]);
  const byByte = reassemble(bytes, [...bytes.keys()], 'connected');
  t.deepEqual(byByte.map((f) => f.toString()), ['one', '', 'three']);
  const together = reassemble(bytes, [], 'connected');
  t.deepEqual(together.map((f) => f.toString()), ['one', '', 'three']);
});

test('framing: switching mode keeps bytes that arrived with the last handshake frame', (t) => {
  const r = new FrameReader('handshake');
  // The ack and the first connected frame in one TCP segment, as erl sends them.
  r.push(Buffer.concat([encodeFrame(Buffer.from('a0123456789abcdef'), 'handshake'), encodeFrame(Buffer.from('p-msg'), 'connected'), encodeTick()]));
  t.is(r.next()?.toString(), 'a0123456789abcdef');
  r.setMode('connected');
  t.is(r.next()?.toString(), 'p-msg');
  t.is(r.next()?.length, 0, 'tick');
  t.is(r.next(), undefined);
  r.push(Buffer.from([0, 0, 0, 9, 1, 2]));
  t.deepEqual(r.takeBuffered(), Buffer.from([0, 0, 0, 9, 1, 2]), 'raw bytes handed back');
  t.is(r.buffered, 0);
});

test('framing: a length over the limit is refused before the body arrives', (t) => {
  const r = new FrameReader('connected', 1000);
  r.push(Buffer.from([0, 0, 0x03, 0xe9]));
  t.is(t.throws(() => r.next(), { instanceOf: DistProtocolError })?.code, 'too_large');
  const big = new FrameReader('connected');
  big.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  t.throws(() => big.next(), { instanceOf: DistProtocolError, message: /4294967295/ });
});

test('framing: memory pair delivers in order, drains before closed, and times out', async (t) => {
  const [a, b] = memoryPair();
  a.send(Buffer.from('1'));
  a.send(Buffer.from('2'));
  t.is((await b.recv(1000)).toString(), '1');
  const pending = b.recv(1000);
  t.is((await pending).toString(), '2');
  const timedOut = await t.throwsAsync(b.recv(20), { instanceOf: FrameIOError });
  t.is(timedOut?.code, 'timeout');
  a.send(Buffer.from('last'));
  a.close();
  t.is((await b.recv(1000)).toString(), 'last', 'frames sent before close still arrive');
  t.is((await t.throwsAsync(b.recv(1000), { instanceOf: FrameIOError }))?.code, 'closed');
  t.throws(() => b.send(Buffer.from('x')), { instanceOf: FrameIOError });
  const [c, d] = memoryPair();
  const waiting = d.recv(5000);
  c.close();
  t.is((await t.throwsAsync(waiting, { instanceOf: FrameIOError }))?.code, 'closed', 'a pending recv fails on close');
});

async function socketPair(t: { teardown(f: () => void): void }): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect({ port, host: '127.0.0.1' });
  await new Promise((r) => client.once('connect', r));
  const srv = await withTimeout(accepted, 'the server side of the socket pair');
  t.teardown(() => {
    client.destroy();
    srv.destroy();
  });
  return [client, srv];
}

test('framing: socket FrameIO switches to 4-byte frames and hands back buffered bytes', async (t) => {
  const [client, srv] = await socketPair(t);
  const io = new SocketFrameIO(srv);
  // Handshake frame, a connected frame and half of another, in pieces.
  const bytes = Buffer.concat([
    encodeFrame(Buffer.from('hello'), 'handshake'),
    encodeFrame(Buffer.from('world'), 'connected'),
    encodeTick(),
    Buffer.from([0, 0, 0, 5, 0x61]),
  ]);
  for (const b of bytes) client.write(Buffer.of(b));
  t.is((await io.recv(2000)).toString(), 'hello');
  io.setMode('connected');
  t.is((await io.recv(2000)).toString(), 'world');
  t.is((await io.recv(2000)).length, 0, 'tick');
  await waitFor(() => io.buffered === 5, 'the trailing partial frame to arrive');
  const { socket, buffered } = io.detach();
  t.is(socket, srv);
  t.deepEqual(buffered, Buffer.from([0, 0, 0, 5, 0x61]));
  t.is(srv.listenerCount('data'), 0);
});

test('framing: socket FrameIO sends with the current header and reports close', async (t) => {
  const [client, srv] = await socketPair(t);
  const io = new SocketFrameIO(srv, { peer: 'peer@x' });
  const got: Buffer[] = [];
  client.on('data', (b: Buffer) => got.push(b));
  io.send(Buffer.from('hs'));
  io.setMode('connected');
  io.send(Buffer.from('c'));
  io.send(Buffer.alloc(0));
  const reader = new FrameReader('handshake');
  const frames: string[] = [];
  await waitFor(() => {
    for (const b of got.splice(0)) reader.push(b);
    for (let f = reader.next(); f !== undefined; f = reader.next()) {
      frames.push(f.toString());
      reader.setMode('connected');
    }
    return frames.length === 3;
  }, 'three frames at the client');
  t.deepEqual(frames, ['hs', 'c', '']);
  const pending = io.recv(5000);
  client.end();
  const err = await t.throwsAsync(pending, { instanceOf: FrameIOError });
  t.is(err?.code, 'closed');
  t.regex(err?.message ?? '', /peer@x/);
  t.throws(() => io.send(Buffer.from('x')), { instanceOf: FrameIOError });
});

test('framing: socket FrameIO rejects an oversize frame', async (t) => {
  const [client, srv] = await socketPair(t);
  const io = new SocketFrameIO(srv, { maxFrame: 16 });
  io.setMode('connected');
  client.write(Buffer.from([0, 0, 0, 17]));
  const err = await t.throwsAsync(io.recv(2000), { instanceOf: DistProtocolError });
  t.is(err?.code, 'too_large');
  io.close();
});
