/**
 * What every broker actor shares on one node: the configuration, the tables the
 * publish path reads synchronously (routes, subscriptions, retained messages, the
 * client registry), auth, and metrics. Each table has one writer (its server); the
 * context only holds them. Built once by app.ts.
 */
import type { NodeName, Pid } from '../runtime/index.js';
import type { Authenticator, Authorizer } from './auth.js';
import type { Config } from './config.js';
import type { Metrics } from './mgmt/metrics.js';
import type { Message } from './mqtt/message.js';
import type { RetainedStore } from './routing/retained.js';
import type { RouteTable } from './routing/route-table.js';
import type { SubTable } from './routing/subscriptions.js';

export interface BrokerContext {
  readonly node: NodeName;
  readonly cfg: Config;
  readonly routes: RouteTable;
  readonly subs: SubTable;
  readonly retained: RetainedStore;
  /** client id → its session actor on this node (written by cm). */
  readonly sessions: Map<string, Pid>;
  readonly auth: Authenticator;
  readonly acl: Authorizer;
  readonly metrics: Metrics;
  /** Send a message matched by `filter` to `node` (cluster); undefined on a lone node. */
  forward: ((node: NodeName, filter: string, msg: Message) => void) | undefined;
  /** Replicate a retained message to the other nodes (cluster); undefined on a lone node. */
  replicateRetained: ((msg: Message) => void) | undefined;
  readonly startedAt: number;
}
