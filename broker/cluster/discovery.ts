/**
 * Static discovery's one decision (FEATURES C9/C11): nodes started in any order form
 * one cluster if each joins the lowest-named reachable seed that sorts below it, and the
 * lowest one waits for the others. Pure.
 */
import type { NodeName } from '../../runtime/index.js';

/** The seed to join, or undefined (we are the lowest, or already with it). */
export function discoveryTarget(self: NodeName, reachableSeeds: readonly NodeName[], members: readonly NodeName[]): NodeName | undefined {
  const lowest = [...reachableSeeds, self].sort()[0];
  if (lowest === undefined || lowest === self) return undefined;
  if (members.includes(lowest)) return undefined;
  return lowest;
}
