/**
 * Connection scenarios of the MQTT bench, run in the load process: a connect-and-
 * subscribe storm (each client subscribes its own wildcard filter, as emqtt-bench's
 * `t/mqttx/+/%i/sub/+/#`), and the broker's memory per idle connection.
 */
import { Worker } from 'node:worker_threads';
import { connectMany, cpuMeter, measureBroker, sleep, type LoadConfig, type LoadFigure, type Target } from './mqtt-common.js';
import type { StormCmd, StormReply, StormTally } from './mqtt-storm-thread.js';

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
 * by a fifth, and so flattered the slower brokers. The clients are shared by
 * `stormThreads` load threads (mqtt-storm-thread.ts): one thread ran at a full core
 * and capped mosquitto's storm and the floor's.
 */
export async function connStorm(t: Target, cfg: LoadConfig): Promise<LoadFigure[]> {
  const threads = await StormThreads.start(cfg.stormThreads);
  try {
    await threads.all(() => ({ t: 'warm', n: 3 * cfg.stormWarmup, concurrency: threads.concurrency(cfg), stallMs: cfg.stallMs }));
    await threads.round(t, cfg, cfg.stormWarmup, 'bench-storm-warm-', 'warm');
    await threads.all(() => ({ t: 'close' }));
    await sleep(cfg.warmupMs);
    const first = await timedStorm(threads, t, cfg, cfg.stormWarmup, 'storm_first', 'bench-storm-first-', 'first');
    await sleep(cfg.warmupMs);
    const steady = await timedStorm(threads, t, cfg, cfg.stormWarmup + cfg.stormClients, 'storm', 'bench-storm-', '');
    return [...first, ...steady];
  } finally {
    await threads.stop();
  }
}

/** One timed storm after `before` clients came and went: its rate and duration, with the lost/dup check; its clients leave after. */
async function timedStorm(threads: StormThreads, t: Target, cfg: LoadConfig, before: number, name: string, idPrefix: string, tag: string): Promise<LoadFigure[]> {
  const N = cfg.stormClients;
  const t0 = performance.now();
  const m = cpuMeter(t.brokerPid);
  const r = await threads.round(t, cfg, N, idPrefix, tag);
  const s = (performance.now() - t0) / 1000;
  const cpu = m.stop();
  await threads.all(() => ({ t: 'close' }));
  const lost = r.failed + r.refused + r.lostConns;
  const common = {
    lost,
    dup: r.dup,
    clients: N,
    concurrency: cfg.stormConcurrency,
    load_threads: threads.size,
    warmup_clients: before,
    ...cpu,
    ...(r.firstError === undefined ? {} : { first_error: r.firstError }),
  };
  return [
    { figure: `${name}_conn_sub_per_s`, value: N / s, unit: 'conn+sub/s', better: 'higher', ...common },
    { figure: `${name}_total_ms`, value: s * 1000, unit: 'ms', better: 'lower', ...common },
    // The broker's CPU (all its threads, user and system) per client: less at the mercy
    // of what else the two cores run than the rate is.
    { figure: `${name}_broker_cpu_us_per_client`, value: (cpu.broker_cpu * s * 1e6) / N, unit: 'us', better: 'lower', ...common },
  ];
}

/** The storm's load threads (mqtt-storm-thread.ts); each command goes to all and is answered by all. */
class StormThreads {
  private constructor(private readonly workers: Worker[]) {}

  static async start(n: number): Promise<StormThreads> {
    const ws = Array.from({ length: Math.max(1, n) }, () => new Worker(new URL('./mqtt-storm-thread.js', import.meta.url)));
    await Promise.all(ws.map((w) => new Promise((resolve, reject) => w.once('online', resolve).once('error', reject))));
    return new StormThreads(ws);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Each thread's share of the storm's concurrent handshakes. */
  concurrency(cfg: LoadConfig): number {
    return Math.max(1, Math.ceil(cfg.stormConcurrency / this.workers.length));
  }

  /** Send each thread its command (by index) and wait for every reply; a thread's failure fails the call. */
  all(cmd: (k: number) => StormCmd): Promise<StormReply[]> {
    return Promise.all(
      this.workers.map(
        (w, k) =>
          new Promise<StormReply>((resolve, reject) => {
            const onError = (err: Error): void => reject(err);
            w.once('error', onError);
            w.once('message', (m: StormReply) => {
              w.off('error', onError);
              if (m.t === 'failed') reject(new Error(m.error));
              else resolve(m);
            });
            w.postMessage(cmd(k));
          }),
      ),
    );
  }

  /** `n` clients over the threads, each a contiguous block of ids and its share of the concurrency; their tallies summed. */
  async round(t: Target, cfg: LoadConfig, n: number, idPrefix: string, tag: string): Promise<StormTally> {
    const k = this.workers.length;
    const per = Math.ceil(n / k);
    const concurrency = this.concurrency(cfg);
    const replies = await this.all((i) => ({ t: 'round', port: t.port, idPrefix, tag, from: i * per, to: Math.min(n, (i + 1) * per), concurrency, stallMs: cfg.stallMs }));
    const sum = { failed: 0, refused: 0, lostConns: 0, dup: 0, firstError: undefined as string | undefined };
    for (const r of replies) {
      if (r.t !== 'round') continue;
      sum.failed += r.failed;
      sum.refused += r.refused;
      sum.lostConns += r.lostConns;
      sum.dup += r.dup;
      sum.firstError ??= r.firstError;
    }
    return sum;
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
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
