/**
 * The node as a whole: kernel_sup runs the services in order and, on SIGTERM or
 * SIGINT, stops them in reverse order before the OS process exits.
 */
import test from 'ava';
import path from 'node:path';
import { genServer, worker, type GenServer } from '../../runtime/index.js';
import { repoRoot } from '../helpers/paths.js';
import { startChild } from '../helpers/procs.js';
import { testNode } from '../helpers/runtime.js';

const fixture = path.join(repoRoot, 'build', 'test', 'fixtures', 'signal-node.js');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`node: ${signal} stops the services in reverse order, then the process exits 0`, async (t) => {
    const child = startChild(process.execPath, [fixture], { env: { ...process.env, BEAMQ_LOG_LEVEL: 'error' } });
    t.teardown(() => child.kill());
    await child.waitOutput(/ready\n/, 'the node to start');
    child.kill(signal);
    t.is(await child.exited(), 0);
    t.deepEqual(child.output().trim().split('\n'), [
      'start:a',
      'start:b',
      'start:c',
      'ready',
      'stop:c:shutdown',
      'stop:b:shutdown',
      'stop:a:shutdown',
    ]);
  });
}

test('node: services can be added to kernel_sup, and stop() stops them and every other process', async (t) => {
  const node = await testNode(t);
  const stops: string[] = [];
  const svc: GenServer<{ calls: Record<never, never> }, null, void> = {
    init: () => genServer.ok(null),
    terminate: (r) => void stops.push(String(r)),
  };
  const pid = await node.startService(worker('svc', () => genServer.startLink(svc, undefined, { trapExit: true })));
  const stray = node.spawn({ handle: () => undefined });
  await node.stop();
  t.deepEqual(stops, ['shutdown']);
  t.false(node.core.isAlive(pid));
  t.false(node.core.isAlive(stray));
  t.is(node.core.procs.size, 0);
});
