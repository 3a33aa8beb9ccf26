/**
 * The registrar of `global`: one process per node, linked to its name server, that runs
 * the node's register/unregister/re-register requests one at a time, each as a
 * transaction under the cluster-wide `global` lock (OTP's global has the same helper).
 * It is the lock's requester, so a registrar that dies loses its locks everywhere.
 *
 * Why a lock on every node, taken in node-name order, and not one arbiter node:
 * uniqueness needs one decision at a time per name across every node that can see each
 * other. An arbiter ("the node that sorts lowest decides") needs all nodes to agree on
 * who that is while nodes come and go; two halves of a healing cluster would each have
 * their own. A lock held on every node a registrar can reach needs no agreement: any two
 * registrars that see a common node queue on it, so they run one after the other. Each
 * server queues lock requests first come first served (OTP's set_lock answers "taken"
 * and retries after a random sleep instead), and every registrar takes the locks in the
 * same order, sorted by node name, so waiters never form a cycle: no deadlock and no
 * retry timers. A holder that dies, or whose node goes down, is released by the
 * servers' monitors. If a node joins while the locks are being taken, it was not
 * locked: the transaction lets go and starts over (OTP's trans_all_known).
 *
 * Under the lock a registration asks every locked node whether its own slice holds
 * the name (each node is the only writer of the names of its own pids, so its answer is
 * exact), then the pid's node inserts it and replicates it to all its peers before it
 * answers, and only then are the locks released.
 */
import type { NodeName, Pid } from '../terms.js';
import { isTag, type CallOf, type ReplyOf } from '../types.js';
import { call as rawCall, cast as rawCast, reply as rawReply, type From } from '../process/call.js';
import type { NodeCore } from '../process/node-core.js';
import type { Proc } from '../process/process.js';
import { TIMEOUT, type AsyncBody } from '../process/receive.js';
import { GLOBAL_NAME_SERVER, type GlobalProtocol, type Op } from './global-proto.js';
import { isServicePeer, servicePeers } from './peers.js';

/** A request the name server hands over: answer `from` with the outcome of `op`. */
export type Job = readonly ['run', from: From, op: Op];

/** The registrar's body: serve jobs until the name server (linked) goes. */
export function registrar(core: NodeCore): AsyncBody {
  return async (self) => {
    const me = self as Proc;
    for (;;) {
      const job = await self.receive((m) => (isTag(m, 'run') ? (m as Job) : undefined));
      if (job === TIMEOUT) continue;
      const op = job[2];
      const pidNode = op[0] === 'unregister_name' ? [] : [op[2].node];
      const answer = await underLock(me, pidNode, (locked) => perform(me, op, locked));
      rawReply(core, job[1], answer);
    }
  };
}

async function perform(me: Proc, op: Op, locked: readonly NodeName[]): Promise<'yes' | 'no' | 'ok'> {
  const name = op[1];
  switch (op[0]) {
    case 'register_name': {
      const owned = await Promise.all(locked.map((n) => ask(me, n, ['owns', name])));
      if (owned.includes(true)) return 'no';
      return insert(me, op[2], op, locked);
    }
    case 'unregister_name':
      await Promise.all(locked.map((n) => ask(me, n, ['delete_own', name])));
      return 'ok';
    case 're_register_name':
      await Promise.all(locked.map((n) => ask(me, n, ['delete_own', name])));
      return insert(me, op[2], op, locked);
  }
}

/** The pid's own node registers it; a node we could not lock (no server there) cannot. */
async function insert(me: Proc, pid: Pid, op: Op, locked: readonly NodeName[]): Promise<'yes' | 'no'> {
  if (!locked.includes(pid.node)) return 'no';
  return (await ask(me, pid.node, ['insert_own', op[1], pid])) ?? 'no';
}

/** Run `body` holding the `global` lock on every node that takes part (see the header). */
async function underLock<T>(me: Proc, extra: readonly NodeName[], body: (locked: readonly NodeName[]) => Promise<T>): Promise<T> {
  for (;;) {
    const wanted = participants(me.core, extra);
    const locked: NodeName[] = [];
    for (const n of wanted) {
      // A node that went away or runs no name server holds no names: go on without it.
      if ((await ask(me, n, ['lock', me.pid])) === 'ok') locked.push(n);
    }
    const joined = participants(me.core, extra).some((n) => !wanted.includes(n));
    if (!joined) {
      try {
        return await body(locked);
      } finally {
        unlock(me, locked);
      }
    }
    unlock(me, locked);
  }
}

function unlock(me: Proc, nodes: readonly NodeName[]): void {
  for (const n of nodes) rawCast(me.core, [GLOBAL_NAME_SERVER, n], ['unlock', me.pid], me);
}

/** This node, its service peers and `extra` (the pid's node), sorted by name: the lock order. */
function participants(core: NodeCore, extra: readonly NodeName[]): NodeName[] {
  const all = new Set([core.name, ...servicePeers(core), ...extra.filter((n) => n === core.name || isServicePeer(core, n))]);
  return [...all].sort();
}

/** Call the name server on `node`; undefined if it is not there or its node went down. */
async function ask<R extends CallOf<GlobalProtocol>>(me: Proc, node: NodeName, req: R): Promise<ReplyOf<GlobalProtocol, R[0]> | undefined> {
  try {
    return (await rawCall(me.core, [GLOBAL_NAME_SERVER, node], req, Infinity, me)) as ReplyOf<GlobalProtocol, R[0]>;
  } catch {
    return undefined;
  }
}
