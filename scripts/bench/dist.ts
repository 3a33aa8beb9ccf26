/**
 * `npm run bench -- dist`: two nodes on loopback, each in its own OS process, for
 * beamq (dist-node.ts, with our epmd daemon) and, when `erl` is installed, for the
 * BEAM (erl/dist_bench.erl, with Erlang's epmd) in the same run, with the ratios.
 * Every run gets a fresh pair of nodes, and each figure is the median over several
 * pairs (on a small machine one pair's figure swings with where the OS places the two
 * processes). Every process started here is killed here.
 *
 *   rtt_median_us, rtt_p99_us  round trip of a small message, one at a time (echo on B)
 *   stream_msgs_per_s          one-way stream of small messages from A to a sink on B
 *   first_connect_ms           epmd lookup + TCP + handshake of a fresh node A to B
 *
 * `BENCH_DIST_RUNS=rtt,stream` limits the runs (rtt, stream, connect); `BENCH_DIST_IMPLS=beamq`
 * the implementations (beamq, beam).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { names } from '../../epmd/index.js';
import { emit, emitRatio, hasBinary, note } from './report.js';
import { compileErl } from './erl-compile.js';
import { freePort } from './ports.js';

const COOKIE = 'dist_bench';
/** Fresh pairs per run; first_connect is one sample per pair, so it gets more. */
const PAIRS = { rtt: 3, stream: 3, connect: 5 } as const;
/** Longest a client may take for one figure (1M messages at a slow 20k/s fits). */
const CLIENT_TIMEOUT_MS = 120_000;

interface Figure {
  readonly name: string;
  readonly unit: string;
  /** Latency: the ratio is beam/beamq so that above 1 means beamq is better. */
  readonly lowerIsBetter: boolean;
}

const RUNS: readonly { readonly run: keyof typeof PAIRS; readonly figures: readonly Figure[] }[] = [
  {
    run: 'rtt',
    figures: [
      { name: 'rtt_median_us', unit: 'us', lowerIsBetter: true },
      { name: 'rtt_p99_us', unit: 'us', lowerIsBetter: true },
    ],
  },
  { run: 'stream', figures: [{ name: 'stream_msgs_per_s', unit: 'msgs/s', lowerIsBetter: false }] },
  { run: 'connect', figures: [{ name: 'first_connect_ms', unit: 'ms', lowerIsBetter: true }] },
];

/** How to start epmd and the two nodes of one implementation. */
interface Impl {
  readonly impl: 'beamq' | 'beam';
  epmd(port: number): ChildProcess;
  serve(name: string, epmdPort: number): ChildProcess;
  client(run: string, name: string, peer: string, epmdPort: number): ChildProcess;
}

export async function benchDist(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const impls: Impl[] = [ours(here)];
  const erlDir = hasBinary('erl') && hasBinary('erlc') && hasBinary('epmd') ? compileErl(here, 'dist_bench') : undefined;
  if (erlDir !== undefined) impls.push(beam(erlDir));
  else note('erl/erlc/epmd not installed (apt-get install erlang-base): BEAM reference skipped');

  const results = new Map<string, Map<string, number>>();
  // Interrupted (Ctrl-C, a CI timeout): take every node and epmd down with us.
  const interrupted = (): void => {
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    for (const impl of impls) if (wanted('BENCH_DIST_IMPLS', impl.impl)) results.set(impl.impl, await measure(impl));
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    if (erlDir !== undefined) fs.rmSync(erlDir, { recursive: true, force: true });
  }
  for (const { figures } of RUNS) {
    for (const f of figures) {
      const a = results.get('beamq')?.get(f.name);
      const b = results.get('beam')?.get(f.name);
      if (f.lowerIsBetter) {
        if (a !== undefined && b !== undefined && a > 0) emit({ bench: 'dist', figure: `${f.name}_ratio`, impl: 'beam/beamq', value: b / a, unit: 'x' });
      } else emitRatio('dist', f.name, a, b, 'beam');
    }
  }
}

/** Every figure of one implementation, each on a fresh pair of nodes, emitted as it comes. */
async function measure(impl: Impl): Promise<Map<string, number>> {
  const got = new Map<string, number>();
  const epmdPort = await freePort();
  const epmd = track(impl.epmd(epmdPort));
  try {
    await waitForEpmd(epmdPort, impl.impl);
    let pair = 0;
    for (const { run, figures } of RUNS) {
      if (!wanted('BENCH_DIST_RUNS', run)) continue;
      const samples = new Map<string, number[]>();
      for (let i = 0; i < PAIRS[run]; i++) {
        const tag = `${process.pid}_${++pair}`;
        const b = `bench_b${tag}@127.0.0.1`;
        const server = track(impl.serve(b, epmdPort));
        try {
          await waitOutput(server, /^ready$/m, `${impl.impl} node B to start`, 20_000);
          const out = await runToEnd(impl.client(run, `bench_a${tag}@127.0.0.1`, b, epmdPort), `${impl.impl} ${run}`);
          for (const m of out.matchAll(/^(\w+) ([\d.e+-]+)$/gm)) {
            const list = samples.get(m[1]!) ?? [];
            list.push(Number(m[2]));
            samples.set(m[1]!, list);
          }
        } finally {
          await kill(server);
        }
      }
      for (const f of figures) {
        const list = samples.get(f.name);
        if (list === undefined) throw new Error(`${impl.impl} ${run} did not report ${f.name}`);
        const value = median(list);
        got.set(f.name, value);
        emit({ bench: 'dist', figure: f.name, impl: impl.impl, value, unit: f.unit, pairs: list.length });
      }
    }
  } finally {
    await kill(epmd);
  }
  return got;
}

function wanted(envVar: string, what: string): boolean {
  const v = process.env[envVar];
  return v === undefined || v === '' || v.split(',').includes(what);
}

function ours(here: string): Impl {
  const js = (f: string): string => path.join(here, f);
  // Our nodes log only errors: a log line per connection would be noise in the output.
  const env = { ...process.env, BEAMQ_LOG_LEVEL: 'error' };
  const node = (args: string[]): ChildProcess => spawn(process.execPath, [js('dist-node.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    impl: 'beamq',
    epmd: (port) => spawn(process.execPath, [path.join(here, '..', 'epmd.js'), '-port', String(port), '-address', '127.0.0.1'], { env, stdio: 'ignore' }),
    serve: (name, epmdPort) => node(['serve', name, COOKIE, String(epmdPort)]),
    client: (run, name, peer, epmdPort) => node(['client', run, name, peer, COOKIE, String(epmdPort)]),
  };
}

function beam(dir: string): Impl {
  const erl = (name: string, epmdPort: number, args: string[]): ChildProcess =>
    spawn('erl', ['-noshell', '-start_epmd', 'false', '-name', name, '-setcookie', COOKIE, '-pa', dir, '-run', 'dist_bench', ...args], {
      env: { ...process.env, ERL_EPMD_PORT: String(epmdPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  return {
    impl: 'beam',
    epmd: (port) => spawn('epmd', ['-port', String(port), '-address', '127.0.0.1'], { stdio: 'ignore' }),
    serve: (name, epmdPort) => erl(name, epmdPort, ['serve']),
    client: (run, name, peer, epmdPort) => erl(name, epmdPort, ['client', run, peer]),
  };
}

// --- child processes ---------------------------------------------------------------

/** Children still running: killed if the bench itself fails or is interrupted. */
const live = new Set<ChildProcess>();
process.once('exit', killAll);

function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
}

function track(c: ChildProcess): ChildProcess {
  live.add(c);
  c.once('exit', () => live.delete(c));
  return c;
}

function outputOf(c: ChildProcess): () => string {
  let out = '';
  c.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
  c.stderr?.on('data', (b: Buffer) => (out += b.toString('utf8')));
  return () => out;
}

function waitOutput(c: ChildProcess, re: RegExp, what: string, timeoutMs: number): Promise<void> {
  const out = outputOf(c);
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      c.stdout?.off('data', check);
      c.off('exit', exited);
      if (err === undefined) resolve();
      else reject(err);
    };
    const check = (): void => {
      if (re.test(out())) done();
    };
    const exited = (): void => done(new Error(`${what}: the process exited first; output:\n${out()}`));
    const timer = setTimeout(() => done(new Error(`${what}: no sign after ${timeoutMs} ms; output:\n${out()}`)), timeoutMs);
    c.stdout?.on('data', check);
    c.once('exit', exited);
  });
}

/** Wait for a client to finish; its stdout (it must exit 0). */
function runToEnd(c: ChildProcess, what: string): Promise<string> {
  track(c);
  const out = outputOf(c);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`${what} did not finish within ${CLIENT_TIMEOUT_MS} ms; output:\n${out()}`));
    }, CLIENT_TIMEOUT_MS);
    // 'close', not 'exit': stdout may still hold the last lines when the process exits.
    c.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out());
      else reject(new Error(`${what} failed (${code ?? signal}); output:\n${out()}`));
    });
  });
}

function kill(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    c.once('exit', () => resolve());
    c.kill('SIGKILL');
  });
}

async function waitForEpmd(port: number, impl: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await names({ port, timeoutMs: 500 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${impl} epmd did not start on ${port}: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
