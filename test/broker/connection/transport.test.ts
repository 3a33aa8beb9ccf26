/**
 * broker/connection/transport.ts and tcp-handle.ts: the two TCP transports (node:net's
 * Socket, libuv's handle) behave alike — nothing the client sends before the first
 * owner is ready is lost, a turn's writes go out together, end() flushes, a large or
 * held-up write is followed by 'drain', the peer's FIN or reset closes.
 */
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { TcpTransport, type Receiver, type Transport } from '../../../broker/connection/transport.js';
import { handleBindings, listenHandle } from '../../../broker/connection/tcp-handle.js';
import { withTimeout } from '../../helpers/wait.js';

type Backend = 'net' | 'handle';
const BACKENDS: readonly Backend[] = ['net', 'handle'];

test('transport: this Node offers the handle bindings (else the listener falls back to net)', (t) => {
  t.not(handleBindings(), undefined);
});

/** A server-side transport of `backend` and the client socket connected to it. */
async function pair(t: ExecutionContext, backend: Backend): Promise<{ tr: Transport; client: net.Socket }> {
  let accepted: (tr: Transport) => void = () => undefined;
  const got = new Promise<Transport>((resolve) => (accepted = resolve));
  let port: number;
  if (backend === 'net') {
    const server = net.createServer((s) => accepted(new TcpTransport(s)));
    t.teardown(() => server.close());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  } else {
    const h = await listenHandle(handleBindings()!, '127.0.0.1', 0, (tr) => accepted(tr));
    t.teardown(h.close);
    port = h.port;
  }
  const client = net.connect(port, '127.0.0.1');
  t.teardown(() => client.destroy());
  client.on('error', () => undefined);
  const tr = await withTimeout(got, 'the accept');
  t.teardown(() => tr.destroy());
  return { tr, client };
}

const receiver = (r: Partial<Receiver>): Receiver => ({ data: () => undefined, closed: () => undefined, drain: () => undefined, ...r });

function readAll(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    let len = 0;
    s.on('data', (c: Buffer) => {
      got.push(c);
      len += c.length;
      if (len >= n) resolve(Buffer.concat(got));
    });
  });
}

for (const backend of BACKENDS) {
  test(`transport (${backend}): bytes that arrive before the first receiver are delivered to it`, async (t) => {
    const { tr, client } = await pair(t, backend);
    client.write('early bytes');
    // Let the bytes arrive while nobody listens (the acceptor's first turn may come late).
    await new Promise((r) => setTimeout(r, 50));
    const got = await withTimeout(new Promise<string>((resolve) => tr.receive(receiver({ data: (_t, b) => resolve(b.toString()) }))), 'the early bytes');
    t.is(got, 'early bytes');
  });

  test(`transport (${backend}): a new receiver gets what follows, not the old one; a receiver set after the close is told at once`, async (t) => {
    const { tr, client } = await pair(t, backend);
    const first: string[] = [];
    const second: string[] = [];
    const gotFirst = new Promise<void>((resolve) =>
      tr.receive(receiver({ data: (_t, b) => { first.push(b.toString()); resolve(); }, closed: () => first.push('closed') })),
    );
    client.write('one');
    await withTimeout(gotFirst, 'the first bytes');
    const closed = new Promise<void>((resolve) =>
      tr.receive(receiver({ data: (_t, b) => second.push(b.toString()), closed: (x) => { t.is(x, tr); second.push('closed'); resolve(); } })),
    );
    client.end('two');
    await withTimeout(closed, 'the close');
    t.deepEqual(first, ['one']);
    t.deepEqual(second, ['two', 'closed']);
    t.true(tr.closed);
    const late = await new Promise<string>((resolve) => tr.receive(receiver({ closed: () => resolve('told') })));
    t.is(late, 'told');
  });

  test(`transport (${backend}): the writes of one turn go out together and in order, small or large; backlog counts them`, async (t) => {
    const { tr, client } = await pair(t, backend);
    tr.receive(receiver({}));
    const small = Array.from({ length: 50 }, (_, i) => Buffer.from([i, i, i]));
    const big = Array.from({ length: 4 }, (_, i) => Buffer.alloc(10_000, i + 100));
    const expected = Buffer.concat([...small, ...big, Buffer.from('end')]);
    const done = readAll(client, expected.length);
    for (const b of small) tr.write(b);
    t.is(tr.backlog, 150, 'pending bytes count before the flush');
    for (const b of big) tr.write(b);
    tr.write(Buffer.from('end'));
    t.deepEqual(await withTimeout(done, 'all the bytes'), expected);
  });

  test(`transport (${backend}): end() sends what this turn wrote before closing`, async (t) => {
    const { tr, client } = await pair(t, backend);
    tr.receive(receiver({}));
    const done = readAll(client, 6);
    const fin = new Promise<void>((resolve) => client.on('end', resolve));
    tr.write(Buffer.from('last'));
    tr.write(Buffer.from('!!'));
    tr.end();
    t.is((await withTimeout(done, 'the bytes')).toString(), 'last!!');
    await withTimeout(fin, "the server's FIN");
  });

  test(`transport (${backend}): a client that stops reading builds a backlog; when it reads again, everything arrives and 'drain' is told`, async (t) => {
    const { tr, client } = await pair(t, backend);
    let drains = 0;
    let drained: () => void = () => undefined;
    tr.receive(receiver({ drain: () => { drains++; drained(); } }));
    client.pause();
    const chunk = Buffer.alloc(64 * 1024, 7);
    const N = 256; // 16 MB: more than loopback's socket buffers hold
    for (let i = 0; i < N; i++) {
      tr.write(chunk);
      await new Promise((r) => setImmediate(r));
    }
    t.true(tr.backlog > 0, `bytes wait while the client does not read (${tr.backlog})`);
    const drainedNow = new Promise<void>((resolve) => (drained = resolve));
    const all = readAll(client, N * chunk.length);
    client.resume();
    t.is((await withTimeout(all, 'all the bytes', 20_000)).length, N * chunk.length);
    await withTimeout(drainedNow, "'drain'");
    t.is(tr.backlog, 0);
    t.true(drains > 0);
  });

  test(`transport (${backend}): end() to a client that does not read closes anyway once the linger is over`, async (t) => {
    const { tr, client } = await pair(t, backend);
    const closed = new Promise<void>((resolve) => tr.receive(receiver({ closed: () => resolve() })));
    client.pause();
    const chunk = Buffer.alloc(64 * 1024, 7);
    for (let i = 0; i < 256; i++) {
      tr.write(chunk);
      await new Promise((r) => setImmediate(r));
    }
    t.true(tr.backlog > 0, 'bytes wait for the client');
    tr.end(100);
    await withTimeout(closed, 'the close after the linger');
    t.true(tr.closed);
  });

  test(`transport (${backend}): a reset by the peer closes the transport; later writes are dropped`, async (t) => {
    const { tr, client } = await pair(t, backend);
    const closed = new Promise<void>((resolve) => tr.receive(receiver({ closed: () => resolve() })));
    client.resetAndDestroy();
    await withTimeout(closed, 'the close');
    t.true(tr.closed);
    t.notThrows(() => tr.write(Buffer.from('late')));
    t.notThrows(() => tr.end());
  });
}
