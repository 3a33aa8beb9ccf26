/**
 * Starting distribution for a named node: complete the name, resolve the cookie,
 * listen for peers in the port range, register with epmd (keeping that registration
 * for the node's life, re-registering if epmd restarts), and the `net_kernel` server
 * that owns the connection table. The node's composition root (node.ts) calls this.
 */
import net from 'node:net';
import { EpmdError, register, type Registration } from '../../epmd/client.js';
import { logger } from '../log.js';
import type { NodeName, Pid } from '../terms.js';
import { isCleanExit } from '../types.js';
import type { NodeCore } from '../process/node-core.js';
import * as gen from '../behaviours/gen-server.js';
import { worker, type ChildSpec } from '../behaviours/child-spec.js';
import { resolveCookie } from './cookie.js';
import { NetKernel, type KernelConfig } from './net-kernel.js';
import { completeNodeName, type NodeNameParts } from './node-name.js';
import { DEFAULT_SETUP_TIME_MS } from './handshake.js';

const log = logger('runtime:dist');

export interface DistOptions {
  /** `alive@host`, or `alive` (completed with this host's long name), as `erl -name`. */
  readonly name?: string;
  /** `alive` or `alive@host` with a short host, as `erl -sname`. */
  readonly sname?: string;
  /** The cookie; default `$HOME/.erlang.cookie` (created if missing). */
  readonly cookie?: string;
  /** Where the cookie file is (tests); default `$HOME/.erlang.cookie`. */
  readonly cookieFile?: string;
  /** A hidden node: not in other nodes' nodes(), not meshed transitively. */
  readonly hidden?: boolean;
  /** epmd's port; default `$ERL_EPMD_PORT` or 4369. */
  readonly epmdPort?: number;
  /** Distribution port range (inet_dist_listen_min/max); default any free port. */
  readonly listenMin?: number;
  readonly listenMax?: number;
  /** net_ticktime in ms; default 60 000. */
  readonly tickTimeMs?: number;
  /** net_setuptime in ms; default 7000. */
  readonly setupTimeMs?: number;
  /** Connect to the nodes our peers know; default true (OTP's connect_all). */
  readonly connectAll?: boolean;
  /** Called when no epmd answers: start one (the launcher does, as erl does). */
  readonly ensureEpmd?: () => Promise<void>;
}

export const DEFAULT_TICK_TIME_MS = 60_000;
const REREGISTER_MS = 2_000;

/** What startNode needs before it can build the node: its name, creation and listener. */
export interface DistBoot {
  readonly parts: NodeNameParts;
  readonly creation: number;
  readonly cookie: string;
  readonly server: net.Server;
  readonly registration: Registration;
  readonly opts: DistOptions;
  readonly epmdPort: number;
}

const kernels = new WeakMap<NodeCore, NetKernel>();

/** The net kernel of a node, if it is distributed. */
export function kernelOf(core: NodeCore): NetKernel | undefined {
  return kernels.get(core);
}

export async function bootDistribution(opts: DistOptions): Promise<DistBoot> {
  const parts = opts.sname !== undefined ? completeNodeName('short', opts.sname) : completeNodeName('long', opts.name ?? '');
  const cookie = resolveCookie({ ...(opts.cookie === undefined ? {} : { cookie: opts.cookie }), ...(opts.cookieFile === undefined ? {} : { path: opts.cookieFile }) });
  const server = await listen(parts, opts.listenMin ?? 0, opts.listenMax ?? opts.listenMin ?? 0);
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  const epmdPort = opts.epmdPort ?? (Number(process.env['ERL_EPMD_PORT']) || 4369);
  let registration: Registration;
  try {
    registration = await registerWithEpmd(parts.alive, port, epmdPort, opts);
  } catch (err) {
    server.close();
    throw err;
  }
  return { parts, creation: registration.creation, cookie, server, registration, opts, epmdPort };
}

async function registerWithEpmd(alive: string, port: number, epmdPort: number, opts: DistOptions): Promise<Registration> {
  try {
    return await register(alive, port, { port: epmdPort });
  } catch (err) {
    if (!(err instanceof EpmdError) || err.code !== 'unreachable' || opts.ensureEpmd === undefined) throw err;
    await opts.ensureEpmd();
    return register(alive, port, { port: epmdPort });
  }
}

function listen(parts: NodeNameParts, min: number, max: number): Promise<net.Server> {
  // A node named by an IP listens on that address only; otherwise on every interface.
  const host = net.isIP(parts.host) !== 0 ? parts.host : '0.0.0.0';
  const tryPort = (p: number): Promise<net.Server> =>
    new Promise((resolve, reject) => {
      const s = net.createServer({ noDelay: true, pauseOnConnect: false });
      s.once('error', reject);
      s.listen({ host, port: p, exclusive: true }, () => {
        s.removeListener('error', reject);
        s.on('error', (err) => log.error('dist_listener_error', { error: err.message }));
        resolve(s);
      });
    });
  if (min === 0) return tryPort(0);
  return (async () => {
    for (let p = min; p <= Math.max(min, max); p++) {
      try {
        return await tryPort(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
    throw new Error(`no free distribution port in ${min}..${max}`);
  })();
}

/** Build the net kernel on the node's core and return the net_kernel child spec. */
export function startKernel(core: NodeCore, boot: DistBoot): { kernel: NetKernel; spec: ChildSpec } {
  const cfg: KernelConfig = {
    name: core.name,
    creation: core.creation,
    cookie: boot.cookie,
    hidden: boot.opts.hidden ?? false,
    setupTimeMs: boot.opts.setupTimeMs ?? DEFAULT_SETUP_TIME_MS,
    epmdPort: boot.epmdPort,
    tickTimeMs: boot.opts.tickTimeMs ?? DEFAULT_TICK_TIME_MS,
    connectAll: boot.opts.connectAll ?? true,
  };
  const kernel = new NetKernel(core, cfg, boot.server);
  kernels.set(core, kernel);
  keepRegistered(kernel, boot);
  return { kernel, spec: worker('net_kernel', () => gen.startLink(netKernelServer, { kernel, boot }, { name: 'net_kernel', trapExit: true })) };
}

/** erl_epmd re-registers every 2 s after epmd went away; so do we (keeping our creation). */
function keepRegistered(kernel: NetKernel, boot: DistBoot): void {
  let current = boot.registration;
  let stopped = false;
  const watch = (): void => {
    void current.closed.then(async () => {
      while (!stopped) {
        await new Promise((r) => setTimeout(r, REREGISTER_MS).unref());
        if (stopped) return;
        try {
          current = await register(boot.parts.alive, kernel.port, { port: boot.epmdPort });
          log.info('epmd_reregistered', { node: kernel.name });
          return watch();
        } catch {
          // epmd still away; try again
        }
      }
    });
  };
  watch();
  stopRegistration.set(kernel, () => {
    stopped = true;
    void current.close();
  });
}

const stopRegistration = new WeakMap<NetKernel, () => void>();

interface NetKernelProtocol {
  calls: { is_auth: { args: [node: NodeName]; reply: 'yes' } };
  casts: { connect_all: { args: [nodes: NodeName[]] } };
}

/*
 * State: the NetKernel (the connection table) and the boot data. The server is the
 * registered endpoint peers talk to (net_adm:ping's is_auth, the transitive mesh) and
 * ties the table's life to the supervision tree.
 */
const netKernelServer: gen.GenServer<NetKernelProtocol, { kernel: NetKernel; boot: DistBoot }, { kernel: NetKernel; boot: DistBoot }> = {
  init: (s) => gen.ok(s),
  handleCall: (_req, _from, s) => gen.reply('yes' as const, s),
  handleCast(msg, s) {
    const nodes = Array.isArray(msg[1]) ? msg[1] : [];
    for (const n of nodes) if (typeof n === 'string' && !s.kernel.isConnected(n)) void s.kernel.connect(n);
    return gen.noreply(s);
  },
  terminate(reason, s) {
    // The table outlives a crash of its server (the restarted server takes it over);
    // only an ordered stop of the node closes the connections.
    if (!isCleanExit(reason)) return;
    s.kernel.shutdown();
    stopRegistration.get(s.kernel)?.();
  },
};

/** For the API: connected nodes etc. on the node of `core`, or errors for an undistributed node. */
export function requireKernel(core: NodeCore): NetKernel {
  const k = kernels.get(core);
  if (k === undefined) throw new Error('this node is not distributed (start it with a name)');
  return k;
}

export type { Pid };
