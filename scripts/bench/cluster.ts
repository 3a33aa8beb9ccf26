/**
 * `npm run bench -- cluster`: the MQTT broker across nodes, each node its own OS
 * process on loopback (cluster-nodes.ts), with MQTT.js clients in this process. One run
 * starts a joined cluster of CLUSTER_BENCH_NODES nodes and one standalone node, and
 * prints, in this order:
 *
 *   fanin_q<Q>_{single,cross}_msgs_per_s   publishers on node1, wildcard subscriber on
 *                                          node2 (cross) vs. both on the standalone node
 *                                          (single); fanin_q<Q>_ratio = cross / single
 *   latency_{single,cross}_{p50,p99,max}_us  one publisher → one subscriber at a fixed rate
 *   connect_{new,takeover}_{single,cross}_{p50,p99,max}_us  CONNECT → CONNACK, one at
 *                                          a time: a new id (cluster: round-robin over the
 *                                          members), and a persistent session taken over
 *                                          from node1 on node2 (single: on the same node)
 *   storm_*                                clients round-robin over the cluster, each
 *                                          subscribing its own filter: time to all SUBACKs,
 *                                          per-client connect→SUBACK, time until every
 *                                          node's route table had every filter, and the
 *                                          filters each node's `scripts/ctl routes list` shows
 *
 * Each figure carries `cpu_s`: CPU seconds each process (this one = bench) used during
 * its run, which shows where the time went. The single and cross runs of a figure go
 * back to back, so that a noisy neighbour tends to weigh on both.
 *
 * The nodes run with unbounded session queues (BEAMQ_MQTT__MAX_MQUEUE_LEN=0 unless set),
 * so that a fan-in measures delivery, not the drop policy; `sent`/`received` show losses.
 *
 * CLUSTER_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=prof" passes Node options to every node
 * (a profile is written when the bench stops the nodes).
 *
 * Sizes (environment):
 *   CLUSTER_BENCH_RUNS=fanin,latency,connect,storm   which runs (default all)
 *   CLUSTER_BENCH_NODES=3          nodes in the cluster (≥ 2)
 *   CLUSTER_BENCH_MSGS=100000      fan-in QoS 0 messages per run, over all publishers
 *   CLUSTER_BENCH_MSGS_QOS1=20000  the same at QoS 1 (slower: each subscriber delivery waits for a window slot)
 *   CLUSTER_BENCH_PUBLISHERS=4     fan-in publishers
 *   CLUSTER_BENCH_QOS=0,1          fan-in QoS levels
 *   CLUSTER_BENCH_PAYLOAD=64       payload bytes (fan-in and latency)
 *   CLUSTER_BENCH_RATE=2000        latency: messages per second offered
 *   CLUSTER_BENCH_SECONDS=3        latency: seconds per run
 *   CLUSTER_BENCH_CONNECTS=500     connect: new ids per case (takeovers: half as many)
 *   CLUSTER_BENCH_CLIENTS=5000     storm clients
 *   CLUSTER_BENCH_CONCURRENCY=100  storm clients connecting at once
 */
import { connectNew, connectTakeover, type ConnectLatency } from './cluster-connect.js';
import { fanIn } from './cluster-fanin.js';
import { latency } from './cluster-latency.js';
import { startNodes, type BenchNode } from './cluster-nodes.js';
import { storm } from './cluster-storm.js';
import { emit, note } from './report.js';

const BENCH = 'cluster';
const IMPL = 'beamq';
const FANIN_TIMEOUT_MS = 30_000;
const STORM_TIMEOUT_MS = 90_000;

const num = (name: string, dflt: number, min = 1): number => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v < min) throw new Error(`${name}: expected a number ≥ ${min}, got ${process.env[name]}`);
  return v;
};
const list = (name: string, dflt: string): string[] => (process.env[name] ?? dflt).split(',').filter((s) => s !== '');

export async function benchCluster(): Promise<void> {
  const runs = list('CLUSTER_BENCH_RUNS', 'fanin,latency,connect,storm');
  const nodeCount = num('CLUSTER_BENCH_NODES', 3, 2);
  const alives = [...Array.from({ length: nodeCount }, (_, i) => `bench_c${i + 1}`), 'bench_single'];
  note(`starting ${nodeCount} cluster nodes and a standalone one`);
  const all = await startNodes(alives);
  try {
    const members = all.nodes.slice(0, nodeCount);
    const single = all.nodes[nodeCount]!;
    await all.join(members);
    const [n1, n2] = members as [BenchNode, BenchNode];
    // CPU each process used while `fn` ran, rounded to 10 ms (the /proc resolution).
    const cpu = async <T>(fn: () => Promise<T>): Promise<[T, Record<string, number>]> => {
      const before = all.cpuSeconds();
      const bench = process.cpuUsage();
      const r = await fn();
      const after = all.cpuSeconds();
      const used: Record<string, number> = {};
      for (const [name, s] of Object.entries(after)) if (Number.isFinite(s)) used[short(name)] = Math.round((s - (before[name] ?? 0)) * 100) / 100;
      const b = process.cpuUsage(bench);
      used['bench'] = Math.round((b.user + b.system) / 1e4) / 100;
      return [r, used];
    };

    if (runs.includes('fanin')) {
      const publishers = num('CLUSTER_BENCH_PUBLISHERS', 4);
      const messagesQos0 = num('CLUSTER_BENCH_MSGS', 100_000);
      const messagesQos1 = num('CLUSTER_BENCH_MSGS_QOS1', 20_000);
      const payloadBytes = num('CLUSTER_BENCH_PAYLOAD', 64, 0);
      for (const q of list('CLUSTER_BENCH_QOS', '0,1')) {
        const qos = q === '1' ? 1 : 0;
        const messages = qos === 1 ? messagesQos1 : messagesQos0;
        const rate: Record<string, number> = {};
        for (const [where, pubPort, subPort] of [['single', single.port, single.port], ['cross', n1.port, n2.port]] as const) {
          note(`fan-in qos ${qos} ${where}: ${publishers} publishers, ${messages} messages`);
          const [r, cpu_s] = await cpu(() => fanIn(pubPort, subPort, { tag: `fanin_q${qos}_${where}`, publishers, messages, qos, payloadBytes, timeoutMs: FANIN_TIMEOUT_MS }));
          rate[where] = r.msgsPerS;
          emit({ bench: BENCH, figure: `fanin_q${qos}_${where}_msgs_per_s`, impl: IMPL, value: r.msgsPerS, unit: 'msgs/s', sent: r.sent, received: r.received, seconds: round3(r.seconds), publishers, cpu_s });
        }
        if (rate['single']! > 0) emit({ bench: BENCH, figure: `fanin_q${qos}_ratio`, impl: IMPL, value: rate['cross']! / rate['single']!, unit: 'x', target: 0.8 });
      }
    }

    if (runs.includes('latency')) {
      const rate = num('CLUSTER_BENCH_RATE', 2000);
      const seconds = num('CLUSTER_BENCH_SECONDS', 3);
      const payloadBytes = num('CLUSTER_BENCH_PAYLOAD', 64, 0);
      for (const [where, pubPort, subPort] of [['single', single.port, single.port], ['cross', n1.port, n2.port]] as const) {
        note(`latency ${where}: ${rate} msgs/s for ${seconds} s`);
        const [r, cpu_s] = await cpu(() => latency(pubPort, subPort, { tag: `latency_${where}`, rate, seconds, payloadBytes }));
        const extra = { sent: r.sent, received: r.received, rate, cpu_s };
        emit({ bench: BENCH, figure: `latency_${where}_p50_us`, impl: IMPL, value: r.p50Us, unit: 'us', ...extra });
        emit({ bench: BENCH, figure: `latency_${where}_p99_us`, impl: IMPL, value: r.p99Us, unit: 'us', ...extra });
        emit({ bench: BENCH, figure: `latency_${where}_max_us`, impl: IMPL, value: r.maxUs, unit: 'us', ...extra });
      }
    }

    if (runs.includes('connect')) {
      const n = num('CLUSTER_BENCH_CONNECTS', 500);
      const cases: [string, string, () => Promise<ConnectLatency>][] = [
        ['new', 'single', () => connectNew([single.port], n, 'new_single')],
        ['new', 'cross', () => connectNew(members.map((m) => m.port), n, 'new_cross')],
        ['takeover', 'single', () => connectTakeover(single.port, single.port, Math.ceil(n / 2), 'tk_single')],
        ['takeover', 'cross', () => connectTakeover(n1.port, n2.port, Math.ceil(n / 2), 'tk_cross')],
      ];
      for (const [kind, where, run] of cases) {
        note(`connect ${kind} ${where}`);
        const [r, cpu_s] = await cpu(run);
        const extra = { samples: r.samples, ...(kind === 'takeover' ? { session_not_present: r.notPresent } : {}), cpu_s };
        emit({ bench: BENCH, figure: `connect_${kind}_${where}_p50_us`, impl: IMPL, value: r.p50Us, unit: 'us', ...extra });
        emit({ bench: BENCH, figure: `connect_${kind}_${where}_p99_us`, impl: IMPL, value: r.p99Us, unit: 'us', ...extra });
        emit({ bench: BENCH, figure: `connect_${kind}_${where}_max_us`, impl: IMPL, value: r.maxUs, unit: 'us', ...extra });
      }
    }

    if (runs.includes('storm')) {
      // The standalone node is done with: its CPU goes to the storm.
      await all.kill(single);
      const clients = num('CLUSTER_BENCH_CLIENTS', 5000);
      const concurrency = num('CLUSTER_BENCH_CONCURRENCY', 100);
      note(`storm: ${clients} clients over ${nodeCount} nodes, ${concurrency} at a time`);
      const [r, cpu_s] = await cpu(() => storm(all, members, { clients, concurrency, timeoutMs: STORM_TIMEOUT_MS }));
      if (r.firstError !== undefined) note(`storm: ${r.failed} clients failed; first: ${r.firstError}`);
      const extra = { clients, nodes: nodeCount, subacked: r.subacked, failed: r.failed };
      emit({ bench: BENCH, figure: 'storm_all_subacked_ms', impl: IMPL, value: r.allSubackedMs, unit: 'ms', ...extra, concurrency, cpu_s });
      emit({ bench: BENCH, figure: 'storm_client_p50_ms', impl: IMPL, value: r.clientP50Ms, unit: 'ms', ...extra });
      emit({ bench: BENCH, figure: 'storm_client_p99_ms', impl: IMPL, value: r.clientP99Ms, unit: 'ms', ...extra });
      emit({ bench: BENCH, figure: 'storm_client_max_ms', impl: IMPL, value: r.clientMaxMs, unit: 'ms', ...extra });
      // A SUBACK waits for every member's ack, so the table is complete by the last one; what follows it is the poll's own time.
      emit({ bench: BENCH, figure: 'storm_routes_replicated_ms', impl: IMPL, value: r.replicatedMs, unit: 'ms', ...extra, after_last_suback_ms: Math.round(r.replicatedMs - r.allSubackedMs) });
      const counts = Object.fromEntries(Object.entries(r.ctlRoutes).map(([n, c]) => [short(n), c]));
      const fewest = Math.min(...Object.values(r.ctlRoutes));
      emit({ bench: BENCH, figure: 'storm_routes_min_per_node', impl: IMPL, value: fewest, unit: 'routes', ...extra, per_node: counts, complete: fewest >= r.subacked && r.failed === 0 });
    }
  } finally {
    await all.stop();
  }
}

/** `bench_c1_1234@127.0.0.1` → `c1`. */
function short(name: string): string {
  return name.replace(/^bench_/, '').replace(/_\d+@.*$/, '');
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
