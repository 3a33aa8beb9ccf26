/**
 * The multi-node steps of membership changes, run in the caller's process (the ctl
 * rpc worker, or a discovery worker), never inside the cluster server: join (C5),
 * force-leave (C7), and static discovery (C9/C11).
 */
import { logger, type Ctx, type NodeName } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import type { Message } from '../mqtt/message.js';
import { CLUSTER, type ClusterResult, type ClusterStatus } from './cluster.js';
import { discoveryTarget } from './discovery.js';

const log = logger('broker:cluster');

const T = 15_000;

/** `cluster join Seed`, on the joining node. */
export async function join(ctx: BrokerContext, via: Ctx, seed: NodeName, viaDiscovery = false): Promise<ClusterResult> {
  const can = (await via.call(CLUSTER, ['can_join', seed], T)) as readonly ['ok'] | readonly ['error', unknown];
  if (can[0] === 'error') return can;
  if (!(await ctx.dist.connect(seed))) return ['error', ['node_down', seed]];
  let r: readonly ['ok', NodeName[]] | readonly ['error', string];
  try {
    // Ask first, so a refused join (a seed that left) changes nothing here.
    await via.call(['cluster', seed], ['status'], T);
  } catch (err) {
    return ['error', ['node_down', seed, String(err)]];
  }
  await via.call(CLUSTER, ['prepare_join'], T);
  try {
    r = (await via.call(['cluster', seed], ['join_request', ctx.node, viaDiscovery], T)) as typeof r;
  } catch (err) {
    return ['error', ['node_down', seed, String(err)]];
  }
  if (r[0] === 'error') return ['error', r[1]];
  const st = (await via.call(CLUSTER, ['complete_join', r[1]], T)) as ClusterStatus;
  // The cluster's retained messages (ours were dropped in prepare_join).
  try {
    const msgs = (await via.call(['retainer', seed], ['snapshot'], T)) as Message[];
    for (const m of msgs) ctx.retained.put(m);
  } catch (err) {
    log.warn('retained_snapshot_failed', { seed, error: String(err) });
  }
  return ['ok', st];
}

/** `cluster force-leave Node`: a reachable node leaves by itself; a down one is removed everywhere. */
export async function forceLeave(ctx: BrokerContext, via: Ctx, node: NodeName): Promise<ClusterResult> {
  if (node === ctx.node) return ['error', 'cannot_force_leave_self'];
  const here = (await via.call(CLUSTER, ['is_member_here', node], T)) as boolean;
  if (!here) return ['error', ['not_in_cluster', node]];
  if (ctx.dist.connected(node)) {
    try {
      await via.call(['cluster', node], ['leave'], T);
    } catch {
      // unreachable after all: remove it from here
    }
    // Its leave tells every member (us included): done once we no longer count it.
    const still = (await via.call(CLUSTER, ['is_member_here', node], T)) as boolean;
    if (!still) {
      const st = (await via.call(CLUSTER, ['status'], T)) as ClusterStatus;
      return ['ok', st];
    }
  }
  return (await via.call(CLUSTER, ['remove_member', node], T)) as ClusterResult;
}

/** One round of static discovery: join the lowest-named reachable seed below us. */
export async function runDiscovery(ctx: BrokerContext, via: Ctx): Promise<void> {
  const st = (await via.call(CLUSTER, ['status'], T)) as ClusterStatus;
  const members = [...st.running_nodes, ...st.stopped_nodes];
  const reachable: NodeName[] = [];
  for (const seed of ctx.cfg.cluster.static.seeds) if (seed !== ctx.node && (await ctx.dist.connect(seed))) reachable.push(seed);
  const target = discoveryTarget(ctx.node, reachable, members);
  if (target === undefined) return;
  const r = await join(ctx, via, target, true);
  if (r[0] === 'error') log.debug('discovery_join_failed', { seed: target, reason: JSON.stringify(r[1]) });
  else log.info('discovery_joined', { seed: target });
}
