/**
 * What every broker actor shares on one node: the configuration, the tables the
 * publish path reads synchronously (routes, subscriptions, retained messages, the
 * client registry), auth, and metrics. Each table has one writer (its server); the
 * context only holds them. Built once by app.ts.
 */
import type { NodeName, Pid } from '../runtime/index.js';
import type { Authenticator, Authorizer } from './auth.js';
import type { RegistryTable } from './cm/registry-table.js';
import type { KeepaliveTable } from './connection/keepalive-sweep.js';
import type { Config } from './config.js';
import type { Metrics } from './mgmt/metrics.js';
import type { BrokerLedger } from './routing/broker.js';
import type { RetainedStore } from './routing/retained.js';
import type { RouteTable } from './routing/route-table.js';
import type { SubTable } from './routing/subscriptions.js';

export interface BrokerContext {
  readonly node: NodeName;
  readonly cfg: Config;
  readonly routes: RouteTable;
  readonly subs: SubTable;
  /** The broker server's bookkeeping, which a session's direct subscribe shares (each broker start makes a new one). */
  broker: BrokerLedger;
  readonly retained: RetainedStore;
  /** client id → its session actor on this node (written by cm). */
  readonly sessions: Map<string, Pid>;
  /** The client-id registry's entries and locks on this node (written by cm_registry; a free lock taken by its claimant). */
  readonly registry: RegistryTable;
  /** The connections whose keepalive the node's sweep checks (written by their sessions). */
  readonly keepalives: KeepaliveTable;
  readonly auth: Authenticator;
  readonly acl: Authorizer;
  readonly metrics: Metrics;
  /** Running cluster members other than this node (written by the router). */
  readonly members: Set<NodeName>;
  /** Messages forwarded to each node (the per-peer counter `ctl` reports). */
  readonly forwardedTo: Map<NodeName, number>;
  /** Round-robin positions of shared groups across nodes, by `group\0filter`. */
  readonly sharedRoundRobin: Map<string, number>;
  readonly startedAt: number;
  /** This node's distribution, bound to it (safe to use after an await in any process). */
  readonly dist: {
    /** Distribution is running (a named node): node monitoring and peers exist. */
    readonly alive: boolean;
    connected(node: NodeName): boolean;
    connect(node: NodeName): Promise<boolean>;
    disconnect(node: NodeName): boolean;
  };
}
