/**
 * A beamq cluster of OS processes on loopback: our epmd in this process, each node
 * `scripts/node --noshell --broker` with its own data dir and free MQTT ports, killed
 * in teardown; and `scripts/ctl` to drive them.
 */
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { startDaemon, type Daemon } from '../../epmd/index.js';
import { script } from './paths.js';
import { freePort } from './ports.js';
import { runCommand, startChild, type Child } from './procs.js';
import { waitFor, withTimeout } from './wait.js';

export interface ClusterNode {
  readonly name: string;
  readonly tcp: number;
  child: Child;
  /** Start it again after a kill (same name, ports and data dir). */
  restart(): Promise<void>;
}

export interface Cluster {
  readonly epmd: Daemon;
  readonly nodes: ClusterNode[];
  readonly dataDir: string;
  ctl(node: string, ...args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }>;
  /** Join every node to the first and wait until all see all. */
  joinAll(): Promise<void>;
}

export const COOKIE = 'clustertest';
let seq = 0;

export async function startCluster(t: ExecutionContext, n: number, env: Record<string, string> = {}, givenNames?: string[]): Promise<Cluster> {
  const epmd = await startDaemon({ port: 0, addresses: ['127.0.0.1'] });
  t.teardown(() => epmd.close());
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-cluster-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const tag = `${process.pid}_${++seq}`;
  const baseEnv = { ...process.env, ERL_EPMD_PORT: String(epmd.port), BEAMQ_LOG_LEVEL: 'info', BEAMQ_NODE__DATA_DIR: dataDir, BEAMQ_SYS__INTERVAL_MS: '0', ...env };
  const names = givenNames ?? Array.from({ length: n }, (_, i) => `c${i + 1}_${tag}@127.0.0.1`);
  const nodes: ClusterNode[] = [];
  for (const name of names) {
    const tcp = await freePort();
    const ws = await freePort();
    const nodeEnv = { ...baseEnv, BEAMQ_LISTENERS__TCP__BIND: `127.0.0.1:${tcp}`, BEAMQ_LISTENERS__WS__BIND: `127.0.0.1:${ws}` };
    const spawnNode = (): Child => {
      const c = startChild(script('node'), ['--name', name, '--cookie', COOKIE, '--noshell', '--broker'], { env: nodeEnv });
      t.teardown(() => c.kill());
      return c;
    };
    const node: ClusterNode = {
      name,
      tcp,
      child: spawnNode(),
      async restart() {
        node.child = spawnNode();
        await node.child.waitOutput(/broker_started/, `${name} to start again`, 20_000);
      },
    };
    nodes.push(node);
  }
  for (const node of nodes) await node.child.waitOutput(/broker_started/, `${node.name} to start`, 20_000);
  const ctl = (node: string, ...args: string[]) =>
    runCommand(script('ctl'), ['--node', node, '--cookie', COOKIE, ...args], { env: { ...process.env, ERL_EPMD_PORT: String(epmd.port) }, timeoutMs: 60_000 });
  return {
    epmd,
    nodes,
    dataDir,
    ctl,
    async joinAll() {
      for (const node of nodes.slice(1)) {
        const r = await ctl(node.name, 'cluster', 'join', nodes[0]!.name);
        if (r.code !== 0) throw new Error(`join failed: ${r.stdout}${r.stderr}`);
      }
      await waitFor(async () => {
        for (const node of nodes) {
          const r = await ctl(node.name, 'cluster', 'status', '--json');
          const st = JSON.parse(r.stdout) as { running_nodes: string[] };
          if (st.running_nodes.length !== nodes.length) return false;
        }
        return true;
      }, 'every node to see every node', 30_000, 100);
    },
  };
}

/** An MQTT.js client connected to a node, closed in teardown. */
export async function mqttClient(t: ExecutionContext, port: number, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const c = await withTimeout(mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 10_000, ...opts }), `connect to ${port}`, 15_000);
  t.teardown(() => c.end(true));
  return c;
}
