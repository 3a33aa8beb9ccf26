/**
 * The route table: filter → the nodes that have at least one subscriber for it
 * (FEATURES M3). Exact filters are a Map lookup; wildcard filters live in the trie.
 * `match(topic)` is what every publish reads, synchronously, on the publishing
 * process, so its answers are cached per topic until the next write; only the router
 * process writes. Pure: no processes, no I/O.
 */
import type { NodeName } from '../../runtime/index.js';
import { isWildcard } from '../mqtt/topic.js';
import { Trie } from '../mqtt/trie.js';

export interface Route {
  readonly filter: string;
  readonly nodes: ReadonlySet<NodeName>;
}

/** Topics whose matches are remembered; past this the cache starts over (bounded memory). */
const MATCH_CACHE_MAX = 10_000;

export class RouteTable {
  private readonly exact = new Map<string, Set<NodeName>>();
  private readonly wild = new Map<string, Set<NodeName>>();
  private readonly trie = new Trie();
  private readonly byNode = new Map<NodeName, Set<string>>();
  /** topic → match(topic); emptied by every add and delete (writes are rare next to publishes). */
  private readonly matched = new Map<string, readonly Route[]>();

  /** Add `node` as a destination of `filter`. True if the route is new. */
  add(filter: string, node: NodeName): boolean {
    const wildcard = isWildcard(filter);
    const m = wildcard ? this.wild : this.exact;
    let nodes = m.get(filter);
    if (nodes === undefined) {
      m.set(filter, (nodes = new Set()));
      if (wildcard) this.trie.insert(filter);
    }
    if (nodes.has(node)) return false;
    nodes.add(node);
    this.matched.clear();
    let fs = this.byNode.get(node);
    if (fs === undefined) this.byNode.set(node, (fs = new Set()));
    fs.add(filter);
    return true;
  }

  /** Remove `node` from `filter`. True if the route existed. */
  delete(filter: string, node: NodeName): boolean {
    const wildcard = isWildcard(filter);
    const m = wildcard ? this.wild : this.exact;
    const nodes = m.get(filter);
    if (nodes?.delete(node) !== true) return false;
    this.matched.clear();
    if (nodes.size === 0) {
      m.delete(filter);
      if (wildcard) this.trie.delete(filter);
    }
    const fs = this.byNode.get(node);
    fs?.delete(filter);
    if (fs?.size === 0) this.byNode.delete(node);
    return true;
  }

  /** Every route to `node` goes (the node left or died). Returns how many were removed. */
  purge(node: NodeName): number {
    const fs = this.byNode.get(node);
    if (fs === undefined) return 0;
    let n = 0;
    for (const f of [...fs]) if (this.delete(f, node)) n++;
    return n;
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
    const e = this.exact.get(topic);
    if (e !== undefined) out.push({ filter: topic, nodes: e });
    if (this.wild.size > 0) {
      for (const f of this.trie.match(topic)) {
        const nodes = this.wild.get(f);
        if (nodes !== undefined) out.push({ filter: f, nodes });
      }
    }
    return out;
  }

  /** The filters routed to `node`. */
  filtersOf(node: NodeName): string[] {
    return [...(this.byNode.get(node) ?? [])];
  }

  has(filter: string, node: NodeName): boolean {
    return (isWildcard(filter) ? this.wild : this.exact).get(filter)?.has(node) ?? false;
  }

  /** Number of (filter, node) routes. */
  get size(): number {
    let n = 0;
    for (const fs of this.byNode.values()) n += fs.size;
    return n;
  }

  /** Every route, for status and tests. */
  all(): { filter: string; nodes: NodeName[] }[] {
    const out: { filter: string; nodes: NodeName[] }[] = [];
    for (const [filter, nodes] of this.exact) out.push({ filter, nodes: [...nodes] });
    for (const [filter, nodes] of this.wild) out.push({ filter, nodes: [...nodes] });
    return out;
  }
}
