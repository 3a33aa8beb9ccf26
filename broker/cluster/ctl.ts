/**
 * What `scripts/ctl` (and the REPL) can ask of a broker node: the functions the node
 * exports by name as module `beamq_ctl`, run through rpc from a hidden ctl node. Each
 * answers plain data; the CLI formats it the way EMQX's `emqx ctl` prints.
 */
import { genServer, ExitError, currentProcess, type Ctx, type ExportedFn, type LocalNode, type NodeName } from '../../runtime/index.js';
import { CLUSTER, type ClusterResult, type ClusterStatus } from './cluster.js';
import { forceLeave, join } from './join.js';
import { ROUTER } from '../routing/router.js';
import type { BrokerContext } from '../context.js';

export const CTL_MODULE = 'beamq_ctl';

export function ctlFunctions(node: LocalNode, ctx: BrokerContext): Record<string, ExportedFn> {
  return {
    // These run in the rpc worker process on the target node (functions run by rex).
    cluster_join: (seed: NodeName): Promise<ClusterResult> => join(ctx, caller(), seed),
    cluster_leave: (): Promise<ClusterResult> => genServer.call(CLUSTER, ['leave'], 30_000),
    cluster_force_leave: (n: NodeName): Promise<ClusterResult> => forceLeave(ctx, caller(), n),
    cluster_status: (): Promise<ClusterStatus> => genServer.call(CLUSTER, ['status'], 10_000),
    routes_list: () => genServer.call(ROUTER, ['routes'], 10_000),
    /** Messages forwarded to each node since start (the per-peer counter). */
    forwarded: () => Object.fromEntries(ctx.forwardedTo),
    node_name: () => node.name,
  };
}

/** The process running an exported function (the rpc worker). */
function caller(): Ctx {
  const p = currentProcess();
  if (p === undefined) throw new ExitError('badarg', ['beamq_ctl', 'not called from a process']);
  return p;
}

/** `#{running_nodes => ['a@h','b@h'],stopped_nodes => []}`, as EMQX prints a status. */
export function formatStatus(s: ClusterStatus): string {
  const list = (ns: readonly string[]): string => `[${ns.map((n) => `'${n}'`).join(',')}]`;
  return `#{running_nodes => ${list(s.running_nodes)},stopped_nodes => ${list(s.stopped_nodes)}}`;
}
