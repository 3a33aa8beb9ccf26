/**
 * The cluster server (EMQX's ekka/mria membership + node monitor, FEATURES C1–C11):
 * membership kept on disk, join / leave / force-leave / status, the member's running or
 * stopped state from nodeup/nodedown, and static discovery. It tells the router which
 * members run, so routes replicate to exactly those and are purged when one goes.
 */
import {
  genServer,
  logger,
  monitorNodes,
  serverName,
  type Ctx,
  type GenServer,
  type NodeMsg,
  type NodeName,
} from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { ROUTER } from '../routing/router.js';
import { Membership } from './membership.js';
import { discoveryTarget } from './discovery.js';

const log = logger('broker:cluster');

/** How often static discovery looks for its seeds (EMQX autocluster retries every 5 s). */
const DISCOVERY_MS = 5_000;

export interface ClusterStatus {
  readonly running_nodes: NodeName[];
  readonly stopped_nodes: NodeName[];
}

export type ClusterResult = readonly ['ok', ClusterStatus] | readonly ['error', unknown];

export interface ClusterProtocol {
  calls: {
    join: { args: [seed: NodeName]; reply: ClusterResult };
    leave: { args: []; reply: ClusterResult };
    force_leave: { args: [node: NodeName]; reply: ClusterResult };
    status: { args: []; reply: ClusterStatus };
    /** From a joining node: add it; reply with our members (or refuse). */
    join_request: { args: [node: NodeName, viaDiscovery: boolean]; reply: readonly ['ok', NodeName[]] | readonly ['error', string] };
    /** From a member coming up: are you (still) in my cluster? */
    is_member: { args: [node: NodeName]; reply: boolean };
  };
  casts: {
    member_joined: { args: [node: NodeName] };
    member_left: { args: [node: NodeName] };
  };
  info: NodeMsg | readonly ['discover'];
}

export const CLUSTER = serverName<ClusterProtocol>('cluster');

/*
 * State
 *   ctx  the broker context (config, data dir)
 *   m    the membership (persisted on every change)
 */
interface State {
  readonly ctx: BrokerContext;
  readonly m: Membership;
}

const status = (s: State): ClusterStatus => ({ running_nodes: s.m.running(), stopped_nodes: s.m.stopped() });

export const clusterServer: GenServer<ClusterProtocol, State, BrokerContext> = {
  init(ctx, self) {
    const m = Membership.load(ctx.cfg.node.data_dir, ctx.node, Date.now());
    const s: State = { ctx, m };
    monitorNodes(true);
    // A restarted member finds its cluster again by itself.
    for (const peer of m.peers()) void reconnect(s, peer);
    if (ctx.cfg.cluster.discovery_strategy === 'static') self.sendAfter(self.self, ['discover'], 0);
    log.info('cluster_started', { node: ctx.node, members: m.peers(), left: m.left });
    return genServer.ok(s);
  },

  async handleCall(req, _from, s, self) {
    switch (req[0]) {
      case 'status':
        return genServer.reply(status(s), s);
      case 'join':
        return genServer.reply(await join(s, req[1], false, self), s);
      case 'leave':
        return genServer.reply(leave(s, self), s);
      case 'force_leave':
        return genServer.reply(await forceLeave(s, req[1], self), s);
      case 'join_request': {
        const [, node, viaDiscovery] = req;
        // A node that left on purpose is not pulled back in by discovery (C6/C10).
        if (viaDiscovery && s.m.left) return genServer.reply(['error', 'left'] as const, s);
        s.m.left = false;
        if (s.m.add(node, s.ctx.dist.connected(node), Date.now())) {
          save(s);
          for (const p of s.m.peers()) if (p !== node) self.cast(['cluster', p], ['member_joined', node]);
        }
        if (s.ctx.dist.connected(node)) memberUp(s, node, self);
        log.info('member_joined', { node });
        return genServer.reply(['ok', [...s.m.members.keys()]] as const, s);
      }
      case 'is_member':
        return genServer.reply(s.m.isMember(req[1]) && !s.m.left, s);
    }
  },

  handleCast(msg, s, self) {
    const node = msg[1];
    if (msg[0] === 'member_joined') {
      if (node !== s.ctx.node && s.m.add(node, s.ctx.dist.connected(node), Date.now())) {
        save(s);
        log.info('member_joined', { node });
        if (s.ctx.dist.connected(node)) memberUp(s, node, self);
        else void reconnect(s, node);
      }
      return genServer.noreply(s);
    }
    // member_left
    if (node === s.ctx.node) {
      // Another member force-left us while we run: we are on our own now.
      leaveLocally(s, self);
      return genServer.noreply(s);
    }
    if (s.m.remove(node)) {
      save(s);
      self.cast(ROUTER, ['member_left', node]);
      log.info('member_left', { node });
    }
    return genServer.noreply(s);
  },

  async handleInfo(msg, s, self) {
    switch (msg[0]) {
      case 'nodeup': {
        const node = msg[1];
        if (!s.m.isMember(node)) return genServer.noreply(s);
        // It may have been removed from the cluster while we were apart.
        const ok = (await self.call(['cluster', node], ['is_member', s.ctx.node], 5_000).catch(() => false)) === true;
        if (!ok) {
          log.info('member_disowned_us', { node });
          if (s.m.remove(node)) save(s);
          return genServer.noreply(s);
        }
        if (s.m.setStatus(node, 'running', Date.now())) log.info('member_running', { node });
        memberUp(s, node, self);
        return genServer.noreply(s);
      }
      case 'nodedown': {
        const node = msg[1];
        if (s.m.setStatus(node, 'stopped', Date.now())) {
          log.warn('member_stopped', { node });
          self.cast(ROUTER, ['member_down', node]);
        }
        return genServer.noreply(s);
      }
      case 'discover':
        await discover(s, self);
        self.sendAfter(self.self, ['discover'], DISCOVERY_MS);
        return genServer.noreply(s);
      default:
        return genServer.unexpected(log, 'info', msg, s);
    }
  },
};


function save(s: State): void {
  try {
    s.m.save(s.ctx.cfg.node.data_dir);
  } catch (err) {
    log.error('membership_save_failed', { dir: s.ctx.cfg.node.data_dir, error: (err as Error).message });
  }
}

function memberUp(s: State, node: NodeName, self: Ctx): void {
  s.m.setStatus(node, 'running', Date.now());
  self.cast(ROUTER, ['member_up', node]);
}

async function reconnect(s: State, node: NodeName): Promise<void> {
  if (!(await s.ctx.dist.connect(node))) log.debug('member_unreachable', { node });
}

/** `cluster join Seed`, run on the joining node (C5). */
async function join(s: State, seed: NodeName, viaDiscovery: boolean, self: Ctx): Promise<ClusterResult> {
  if (seed === s.ctx.node) return ['error', 'cannot_join_itself'];
  if (s.m.isMember(seed) && !s.m.left) return ['error', ['already_in_cluster', seed]];
  if (!(await self.call(['net_kernel', seed], ['is_auth', s.ctx.node], 5_000).then(() => true, () => false))) {
    return ['error', ['node_down', seed]];
  }
  // Joining while in another cluster leaves that one first; local cluster data goes.
  if (s.m.peers().length > 0) leaveLocally(s, self);
  self.cast(ROUTER, ['reset_remote']);
  s.ctx.retained.clear();
  let r: readonly ['ok', NodeName[]] | readonly ['error', string];
  try {
    r = (await self.call(['cluster', seed], ['join_request', s.ctx.node, viaDiscovery], 15_000)) as typeof r;
  } catch (err) {
    return ['error', ['node_down', seed, String(err)]];
  }
  if (r[0] === 'error') return ['error', r[1]];
  s.m.reset(Date.now());
  s.m.left = false;
  for (const n of r[1]) if (n !== s.ctx.node) s.m.add(n, s.ctx.dist.connected(n), Date.now());
  save(s);
  for (const n of s.m.peers()) {
    if (s.ctx.dist.connected(n)) memberUp(s, n, self);
    else void reconnect(s, n);
  }
  // The cluster's retained messages (replaced ours).
  await pullRetained(s, seed, self);
  log.info('joined_cluster', { seed, members: s.m.peers() });
  return ['ok', status(s)];
}

async function pullRetained(s: State, seed: NodeName, self: Ctx): Promise<void> {
  try {
    const msgs = (await self.call(['retainer', seed], ['snapshot'], 15_000)) as Parameters<BrokerContext['retained']['put']>[0][];
    for (const m of msgs) s.ctx.retained.put(m);
  } catch (err) {
    log.warn('retained_snapshot_failed', { seed, error: String(err) });
  }
}

/** `cluster leave` (C6): everyone forgets us, we forget them, and discovery leaves us alone. */
function leave(s: State, self: Ctx): ClusterResult {
  if (s.m.peers().length === 0) return ['error', 'node_not_in_cluster'];
  for (const p of s.m.peers()) self.cast(['cluster', p], ['member_left', s.ctx.node]);
  leaveLocally(s, self);
  log.info('left_cluster', {});
  return ['ok', status(s)];
}

function leaveLocally(s: State, self: Ctx): void {
  const former = s.m.peers();
  s.m.reset(Date.now());
  s.m.left = true;
  save(s);
  for (const p of former) {
    self.cast(ROUTER, ['member_left', p]);
    s.ctx.dist.disconnect(p);
  }
}

/** `cluster force-leave Node` (C7): a reachable node leaves; a down one is removed everywhere. */
async function forceLeave(s: State, node: NodeName, self: Ctx): Promise<ClusterResult> {
  if (node === s.ctx.node) return ['error', 'cannot_force_leave_self'];
  if (!s.m.isMember(node)) return ['error', ['not_in_cluster', node]];
  if (s.ctx.dist.connected(node)) {
    try {
      const r = (await self.call(['cluster', node], ['leave'], 15_000)) as ClusterResult;
      if (r[0] === 'ok') return ['ok', status(s)];
    } catch {
      // fall through: remove it from here
    }
  }
  for (const p of s.m.peers()) if (p !== node) self.cast(['cluster', p], ['member_left', node]);
  s.m.remove(node);
  save(s);
  self.cast(ROUTER, ['member_left', node]);
  log.info('member_force_left', { node });
  return ['ok', status(s)];
}

/** Static discovery (C11): join the lowest-named reachable seed below us, unless we left. */
async function discover(s: State, self: Ctx): Promise<void> {
  if (s.m.left) return;
  const seeds = s.ctx.cfg.cluster.static.seeds;
  const reachable: NodeName[] = [];
  for (const seed of seeds) if (seed !== s.ctx.node && (await s.ctx.dist.connect(seed))) reachable.push(seed);
  const target = discoveryTarget(s.ctx.node, reachable, [...s.m.members.keys()]);
  if (target === undefined) return;
  const r = await join(s, target, true, self);
  if (r[0] === 'error') log.debug('discovery_join_failed', { seed: target, reason: JSON.stringify(r[1]) });
}
