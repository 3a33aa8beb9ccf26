/**
 * Starting and stopping the brokers under test, each in its own OS process on a free
 * loopback port: beamq and aedes through mqtt-broker-host.ts, mosquitto from its
 * binary with a generated config. Every process started here is tracked and killed
 * on stop, on failure, and when the bench process exits.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launcherFlags } from '../node-flags.js';
import { hasBinary } from './report.js';
import { freePort } from './ports.js';

export const IMPLS = ['beamq', 'mosquitto', 'aedes', 'node-floor'] as const;
export type Impl = (typeof IMPLS)[number];
export const isImpl = (s: string): s is Impl => (IMPLS as readonly string[]).includes(s);

/** Limits set the same on every broker, so that none wins by a bigger window or queue. */
export interface BrokerLimits {
  /** Outgoing QoS 1/2 messages unacknowledged per client; 0 = no limit. */
  readonly inflight: number;
  /** Messages queued per client beyond the inflight window; 0 = no limit. */
  readonly queue: number;
}

export interface RunningBroker {
  readonly impl: Impl;
  readonly port: number;
  /** The broker's OS process (for its RSS). */
  readonly pid: number;
  /** A full GC where the broker has one (Node brokers); nothing for mosquitto. */
  gc(): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;

/** Kill every child still running (exit hook, and on failure). */
export function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
}

function track(c: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', killAll);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        killAll();
        process.exit(130);
      });
    }
  }
  live.add(c);
  c.once('exit', () => live.delete(c));
}

export function available(impl: Impl): boolean {
  return impl === 'mosquitto' ? fs.existsSync('/usr/sbin/mosquitto') || hasBinary('mosquitto') : true;
}

export async function startBroker(impl: Impl, limits: BrokerLimits): Promise<RunningBroker> {
  return impl === 'mosquitto' ? startMosquitto(limits) : startNodeBroker(impl, limits);
}

/** A forked child that talks IPC; `extraArgs` lets a profile run pass --cpu-prof and friends. */
export function forkTracked(script: string, args: string[], execArgv: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  // The child's stdout must not mix with our JSON lines: it goes to our stderr.
  const c = fork(script, args, { execArgv, env, stdio: ['ignore', 2, 2, 'ipc'] });
  track(c);
  return c;
}

export function benchFile(name: string): string {
  return path.join(path.dirname(fileURLToPath(import.meta.url)), name);
}

async function startNodeBroker(impl: Exclude<Impl, 'mosquitto'>, limits: BrokerLimits): Promise<RunningBroker> {
  const extra = (process.env[`MQTT_BENCH_${impl.toUpperCase().replace('-', '_')}_NODE_ARGS`] ?? '').split(' ').filter((s) => s !== '');
  const env = {
    ...process.env,
    BEAMQ_LOG_LEVEL: process.env['BEAMQ_LOG_LEVEL'] ?? 'error',
    // beamq's window is at most 65535 (the packet id space): that is "no limit".
    BEAMQ_MQTT__MAX_INFLIGHT: String(limits.inflight === 0 ? 65535 : limits.inflight),
    BEAMQ_MQTT__MAX_MQUEUE_LEN: String(limits.queue),
  };
  // beamq as scripts/node starts it (its Node flags); the others as Node starts.
  const launcher = impl === 'beamq' ? launcherFlags(process.env['NODE_OPTIONS']) : [];
  const c = forkTracked(benchFile('mqtt-broker-host.js'), [impl], ['--expose-gc', ...launcher, ...extra], env);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${impl}: not ready after 20 s`)), 20_000);
    c.once('exit', (code) => reject(new Error(`${impl}: exited with ${code} before ready`)));
    c.on('message', (m: { t: string; port?: number }) => {
      if (m.t === 'ready' && m.port !== undefined) {
        clearTimeout(timer);
        resolve(m.port);
      }
    });
  }).catch((err: unknown) => {
    c.kill('SIGKILL');
    throw err;
  });
  return {
    impl,
    port,
    pid: c.pid!,
    gc: () =>
      new Promise<void>((resolve) => {
        const on = (m: { t: string }): void => {
          if (m.t !== 'gc_done') return;
          c.off('message', on);
          resolve();
        };
        c.on('message', on);
        c.send({ t: 'gc' });
      }),
    stop: () => stopChild(c, () => c.send({ t: 'stop' })),
  };
}

async function startMosquitto(limits: BrokerLimits): Promise<RunningBroker> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-bench-mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'set_tcp_nodelay true',
      `max_inflight_messages ${limits.inflight}`,
      `max_queued_messages ${limits.queue}`,
      '',
    ].join('\n'),
  );
  const bin = fs.existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';
  // A shell between us and mosquitto holds our stdin: when we go (even by SIGKILL) its
  // read returns and it kills mosquitto, so no broker outlives the bench.
  const c = spawn('sh', ['-c', '"$0" -c "$1" & echo $!; read _; kill $! 2>/dev/null; wait', bin, conf], { stdio: ['pipe', 'pipe', 'inherit'] });
  track(c);
  const pid = await new Promise<number>((resolve, reject) => {
    c.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    c.once('exit', (code) => reject(new Error(`mosquitto wrapper exited with ${code}`)));
  });
  try {
    await waitForPort(port, 10_000);
  } catch (err) {
    c.kill('SIGKILL');
    process.kill(pid, 'SIGKILL');
    throw err;
  }
  return {
    impl: 'mosquitto',
    port,
    pid,
    gc: () => Promise.resolve(),
    stop: async () => {
      await stopChild(c, () => c.stdin.end());
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Ask politely, then SIGKILL after 5 s. */
function stopChild(c: ChildProcess, ask: () => void): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
    c.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    try {
      ask();
    } catch {
      c.kill('SIGKILL');
    }
  });
}

/** Resident set size of process `pid`, in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
}
