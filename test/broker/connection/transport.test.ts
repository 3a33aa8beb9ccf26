/** broker/connection/transport.ts: nothing the client sends before the first owner is ready is lost. */
import net from 'node:net';
import test from 'ava';
import { TcpTransport } from '../../../broker/connection/transport.js';

test('transport: bytes that arrive before onData are delivered to the first handler', async (t) => {
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
  const got = await new Promise<string>((resolve) => tr.onData((b) => resolve(b.toString())));
  t.is(got, 'early bytes');
});
