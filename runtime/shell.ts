/**
 * The REPL's bindings, as `erl`'s shell has them: connect_node, nodes, names, ping,
 * spawn, send, self, flush, receive, i(), … The shell is a process of its own (its
 * mailbox is what `self()` receives and `flush()` prints); bindings that need a
 * calling process act as that process when called from the prompt.
 */
import { names as epmdNames } from '../epmd/client.js';
import * as api from './api.js';
import * as dist from './api-dist.js';
import type { LocalNode } from './node.js';
import { Pid, Ref, type NodeName } from './terms.js';
import { formatTerm, type Dest, type Reason } from './types.js';
import type { SpawnTarget } from './process/node-core.js';
import { current, runAs } from './process/scheduler.js';
import { DEAD } from './process/shared.js';
import { TIMEOUT } from './process/receive.js';
import { kernelOf } from './dist/distribution.js';
import { parseNodeName } from './dist/node-name.js';

export type Bindings = Record<string, (...args: never[]) => unknown>;

/** Print a value the way the shell shows results: atoms bare, lists in brackets. */
export function formatShell(v: unknown, localNode?: NodeName, depth = 0): string {
  if (depth > 10) return '...';
  if (v === true || v === false) return String(v);
  if (v === undefined || v === null) return 'ok';
  if (typeof v === 'string') return /^[a-z][A-Za-z0-9_]*$/.test(v) ? v : `'${v.replace(/'/g, "\\'")}'`;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v instanceof Pid) return v.node === localNode ? `<0.${v.id}.${v.serial}>` : `<${v.node}.${v.id}.${v.serial}>`;
  if (v instanceof Ref) return v.toString();
  if (Array.isArray(v)) return `[${v.map((x) => formatShell(x, localNode, depth + 1)).join(',')}]`;
  return formatTerm(v);
}

export interface Shell {
  readonly bindings: Bindings;
  /** The shell process's pid. */
  readonly pid: Pid;
}

/** Build the bindings for `node`; `print` writes one line of output. */
export function shellBindings(node: LocalNode, print: (line: string) => void, onHalt: () => void): Shell {
  const inbox: unknown[] = [];
  const waiters: ((m: unknown) => void)[] = [];
  const shellPid = node.spawn(
    {
      handle: (m: unknown) => {
        const w = waiters.shift();
        if (w !== undefined) w(m);
        else inbox.push(m);
      },
    },
    { name: 'shell' },
  );
  const shellProc = node.core.lookup(shellPid)!;
  /** Messages not yet handled by the shell process count as received too. */
  const collect = (): void => {
    while (shellProc.mailbox.length > 0) inbox.push(shellProc.mailbox.shift());
  };
  /** Run as the calling process, or as the shell when called from the prompt. */
  const asCaller = <T>(fn: () => T): T => (current.proc !== undefined ? fn() : node.run(() => runAs(shellProc, fn)));
  const show = (v: unknown): string => formatShell(v, node.name);

  const bindings: Bindings = {
    node: () => node.name,
    nodes: (which?: 'visible' | 'hidden' | 'connected') => node.run(() => dist.nodes(which)),
    connect_node: (n: NodeName) => node.run(() => dist.connectNode(n)),
    disconnect_node: (n: NodeName) => node.run(() => dist.disconnectNode(n)),
    /** net_adm:names(): the nodes registered with the local epmd, [name, port]. */
    names: async () => {
      const host = kernelOf(node.core) === undefined ? '127.0.0.1' : hostOf(node.name);
      const port = kernelOf(node.core)?.cfg.epmdPort;
      const r = await epmdNames({ host, ...(port === undefined ? {} : { port }) });
      return [...r.nodes].reverse().map((x) => [x.name, x.port]);
    },
    /** net_adm:ping/1. */
    ping: async (n: NodeName) => ((await node.run(() => dist.connectNode(n))) ? 'pong' : 'pang'),
    self: () => (current.proc?.pid ?? shellPid),
    spawn: (target: SpawnTarget) => node.spawn(target),
    send: (dest: Dest, msg: unknown) => asCaller(() => api.send(dest, msg)),
    register: (name: string, pid: Pid) => node.run(() => api.register(name, pid)),
    whereis: (name: string) => node.run(() => api.whereis(name)),
    exit: (pid: Pid, reason: Reason) => asCaller(() => api.exit(pid, reason)),
    link: (pid: Pid) => asCaller(() => api.link(pid)),
    monitor: (target: Parameters<typeof api.monitor>[0]) => asCaller(() => api.monitor(target)),
    monitor_node: (n: NodeName, flag: boolean) => asCaller(() => dist.monitorNode(n, flag)),
    monitor_nodes: (flag: boolean) => asCaller(() => dist.monitorNodes(flag)),
    /** Print and drop every message in the shell's mailbox. */
    flush: () => {
      collect();
      for (const m of inbox.splice(0)) print(`Shell got ${show(m)}`);
      return 'ok';
    },
    /** The next message to the shell (waiting up to `ms`, default 5000), or 'timeout'. */
    receive: (ms = 5000) =>
      (collect(), inbox.length > 0)
        ? Promise.resolve(inbox.shift())
        : new Promise((resolve) => {
            const t = setTimeout(() => {
              waiters.splice(waiters.indexOf(w), 1);
              resolve(TIMEOUT);
            }, ms);
            const w = (m: unknown): void => {
              clearTimeout(t);
              resolve(m);
            };
            waiters.push(w);
          }).then((m) => (m === TIMEOUT ? 'timeout' : m)),
    /** i(): the processes of this node. */
    i: () => {
      print(pad('Pid', 20) + pad('Name', 24) + pad('Status', 10) + 'Msgs');
      for (const p of node.core.procs.values()) {
        if (p.status === DEAD) continue;
        const info = node.run(() => api.processInfo(p.pid));
        print(pad(show(p.pid), 20) + pad(p.name ?? '', 24) + pad(info?.status ?? '', 10) + String(info?.messageQueueLen ?? 0));
      }
      return 'ok';
    },
    regs: () => node.run(() => api.registered()),
    print: (v: unknown) => {
      print(show(v));
      return 'ok';
    },
    q: () => {
      onHalt();
      return 'ok';
    },
    halt: () => {
      onHalt();
      return 'ok';
    },
  };
  return { bindings, pid: shellPid };
}

function hostOf(name: NodeName): string {
  try {
    return parseNodeName(name).host;
  } catch {
    return '127.0.0.1';
  }
}

function pad(s: string, n: number): string {
  return s.length >= n ? s + ' ' : s + ' '.repeat(n - s.length);
}
