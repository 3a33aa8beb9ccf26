/**
 * broker_sup: the broker's supervision tree (DESIGN.md "Broker as supervised actors").
 * Child specs only: router, broker, cm, session_sup, listeners, $SYS — started in that
 * order, stopped in reverse (stop accepting, end sessions, then the tables' owners).
 */
import { writeToStream } from 'mqtt-packet';
import {
  genServer,
  supervisor,
  supervisorChild,
  worker,
  connectNode,
  disconnectNode,
  exportModule,
  nodes,
  type LocalNode,
  type Pid,
} from '../runtime/index.js';
import { AclFile, allowAll, PasswordFile, type Authenticator, type Authorizer } from './auth.js';
import { parseBind, type Config } from './config.js';
import type { BrokerContext } from './context.js';
import { cmServer } from './cm/cm.js';
import { registryServer } from './cm/registry.js';
import { RegistryTable } from './cm/registry-table.js';
import { listenerPorts, listenersServer, type ListenerPorts } from './connection/listeners.js';
import { selfCheck, type SelfCheckVerdict } from './connection/self-check.js';
import { KeepaliveTable, keepaliveServer } from './connection/keepalive-sweep.js';
import { Metrics } from './mgmt/metrics.js';
import { sysServer } from './mgmt/sys.js';
import { BrokerLedger, brokerServer } from './routing/broker.js';
import { dispatcherServer } from './routing/dispatcher.js';
import { retainerServer } from './routing/retainer.js';
import { clusterServer } from './cluster/cluster.js';
import { CTL_MODULE, ctlFunctions } from './cluster/ctl.js';
import { RetainedStore } from './routing/retained.js';
import { RouteTable } from './routing/route-table.js';
import { routerServer } from './routing/router.js';
import { SubTable } from './routing/subscriptions.js';
import { startSessionSup } from './session/session-sup.js';

export interface Broker {
  readonly ctx: BrokerContext;
  readonly sup: Pid;
  /** Ports the listeners bound. */
  ports(): ListenerPorts;
  /** What the start-up self-check found (connection/self-check.ts); 'off' when disabled, without a TCP listener, or when anonymous clients are refused. */
  readonly selfCheck: SelfCheckVerdict | 'off';
  /** Stop the broker (its supervision tree) but not the node. */
  stop(): Promise<void>;
}

export function buildContext(node: LocalNode, cfg: Config): BrokerContext {
  const auth: Authenticator = cfg.auth.password_file !== '' ? PasswordFile.load(cfg.auth.password_file, cfg.auth.allow_anonymous) : allowAll;
  const acl: Authorizer = cfg.auth.acl_file !== '' ? AclFile.load(cfg.auth.acl_file) : allowAll;
  if (cfg.auth.password_file === '' && !cfg.auth.allow_anonymous) {
    throw new Error('auth.allow_anonymous is false but no auth.password_file is set: nobody could connect');
  }
  return {
    node: node.name,
    cfg,
    routes: new RouteTable(),
    subs: new SubTable(),
    broker: new BrokerLedger(),
    retained: new RetainedStore(),
    sessions: new Map(),
    registry: new RegistryTable(),
    keepalives: new KeepaliveTable(),
    auth,
    acl,
    metrics: new Metrics(),
    members: new Set(),
    forwardedTo: new Map(),
    sharedRoundRobin: new Map(),
    startedAt: Date.now(),
    dist: {
      alive: node.dist !== undefined,
      connected: (n) => node.run(() => nodes('connected')).includes(n),
      connect: (n) => node.run(() => connectNode(n)),
      disconnect: (n) => node.run(() => disconnectNode(n)),
    },
  };
}

/** Start the broker on `node` under its kernel_sup. */
export async function startBroker(node: LocalNode, cfg: Config): Promise<Broker> {
  // mqtt-packet's encoder makes, on its first use, a Buffer for each of the 65,536
  // two-byte numbers: about 7 MB of heap, 15 MB of RSS, and 65,536 objects that every
  // full GC marks (a full GC of an idle process took 9.6 ms with them, 5.5 ms without).
  // The broker encodes the common packets itself (publish-codec.ts); mqtt-packet's
  // rarer ones can allocate their few numbers.
  writeToStream.cacheNumbers = false;
  const ctx = buildContext(node, cfg);
  // Clustering needs distribution; a lone `nonode@nohost` broker runs without it.
  const distributed = node.dist !== undefined;
  if (distributed) node.run(() => exportModule(CTL_MODULE, ctlFunctions(node, ctx)));
  const spec = {
    strategy: 'one_for_one' as const,
    intensity: 10,
    periodS: 60,
    children: [
      worker('router', () => genServer.startLink(routerServer, ctx, { name: 'router' })),
      worker('dispatcher', () => genServer.startLink(dispatcherServer, ctx, { name: 'dispatcher' })),
      worker('retainer', () => genServer.startLink(retainerServer, ctx, { name: 'retainer' })),
      worker('broker', () => genServer.startLink(brokerServer, ctx, { name: 'broker' })),
      worker('cm_registry', () => genServer.startLink(registryServer, ctx, { name: 'cm_registry' })),
      worker('cm', () => genServer.startLink(cmServer, ctx, { name: 'cm' })),
      ...(distributed ? [worker('cluster', () => genServer.startLink(clusterServer, ctx, { name: 'cluster' }))] : []),
      supervisorChild('session_sup', () => startSessionSup()),
      worker('listeners', () => genServer.startLink(listenersServer, ctx, { name: 'listeners', trapExit: true })),
      worker('sys', () => genServer.startLink(sysServer, ctx, { name: 'sys' })),
      worker('keepalive', () => genServer.startLink(keepaliveServer, ctx, { name: 'keepalive' })),
    ],
  };
  const sup = await node.startService(supervisorChild('broker_sup', () => supervisor.startLink(spec, { name: 'broker_sup' })));
  const tcpPort = listenerPorts(ctx).tcp;
  // It connects anonymously: where anonymous clients are refused it would only be refused (and logged).
  const checkable = cfg.listeners.self_check && tcpPort !== undefined && cfg.auth.allow_anonymous;
  const checked = checkable ? await selfCheck(ctx, parseBind(cfg.listeners.tcp.bind).host, tcpPort) : 'off';
  return {
    ctx,
    sup,
    selfCheck: checked,
    ports: () => listenerPorts(ctx),
    stop: () => node.run(() => supervisor.terminateChild(node.kernelSup, 'broker_sup')),
  };
}
