/**
 * Subscription storm: many clients spread round-robin over the joined nodes, each
 * connecting and subscribing its own filter `t/mqttx/+/<i>/sub/+/#` (as emqtt-bench's
 * `sub -t t/mqttx/+/%i/sub/+/#` does), `concurrency` at a time. Then every node's route
 * table must hold every filter: polled by rpc from the start of the storm's end (a
 * SUBACK already waits for every member to have the route, so this should be at once),
 * and checked once more from outside with `scripts/ctl routes list`.
 */
import type mqtt from 'mqtt';
import type { BenchNode, BenchNodes } from './cluster-nodes.js';
import { connect, endAll, subscribe } from './cluster-mqtt.js';
import { quantile } from './cluster-latency.js';

export interface StormOptions {
  readonly clients: number;
  /** Clients connecting/subscribing at once. */
  readonly concurrency: number;
  /** Longest the storm may take; clients not done by then count as failed. */
  readonly timeoutMs: number;
}

export interface StormResult {
  readonly subacked: number;
  readonly failed: number;
  /** From the first CONNECT to the last SUBACK. */
  readonly allSubackedMs: number;
  readonly clientP50Ms: number;
  readonly clientP99Ms: number;
  readonly clientMaxMs: number;
  /** From the first CONNECT until every node's table (polled by rpc) held every filter; NaN if never. */
  readonly replicatedMs: number;
  /** Storm filters in each node's table, as `scripts/ctl routes list --json` printed them. */
  readonly ctlRoutes: Record<string, number>;
  readonly firstError?: string;
}

const FILTER = /^t\/mqttx\/\+\/\d+\/sub\/\+\/#$/;
const REPLICATION_TIMEOUT_MS = 30_000;

export async function storm(nodes: BenchNodes, members: readonly BenchNode[], o: StormOptions): Promise<StormResult> {
  const clients: mqtt.MqttClient[] = [];
  const times: number[] = [];
  let failed = 0;
  let firstError: string | undefined;
  try {
    const t0 = performance.now();
    const deadline = t0 + o.timeoutMs;
    let next = 0;
    let lastSuback = t0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < o.clients; i = next++) {
        if (performance.now() > deadline) {
          failed++;
          continue;
        }
        const node = members[i % members.length]!;
        const start = performance.now();
        try {
          const c = await connect(node.port, `storm_${i}`);
          clients.push(c);
          await subscribe(c, `t/mqttx/+/${i}/sub/+/#`, 0);
          lastSuback = performance.now();
          times.push(lastSuback - start);
        } catch (err) {
          failed++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, o.clients) }, worker));
    const allSubackedMs = lastSuback - t0;

    // Every node must now hold every filter that was SUBACKed.
    let replicatedMs = NaN;
    const pollEnd = performance.now() + REPLICATION_TIMEOUT_MS;
    while (performance.now() < pollEnd) {
      const counts = await Promise.all(members.map(async (n) => countStorm((await nodes.call(n.name, 'routes_list')) as { filter: string }[])));
      if (counts.every((c) => c >= times.length)) {
        replicatedMs = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const ctlRoutes: Record<string, number> = {};
    for (const n of members) ctlRoutes[n.name] = countStorm(JSON.parse(await nodes.ctl(n.name, 'routes', 'list', '--json')) as { filter: string }[]);

    const sorted = [...times].sort((a, b) => a - b);
    return {
      subacked: times.length,
      failed,
      allSubackedMs,
      clientP50Ms: quantile(sorted, 0.5),
      clientP99Ms: quantile(sorted, 0.99),
      clientMaxMs: sorted.at(-1) ?? NaN,
      replicatedMs,
      ctlRoutes,
      ...(firstError === undefined ? {} : { firstError }),
    };
  } finally {
    endAll(clients);
  }
}

function countStorm(routes: readonly { filter: string }[]): number {
  let n = 0;
  for (const r of routes) if (FILTER.test(r.filter)) n++;
  return n;
}
