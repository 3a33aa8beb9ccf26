/**
 * A Node broker under test, alone in this OS process (forked by mqtt-brokers.ts with
 * --expose-gc): `beamq` (a fresh node with the broker), `aedes`, or `node-floor` (a
 * server that only answers: mqtt-floor.ts), listening on a free loopback port. IPC:
 * sends {t:'ready', port}; answers {t:'gc'} with {t:'gc_done'} (so memory is sampled
 * after a full collection); {t:'stop'} or a lost parent ends it.
 */
import net from 'node:net';
import { Aedes } from 'aedes';
import { loadConfig, startBroker } from '../../broker/index.js';
import { startNode, tierUpEarly } from '../../runtime/index.js';
import { startFloor } from './mqtt-floor.js';
import { listenLoopback } from './ports.js';

type HostMsg = { readonly t: 'gc' } | { readonly t: 'stop' };

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const send = (m: object): void => void process.send?.(m);

/** Start `impl`; returns the port and how to stop it. */
async function start(impl: string): Promise<{ port: number; stop: () => Promise<void> }> {
  if (impl === 'beamq') {
    // Limits shared with the other brokers come from mqtt-brokers.ts as BEAMQ_MQTT__* variables.
    const cfg = loadConfig({ listeners: { tcp: { bind: '127.0.0.1:0' }, ws: { enable: false } }, sys: { interval_ms: 0 } }, process.env);
    // As scripts/node.ts starts it: V8's early tier-up, the node's busy wait from the config (BEAMQ_NODE__BUSY_WAIT).
    tierUpEarly();
    const node = await startNode({ busyWait: cfg.node.busy_wait });
    const b = await startBroker(node, cfg);
    const port = b.ports().tcp;
    if (port === undefined) throw new Error('beamq: no tcp listener');
    return { port, stop: () => node.stop() };
  }
  if (impl === 'aedes') {
    const aedes = await Aedes.createBroker();
    const server = net.createServer({ noDelay: true }, aedes.handle);
    const port = await listenLoopback(server);
    return {
      port,
      stop: () =>
        new Promise<void>((resolve) => {
          server.close();
          aedes.close(() => resolve());
        }),
    };
  }
  if (impl === 'node-floor') return startFloor();
  throw new Error(`unknown broker ${impl}`);
}

const impl = process.argv[2] ?? '';
const running = await start(impl);
process.on('disconnect', () => process.exit(0)); // the bench is gone: so are we
process.on('message', (m: HostMsg) => {
  if (m.t === 'gc') {
    gc();
    gc();
    send({ t: 'gc_done' });
  } else if (m.t === 'stop') {
    void running.stop().finally(() => process.exit(0));
  }
});
send({ t: 'ready', port: running.port });
