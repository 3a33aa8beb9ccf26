/**
 * Which node keeps the registry entry of a client id: rendezvous (highest random
 * weight) hashing over the running members. Every node computes the same home from the
 * same member list; when a member goes, only the ids it was home to move (to the next
 * highest weight), so no cluster-wide lock and no global table are needed. Pure.
 */
import type { NodeName } from '../../runtime/index.js';

/** FNV-1a over `clientId`\0`node`, mixed (murmur3 finalizer) for an even spread. */
function weight(clientId: string, node: NodeName): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < clientId.length; i++) h = Math.imul(h ^ clientId.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ 0, 0x01000193);
  for (let i = 0; i < node.length; i++) h = Math.imul(h ^ node.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Where `clientId`'s registration is kept: its home and, when the session lives on the
 * home itself, also on the next node (so that the will of a client whose node — its
 * home — dies is still known elsewhere).
 */
export function registryNodes(clientId: string, members: readonly NodeName[], sessionNode: NodeName): NodeName[] {
  if (members.length === 1) return [members[0]!]; // a lone node (every connect of a single-node broker)
  const home = homeOf(clientId, members);
  if (home !== sessionNode) return [home];
  const rest = members.filter((m) => m !== home);
  return rest.length === 0 ? [home] : [home, homeOf(clientId, rest)];
}

/** The home node of `clientId` among `members` (which must include this node). */
export function homeOf(clientId: string, members: readonly NodeName[]): NodeName {
  if (members.length === 1) return members[0]!;
  let best: NodeName | undefined;
  let bestW = -1;
  for (const m of members) {
    const w = weight(clientId, m);
    // Ties (rare) go to the smaller name, so every node agrees.
    if (w > bestW || (w === bestW && best !== undefined && m < best)) {
      best = m;
      bestW = w;
    }
  }
  if (best === undefined) throw new RangeError('homeOf: no members');
  return best;
}
