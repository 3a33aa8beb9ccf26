/**
 * The composition root: `startNode` wires a node's process system (NodeCore), its
 * clock and its top supervisor (`kernel_sup`, under which the node's services run),
 * and optionally stops everything in order on SIGTERM/SIGINT.
 */
import { realClock, type Clock } from './clock.js';
import { logger } from './log.js';
import { NO_NODE, type NodeName, type Pid } from './terms.js';
import type { Dest, Reason } from './types.js';
import { currentCore, hasDefaultCore, setDefaultCore, withCore } from './process/current-core.js';
import { NodeCore, type SpawnOptions, type SpawnTarget } from './process/node-core.js';
import { setBusyWait, type BusyWait } from './process/busy-wait.js';
import { exitProcess } from './process/signals.js';
import * as supervisor from './behaviours/supervisor.js';
import type { ChildSpec } from './behaviours/child-spec.js';
import { stopServer } from './behaviours/gen-server.js';
import { bootDistribution, kernelOf, startKernel, type DistOptions } from './dist/distribution.js';
import type { NetKernel } from './dist/net-kernel.js';
import * as rpc from './services/rpc.js';
import * as globalNames from './services/global.js';
import * as pg from './services/pg.js';

const log = logger('runtime:node');

/**
 * A node is distributed when it has a `name` (long: `alive@host`, `alive`) or an
 * `sname` (short); otherwise it is `nonode@nohost`, alone.
 */
export interface NodeOptions extends DistOptions {
  /** Incarnation number of an undistributed node (a distributed one gets it from epmd). */
  readonly creation?: number;
  readonly clock?: Clock;
  /** Stop the node in order, then exit the OS process, on SIGTERM and SIGINT. */
  readonly handleSignals?: boolean;
  /**
   * Keep the OS process alive while the node runs, as a BEAM node lives until it is
   * stopped, even when no socket or timer is pending. Default: `handleSignals`.
   */
  readonly keepAlive?: boolean;
  /** Services started under kernel_sup, in order (stopped in reverse). */
  readonly services?: readonly ChildSpec[];
  /**
   * How long the event loop polls for more work before it sleeps (the BEAM's `+sbwt`,
   * see process/busy-wait.ts). Process-wide: it applies to every node in this OS
   * process. Default `medium`.
   */
  readonly busyWait?: BusyWait;
}

export class LocalNode {
  private stopping: Promise<void> | undefined;
  /** Undo hooks run by stop(): signal handlers, the keep-alive timer. */
  private readonly signalHandlers: (() => void)[] = [];

  constructor(
    readonly core: NodeCore,
    readonly kernelSup: Pid,
  ) {}

  get name(): NodeName {
    return this.core.name;
  }

  /** The connection table, when the node is distributed. */
  get dist(): NetKernel | undefined {
    return kernelOf(this.core);
  }

  /** Run the synchronous part of `fn` with this node as the current one (free functions act on it). */
  run<T>(fn: () => T): T {
    return withCore(this.core, fn);
  }

  spawn(target: SpawnTarget, opts?: SpawnOptions): Pid {
    return this.core.spawn(target, opts).pid;
  }

  send(dest: Dest, msg: unknown): void {
    this.core.send(dest, msg);
  }

  whereis(name: string): Pid | undefined {
    return this.core.whereis(name);
  }

  waitExit(pid: Pid): Promise<Reason> {
    return this.core.waitExit(pid);
  }

  /** Start one more service under kernel_sup. */
  startService(spec: ChildSpec): Promise<Pid> {
    return this.run(() => supervisor.startChild(this.kernelSup, spec));
  }

  /** Stop every service in reverse start order, then every remaining process. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      log.info('node_stopping', { node: this.name });
      for (const h of this.signalHandlers) h();
      try {
        await this.run(() => stopServer(this.kernelSup, 'shutdown'));
      } catch (err) {
        log.warn('kernel_sup_stop_failed', { error: String(err) });
      }
      for (const p of [...this.core.procs.values()]) exitProcess(this.core, p, 'killed');
      this.core.timers.cancelAll();
      if (currentCore() === this.core) setDefaultCore(undefined);
      log.info('node_stopped', { node: this.name });
    })();
    return this.stopping;
  }

  /** @internal */
  keepAlive(): void {
    const t = setInterval(() => undefined, 2 ** 30);
    this.signalHandlers.push(() => clearInterval(t));
  }

  /** @internal */
  onSignals(handler: () => void): void {
    const on = (): void => handler();
    process.once('SIGTERM', on);
    process.once('SIGINT', on);
    this.signalHandlers.push(() => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
    });
  }
}

/** Start a node: its process system and kernel_sup with the given services. */
export async function startNode(opts: NodeOptions = {}): Promise<LocalNode> {
  const clock = opts.clock ?? realClock;
  if (opts.busyWait !== undefined) setBusyWait(opts.busyWait);
  let core: NodeCore;
  const services: ChildSpec[] = [];
  if (opts.name !== undefined || opts.sname !== undefined) {
    const boot = await bootDistribution(opts);
    core = new NodeCore(boot.parts.full, boot.creation, clock);
    // net_kernel first: the services below talk to other nodes from their first step.
    services.push(startKernel(core, boot).spec, rpc.childSpec(), globalNames.childSpec(), pg.childSpec());
  } else core = new NodeCore(NO_NODE, opts.creation ?? 0, clock);
  services.push(...(opts.services ?? []));
  const first = !hasDefaultCore();
  if (first) setDefaultCore(core);
  const kernelSup = await withCore(core, () =>
    supervisor.start({ strategy: 'one_for_one', intensity: 10, periodS: 10, children: services }, { name: 'kernel_sup' }),
  );
  const node = new LocalNode(core, kernelSup);
  if (opts.keepAlive ?? opts.handleSignals === true) node.keepAlive();
  if (opts.handleSignals === true) {
    node.onSignals(() => {
      // Let stdout/stderr drain before exiting: process.exit() drops pending pipe writes.
      void node.stop().then(() => {
        process.exitCode = 0;
        setImmediate(() => process.exit(0));
      });
    });
  }
  log.info('node_started', { node: core.name });
  return node;
}
