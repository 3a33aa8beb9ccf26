/**
 * Connection scenarios of the MQTT bench, run in the load process: a connect-and-
 * subscribe storm (each client subscribes its own wildcard filter, as emqtt-bench's
 * `t/mqttx/+/%i/sub/+/#`), and the broker's memory per idle connection.
 */
import net from 'node:net';
import { BenchClient } from './mqtt-client.js';
import { connectMany, cpuMeter, measureBroker, sleep, type LoadConfig, type LoadFigure, type Target } from './mqtt-common.js';
import { floorConnection } from './mqtt-floor.js';

/**
 * `stormClients` clients connect and subscribe, `stormConcurrency` handshakes at a
 * time, after a warm-up round of `stormWarmup` clients run the same way, which then
 * leave (as the flow scenarios warm up before measuring: a fresh Node broker would
 * otherwise be timed while its JIT compiles the connect path). The storm is timed
 * twice, its clients leaving in between: `storm_first_*` is the first storm after the
 * warm-up, `storm_*` the second. V8 optimizes a function only after one to a few
 * thousand calls, so during the first storm about 120 functions of the connect path
 * were still being compiled for the first time (a fifth of the broker's CPU, on a
 * 2-vCPU box where the compiler thread competes with the load); the second is the
 * broker's steady state. The load process (a fresh Node process per scenario) warms
 * its own client code first, against a server of its own that only answers
 * (mqtt-floor.ts): cold, it had made every broker's first storm slower, mosquitto's
 * by a fifth, and so flattered the slower brokers.
 */
export async function connStorm(t: Target, cfg: LoadConfig): Promise<LoadFigure[]> {
  await warmClient(cfg);
  const warm = await stormRound(t, cfg, cfg.stormWarmup, 'bench-storm-warm-', 'warm');
  for (const c of warm.clients) c.close();
  await sleep(cfg.warmupMs);
  const first = await timedStorm(t, cfg, cfg.stormWarmup, 'storm_first', 'bench-storm-first-', 'first');
  await sleep(cfg.warmupMs);
  const steady = await timedStorm(t, cfg, cfg.stormWarmup + cfg.stormClients, 'storm', 'bench-storm-', '');
  return [...first, ...steady];
}

/** `3 × stormWarmup` clients connect and subscribe to a floor server in this process, then leave. */
async function warmClient(cfg: LoadConfig): Promise<void> {
  const server = net.createServer({ noDelay: true }, floorConnection);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve((server.address() as net.AddressInfo).port));
  });
  try {
    const r = await stormRound({ port, brokerPid: process.pid }, cfg, 3 * cfg.stormWarmup, 'load-warm-', 'lw');
    for (const c of r.clients) c.close();
    if (r.failed + r.refused + r.lostConns > 0) throw new Error(`load warm-up: ${r.firstError ?? 'a client was refused or lost'}`);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** One timed storm after `before` clients came and went: its rate and duration, with the lost/dup check; its clients leave after. */
async function timedStorm(t: Target, cfg: LoadConfig, before: number, name: string, idPrefix: string, tag: string): Promise<LoadFigure[]> {
  const N = cfg.stormClients;
  const t0 = performance.now();
  const m = cpuMeter(t.brokerPid);
  const r = await stormRound(t, cfg, N, idPrefix, tag);
  const s = (performance.now() - t0) / 1000;
  const cpu = m.stop();
  // Exactly one CONNACK and one SUBACK each (the client's per-type packet counts).
  let dup = 0;
  for (const c of r.clients) dup += Math.max(0, c.received[2]! - 1) + Math.max(0, c.received[9]! - 1);
  const lost = r.failed + r.refused + r.lostConns;
  for (const c of r.clients) c.close();
  const common = { lost, dup, clients: N, concurrency: cfg.stormConcurrency, warmup_clients: before, ...cpu, ...(r.firstError === undefined ? {} : { first_error: r.firstError }) };
  return [
    { figure: `${name}_conn_sub_per_s`, value: N / s, unit: 'conn+sub/s', better: 'higher', ...common },
    { figure: `${name}_total_ms`, value: s * 1000, unit: 'ms', better: 'lower', ...common },
  ];
}

interface StormRound {
  readonly clients: BenchClient[];
  readonly failed: number;
  readonly refused: number;
  readonly lostConns: number;
  readonly firstError: string | undefined;
}

/** `n` clients connect and subscribe `t/mqttx/+/<tag><i>/sub/+/#`, `stormConcurrency` at a time. */
async function stormRound(t: Target, cfg: LoadConfig, n: number, idPrefix: string, tag: string): Promise<StormRound> {
  const r = { clients: [] as BenchClient[], failed: 0, refused: 0, lostConns: 0, firstError: undefined as string | undefined };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      let c: BenchClient;
      try {
        c = await BenchClient.connect({ port: t.port, clientId: `${idPrefix}${i}`, keepaliveS: 60, onLost: () => r.lostConns++ });
      } catch (err) {
        // A refused or dropped connection is a lost one; the storm goes on.
        r.failed++;
        r.firstError ??= err instanceof Error ? err.message : String(err);
        continue;
      }
      r.clients.push(c);
      const granted = await Promise.race([c.subscribe(`t/mqttx/+/${tag}${i}/sub/+/#`, 1), sleep(cfg.stallMs).then(() => [0x80])]);
      if (granted.length !== 1 || granted[0]! >= 0x80) r.refused++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, cfg.stormConcurrency) }, worker));
  return r;
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
