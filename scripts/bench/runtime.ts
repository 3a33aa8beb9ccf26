/**
 * `npm run bench -- runtime`: local process figures for beamq and, when `erl` is
 * installed, for the BEAM in the same run (scripts/bench/erl/runtime_bench.erl), with
 * the ratio. Each figure runs in a fresh OS process so one cannot skew the next.
 *
 *   stream_msgs_per_s            one sender streams messages to one sink
 *   pingpong_rt_per_s            two processes bounce a message
 *   gen_call_rt_per_s            one caller makes GenServer calls in a loop
 *   spawn_per_s                  spawn idle processes
 *   bytes_per_idle_process_100k  heap growth per idle process (100k processes)
 *   bytes_per_idle_process_1m    the same at 1M processes
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, emitRatio, hasBinary, note } from './report.js';
import { compileErl } from './erl-compile.js';

const FIGURES = ['stream', 'pingpong', 'call', 'spawn', 'mem100k', 'mem1m'] as const;
const NAMES: Record<(typeof FIGURES)[number], [string, string]> = {
  stream: ['stream_msgs_per_s', 'msgs/s'],
  pingpong: ['pingpong_rt_per_s', 'round trips/s'],
  call: ['gen_call_rt_per_s', 'calls/s'],
  spawn: ['spawn_per_s', 'processes/s'],
  mem100k: ['bytes_per_idle_process_100k', 'bytes'],
  mem1m: ['bytes_per_idle_process_1m', 'bytes'],
};
// For memory, lower is better: the ratio is reference / ours so that > 1 means we win.
const LOWER_IS_BETTER = new Set(['mem100k', 'mem1m']);

export async function benchRuntime(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const erl = hasBinary('erl') && hasBinary('erlc') ? compileErl(here, 'runtime_bench') : undefined;
  if (erl === undefined) note('erl/erlc not installed (apt-get install erlang-base): BEAM reference skipped');
  for (const f of FIGURES) {
    const [figure, unit] = NAMES[f];
    const ours = runOurs(here, f);
    emit({ bench: 'runtime', figure, impl: 'beamq', value: ours, unit });
    let ref: number | undefined;
    if (erl !== undefined) {
      ref = runErl(erl, f);
      if (ref !== undefined) emit({ bench: 'runtime', figure, impl: 'beam', value: ref, unit });
    }
    if (LOWER_IS_BETTER.has(f)) {
      // Lower is better: report beam/beamq, so that above 1 means beamq uses less.
      if (ref !== undefined) emit({ bench: 'runtime', figure: `${figure}_ratio`, impl: 'beam/beamq', value: ref / ours, unit: 'x' });
    } else emitRatio('runtime', figure, ours, ref, 'beam');
  }
  await Promise.resolve();
}

function runOurs(here: string, f: string): number {
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', path.join(here, 'runtime-figure.js'), f], {
    encoding: 'utf8',
    env: { ...process.env, BEAMQ_LOG_LEVEL: 'error' },
    timeout: 300_000,
  });
  const v = Number(r.stdout.trim().split('\n').pop());
  if (r.status !== 0 || !Number.isFinite(v)) throw new Error(`runtime figure ${f} failed: ${r.stderr}`);
  return v;
}

function runErl(dir: string, f: string): number | undefined {
  const r = spawnSync('erl', ['+P', '2000000', '-noshell', '-pa', dir, '-run', 'runtime_bench', 'main', f], { encoding: 'utf8', timeout: 300_000 });
  const m = /\S+ ([\d.e+-]+)/.exec(r.stdout);
  if (m === null) {
    note(`erl ${f} failed: ${r.stderr}`);
    return undefined;
  }
  return Number(m[1]);
}
