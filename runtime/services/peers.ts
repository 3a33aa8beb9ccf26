/**
 * Which nodes the cluster services (global, pg) talk to: the visible beamq peers. A
 * BEAM peer runs OTP's own global and pg, whose wire protocols these are not, and a
 * hidden node (ctl) takes no part, as in OTP. Reads the connection table; no state.
 */
import type { NodeName } from '../terms.js';
import type { NodeCore } from '../process/node-core.js';
import { kernelOf } from '../dist/distribution.js';

/** May `node` take part in this node's services? */
export function isServicePeer(core: NodeCore, node: NodeName): boolean {
  return node !== core.name && kernelOf(core)?.isBeam(node) === false;
}

/** The connected nodes that take part in this node's services. */
export function servicePeers(core: NodeCore): NodeName[] {
  return (kernelOf(core)?.nodes('visible') ?? []).filter((n) => isServicePeer(core, n));
}
