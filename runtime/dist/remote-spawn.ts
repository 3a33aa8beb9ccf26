/**
 * Spawning on another node (SPAWN_REQUEST / SPAWN_REPLY): the caller names a function
 * the target node exports (functions are never serialized); that function returns the
 * new process's body. Optional link and monitor are set up atomically with the spawn.
 */
import type { Ref} from '../terms.js';
import { Pid, type Atom, type NodeName } from '../terms.js';
import { ExitError } from '../types.js';
import type { NodeCore } from '../process/node-core.js';
import type { Proc } from '../process/process.js';
import { CTRL, type Mfa } from './etf-dist.js';
import { ErlList } from './etf-terms.js';
import type { DistRemote } from './remote.js';

/** SPAWN_REPLY flags. */
export const SPAWN_LINKED = 1;
export const SPAWN_MONITORED = 2;

export interface SpawnOnOptions {
  readonly link?: boolean;
  readonly monitor?: boolean;
}

interface Pending {
  readonly resolve: (pid: Pid) => void;
  readonly reject: (e: ExitError) => void;
  readonly caller: Proc | undefined;
  readonly node: NodeName;
}

/** Spawn requests this node sent and awaits replies for. */
export class SpawnRequests {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly core: NodeCore,
    private readonly remote: DistRemote,
  ) {}

  /** Ask `node` to spawn `module:fn(...args)`. Resolves with the new pid. */
  request(node: NodeName, module: Atom, fn: Atom, args: readonly unknown[], opts: SpawnOnOptions, caller: Proc | undefined): Promise<Pid> {
    return new Promise((resolve, reject) => {
      const out = this.remote.router.to(node);
      if (out === undefined) return reject(new ExitError('noconnection', ['spawn', node, module, fn]));
      if ((opts.link === true || opts.monitor === true) && caller === undefined) {
        return reject(new ExitError('badarg', ['spawn', 'link and monitor need a calling process']));
      }
      const reqId = this.core.makeRef();
      this.pending.set(reqId.key, { resolve, reject, caller, node });
      const flags = [...(opts.link === true ? ['link'] : []), ...(opts.monitor === true ? ['monitor'] : [])];
      const from = caller?.pid ?? this.core.pseudoPid;
      const mfa: Mfa = [module, fn, args.length];
      // A BEAM wants its option list as an Erlang list; a beamq peer takes an array.
      const optList = this.remote.router.isBeam(node) ? new ErlList(flags) : (flags as unknown as ErlList);
      const argList = this.remote.router.isBeam(node) ? new ErlList([...args]) : [...args];
      out.send([CTRL.SPAWN_REQUEST, reqId, from, from, mfa, optList], argList);
    });
  }

  /** The peer answered a request. */
  reply(reqId: Ref, to: Pid, flags: number, result: Pid | Atom): void {
    const p = this.pending.get(reqId.key);
    if (p === undefined) return;
    this.pending.delete(reqId.key);
    if (!(result instanceof Pid)) return p.reject(new ExitError(result, ['spawn', p.node]));
    if (p.caller !== undefined) {
      if ((flags & SPAWN_LINKED) !== 0) this.remote.linkEstablished(to, result);
      if ((flags & SPAWN_MONITORED) !== 0) this.remote.monitorEstablished(p.caller, result, reqId);
    }
    p.resolve(result);
  }

  /** The node went away before answering. */
  nodeDown(node: NodeName): void {
    for (const [k, p] of this.pending) {
      if (p.node !== node) continue;
      this.pending.delete(k);
      p.reject(new ExitError('noconnection', ['spawn', node]));
    }
  }
}

/** A peer asks this node to spawn one of its exported functions. */
export function handleSpawnRequest(
  core: NodeCore,
  remote: DistRemote,
  node: NodeName,
  reqId: Ref,
  from: Pid,
  mfa: Mfa,
  opts: unknown,
  args: unknown,
): void {
  const out = remote.router.to(node);
  const list = (v: unknown): unknown[] => (v instanceof ErlList ? v.items : Array.isArray(v) ? v : []);
  const fn = core.modules.get(mfa[0])?.[mfa[1]] as ((...a: unknown[]) => unknown) | undefined;
  if (fn === undefined) return out?.send([CTRL.SPAWN_REPLY, reqId, from, 0, 'undef']);
  const options = list(opts);
  let target: unknown;
  try {
    target = fn(...list(args));
  } catch {
    return out?.send([CTRL.SPAWN_REPLY, reqId, from, 0, 'badarg']);
  }
  if (typeof target !== 'function' && (typeof target !== 'object' || target === null)) {
    return out?.send([CTRL.SPAWN_REPLY, reqId, from, 0, 'badarg']);
  }
  const p = core.spawn(target as Parameters<NodeCore['spawn']>[0]);
  let flags = 0;
  if (options.includes('link') && remote.acceptLink(node, p.pid, from)) flags |= SPAWN_LINKED;
  if (options.includes('monitor')) {
    remote.monitorRequest(node, from, p.pid, reqId);
    flags |= SPAWN_MONITORED;
  }
  // The reply goes out before anything the new process may send: it has not run yet.
  out?.send([CTRL.SPAWN_REPLY, reqId, from, flags, p.pid]);
}
