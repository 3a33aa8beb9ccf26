/**
 * What the MQTT bench's parent (mqtt.ts) and load processes (mqtt-load.ts and the
 * scenarios) share: the run configuration, the figure shape, the IPC messages, and
 * small helpers for connecting many clients and waiting for stragglers.
 */
import fs from 'node:fs';
import { BenchClient, type ClientOpts } from './mqtt-client.js';

/** Sizes and durations of one run; all from MQTT_BENCH_* variables (see mqtt.ts). */
export interface LoadConfig {
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly payloadBytes: number;
  readonly publishers: number;
  /** Messages each fan-in publisher may have on the way (sent, not yet received). */
  readonly faninWindow: number;
  readonly subscribers: number;
  /** Messages the fan-out publisher may have on the way to its slowest subscriber. */
  readonly fanoutWindow: number;
  readonly pairs: number;
  /** Offered rate of the latency scenario, messages/s over all pairs. */
  readonly latencyRate: number;
  readonly stormClients: number;
  readonly stormConcurrency: number;
  /** Load threads the storm's clients are shared by (mqtt-storm-thread.ts). */
  readonly stormThreads: number;
  /** Clients that connect, subscribe and leave before the storm is timed. */
  readonly stormWarmup: number;
  readonly idleClients: number;
  /** Give up on missing messages after this long without progress (ms). */
  readonly stallMs: number;
}

/** The broker under test: where to connect, and its OS process (for CPU and memory). */
export interface Target {
  readonly port: number;
  readonly brokerPid: number;
}

/** One figure of a scenario, as the load side measured it. */
export interface LoadFigure {
  readonly figure: string;
  readonly value: number;
  readonly unit: string;
  /** Higher is better (throughput) or lower (latency, memory, time). */
  readonly better: 'higher' | 'lower';
  /** Messages (or connections) lost and duplicated; both 0 for a clean run. */
  readonly lost: number;
  readonly dup: number;
  readonly [extra: string]: unknown;
}

export type Scenario = 'fanin_qos0' | 'fanin_qos1' | 'fanout' | 'latency' | 'storm' | 'memory';
export const SCENARIOS: readonly Scenario[] = ['fanin_qos0', 'fanin_qos1', 'fanout', 'latency', 'storm', 'memory'];

export type ParentMsg =
  | { readonly t: 'run'; readonly scenario: Scenario; readonly port: number; readonly brokerPid: number; readonly cfg: LoadConfig }
  | { readonly t: 'measured'; readonly rss: number };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Connect `n` clients, at most `concurrency` handshakes at a time; `opts(i)` makes each. */
export async function connectMany(n: number, concurrency: number, opts: (i: number) => ClientOpts): Promise<BenchClient[]> {
  const out = new Array<BenchClient>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      out[i] = await BenchClient.connect(opts(i));
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return out;
}

/**
 * Wait until `done()` holds, or until `progress()` has not moved for `stallMs`
 * (what is missing by then is counted lost). Polls every 10 ms.
 */
export async function settle(done: () => boolean, progress: () => number, stallMs: number): Promise<void> {
  let last = progress();
  let lastAt = Date.now();
  while (!done()) {
    await sleep(10);
    const p = progress();
    if (p !== last) {
      last = p;
      lastAt = Date.now();
    } else if (Date.now() - lastAt > stallMs) return;
  }
}

/** The broker's RSS now, sampled by the parent (after a GC where the broker has one). */
export function measureBroker(): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: ParentMsg): void => {
      if (m.t !== 'measured') return;
      process.off('message', on);
      resolve(m.rss);
    };
    process.on('message', on);
    process.send!({ t: 'measure' });
  });
}

/** What the load process tells its parent. */
export type LoadMsg = { readonly t: 'measure' } | { readonly t: 'result'; readonly figures: LoadFigure[] };

/** CPU seconds in user space and in the kernel that process `pid` has used (Linux /proc). */
function cpuSecondsOf(pid: number): { user: number; system: number } {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}

/**
 * How busy the broker and this load process were between `start()` and `stop()`, in
 * cores (1 = one core saturated): tells whether a figure is the broker's limit or ours.
 */
export function cpuMeter(brokerPid: number): { stop(): { broker_cpu: number; broker_sys: number; load_cpu: number } } {
  const t0 = performance.now();
  const b0 = cpuSecondsOf(brokerPid);
  const l0 = process.cpuUsage();
  return {
    stop() {
      const s = (performance.now() - t0) / 1000;
      const l = process.cpuUsage(l0);
      const r = (x: number): number => Math.round(x * 100) / 100;
      const b = cpuSecondsOf(brokerPid);
      // broker_sys: the part of broker_cpu spent in the kernel (socket calls, loopback TCP).
      return { broker_cpu: r((b.user + b.system - b0.user - b0.system) / s), broker_sys: r((b.system - b0.system) / s), load_cpu: r((l.user + l.system) / 1e6 / s) };
    },
  };
}
