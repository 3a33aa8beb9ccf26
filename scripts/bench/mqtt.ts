/**
 * `npm run bench -- mqtt`: beamq against mosquitto and aedes in the same run. For each
 * scenario and broker: a fresh broker in its own OS process (mqtt-brokers.ts), a fresh
 * load process (mqtt-load.ts), one JSON line per figure with its lost/dup check, then
 * ratio lines where > 1 always means beamq is better.
 *
 *   fanin_qos0/1_msgs_per_s   100 publishers → 1 subscriber on `#`
 *   fanout_msgs_per_s         1 publisher → 100 subscribers (deliveries/s)
 *   latency_p50/p99_us        500 pairs at a fixed offered rate, QoS 0
 *   storm_first_conn_sub_per_s  5000 clients connect and subscribe `t/mqttx/+/<i>/sub/+/#`,
 *   storm_first_total_ms        the first such storm after a warm-up of 1000
 *   storm_conn_sub_per_s        the same again once those have left (V8 done
 *   storm_total_ms              compiling the connect path: see mqtt-conns.ts)
 *   storm[_first]_broker_cpu_us_per_client  the broker's CPU per client in each storm
 *   idle_conn_bytes           broker RSS growth per idle connection, at 10 000 connections
 *
 * The storm and memory scenarios also run `node-floor` (mqtt-floor.ts): a Node
 * server that only answers CONNECT, SUBSCRIBE and PINGREQ, on the socket layer beamq
 * uses (libuv's handle), the most a Node broker can do here. `beamq/node-floor` says how
 * much of that beamq reaches (it can not pass 1; mosquitto, in C, can).
 *
 * Sizes come from MQTT_BENCH_* variables (defaults in `config()`); MQTT_BENCH_BROKERS
 * and MQTT_BENCH_SCENARIOS pick a subset; MQTT_BENCH_REPEAT=n runs each n times and
 * reports the best (on a machine shared with other work). The memory scenario needs ~10 000 file
 * descriptors in the broker and in the load process each: `ulimit -n` of 20 000 or
 * more (fewer and the bench says which connect failed).
 */
import os from 'node:os';
import { IMPLS, available, isImpl, benchFile, forkTracked, killAll, rssBytes, startBroker, type BrokerLimits, type Impl, type RunningBroker } from './mqtt-brokers.js';
import { SCENARIOS, type LoadConfig, type LoadFigure, type LoadMsg, type Scenario } from './mqtt-common.js';
import { emit, note } from './report.js';

const env = (k: string, d: number): number => {
  const v = process.env[`MQTT_BENCH_${k}`];
  return v === undefined || v === '' ? d : Number(v);
};

function config(): { load: LoadConfig; limits: BrokerLimits } {
  return {
    load: {
      warmupMs: env('WARMUP_MS', 1000),
      durationMs: env('DURATION_MS', 4000),
      payloadBytes: env('PAYLOAD', 64),
      publishers: env('PUBLISHERS', 100),
      faninWindow: env('FANIN_WINDOW', 20),
      subscribers: env('SUBSCRIBERS', 100),
      fanoutWindow: env('FANOUT_WINDOW', 100),
      pairs: env('PAIRS', 500),
      latencyRate: env('LATENCY_RATE', 5_000),
      stormClients: env('STORM_CLIENTS', 5000),
      stormConcurrency: env('STORM_CONCURRENCY', 100),
      stormThreads: env('STORM_THREADS', Math.min(2, os.availableParallelism())),
      stormWarmup: env('STORM_WARMUP', 1000),
      idleClients: env('IDLE_CLIENTS', 10_000),
      stallMs: env('STALL_MS', 3000),
    },
    // The same window and queue on every broker. Default: none, as aedes has neither
    // (the closed loop bounds what is queued); mosquitto drops QoS 1 messages with
    // bounded ones even when far below them (2.0.11).
    limits: { inflight: env('INFLIGHT', 0), queue: env('QUEUE', 0) },
  };
}

export async function benchMqtt(): Promise<void> {
  const { load, limits } = config();
  const impls = (process.env['MQTT_BENCH_BROKERS'] ?? IMPLS.join(',')).split(',').filter((s): s is Impl => {
    if (!isImpl(s)) throw new Error(`MQTT_BENCH_BROKERS: unknown broker ${s}`);
    if (available(s)) return true;
    note(`${s} is not installed (apt-get install mosquitto): skipped`);
    return false;
  });
  const scenarios = (process.env['MQTT_BENCH_SCENARIOS'] ?? SCENARIOS.join(',')).split(',').filter((s): s is Scenario => {
    if ((SCENARIOS as readonly string[]).includes(s)) return true;
    throw new Error(`MQTT_BENCH_SCENARIOS: unknown scenario ${s}; known: ${SCENARIOS.join(', ')}`);
  });
  const repeat = Math.max(1, env('REPEAT', 1));
  try {
    for (const sc of scenarios) {
      // Repeats go round the brokers, so a burst of outside load hits them alike.
      const runs = new Map<Impl, LoadFigure[][]>();
      for (let r = 0; r < repeat; r++) {
        for (const impl of impls) {
          if (impl === 'node-floor' && !FLOOR_SCENARIOS.has(sc)) continue;
          note(`mqtt ${sc}: ${impl}${repeat > 1 ? ` (run ${r + 1}/${repeat})` : ''}`);
          const b = await startBroker(impl, limits);
          try {
            const figures = await runLoad(sc, b, load);
            runs.set(impl, [...(runs.get(impl) ?? []), figures]);
          } catch (err) {
            note(`mqtt ${sc} on ${impl} failed: ${err instanceof Error ? err.message : String(err)}`);
            process.exitCode = 1;
          } finally {
            await b.stop();
          }
        }
      }
      const results = new Map<Impl, LoadFigure[]>();
      for (const [impl, rs] of runs) {
        const best = bestOf(rs);
        results.set(impl, best);
        for (const f of best) emitFigure(impl, f, limits);
      }
      emitRatios(results);
    }
  } finally {
    killAll();
  }
}

/** Where `node-floor` means something: it routes nothing, so only connections are measured. */
const FLOOR_SCENARIOS: ReadonlySet<Scenario> = new Set(['storm', 'memory']);

/**
 * Per figure, the best of the runs (the one least disturbed by other work on the
 * machine), with every run's value and whether every run was clean.
 */
function bestOf(rs: LoadFigure[][]): LoadFigure[] {
  if (rs.length === 1) return rs[0]!;
  return rs[0]!.map((f) => {
    const all = rs.map((r) => r.find((x) => x.figure === f.figure)).filter((x): x is LoadFigure => x !== undefined);
    const best = all.reduce((a, b) => ((f.better === 'higher' ? b.value > a.value : b.value < a.value) ? b : a));
    return { ...best, runs: all.map((x) => Math.round(x.value)), all_runs_clean: all.every((x) => x.lost === 0 && x.dup === 0) };
  });
}

function emitFigure(impl: Impl, f: LoadFigure, limits: BrokerLimits): void {
  const { figure, value, unit, better: _better, ...extra } = f;
  emit({ bench: 'mqtt', figure, impl, value, unit, ok: f.lost === 0 && f.dup === 0, ...extra, ...(impl === 'aedes' || impl === 'node-floor' ? {} : { inflight: limits.inflight }) });
}

/** beamq against each reference, per figure; inverted for lower-is-better figures. */
function emitRatios(results: Map<Impl, LoadFigure[]>): void {
  const ours = results.get('beamq');
  if (ours === undefined) return;
  for (const ref of ['mosquitto', 'aedes', 'node-floor'] as const) {
    const theirs = results.get(ref);
    if (theirs === undefined) continue;
    for (const f of ours) {
      const r = theirs.find((x) => x.figure === f.figure);
      if (r === undefined || !(r.value > 0) || !(f.value > 0)) continue;
      const higher = f.better === 'higher';
      emit({
        bench: 'mqtt',
        figure: `${f.figure}_ratio`,
        impl: `beamq/${ref}`,
        value: higher ? f.value / r.value : r.value / f.value,
        unit: 'x',
        meaning: higher ? `beamq ÷ ${ref}; > 1 = beamq better` : `${ref} ÷ beamq (lower is better); > 1 = beamq better`,
      });
    }
  }
}

/** Run `scenario` from a fresh load process; it may ask us to sample the broker's RSS. */
function runLoad(scenario: Scenario, b: RunningBroker, cfg: LoadConfig): Promise<LoadFigure[]> {
  const c = forkTracked(benchFile('mqtt-load.js'), [], ['--max-semi-space-size=32', ...(process.env['MQTT_BENCH_LOAD_NODE_ARGS'] ?? '').split(' ').filter((s) => s !== '')]);
  return new Promise<LoadFigure[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error('load process timed out after 300 s'));
    }, 300_000);
    c.on('message', (m: LoadMsg) => {
      if (m.t === 'result') {
        clearTimeout(timer);
        resolve(m.figures);
      } else if (m.t === 'measure') {
        void b.gc().then(() => c.send({ t: 'measured', rss: rssBytes(b.pid) }));
      }
    });
    c.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`load process exited with ${code}`));
    });
    c.send({ t: 'run', scenario, port: b.port, brokerPid: b.pid, cfg });
  });
}
