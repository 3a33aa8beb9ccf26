/**
 * Broker nodes for `npm run bench -- cluster`, each its own OS process on loopback:
 * our epmd in this process (port 0), every node `scripts/node --noshell --broker` with
 * its own MQTT port and data dir, those asked for joined with `scripts/ctl cluster join`. A hidden
 * control node in this process asks the nodes things by rpc (the calls `scripts/ctl`
 * makes) where a ctl process per question would be too slow to poll with.
 * Everything started here is killed by `stop()`, and by the process' exit if the bench
 * dies first. The bench-side twin of test/helpers/cluster.ts (benches do not import test/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDaemon } from '../../epmd/index.js';
import { CTL_MODULE, type ClusterStatus } from '../../broker/index.js';
import { rpc, setLogLevel, startNode, type LocalNode } from '../../runtime/index.js';
import { launcherFlags } from '../node-flags.js';
import { freePort } from './ports.js';

const COOKIE = 'cluster_bench';
/** Printed by each node's --eval once its broker listens: broker_started is logged at info, and benches log at warn. */
const READY = 'bench_node_ready';
const START_TIMEOUT_MS = 30_000;
const CTL_TIMEOUT_MS = 60_000;
const RPC_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;

/** This file compiles to build/scripts/bench/cluster-nodes.js. */
const builtScripts = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface BenchNode {
  readonly name: string;
  /** Its MQTT TCP port on 127.0.0.1. */
  readonly port: number;
  readonly proc: ChildProcess;
}

export interface BenchNodes {
  readonly nodes: readonly BenchNode[];
  /** `scripts/ctl --node <node> --cookie C <args>`; its stdout (it must exit 0). */
  ctl(node: string, ...args: string[]): Promise<string>;
  /** A `beamq_ctl` function of `node`, called by rpc from the hidden control node. */
  call(node: string, fn: string, ...args: unknown[]): Promise<unknown>;
  /** Join every one of `members` after the first to the first; resolves once each sees them all. */
  join(members: readonly BenchNode[]): Promise<void>;
  /** CPU seconds (user + system) each node process has used so far, by node name. */
  cpuSeconds(): Record<string, number>;
  /** Kill one node now (SIGKILL). */
  kill(node: BenchNode): Promise<void>;
  /** Kill every node, stop the control node and epmd, remove the data dir. */
  stop(): Promise<void>;
}

/** Node processes still running: SIGKILLed if the bench exits or is interrupted without stop(). */
const live = new Set<ChildProcess>();
const killLive = (): void => {
  for (const c of live) c.kill('SIGKILL');
};
process.once('exit', killLive);
/** Ctrl-C or a CI timeout: a signal ends the process without 'exit' handlers, so take the nodes down first. */
const interrupted = (): void => {
  killLive();
  process.exit(130);
};

/** Start one node per alive name (`<alive>_<pid>@127.0.0.1`), all ready, none joined. */
export async function startNodes(alives: readonly string[]): Promise<BenchNodes> {
  const epmd = await startDaemon({ port: 0, addresses: ['127.0.0.1'] });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-cluster-bench-'));
  const started: BenchNode[] = [];
  let control: LocalNode | undefined;
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const stop = async (): Promise<void> => {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await Promise.all(started.map(killNode));
    await control?.stop();
    await epmd.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const env = {
      ...process.env,
      ERL_EPMD_PORT: String(epmd.port),
      // A log line per connection would cost the nodes more than the work measured.
      BEAMQ_LOG_LEVEL: 'warn',
      BEAMQ_NODE__DATA_DIR: dataDir,
      BEAMQ_SYS__INTERVAL_MS: '0',
      BEAMQ_LISTENERS__WS__ENABLE: 'false',
      // Unbounded session queues (unless set): a fan-in outruns a QoS 1 subscriber's
      // window, and with the default 1000 the figure would be the overflow policy's.
      BEAMQ_MQTT__MAX_MQUEUE_LEN: process.env['BEAMQ_MQTT__MAX_MQUEUE_LEN'] ?? '0',
    };
    // E.g. CLUSTER_BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=prof" (written when the bench stops the node).
    // Started as scripts/node starts a node (its Node flags), then these.
    const nodeArgs = [...launcherFlags(process.env['NODE_OPTIONS']), ...(process.env['CLUSTER_BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '')];
    for (const alive of alives) {
      const name = `${alive}_${process.pid}@127.0.0.1`;
      const port = await freePort();
      // The Node binary running the bench, on the built script (what scripts/node execs): the pid is the node's.
      const proc = spawn(process.execPath, [...nodeArgs, path.join(builtScripts, 'node.js'), '--name', name, '--cookie', COOKIE, '--noshell', '--broker', '--eval', `console.log('${READY}')`], {
        env: { ...env, BEAMQ_LISTENERS__TCP__BIND: `127.0.0.1:${port}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      live.add(proc);
      proc.once('exit', () => live.delete(proc));
      started.push({ name, port, proc });
    }
    // Started together: on two cores the nodes' boot overlaps with the others' I/O waits.
    await Promise.all(started.map((n) => waitReady(n)));
    // The control node logs each nodeup/nodedown at info; the figures are what matters here.
    if (process.env['BEAMQ_LOG_LEVEL'] === undefined) setLogLevel('warn');
    control = await startNode({ name: `bench_ctl_${process.pid}@127.0.0.1`, cookie: COOKIE, hidden: true, epmdPort: epmd.port });
  } catch (err) {
    await stop();
    throw err;
  }
  const ctlNode = control;
  const ctl = (node: string, ...args: string[]): Promise<string> =>
    runToEnd(process.execPath, [path.join(builtScripts, 'ctl.js'), '--node', node, '--cookie', COOKIE, ...args], { ...process.env, ERL_EPMD_PORT: String(epmd.port) });
  const call = (node: string, fn: string, ...args: unknown[]): Promise<unknown> => ctlNode.run(() => rpc.call(node, CTL_MODULE, fn, args, RPC_TIMEOUT_MS));
  return {
    nodes: started,
    ctl,
    call,
    async join(members) {
      const [first, ...rest] = members;
      if (first === undefined) return;
      for (const n of rest) await ctl(n.name, 'cluster', 'join', first.name);
      await until(async () => {
        for (const n of members) {
          const st = (await call(n.name, 'cluster_status')) as ClusterStatus;
          if (st.running_nodes.length !== members.length) return false;
        }
        return true;
      }, 'every node to see every node', 30_000);
    },
    cpuSeconds: () => Object.fromEntries(started.map((n) => [n.name, procCpuSeconds(n.proc.pid)])),
    kill: killNode,
    stop,
  };
}

function waitReady(n: BenchNode): Promise<void> {
  let out = '';
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      n.proc.stdout?.off('data', onOut);
      n.proc.stderr?.off('data', onErr);
      n.proc.off('exit', onExit);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onOut = (b: Buffer): void => {
      out += b.toString('utf8');
      if (out.includes(READY)) done();
    };
    const onErr = (b: Buffer): void => void (out += b.toString('utf8'));
    const onExit = (): void => done(new Error(`${n.name} exited before it was ready; output:\n${out}`));
    const timer = setTimeout(() => done(new Error(`${n.name} not ready after ${START_TIMEOUT_MS} ms; output:\n${out}`)), START_TIMEOUT_MS);
    n.proc.stdout?.on('data', onOut);
    n.proc.stderr?.on('data', onErr);
    n.proc.once('exit', onExit);
  });
}

/** SIGTERM (the node's ordered shutdown, which also writes a --cpu-prof profile), SIGKILL after STOP_GRACE_MS. */
function killNode(n: BenchNode): Promise<void> {
  const c = n.proc;
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const hard = setTimeout(() => c.kill('SIGKILL'), STOP_GRACE_MS);
    c.once('exit', () => {
      clearTimeout(hard);
      resolve();
    });
    c.kill('SIGTERM');
  });
}

/** Run a command to its end within CTL_TIMEOUT_MS; its stdout, or an error with its output. */
function runToEnd(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    const timer = setTimeout(() => p.kill('SIGKILL'), CTL_TIMEOUT_MS);
    p.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${args.slice(1).join(' ')} failed (${code ?? signal}):\n${stdout}${stderr}`));
    });
  });
}

/** Poll `check` every 50 ms until it holds; throws after `timeoutMs`. */
export async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** utime + stime of a process from /proc (Linux; NaN elsewhere). Clock ticks are 100/s on Linux. */
function procCpuSeconds(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may hold spaces): state is field 3.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}
