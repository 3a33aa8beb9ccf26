/**
 * pg: process groups, as OTP 23+'s pg. A scope server (default scope `pg`, started on
 * every named node) owns this node's view of the groups: its own members, which it
 * monitors, and the members of the same scope on other nodes, which their servers
 * broadcast. Membership is eventually consistent; reads are local and synchronous.
 */
import type { Atom, NodeName, Pid, Ref } from '../terms.js';
import { ExitError, type CallOf, type ReplyOf, type SystemMsg } from '../types.js';
import * as gen from '../behaviours/gen-server.js';
import { worker, type ChildSpec } from '../behaviours/child-spec.js';
import { call as rawCall } from '../process/call.js';
import { currentCore } from '../process/current-core.js';
import type { NodeCore } from '../process/node-core.js';
import type { Ctx, Proc } from '../process/process.js';
import { current } from '../process/scheduler.js';
import { kernelOf } from '../dist/distribution.js';
import { isServicePeer, servicePeers } from './peers.js';

/** A group's name. (OTP allows any term; beamq uses strings, which key a Map as they are.) */
export type Group = string;

/** The scope kernel_sup starts on every named node. */
export const DEFAULT_SCOPE: Atom = 'pg';

/** What a scope or group monitor receives on every change: `[ref, 'join' | 'leave', group, pids]`. */
export type PgNotice = readonly [ref: Ref, kind: 'join' | 'leave', group: Group, pids: readonly Pid[]];

/**
 * What scope servers of one scope say to each other (OTP pg's messages): `discover`
 * introduces a server, `sync` carries all of a server's own members (replacing what the
 * receiver knew of them), `join`/`leave` carry each change, in order.
 */
type PeerMsg =
  | readonly ['discover', peer: Pid]
  | readonly ['sync', peer: Pid, groups: readonly (readonly [Group, readonly Pid[]])[]]
  | readonly ['join', peer: Pid, group: Group, pids: readonly Pid[]]
  | readonly ['leave', peer: Pid, pids: readonly Pid[], groups: readonly Group[]];

interface PgProtocol {
  calls: {
    join_local: { args: [group: Group, pids: readonly Pid[]]; reply: 'ok' };
    leave_local: { args: [group: Group, pids: readonly Pid[]]; reply: 'ok' | 'not_joined' };
    monitor_scope: { args: []; reply: readonly [Ref, readonly (readonly [Group, readonly Pid[]])[]] };
    monitor_group: { args: [group: Group]; reply: readonly [Ref, readonly Pid[]] };
    demonitor: { args: [ref: Ref]; reply: boolean };
  };
  info: PeerMsg | SystemMsg;
}

// --- API -------------------------------------------------------------------------

/** pg:join/3: local `pids` join `group` (a pid may join a group many times). */
export async function join(group: Group, pids: Pid | readonly Pid[], scope: Atom = DEFAULT_SCOPE): Promise<void> {
  await callScope(scope, ['join_local', group, localPids(pids)]);
}

/** pg:leave/3: local `pids` leave `group` once each; `'not_joined'` if none of them was in it. */
export function leave(group: Group, pids: Pid | readonly Pid[], scope: Atom = DEFAULT_SCOPE): Promise<'ok' | 'not_joined'> {
  return callScope(scope, ['leave_local', group, localPids(pids)]);
}

/** pg:get_members/2: every member of `group`, on all nodes, as this node knows them. */
export function getMembers(group: Group, scope: Atom = DEFAULT_SCOPE): readonly Pid[] {
  return tableOf(scope)?.get(group)?.all ?? [];
}

/** pg:get_local_members/2: the members of `group` on this node. */
export function getLocalMembers(group: Group, scope: Atom = DEFAULT_SCOPE): readonly Pid[] {
  return tableOf(scope)?.get(group)?.local ?? [];
}

/** pg:which_groups/1: every group with at least one member (empty groups do not exist). */
export function whichGroups(scope: Atom = DEFAULT_SCOPE): Group[] {
  return [...(tableOf(scope)?.keys() ?? [])];
}

/**
 * pg:monitor_scope/1: the calling process gets a `PgNotice` for every join and leave in
 * the scope from now on; resolves with the ref and the groups as they are.
 */
export async function monitorScope(scope: Atom = DEFAULT_SCOPE): Promise<{ ref: Ref; groups: Map<Group, readonly Pid[]> }> {
  callerPid('monitorScope');
  const [ref, groups] = await callScope(scope, ['monitor_scope']);
  return { ref, groups: new Map(groups) };
}

/** pg:monitor/2: as monitorScope, for one group; resolves with its members now. */
export async function monitor(group: Group, scope: Atom = DEFAULT_SCOPE): Promise<{ ref: Ref; members: readonly Pid[] }> {
  callerPid('monitor');
  const [ref, members] = await callScope(scope, ['monitor_group', group]);
  return { ref, members };
}

/** pg:demonitor/2: stop a scope or group monitor; false if `ref` is not one. */
export function demonitor(ref: Ref, scope: Atom = DEFAULT_SCOPE): Promise<boolean> {
  return callScope(scope, ['demonitor', ref]);
}

/** A scope server's child spec: kernel_sup starts `pg`; start more scopes under your own supervisor. */
export function childSpec(scope: Atom = DEFAULT_SCOPE): ChildSpec {
  return worker(scope, () => gen.startLink(server, scope, { name: scope, trapExit: true }));
}

function callScope<R extends CallOf<PgProtocol>>(scope: Atom, req: R): Promise<ReplyOf<PgProtocol, R[0]>> {
  const caller = current.proc;
  return rawCall(caller?.core ?? currentCore(), scope, req, Infinity, caller) as Promise<ReplyOf<PgProtocol, R[0]>>;
}

/** pg takes local pids only (OTP raises `{nolocal, Pid}`). */
function localPids(pids: Pid | readonly Pid[]): readonly Pid[] {
  const list = Array.isArray(pids) ? (pids as readonly Pid[]) : [pids as Pid];
  const here = (current.proc?.core ?? currentCore()).name;
  const bad = list.find((p) => p.node !== here);
  if (bad !== undefined) throw new ExitError(['nolocal', bad], ['pg', 'join']);
  return list;
}

function callerPid(what: string): Pid {
  const p = current.proc;
  if (p === undefined) throw new ExitError('badarg', ['pg', what, 'called outside a process']);
  return p.pid;
}

// --- the table -------------------------------------------------------------------

/** A scope's groups: all members and the local ones. Arrays are replaced, never changed, so readers may keep them. */
type GroupTable = Map<Group, { all: readonly Pid[]; local: readonly Pid[] }>;

const tables = new WeakMap<NodeCore, Map<Atom, GroupTable>>();

function tableOf(scope: Atom): GroupTable | undefined {
  return tables.get(currentCore())?.get(scope);
}

// --- the server --------------------------------------------------------------------

/*
 * State
 *   scope     the scope's name: the server's registered name on every node.
 *   table     the GroupTable readers share: the union of `local` and every `remote` entry.
 *             Invariant: a group is in it only while it has a member.
 *   local     our members: pid key → pid, its monitor, and the groups it joined (one entry
 *             per join, so a pid that joined twice must leave twice).
 *   remote    the same scope's servers on other nodes: node → their pid, our monitor on it,
 *             and their members by group as they last told us. Their DOWN (noconnection
 *             when the node goes) removes all of those members.
 *   watchers  scope and group monitors: ref key → watching pid, and the group (if one).
 *   downs     monitor ref key → what it watches: a local member or a peer's node.
 */
interface State {
  readonly scope: Atom;
  readonly core: NodeCore;
  readonly table: GroupTable;
  readonly local: Map<string, { readonly pid: Pid; readonly ref: Ref; readonly groups: Group[] }>;
  readonly remote: Map<NodeName, { readonly peer: Pid; readonly ref: Ref; groups: Map<Group, readonly Pid[]> }>;
  readonly watchers: Map<string, { readonly pid: Pid; readonly ref: Ref; readonly group: Group | undefined }>;
  readonly downs: Map<string, readonly ['local', Pid] | readonly ['peer', NodeName] | readonly ['watcher']>;
}

const server: gen.GenServer<PgProtocol, State, Atom> = {
  init(scope, ctx) {
    const core = (ctx as Proc).core;
    const s: State = { scope, core, table: new Map(), local: new Map(), remote: new Map(), watchers: new Map(), downs: new Map() };
    let byScope = tables.get(core);
    if (byScope === undefined) tables.set(core, (byScope = new Map<Atom, GroupTable>()));
    byScope.set(scope, s.table);
    kernelOf(core)?.monitorNodes(ctx.self, true);
    // Discover the servers of this scope already running in the cluster.
    for (const n of servicePeers(core)) ctx.send([scope, n], ['discover', ctx.self]);
    return gen.ok(s);
  },

  handleCall(req, from, s, ctx) {
    switch (req[0]) {
      case 'join_local': {
        const [, group, pids] = req;
        for (const pid of pids) {
          let e = s.local.get(pid.key);
          if (e === undefined) {
            const ref = ctx.monitor(pid);
            s.local.set(pid.key, (e = { pid, ref, groups: [] }));
            s.downs.set(ref.key, ['local', pid]);
          }
          e.groups.push(group);
        }
        addMembers(s, group, pids, true, ctx);
        broadcast(s, ['join', ctx.self, group, pids], ctx);
        return gen.reply('ok' as const, s);
      }
      case 'leave_local': {
        const [, group, pids] = req;
        const left = pids.filter((pid) => {
          const e = s.local.get(pid.key);
          const i = e?.groups.indexOf(group) ?? -1;
          if (e === undefined || i < 0) return false;
          e.groups.splice(i, 1);
          if (e.groups.length === 0) forgetLocal(s, e.pid, e.ref, ctx);
          return true;
        });
        if (left.length === 0) return gen.reply('not_joined' as const, s);
        removeMembers(s, group, left, true, ctx);
        broadcast(s, ['leave', ctx.self, left, [group]], ctx);
        return gen.reply('ok' as const, s);
      }
      case 'monitor_scope':
      case 'monitor_group': {
        const watcher = from[0]!;
        const ref = ctx.monitor(watcher);
        const group = req[0] === 'monitor_group' ? req[1] : undefined;
        s.watchers.set(ref.key, { pid: watcher, ref, group });
        s.downs.set(ref.key, ['watcher']);
        if (group !== undefined) return gen.reply([ref, s.table.get(group)?.all ?? []] as const, s);
        return gen.reply([ref, [...s.table].map(([g, m]) => [g, m.all] as const)] as const, s);
      }
      case 'demonitor': {
        const w = s.watchers.get(req[1].key);
        if (w === undefined) return gen.reply(false, s);
        ctx.demonitor(w.ref, { flush: true });
        s.watchers.delete(w.ref.key);
        s.downs.delete(w.ref.key);
        return gen.reply(true, s);
      }
    }
  },

  handleInfo(msg, s, ctx) {
    switch (msg[0]) {
      case 'discover': {
        const peer = msg[1];
        ctx.send(peer, ['sync', ctx.self, ownGroups(s)]);
        if (s.remote.get(peer.node)?.peer.equals(peer) !== true) {
          adopt(s, peer, ctx);
          ctx.send(peer, ['discover', ctx.self]);
        }
        return gen.noreply(s);
      }
      case 'sync':
        sync(s, msg[1], new Map(msg[2]), ctx);
        return gen.noreply(s);
      case 'join': {
        const [, peer, group, pids] = msg;
        const r = s.remote.get(peer.node);
        // A join from a server we do not know (yet, or any more) is dropped, as OTP: its sync will say it.
        if (r === undefined || !r.peer.equals(peer)) return gen.noreply(s);
        r.groups.set(group, [...(r.groups.get(group) ?? []), ...pids]);
        addMembers(s, group, pids, false, ctx);
        return gen.noreply(s);
      }
      case 'leave': {
        const [, peer, pids, groups] = msg;
        const r = s.remote.get(peer.node);
        if (r === undefined || !r.peer.equals(peer)) return gen.noreply(s);
        for (const group of groups) {
          const rest = withoutOnce(r.groups.get(group) ?? [], pids);
          if (rest.length === 0) r.groups.delete(group);
          else r.groups.set(group, rest);
          removeMembers(s, group, pids, false, ctx);
        }
        return gen.noreply(s);
      }
      case 'DOWN':
        down(s, msg[1], ctx);
        return gen.noreply(s);
      case 'nodeup':
        // Does the new node run this scope? Its server answers with a discover of its own.
        if (isServicePeer(s.core, msg[1])) ctx.send([s.scope, msg[1]], ['discover', ctx.self]);
        return gen.noreply(s);
      case 'nodedown':
        // The monitor on that node's server fires (noconnection) and removes its members.
        return gen.noreply(s);
      default:
        return gen.unexpected(ctx.log, 'info', msg, s);
    }
  },

  terminate(_reason, s) {
    const byScope = tables.get(s.core);
    if (byScope?.get(s.scope) === s.table) byScope.delete(s.scope);
  },
};

// --- membership ----------------------------------------------------------------------

function addMembers(s: State, group: Group, pids: readonly Pid[], local: boolean, ctx: Ctx): void {
  if (pids.length === 0) return;
  const g = s.table.get(group);
  s.table.set(group, { all: [...(g?.all ?? []), ...pids], local: local ? [...(g?.local ?? []), ...pids] : (g?.local ?? []) });
  notify(s, 'join', group, pids, ctx);
}

function removeMembers(s: State, group: Group, pids: readonly Pid[], local: boolean, ctx: Ctx): void {
  const g = s.table.get(group);
  if (g === undefined || pids.length === 0) return;
  const all = withoutOnce(g.all, pids);
  if (all.length === 0) s.table.delete(group);
  else s.table.set(group, { all, local: local ? withoutOnce(g.local, pids) : g.local });
  notify(s, 'leave', group, pids, ctx);
}

/** `list` with one occurrence of each of `pids` removed. */
function withoutOnce(list: readonly Pid[], pids: readonly Pid[]): readonly Pid[] {
  const out = [...list];
  for (const p of pids) {
    const i = out.findIndex((q) => q.equals(p));
    if (i >= 0) out.splice(i, 1);
  }
  return out;
}

/** A peer's full list of its members replaces what we knew of them. */
function sync(s: State, peer: Pid, groups: Map<Group, readonly Pid[]>, ctx: Ctx): void {
  let r = s.remote.get(peer.node);
  if (r === undefined || !r.peer.equals(peer)) r = adopt(s, peer, ctx);
  const old = r.groups;
  r.groups = groups;
  for (const [group, pids] of old) {
    const now = groups.get(group) ?? [];
    // Syncs repeat (both sides discover each other): only a real change shows as leave/join.
    if (now.length === pids.length && now.every((p, i) => p.equals(pids[i]))) continue;
    removeMembers(s, group, pids, false, ctx);
    addMembers(s, group, now, false, ctx);
  }
  for (const [group, pids] of groups) if (!old.has(group)) addMembers(s, group, pids, false, ctx);
}

/** Our members by group, for a sync. */
function ownGroups(s: State): (readonly [Group, readonly Pid[]])[] {
  const by = new Map<Group, Pid[]>();
  for (const e of s.local.values()) {
    for (const g of e.groups) {
      const l = by.get(g);
      if (l === undefined) by.set(g, [e.pid]);
      else l.push(e.pid);
    }
  }
  return [...by];
}

// --- peers, monitors, notices -----------------------------------------------------------

/** Know `peer` as its node's server of this scope (an older one of that node is forgotten). */
function adopt(s: State, peer: Pid, ctx: Ctx): { readonly peer: Pid; readonly ref: Ref; groups: Map<Group, readonly Pid[]> } {
  if (s.remote.has(peer.node)) forgetPeer(s, peer.node, ctx);
  const ref = ctx.monitor(peer);
  const r = { peer, ref, groups: new Map<Group, readonly Pid[]>() };
  s.remote.set(peer.node, r);
  s.downs.set(ref.key, ['peer', peer.node]);
  return r;
}

function forgetPeer(s: State, node: NodeName, ctx: Ctx): void {
  const r = s.remote.get(node);
  if (r === undefined) return;
  s.remote.delete(node);
  ctx.demonitor(r.ref, { flush: true });
  s.downs.delete(r.ref.key);
  for (const [group, pids] of r.groups) removeMembers(s, group, pids, false, ctx);
}

function forgetLocal(s: State, pid: Pid, ref: Ref, ctx: Ctx): void {
  ctx.demonitor(ref, { flush: true });
  s.downs.delete(ref.key);
  s.local.delete(pid.key);
}

function down(s: State, ref: Ref, ctx: Ctx): void {
  const d = s.downs.get(ref.key);
  if (d === undefined) return;
  s.downs.delete(ref.key);
  switch (d[0]) {
    case 'local': {
      const e = s.local.get(d[1].key);
      if (e === undefined) return;
      s.local.delete(d[1].key);
      for (const group of e.groups) removeMembers(s, group, [e.pid], true, ctx);
      broadcast(s, ['leave', ctx.self, [e.pid], e.groups], ctx);
      return;
    }
    case 'peer':
      forgetPeer(s, d[1], ctx);
      return;
    case 'watcher':
      s.watchers.delete(ref.key);
      return;
  }
}

function broadcast(s: State, msg: PeerMsg, ctx: Ctx): void {
  for (const r of s.remote.values()) ctx.send(r.peer, msg);
}

function notify(s: State, kind: 'join' | 'leave', group: Group, pids: readonly Pid[], ctx: Ctx): void {
  for (const w of s.watchers.values()) {
    if (w.group === undefined || w.group === group) ctx.send(w.pid, [w.ref, kind, group, pids] satisfies PgNotice);
  }
}
