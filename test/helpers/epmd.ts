/** Our EPMD daemon on an ephemeral loopback port, closed in teardown, plus a health check. */
import type { ExecutionContext } from 'ava';
import { names, portPlease, startDaemon, type Daemon, type DaemonOptions } from '../../epmd/index.js';

export async function daemon(t: ExecutionContext, opts: DaemonOptions = {}): Promise<Daemon> {
  const d = await startDaemon({ port: 0, addresses: ['127.0.0.1'], ...opts });
  t.teardown(() => d.close());
  return d;
}

/** The daemon still answers NAMES and PORT_PLEASE2 correctly from a fresh connection. */
export async function assertHealthy(t: ExecutionContext, d: Daemon): Promise<void> {
  const n = await names({ port: d.port, timeoutMs: 2_000 });
  t.is(n.epmdPort, d.port, 'NAMES answers with the daemon port');
  t.deepEqual(
    n.nodes.map((x) => x.name),
    d.registered().map((x) => x.name),
    'NAMES lists what is registered',
  );
  for (const r of d.registered()) {
    const p = await portPlease(r.name, { port: d.port, timeoutMs: 2_000 });
    t.is(p === 'noport' ? -1 : p.port, r.port, `PORT_PLEASE2 ${r.name}`);
  }
  t.is(await portPlease('surely_not_registered', { port: d.port, timeoutMs: 2_000 }), 'noport');
}
