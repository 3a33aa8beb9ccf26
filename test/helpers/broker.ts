/**
 * A broker on a fresh node in this OS process, with listeners on free loopback ports,
 * stopped in teardown.
 */
import type { ExecutionContext } from 'ava';
import { loadConfig, startBroker, type Broker } from '../../broker/index.js';
import { startNode, type LocalNode } from '../../runtime/index.js';

export interface TestBroker {
  readonly node: LocalNode;
  readonly broker: Broker;
  readonly tcp: number;
  readonly ws: number;
}

export async function testBroker(t: ExecutionContext, overrides: Record<string, unknown> = {}): Promise<TestBroker> {
  const node = await startNode();
  t.teardown(() => node.stop());
  const base = { listeners: { tcp: { bind: '127.0.0.1:0' }, ws: { bind: '127.0.0.1:0' } }, sys: { interval_ms: 0 } };
  const cfg = loadConfig(deepMerge(base, overrides), {});
  const broker = await startBroker(node, cfg);
  const p = broker.ports();
  return { node, broker, tcp: p.tcp!, ws: p.ws! };
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const av = out[k];
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof av === 'object' && av !== null ? deepMerge(av as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}
