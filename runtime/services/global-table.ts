/**
 * The replicated name table of `global` on one node: a slice per node, holding the
 * names of that node's pids. Only the node's global_name_server writes it; anyone on
 * the node reads it synchronously (whereisName), as OTP's global reads its ETS table.
 */
import type { Atom, NodeName, Pid } from '../terms.js';
import type { NodeCore } from '../process/node-core.js';

/** Slices by node; `own` is this node's slice, the one its server writes on its own authority. */
export class NameTable {
  readonly slices = new Map<NodeName, Map<Atom, Pid>>();
  readonly own = new Map<Atom, Pid>();

  constructor(readonly node: NodeName) {
    this.slices.set(node, this.own);
  }

  /**
   * While a clash waits for its loser to be killed, two slices hold the name: answer
   * the pid that will survive (the lower node name), so every node agrees at once.
   */
  whereis(name: Atom): Pid | undefined {
    let best: Pid | undefined;
    for (const slice of this.slices.values()) {
      const p = slice.get(name);
      if (p !== undefined && (best === undefined || p.node < best.node)) best = p;
    }
    return best;
  }

  names(): Atom[] {
    const out = new Set<Atom>();
    for (const slice of this.slices.values()) for (const n of slice.keys()) out.add(n);
    return [...out];
  }
}

/** Each node's table, for the readers: set by its server's init, dropped by its terminate. */
export const tables = new WeakMap<NodeCore, NameTable>();
