/**
 * Distributed nodes for tests: our epmd on an ephemeral loopback port, and named
 * nodes in this OS process registered with it, all stopped in teardown.
 */
import type { ExecutionContext } from 'ava';
import { startDaemon, type Daemon } from '../../epmd/index.js';
import { startNode, type LocalNode, type NodeOptions } from '../../runtime/index.js';

let seq = 0;

export async function testEpmd(t: ExecutionContext): Promise<Daemon> {
  const d = await startDaemon({ port: 0, addresses: ['127.0.0.1'] });
  t.teardown(() => d.close());
  return d;
}

/** A named node `<prefix><n>@127.0.0.1` on the given epmd, cookie 'test' unless told. */
export async function distNode(t: ExecutionContext, epmd: Daemon, opts: Partial<NodeOptions> & { prefix?: string } = {}): Promise<LocalNode> {
  const { prefix, ...rest } = opts;
  const n = await startNode({
    name: `${prefix ?? 'n'}${process.pid}_${++seq}@127.0.0.1`,
    cookie: 'test',
    epmdPort: epmd.port,
    ...rest,
  });
  t.teardown(() => n.stop());
  return n;
}
