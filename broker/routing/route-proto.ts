/**
 * What routers say to each other (versioned, as EMQX's `*_proto_v1` modules). Each
 * node writes only its own routes and tells every member, in order on the existing
 * distribution connection; a member that (re)connects gets a full snapshot instead.
 */
import type { NodeName } from '../../runtime/index.js';

export const ROUTE_PROTO_VSN = 1;

/** One change to the sender's own routes: add or delete (filter, shared group?). */
export type RouteOp = readonly ['add' | 'del', filter: string, group: string | undefined];

/** Messages between routers (sent to `['router', node]`). */
export type RouterPeerMsg =
  /** Apply `ops` to `from`'s routes, then answer `route_ack` with `seq`. */
  | readonly ['route_ops', vsn: number, from: NodeName, seq: number, ops: readonly RouteOp[]]
  /** `from`'s routes are exactly these (replace whatever we had for it). */
  | readonly ['route_snapshot', vsn: number, from: NodeName, routes: readonly (readonly [string, string | undefined])[]]
  /** `from` applied batch `seq` of ours. */
  | readonly ['route_ack', vsn: number, from: NodeName, seq: number];
