/**
 * `npm run bench -- mqtt`'s storm scenario, shrunk to a few hundred clients: the load
 * threads, their own warm-up against a floor server, and the node-floor reference all
 * run against real brokers in their own OS processes, and every client is counted
 * (no figure is judged: speed lives in the bench itself).
 */
import test from 'ava';
import { builtScript } from '../helpers/paths.js';
import { runCommand } from '../helpers/procs.js';

interface Line {
  readonly bench: string;
  readonly figure: string;
  readonly impl: string;
  readonly value: number;
  readonly ok?: boolean;
  readonly lost?: number;
  readonly dup?: number;
  readonly clients?: number;
  readonly load_threads?: number;
}

test('bench mqtt storm: beamq, aedes and node-floor each take every client once, over two load threads', async (t) => {
  const env = {
    ...process.env,
    MQTT_BENCH_BROKERS: 'beamq,aedes,node-floor',
    MQTT_BENCH_SCENARIOS: 'storm',
    MQTT_BENCH_STORM_CLIENTS: '300',
    MQTT_BENCH_STORM_WARMUP: '50',
    MQTT_BENCH_STORM_THREADS: '2',
    MQTT_BENCH_WARMUP_MS: '100',
  };
  const r = await runCommand(process.execPath, [builtScript('bench/main'), 'mqtt'], { env, timeoutMs: 50_000 });
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
  for (const impl of ['beamq', 'aedes', 'node-floor']) {
    for (const figure of ['storm_first_conn_sub_per_s', 'storm_conn_sub_per_s']) {
      const f = lines.find((l) => l.impl === impl && l.figure === figure);
      if (f === undefined) return t.fail(`${impl} ${figure} missing:\n${r.stdout}\n${r.stderr}`);
      t.true(f.ok, `${impl} ${figure}: lost ${f.lost}, dup ${f.dup}`);
      t.is(f.clients, 300);
      t.is(f.load_threads, 2);
      t.true(f.value > 0);
    }
  }
  const ratio = lines.find((l) => l.figure === 'storm_conn_sub_per_s_ratio' && l.impl === 'beamq/node-floor');
  t.true(ratio !== undefined && ratio.value > 0, 'beamq/node-floor ratio line');
});
