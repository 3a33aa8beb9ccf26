/**
 * What `scripts/ctl` (and the REPL) can ask of a broker node: the functions the node
 * exports by name as module `beamq_ctl`, run through rpc from a hidden ctl node. Each
 * answers plain data; the CLI formats it the way EMQX's `emqx ctl` prints.
 */
import { genServer, type ExportedFn, type LocalNode, type NodeName } from '../../runtime/index.js';
import { CLUSTER, type ClusterResult, type ClusterStatus } from './cluster.js';
import { ROUTER } from '../routing/router.js';

export const CTL_MODULE = 'beamq_ctl';

export function ctlFunctions(node: LocalNode): Record<string, ExportedFn> {
  return {
    cluster_join: (seed: NodeName): Promise<ClusterResult> => genServer.call(CLUSTER, ['join', seed], 30_000),
    cluster_leave: (): Promise<ClusterResult> => genServer.call(CLUSTER, ['leave'], 30_000),
    cluster_force_leave: (n: NodeName): Promise<ClusterResult> => genServer.call(CLUSTER, ['force_leave', n], 30_000),
    cluster_status: (): Promise<ClusterStatus> => genServer.call(CLUSTER, ['status'], 10_000),
    routes_list: () => genServer.call(ROUTER, ['routes'], 10_000),
    node_name: () => node.name,
  };
}

/** `#{running_nodes => ['a@h','b@h'],stopped_nodes => []}`, as EMQX prints a status. */
export function formatStatus(s: ClusterStatus): string {
  const list = (ns: readonly string[]): string => `[${ns.map((n) => `'${n}'`).join(',')}]`;
  return `#{running_nodes => ${list(s.running_nodes)},stopped_nodes => ${list(s.stopped_nodes)}}`;
}
