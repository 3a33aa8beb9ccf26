/**
 * The route table: filter → the nodes that have at least one subscriber for it
 * (FEATURES M3), and for shared subscriptions filter → group → the nodes with members
 * of that group (M12's `{Group, Node}` destinations). Exact filters are a Map lookup;
 * wildcard filters are also kept in the trie. `match(topic)` is what every publish
 * reads, synchronously, on the publishing process, so its answers are cached per
 * topic until a filter comes or goes; only the router writes. Pure.
 */
import type { NodeName } from '../../runtime/index.js';
import { isWildcard } from '../mqtt/topic.js';
import { Trie } from '../mqtt/trie.js';

export interface Route {
  readonly filter: string;
  /** Nodes with ordinary subscribers of the filter. */
  readonly nodes: ReadonlySet<NodeName>;
  /** Shared-subscription groups of the filter and the nodes that have members. */
  readonly groups: ReadonlyMap<string, ReadonlySet<NodeName>> | undefined;
}

interface Entry {
  readonly filter: string;
  /** At most one node: a shared set (`EMPTY`, `only(node)`), replaced on change; two or more: the entry's own. */
  nodes: ReadonlySet<NodeName>;
  groups: Map<string, Set<NodeName>> | undefined;
}

/*
 * Most filters have one node (a client's own filter, on its node): their entries share
 * one set per node rather than each holding a Set (about 150 bytes per filter, in a
 * connect storm per client). Readers only read `nodes`, and read it afresh from the
 * entry, so replacing it is as good as changing it.
 */
const EMPTY: ReadonlySet<NodeName> = new Set();
const singletons = new Map<NodeName, ReadonlySet<NodeName>>();
function only(node: NodeName): ReadonlySet<NodeName> {
  let s = singletons.get(node);
  if (s === undefined) singletons.set(node, (s = new Set([node])));
  return s;
}

/** Topics whose matches are remembered; past this the cache starts over (bounded memory). */
const MATCH_CACHE_MAX = 10_000;

/** A route's key for per-node bookkeeping: the filter, or `group\u0000filter` for a shared one. */
const keyOf = (filter: string, group: string | undefined): string => (group === undefined ? filter : `${group}\u0000${filter}`);

export class RouteTable {
  private readonly entries = new Map<string, Entry>();
  private readonly trie = new Trie();
  private wildcards = 0;
  private readonly byNode = new Map<NodeName, Set<string>>();
  /**
   * topic → match(topic). The routes in it are the live entries, so a node or group
   * joining or leaving a known filter shows without a refresh; it is emptied only when
   * a filter's entry is made or removed (writes are rare next to publishes).
   */
  private readonly matched = new Map<string, readonly Route[]>();

  /** Add `node` as a destination of `filter` (for `group`, if shared). True if the route is new. */
  add(filter: string, node: NodeName, group?: string): boolean {
    let e = this.entries.get(filter);
    if (e === undefined) {
      e = { filter, nodes: EMPTY, groups: undefined };
      this.entries.set(filter, e);
      this.forgetMatches();
      if (isWildcard(filter)) {
        this.trie.insert(filter);
        this.wildcards++;
      }
    }
    if (group === undefined) {
      const ns = e.nodes;
      if (ns.has(node)) return false;
      if (ns.size === 0) e.nodes = only(node);
      else if (ns.size === 1) e.nodes = new Set([...ns, node]);
      else (ns as Set<NodeName>).add(node);
    } else {
      e.groups ??= new Map();
      let g = e.groups.get(group);
      if (g === undefined) e.groups.set(group, (g = new Set()));
      if (g.has(node)) return false;
      g.add(node);
    }
    let ks = this.byNode.get(node);
    if (ks === undefined) this.byNode.set(node, (ks = new Set()));
    ks.add(keyOf(filter, group));
    return true;
  }

  /** Remove `node` from `filter` (for `group`, if shared). True if the route existed. */
  delete(filter: string, node: NodeName, group?: string): boolean {
    const e = this.entries.get(filter);
    if (e === undefined) return false;
    if (group === undefined) {
      const ns = e.nodes;
      if (!ns.has(node)) return false;
      if (ns.size === 1) e.nodes = EMPTY;
      else if (ns.size === 2) e.nodes = only([...ns].find((n) => n !== node)!);
      else (ns as Set<NodeName>).delete(node);
    } else {
      const g = e.groups?.get(group);
      if (g?.delete(node) !== true) return false;
      if (g.size === 0) {
        e.groups!.delete(group);
        if (e.groups!.size === 0) e.groups = undefined;
      }
    }
    if (e.nodes.size === 0 && e.groups === undefined) {
      this.entries.delete(filter);
      this.forgetMatches();
      if (isWildcard(filter)) {
        this.trie.delete(filter);
        this.wildcards--;
      }
    }
    // A node's key set stays when it empties (purge drops it): a connect storm after its
    // clients all left would otherwise make it anew, on a branch the optimized code of
    // add and delete had not taken since start-up (a deopt and a recompile of each).
    this.byNode.get(node)?.delete(keyOf(filter, group));
    return true;
  }

  /** Every route to `node` goes (it left or died). Returns how many were removed. */
  purge(node: NodeName): number {
    const ks = this.byNode.get(node);
    if (ks === undefined) return 0;
    let n = 0;
    for (const k of [...ks]) {
      const i = k.indexOf('\u0000');
      if (i < 0 ? this.delete(k, node) : this.delete(k.slice(i + 1), node, k.slice(0, i))) n++;
    }
    this.byNode.delete(node);
    return n;
  }

  /**
   * A filter came or went: the remembered matches may be wrong. Only when there are
   * some: Map#clear allocates a new table even for an empty map, and a connect storm
   * makes a filter per client while nothing publishes.
   */
  private forgetMatches(): void {
    if (this.matched.size > 0) this.matched.clear();
  }

  /** The routes whose filter matches `topic` (shared: not to be modified). */
  match(topic: string): readonly Route[] {
    let out = this.matched.get(topic);
    if (out === undefined) {
      if (this.matched.size >= MATCH_CACHE_MAX) this.matched.clear();
      out = this.lookup(topic);
      this.matched.set(topic, out);
    }
    return out;
  }

  private lookup(topic: string): Route[] {
    const out: Route[] = [];
    // A topic name has no wildcards [MQTT-3.3.2-2]: an exact hit is an exact filter.
    const e = this.entries.get(topic);
    if (e !== undefined) out.push(e);
    if (this.wildcards > 0) {
      for (const f of this.trie.match(topic)) {
        const w = this.entries.get(f);
        if (w !== undefined) out.push(w);
      }
    }
    return out;
  }

  /** This node's routes as (filter, group) pairs: the snapshot it sends to a peer. */
  routesOf(node: NodeName): [filter: string, group: string | undefined][] {
    return [...(this.byNode.get(node) ?? [])].map((k) => {
      const i = k.indexOf('\u0000');
      return i < 0 ? [k, undefined] : [k.slice(i + 1), k.slice(0, i)];
    });
  }

  has(filter: string, node: NodeName, group?: string): boolean {
    const e = this.entries.get(filter);
    return (group === undefined ? e?.nodes : e?.groups?.get(group))?.has(node) ?? false;
  }

  /** Number of (filter, destination) routes. */
  get size(): number {
    let n = 0;
    for (const ks of this.byNode.values()) n += ks.size;
    return n;
  }

  /** Every route, for `ctl routes list` and tests: shared ones as `$share/<group>/<filter>`. */
  all(): { filter: string; nodes: NodeName[] }[] {
    const out: { filter: string; nodes: NodeName[] }[] = [];
    for (const e of this.entries.values()) {
      if (e.nodes.size > 0) out.push({ filter: e.filter, nodes: [...e.nodes].sort() });
      if (e.groups !== undefined) for (const [g, ns] of e.groups) out.push({ filter: `$share/${g}/${e.filter}`, nodes: [...ns].sort() });
    }
    return out.sort((a, b) => (a.filter < b.filter ? -1 : a.filter > b.filter ? 1 : 0));
  }
}
