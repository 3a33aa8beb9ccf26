/**
 * `scripts/ctl`: cluster commands against a running node, as `emqx ctl` does. It starts
 * a hidden node (no extra port: the distribution protocol with the cookie) and calls the
 * target's exported `beamq_ctl` functions through rpc.
 */
import { CTL_MODULE, formatStatus, type ClusterResult, type ClusterStatus } from '../broker/index.js';
import { defaultEpmdPort } from '../epmd/index.js';
import { formatTerm, rpc, RpcError, setLogLevel, startNode } from '../runtime/index.js';
import { ArgError, parseArgs, portFlag, stringFlag } from './args.js';

const USAGE = `usage: ctl --node NODE [--cookie C] [--epmd-port P] COMMAND

  cluster join NODE          join the cluster NODE is in (run against the joining node)
  cluster leave              leave the cluster
  cluster force-leave NODE   remove NODE from the cluster (down or up)
  cluster status [--json]    running and stopped members
  routes list [--json]       the route table (filter -> nodes)
  forwarded                  messages forwarded to each node since start (JSON)`;

const SPEC = { node: 'value', cookie: 'value', setcookie: 'value', 'epmd-port': 'value', json: 'switch', help: 'switch' } as const;

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.flags.has('help') || args.rest.length === 0) {
    process.stdout.write(USAGE + '\n');
    return args.flags.has('help') ? 0 : 1;
  }
  const target = stringFlag(args, 'node');
  if (target === undefined || !target.includes('@')) throw new ArgError('--node NODE (name@host) is required');
  const host = target.slice(target.indexOf('@') + 1);
  const long = host.includes('.') || host.includes(':');
  const cookie = stringFlag(args, 'cookie') ?? stringFlag(args, 'setcookie');
  setLogLevel(process.env['BEAMQ_LOG_LEVEL'] === undefined ? 'error' : (process.env['BEAMQ_LOG_LEVEL'] as 'error'));
  const me = `ctl${process.pid}_${Date.now() % 100000}`;
  const node = await startNode({
    ...(long ? { name: `${me}@${host}` } : { sname: me }),
    ...(cookie === undefined ? {} : { cookie }),
    hidden: true,
    epmdPort: portFlag(args, 'epmd-port') ?? defaultEpmdPort(),
  });
  try {
    return await run(node.run.bind(node), target, args.rest, args.flags.has('json'));
  } finally {
    await node.stop();
  }
}

async function run(on: <T>(fn: () => T) => T, target: string, cmd: readonly string[], json: boolean): Promise<number> {
  const call = (fn: string, ...a: unknown[]): Promise<unknown> => on(() => rpc.call(target, CTL_MODULE, fn, a, 60_000));
  const [area, verb, arg] = cmd;
  try {
    if (area === 'cluster') {
      switch (verb) {
        case 'status': {
          const st = (await call('cluster_status')) as ClusterStatus;
          process.stdout.write(json ? JSON.stringify(st) + '\n' : `Cluster status: ${formatStatus(st)}\n`);
          return 0;
        }
        case 'join':
          if (arg === undefined) throw new ArgError('cluster join NODE');
          return report((await call('cluster_join', arg)) as ClusterResult, 'Join the cluster successfully.', 'Failed to join the cluster', json);
        case 'leave':
          return report((await call('cluster_leave')) as ClusterResult, 'Leave the cluster successfully.', 'Failed to leave the cluster', json);
        case 'force-leave':
          if (arg === undefined) throw new ArgError('cluster force-leave NODE');
          return report((await call('cluster_force_leave', arg)) as ClusterResult, 'Remove the node from cluster successfully.', 'Failed to remove the node from cluster', json);
      }
    }
    if (area === 'forwarded') {
      process.stdout.write(JSON.stringify(await call('forwarded')) + '\n');
      return 0;
    }
    if (area === 'routes' && verb === 'list') {
      const routes = (await call('routes_list')) as { filter: string; nodes: string[] }[];
      if (json) process.stdout.write(JSON.stringify(routes) + '\n');
      else for (const r of routes) process.stdout.write(`${r.filter} -> ${r.nodes.join(',')}\n`);
      return 0;
    }
    throw new ArgError(`unknown command: ${cmd.join(' ')}\n${USAGE}`);
  } catch (err) {
    if (err instanceof RpcError) {
      process.stderr.write(err.reason === 'nodedown' ? `Node ${target} not responding to pings.\n` : `ctl: ${formatTerm(err.reason)}\n`);
      return 1;
    }
    throw err;
  }
}

function report(r: ClusterResult, ok: string, failed: string, json: boolean): number {
  if (r[0] === 'ok') {
    process.stdout.write(json ? JSON.stringify(r[1]) + '\n' : `${ok}\nCluster status: ${formatStatus(r[1])}\n`);
    return 0;
  }
  process.stdout.write(`${failed}: ${formatTerm(r[1])}\n`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`ctl: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
