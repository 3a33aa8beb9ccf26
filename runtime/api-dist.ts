/**
 * Erlang's distribution BIFs as free functions, on the current node: `nodes()`,
 * `connectNode`, `disconnectNode`, `monitorNode`, `monitorNodes`, remote spawn, and
 * exporting functions by name for rpc and remote spawn.
 */
import type { Atom, NodeName, Pid } from './terms.js';
import { ExitError } from './types.js';
import { currentCore } from './process/current-core.js';
import type { ExportedFn } from './process/node-core.js';
import { current } from './process/scheduler.js';
import { kernelOf, requireKernel } from './dist/distribution.js';
import type { NodeType } from './dist/node-watchers.js';
import type { SpawnOnOptions } from './dist/remote-spawn.js';

/** nodes(): the visible connected nodes; `'hidden'` or `'connected'` for the others. */
export function nodes(which: 'visible' | 'hidden' | 'connected' = 'visible'): NodeName[] {
  return kernelOf(currentCore())?.nodes(which) ?? [];
}

/** net_kernel:connect_node/1. */
export function connectNode(node: NodeName): Promise<boolean> {
  const k = kernelOf(currentCore());
  return k === undefined ? Promise.resolve(false) : k.connect(node);
}

/** erlang:disconnect_node/1. */
export function disconnectNode(node: NodeName): boolean {
  return kernelOf(currentCore())?.disconnect(node) ?? false;
}

function callerPid(what: string): Pid {
  const p = current.proc;
  if (p === undefined) throw new ExitError('badarg', [what, 'called outside a process']);
  return p.pid;
}

/** erlang:monitor_node/2: the calling process gets `['nodedown', node]` once when it goes. */
export function monitorNode(node: NodeName, flag: boolean): void {
  requireKernel(currentCore()).monitorNode(callerPid('monitorNode'), node, flag);
}

/** net_kernel:monitor_nodes/2: `['nodeup', node]` and `['nodedown', node]` for every node. */
export function monitorNodes(flag: boolean, opts: { nodeType?: NodeType } = {}): void {
  requireKernel(currentCore()).monitorNodes(callerPid('monitorNodes'), flag, opts.nodeType ?? 'visible');
}

/**
 * Spawn `module.fn(...args)` on `node` (the function must be exported there with
 * `exportModule`); with `link`/`monitor`, set up atomically with the spawn.
 */
export function spawnOn(node: NodeName, module: Atom, fn: Atom, args: readonly unknown[] = [], opts: SpawnOnOptions = {}): Promise<Pid> {
  const core = currentCore();
  if (node === core.name) {
    const f = core.modules.get(module)?.[fn] as ((...a: unknown[]) => unknown) | undefined;
    if (f === undefined) return Promise.reject(new ExitError('undef', [module, fn]));
    const p = current.proc;
    const linkage = p === undefined ? undefined : { ...(opts.link === true ? { linkTo: p } : {}), ...(opts.monitor === true ? { monitorBy: p } : {}) };
    return Promise.resolve(core.spawn(f(...args) as Parameters<typeof core.spawn>[0], undefined, linkage).pid);
  }
  return requireKernel(core).remote.spawns.request(node, module, fn, args, opts, current.proc);
}

/** Export functions by name on this node, for rpc and remote spawn. */
export function exportModule(name: Atom, fns: Readonly<Record<string, ExportedFn>>): void {
  currentCore().modules.set(name, fns);
}
