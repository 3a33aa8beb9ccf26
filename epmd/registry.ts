/**
 * The daemon's name table: which node name is registered on which connection, and
 * the creation counter of every name seen. Pure: the clock is passed in.
 * Creation rules are OTP 25's (`epmd_srv.c` node_reg2, get_creation, bump_creation).
 */
import { MAX_NAME_BYTES, MAX_NAME_CHARS, type NodeInfo, utf8Chars } from './protocol.js';

/** How many unregistered names keep their creation counter (`MAX_UNREG_COUNT`). */
export const MAX_UNREGISTERED = 1000;

export type RegisterRefusal = 'name_too_long' | 'name_not_utf8' | 'extra_too_long' | 'name_in_use';

export type RegisterResult =
  | { readonly ok: true; readonly creation: number }
  | { readonly ok: false; readonly reason: RegisterRefusal };

/** One registered (or remembered) name. `connId` plays the part of epmd's fd in DUMP. */
export interface Entry {
  readonly node: NodeInfo;
  readonly connId: number;
  /** Raw counter; what is sent depends on the node's version (see `creationFor`). */
  readonly counter: number;
}

/** The creation a node is told: the 32-bit counter for v6 nodes, 1..3 for older ones. */
export function creationFor(highestVersion: number, counter: number): number {
  return highestVersion >= 6 ? counter : (counter % 3) + 1;
}

export class Registry {
  // Map order is registration order; NAMES and DUMP list newest first as epmd does.
  private readonly reg = new Map<string, Entry>();
  private readonly byConn = new Map<number, string>();
  // Unregistered names, oldest first (epmd's FIFO "unreg" list).
  private readonly unreg = new Map<string, Entry>();

  /** `nowSeconds` gives unix time in seconds; creation counters start from it. */
  constructor(
    private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000),
    private readonly maxUnregistered = MAX_UNREGISTERED,
  ) {}

  get size(): number {
    return this.reg.size;
  }

  register(connId: number, nameBytes: Uint8Array, node: NodeInfo): RegisterResult {
    if (nameBytes.length > MAX_NAME_BYTES) return { ok: false, reason: 'name_too_long' };
    const chars = utf8Chars(nameBytes);
    if (chars < 0) return { ok: false, reason: 'name_not_utf8' };
    if (chars > MAX_NAME_CHARS) return { ok: false, reason: 'name_too_long' };
    if (node.extra.length > MAX_NAME_BYTES) return { ok: false, reason: 'extra_too_long' };
    if (this.reg.has(node.name)) return { ok: false, reason: 'name_in_use' };

    let counter: number;
    const old = this.unreg.get(node.name);
    if (old !== undefined) {
      this.unreg.delete(node.name);
      counter = bump(old.counter);
    } else {
      // A new name starts from the clock, so a name that epmd forgot (or a restarted
      // epmd) still gives a creation different from the previous incarnation's.
      counter = (this.nowSeconds() + 1) >>> 0 || 4;
    }
    this.reg.set(node.name, { node, connId, counter });
    this.byConn.set(connId, node.name);
    return { ok: true, creation: creationFor(node.highestVersion, counter) };
  }

  /** The connection of a registration closed: forget the node, remember its counter. */
  unregisterConn(connId: number): string | undefined {
    const name = this.byConn.get(connId);
    if (name === undefined) return undefined;
    this.unregister(name);
    return name;
  }

  /** STOP_REQ: unregister by name; returns the connection id that held it. */
  unregisterName(name: string): number | undefined {
    const e = this.reg.get(name);
    if (e === undefined) return undefined;
    this.unregister(name);
    return e.connId;
  }

  lookup(name: string): NodeInfo | undefined {
    return this.reg.get(name)?.node;
  }

  /** Registered entries, newest first. */
  registered(): Entry[] {
    return [...this.reg.values()].reverse();
  }

  /** Remembered unregistered names, oldest first. */
  unregistered(): Entry[] {
    return [...this.unreg.values()];
  }

  private unregister(name: string): void {
    const e = this.reg.get(name);
    if (e === undefined) return;
    this.reg.delete(name);
    this.byConn.delete(e.connId);
    this.unreg.set(name, e);
    if (this.unreg.size > this.maxUnregistered) {
      const oldest = this.unreg.keys().next();
      if (oldest.done !== true) this.unreg.delete(oldest.value);
    }
  }
}

// The counter wraps to 4, never 0..3, so v6 creations never collide with old 1..3 ones.
function bump(counter: number): number {
  const next = (counter + 1) >>> 0;
  return next === 0 ? 4 : next;
}
