/**
 * Connection scenarios of the MQTT bench, run in the load process: a connect-and-
 * subscribe storm (each client subscribes its own wildcard filter, as emqtt-bench's
 * `t/mqttx/+/%i/sub/+/#`), and the broker's memory per idle connection.
 */
import { BenchClient } from './mqtt-client.js';
import { connectMany, cpuMeter, measureBroker, sleep, type LoadConfig, type LoadFigure, type Target } from './mqtt-common.js';

/**
 * `stormClients` clients connect and subscribe, `stormConcurrency` handshakes at a
 * time, after a warm-up round of `stormWarmup` clients that connect, subscribe and
 * leave (as the flow scenarios warm up before measuring: a fresh Node broker would
 * otherwise be timed while its JIT compiles the connect path).
 */
export async function connStorm(t: Target, cfg: LoadConfig): Promise<LoadFigure[]> {
  const W = cfg.stormWarmup;
  const warm = await connectMany(W, cfg.stormConcurrency, (i) => ({ port: t.port, clientId: `bench-storm-warm-${i}`, keepaliveS: 60 }));
  for (const [i, c] of warm.entries()) await c.subscribe(`t/mqttx/+/warm${i}/sub/+/#`, 1);
  for (const c of warm) c.close();
  await sleep(cfg.warmupMs);
  const N = cfg.stormClients;
  const clients: BenchClient[] = [];
  let lostConns = 0;
  let refused = 0;
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const t0 = performance.now();
  const m = cpuMeter(t.brokerPid);
  const worker = async (): Promise<void> => {
    while (next < N) {
      const i = next++;
      let c: BenchClient;
      try {
        c = await BenchClient.connect({ port: t.port, clientId: `bench-storm-${i}`, keepaliveS: 60, onLost: () => lostConns++ });
      } catch (err) {
        // A refused or dropped connection is a lost one; the storm goes on.
        failed++;
        firstError ??= err instanceof Error ? err.message : String(err);
        continue;
      }
      clients.push(c);
      const granted = await Promise.race([c.subscribe(`t/mqttx/+/${i}/sub/+/#`, 1), sleep(cfg.stallMs).then(() => [0x80])]);
      if (granted.length !== 1 || granted[0]! >= 0x80) refused++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(N, cfg.stormConcurrency) }, worker));
  const s = (performance.now() - t0) / 1000;
  const cpu = m.stop();
  // Exactly one CONNACK and one SUBACK each (the client's per-type packet counts).
  let dup = 0;
  for (const c of clients) dup += Math.max(0, c.received[2]! - 1) + Math.max(0, c.received[9]! - 1);
  const lost = failed + refused + lostConns;
  for (const c of clients) c.close();
  const common = { lost, dup, clients: N, concurrency: cfg.stormConcurrency, warmup_clients: W, ...cpu, ...(firstError === undefined ? {} : { first_error: firstError }) };
  return [
    { figure: 'storm_conn_sub_per_s', value: N / s, unit: 'conn+sub/s', better: 'higher', ...common },
    { figure: 'storm_total_ms', value: s * 1000, unit: 'ms', better: 'lower', ...common },
  ];
}

/**
 * The broker's RSS growth per connected idle client (keepalive 60 s, no subscription),
 * sampled after a GC where the broker has one, and after a warm-up so that code paths
 * run once (JIT, lazily loaded modules) are not counted.
 */
export async function idleMemory(t: Target, cfg: LoadConfig): Promise<LoadFigure[]> {
  const N = cfg.idleClients;
  const warm = await connectMany(200, 100, (i) => ({ port: t.port, clientId: `bench-warm-${i}`, keepaliveS: 60 }));
  for (const c of warm) c.close();
  await sleep(1000);
  const before = await measureBroker();
  let lostConns = 0;
  const clients = await connectMany(N, 500, (i) => ({ port: t.port, clientId: `bench-idle-${i}`, keepaliveS: 60, onLost: () => lostConns++ }));
  await sleep(2000);
  const after = await measureBroker();
  for (const c of clients) c.close();
  return [
    {
      figure: 'idle_conn_bytes',
      value: (after - before) / N,
      unit: 'bytes/conn',
      better: 'lower',
      lost: lostConns,
      dup: 0,
      connections: N,
      rss_before_mb: Math.round(before / 2 ** 20),
      rss_after_mb: Math.round(after / 2 ** 20),
    },
  ];
}
