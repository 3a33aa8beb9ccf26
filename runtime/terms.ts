/**
 * Erlang's identity terms: `Pid` and `Ref`, plus the atom and node-name aliases.
 * Plain immutable classes: compared with `equals`, used as map keys through `key`.
 * Pure: no runtime state here.
 */

/** An Erlang atom. Atoms are JS strings throughout beamq. */
export type Atom = string;

/** A node name, `alive@host` (or `nonode@nohost` before distribution starts). */
export type NodeName = string;

/** The name of a node that has not started distribution, as in Erlang. */
export const NO_NODE: NodeName = 'nonode@nohost';

/**
 * A process identifier: {node, id, serial, creation}. `creation` tells incarnations of
 * the same node name apart, so a message to a pid of a previous incarnation is dropped.
 * `id` is below 2^28 and `serial` below 2^32, as BEAM's own pids (NEW_PID_EXT).
 */
export class Pid {
  // An ES private field: invisible to structural comparison, JSON and encoders.
  #key: string | undefined;
  constructor(
    readonly node: NodeName,
    readonly id: number,
    readonly serial: number,
    readonly creation: number,
  ) {}

  equals(o: unknown): boolean {
    return (
      o === this ||
      (o instanceof Pid && o.id === this.id && o.serial === this.serial && o.node === this.node && o.creation === this.creation)
    );
  }

  /**
   * A string unique to this pid, for Map keys. Made by join, which gives one flat
   * string: a template literal this long is a chain of cons strings and number strings,
   * three times the memory, kept for as long as the pid is a key.
   */
  get key(): string {
    return (this.#key ??= [this.node, this.creation, this.id, this.serial].join('|'));
  }

  /** `<node.id.serial>`; the REPL prints local pids as Erlang does (`<0.id.serial>`). */
  toString(): string {
    return `<${this.node}.${this.id}.${this.serial}>`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/**
 * A unique reference: {node, creation, id}. `id` is a counter unique within one node
 * incarnation; `ext` carries the extra words of references minted by a BEAM node
 * (NEWER_REFERENCE_EXT has up to five 32-bit words).
 */
export class Ref {
  #key: string | undefined;
  constructor(
    readonly node: NodeName,
    readonly creation: number,
    readonly id: number,
    readonly ext?: readonly number[],
  ) {}

  equals(o: unknown): boolean {
    if (o === this) return true;
    if (!(o instanceof Ref) || o.id !== this.id || o.node !== this.node || o.creation !== this.creation) return false;
    const a = this.ext ?? [];
    const b = o.ext ?? [];
    return a.length === b.length && a.every((w, i) => w === b[i]);
  }

  get key(): string {
    // Flat, by join (see Pid.key).
    return (this.#key ??= (this.ext === undefined ? [this.node, this.creation, this.id] : [this.node, this.creation, this.id, this.ext.join('.')]).join('|'));
  }

  /** `#Ref<node.id>` */
  toString(): string {
    return `#Ref<${this.node}.${this.id}${this.ext === undefined ? '' : '.' + this.ext.join('.')}>`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** True for a `Pid`. */
export const isPid = (v: unknown): v is Pid => v instanceof Pid;
/** True for a `Ref`. */
export const isRef = (v: unknown): v is Ref => v instanceof Ref;
