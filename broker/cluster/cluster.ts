/**
 * The cluster server (EMQX's ekka/mria membership + node monitor, FEATURES C1–C11):
 * membership kept on disk, the member's running/stopped state from nodeup/nodedown,
 * and the state changes of join / leave / force-leave. It never waits on another node
 * inside a callback (two nodes waiting on each other would deadlock): the multi-node
 * steps of a join run in the caller's process (see join.ts), and a member coming up is
 * checked with casts. It tells the router which members run.
 */
import { genServer, logger, monitorNodes, serverName, type Ctx, type GenServer, type NodeMsg, type NodeName } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { ROUTER } from '../routing/router.js';
import { Membership } from './membership.js';
import { runDiscovery } from './join.js';

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
    status: { args: []; reply: ClusterStatus };
    /** Checks before a join: not ourselves, not already with it. */
    can_join: { args: [seed: NodeName]; reply: readonly ['ok'] | readonly ['error', unknown] };
    /** Leave the current cluster (if any) and drop remote routes and retained messages. */
    prepare_join: { args: []; reply: 'ok' };
    /** The seed let us in: these are the members. */
    complete_join: { args: [members: NodeName[]]; reply: ClusterStatus };
    leave: { args: []; reply: ClusterResult };
    /** Remove a member that cannot leave by itself (down), here and on every member. */
    remove_member: { args: [node: NodeName]; reply: ClusterResult };
    is_member_here: { args: [node: NodeName]; reply: boolean };
    /** From a joining node: add it; reply with our members (or refuse). */
    join_request: { args: [node: NodeName, viaDiscovery: boolean]; reply: readonly ['ok', NodeName[]] | readonly ['error', string] };
  };
  casts: {
    member_joined: { args: [node: NodeName] };
    member_left: { args: [node: NodeName] };
    /** A member came up and asks whether it is still ours; we answer `member_check_reply`. */
    member_check: { args: [from: NodeName] };
    member_check_reply: { args: [from: NodeName, yes: boolean] };
  };
  info: NodeMsg | readonly ['discover'] | readonly ['discovered'];
}

export const CLUSTER = serverName<ClusterProtocol>('cluster');

/*
 * State
 *   ctx          the broker context (config, data dir)
 *   m            the membership (persisted on every change)
 *   discovering  a discovery round runs in a worker process
 */
interface State {
  readonly ctx: BrokerContext;
  readonly m: Membership;
  discovering: boolean;
}

const status = (s: State): ClusterStatus => ({ running_nodes: s.m.running(), stopped_nodes: s.m.stopped() });

export const clusterServer: GenServer<ClusterProtocol, State, BrokerContext> = {
  init(ctx, self) {
    const m = Membership.load(ctx.cfg.node.data_dir, ctx.node, Date.now());
    const s: State = { ctx, m, discovering: false };
    monitorNodes(true);
    // A restarted member finds its cluster again by itself.
    for (const peer of m.peers()) void ctx.dist.connect(peer);
    if (ctx.cfg.cluster.discovery_strategy === 'static') self.sendAfter(self.self, ['discover'], 0);
    log.info('cluster_started', { node: ctx.node, members: m.peers(), left: m.left });
    return genServer.ok(s);
  },

  handleCall(req, _from, s, self) {
    switch (req[0]) {
      case 'status':
        return genServer.reply(status(s), s);
      case 'can_join': {
        const seed = req[1];
        if (seed === s.ctx.node) return genServer.reply(['error', 'cannot_join_itself'] as const, s);
        if (s.m.isMember(seed) && !s.m.left) return genServer.reply(['error', ['already_in_cluster', seed]] as const, s);
        return genServer.reply(['ok'] as const, s);
      }
      case 'prepare_join':
        // Joining while in another cluster leaves that one first; local cluster data goes (C5).
        if (s.m.peers().length > 0) leaveLocally(s, self, true);
        self.cast(ROUTER, ['reset_remote']);
        s.ctx.retained.clear();
        return genServer.reply('ok' as const, s);
      case 'complete_join': {
        s.m.reset(Date.now());
        s.m.left = false;
        for (const n of req[1]) if (n !== s.ctx.node) s.m.add(n, s.ctx.dist.connected(n), Date.now());
        save(s);
        for (const n of s.m.peers()) {
          if (s.ctx.dist.connected(n)) memberUp(s, n, self);
          else void s.ctx.dist.connect(n);
          // The seed told them about us, but one may have asked us "member?" before this
          // call (we said no then) and dropped us: this, sent after that answer on the
          // same connection, puts us back. For the others it changes nothing.
          self.cast(['cluster', n], ['member_joined', s.ctx.node]);
        }
        log.info('joined_cluster', { members: s.m.peers() });
        return genServer.reply(status(s), s);
      }
      case 'leave': {
        if (s.m.peers().length === 0) return genServer.reply(['error', 'node_not_in_cluster'] as const, s);
        for (const p of s.m.peers()) self.cast(['cluster', p], ['member_left', s.ctx.node]);
        leaveLocally(s, self, true);
        log.info('left_cluster', {});
        return genServer.reply(['ok', status(s)] as const, s);
      }
      case 'remove_member': {
        const node = req[1];
        if (!s.m.isMember(node) || node === s.ctx.node) return genServer.reply(['error', ['not_in_cluster', node]] as const, s);
        for (const p of s.m.peers()) if (p !== node) self.cast(['cluster', p], ['member_left', node]);
        removeMember(s, node, self);
        log.info('member_force_left', { node });
        return genServer.reply(['ok', status(s)] as const, s);
      }
      case 'is_member_here':
        return genServer.reply(s.m.isMember(req[1]) && s.m.peers().length > 0, s);
      case 'join_request': {
        const [, node, viaDiscovery] = req;
        // A node that left on purpose is not pulled back in by discovery (C6/C10).
        if (viaDiscovery && s.m.left) return genServer.reply(['error', 'left'] as const, s);
        s.m.left = false;
        if (s.m.add(node, s.ctx.dist.connected(node), Date.now())) {
          save(s);
          for (const p of s.m.peers()) if (p !== node) self.cast(['cluster', p], ['member_joined', node]);
          log.info('member_joined', { node });
        }
        if (s.ctx.dist.connected(node)) memberUp(s, node, self);
        return genServer.reply(['ok', [...s.m.members.keys()]] as const, s);
      }
    }
  },

  handleCast(msg, s, self) {
    switch (msg[0]) {
      case 'member_joined': {
        const node = msg[1];
        if (node !== s.ctx.node && s.m.add(node, s.ctx.dist.connected(node), Date.now())) {
          save(s);
          log.info('member_joined', { node });
          if (s.ctx.dist.connected(node)) memberUp(s, node, self);
          else void s.ctx.dist.connect(node);
        }
        return genServer.noreply(s);
      }
      case 'member_left': {
        const node = msg[1];
        // Another member force-left us while we run: we are on our own now.
        if (node === s.ctx.node) leaveLocally(s, self, false);
        else if (s.m.isMember(node)) {
          removeMember(s, node, self);
          log.info('member_left', { node });
        }
        return genServer.noreply(s);
      }
      case 'member_check':
        self.cast(['cluster', msg[1]], ['member_check_reply', s.ctx.node, s.m.isMember(msg[1]) && !s.m.left]);
        return genServer.noreply(s);
      case 'member_check_reply': {
        const [, node, yes] = msg;
        if (!s.m.isMember(node)) return genServer.noreply(s);
        if (!yes) {
          // Removed from the cluster while we were apart: it is not ours any more.
          log.info('member_disowned_us', { node });
          removeMember(s, node, self);
          return genServer.noreply(s);
        }
        if (s.ctx.dist.connected(node)) memberUp(s, node, self);
        return genServer.noreply(s);
      }
    }
  },

  handleInfo(msg, s, self) {
    switch (msg[0]) {
      case 'nodeup':
        // A member that comes back: ask whether it still counts us in (answer by cast).
        if (s.m.isMember(msg[1])) self.cast(['cluster', msg[1]], ['member_check', s.ctx.node]);
        return genServer.noreply(s);
      case 'nodedown': {
        const node = msg[1];
        if (s.m.setStatus(node, 'stopped', Date.now())) {
          log.warn('member_stopped', { node });
          self.cast(ROUTER, ['member_down', node]);
        }
        return genServer.noreply(s);
      }
      case 'discover':
        if (!s.discovering && !s.m.left) {
          s.discovering = true;
          const me = self.self;
          const ctx = s.ctx;
          self.spawn(async (worker) => {
            try {
              await runDiscovery(ctx, worker);
            } finally {
              worker.send(me, ['discovered']);
            }
          });
        }
        return genServer.noreply(s);
      case 'discovered':
        s.discovering = false;
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
  if (s.m.setStatus(node, 'running', Date.now())) log.info('member_running', { node });
  self.cast(ROUTER, ['member_up', node]);
}

function removeMember(s: State, node: NodeName, self: Ctx): void {
  if (s.m.remove(node)) save(s);
  self.cast(ROUTER, ['member_left', node]);
}

/** Back to a cluster of one; `byChoice`: a leave (discovery then leaves us alone). */
function leaveLocally(s: State, self: Ctx, byChoice: boolean): void {
  const former = s.m.peers();
  s.m.reset(Date.now());
  s.m.left = byChoice || s.m.left;
  save(s);
  // The distribution connections stay: a reply may still be on its way, and nodes that
  // are not members are simply not replicated to.
  for (const p of former) self.cast(ROUTER, ['member_left', p]);
}
