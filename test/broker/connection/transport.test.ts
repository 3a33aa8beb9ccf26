/** broker/connection/transport.ts: nothing the client sends before the first owner is ready is lost. */
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { TcpTransport } from '../../../broker/connection/transport.js';

test('transport: bytes that arrive before the first receiver are delivered to it', async (t) => {
  const accepted = new Promise<net.Socket>((resolve) => {
    const server = net.createServer(resolve);
    t.teardown(() => server.close());
    server.listen(0, '127.0.0.1', () => {
      const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', () => c.write('early bytes'));
      t.teardown(() => c.destroy());
    });
  });
  const tr = new TcpTransport(await accepted);
  t.teardown(() => tr.destroy());
  // Let the bytes arrive while nobody listens (the acceptor's first turn may come late).
  await new Promise((r) => setTimeout(r, 50));
  const got = await new Promise<string>((resolve) => tr.receive({ data: (_t, b) => resolve(b.toString()), closed: () => undefined, drain: () => undefined }));
  t.is(got, 'early bytes');
});

test('transport: a new receiver gets what follows, not the old one; a receiver set after the close is told at once', async (t) => {
  const { tr, client } = await pair(t);
  const first: string[] = [];
  const second: string[] = [];
  const gotFirst = new Promise<void>((resolve) =>
    tr.receive({ data: (_t, b) => { first.push(b.toString()); resolve(); }, closed: () => first.push('closed'), drain: () => undefined }),
  );
  client.write('one');
  await gotFirst;
  const closed = new Promise<void>((resolve) =>
    tr.receive({ data: (_t, b) => second.push(b.toString()), closed: (x) => { t.is(x, tr); second.push('closed'); resolve(); }, drain: () => undefined }),
  );
  client.end('two');
  await closed;
  t.deepEqual(first, ['one']);
  t.deepEqual(second, ['two', 'closed']);
  t.true(tr.closed);
  const late = await new Promise<string>((resolve) => tr.receive({ data: () => undefined, closed: () => resolve('told'), drain: () => undefined }));
  t.is(late, 'told');
});

async function pair(t: ExecutionContext): Promise<{ tr: TcpTransport; client: net.Socket }> {
  let client: net.Socket | undefined;
  const accepted = new Promise<net.Socket>((resolve) => {
    const server = net.createServer(resolve);
    t.teardown(() => server.close());
    server.listen(0, '127.0.0.1', () => {
      client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      t.teardown(() => client?.destroy());
    });
  });
  const tr = new TcpTransport(await accepted);
  t.teardown(() => tr.destroy());
  return { tr, client: client! };
}

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

test('transport: the writes of one turn go out together and in order, small or large; backlog counts them', async (t) => {
  const { tr, client } = await pair(t);
  const small = Array.from({ length: 50 }, (_, i) => Buffer.from([i, i, i]));
  const big = Array.from({ length: 4 }, (_, i) => Buffer.alloc(10_000, i + 100));
  const expected = Buffer.concat([...small, ...big, Buffer.from('end')]);
  const done = readAll(client, expected.length);
  for (const b of small) tr.write(b);
  t.is(tr.backlog, 150, 'pending bytes count before the flush');
  for (const b of big) tr.write(b);
  tr.write(Buffer.from('end'));
  t.deepEqual(await done, expected);
});

test('transport: end() sends what this turn wrote before closing', async (t) => {
  const { tr, client } = await pair(t);
  const done = readAll(client, 6);
  tr.write(Buffer.from('last'));
  tr.write(Buffer.from('!!'));
  tr.end();
  t.is((await done).toString(), 'last!!');
});
