/**
 * The wildcard-filter index of the route table (EMQX's topic trie, FEATURES M4/M5):
 * one node per filter level, `+` and `#` children kept apart from the word children,
 * a refcount per stored filter. `match(topic)` walks only the paths the topic can
 * take, so its cost follows the number of matching paths, not the number of filters.
 * Pure and single-owner: the router process alone writes it. No I/O.
 */
import { validateTopicFilter } from './topic.js';

class TrieNode {
  /** Word children; allocated on first use, most leaves have none. */
  words: Map<string, TrieNode> | undefined = undefined;
  plus: TrieNode | undefined = undefined;
  hash: TrieNode | undefined = undefined;
  /** How many times the filter ending here was inserted (0: only a prefix). */
  refs = 0;
  /** The stored filter, kept so a match returns it without rebuilding the string. */
  filter = '';

  constructor(
    readonly parent: TrieNode | undefined,
    readonly word: string,
  ) {}

  isEmpty(): boolean {
    return this.refs === 0 && this.plus === undefined && this.hash === undefined && (this.words === undefined || this.words.size === 0);
  }
}

export class Trie {
  private readonly root = new TrieNode(undefined, '');
  private count = 0;
  private nodes = 0;

  /** Distinct filters stored (each counted once, whatever its refcount). */
  get size(): number {
    return this.count;
  }

  isEmpty(): boolean {
    return this.count === 0;
  }

  /** Trie nodes below the root, for memory inspection: 0 once every filter is deleted. */
  get nodeCount(): number {
    return this.nodes;
  }

  /**
   * Add one reference to `filter`. Returns true when the filter is new (its first
   * reference), which is when a router adds the route. Throws RangeError for an
   * invalid filter: callers validate what clients send before it gets here.
   */
  insert(filter: string): boolean {
    const bad = validateTopicFilter(filter);
    if (bad !== undefined) throw new RangeError(`invalid topic filter (${bad.reason}): ${JSON.stringify(filter)}`);
    let node = this.root;
    let start = 0;
    for (;;) {
      let end = filter.indexOf('/', start);
      if (end === -1) end = filter.length;
      node = this.child(node, filter.slice(start, end));
      if (end === filter.length) break;
      start = end + 1;
    }
    node.refs++;
    if (node.refs > 1) return false;
    node.filter = filter;
    this.count++;
    return true;
  }

  /**
   * Drop one reference to `filter`. Returns true when that was the last one (the
   * filter is gone); false when references remain or it was not stored.
   */
  delete(filter: string): boolean {
    const node = this.find(filter);
    if (node === undefined || node.refs === 0) return false;
    node.refs--;
    if (node.refs > 0) return false;
    node.filter = '';
    this.count--;
    this.prune(node);
    return true;
  }

  /** True when `filter` is stored. */
  has(filter: string): boolean {
    return (this.find(filter)?.refs ?? 0) > 0;
  }

  /** The refcount of `filter` (0 when absent). */
  refs(filter: string): number {
    return this.find(filter)?.refs ?? 0;
  }

  /**
   * Every stored filter that matches the topic name `topic`, each once, in no
   * particular order. Splits the topic once; no other allocation but the result.
   * A topic starting with `$` is not matched by a filter starting with `+` or `#`
   * [MQTT-4.7.2-1].
   */
  match(topic: string): string[] {
    const out: string[] = [];
    if (this.count === 0) return out;
    const words = topic.split('/');
    const root = this.root;
    if (topic.charCodeAt(0) === 0x24) {
      const w = root.words?.get(words[0]!);
      if (w !== undefined) walk(w, words, 1, out);
    } else walk(root, words, 0, out);
    return out;
  }

  /** Stored filters, depth first. Do not modify the trie while iterating. */
  *filters(): IterableIterator<string> {
    const stack: TrieNode[] = [this.root];
    for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
      if (n.refs > 0) yield n.filter;
      if (n.hash !== undefined) stack.push(n.hash);
      if (n.plus !== undefined) stack.push(n.plus);
      if (n.words !== undefined) for (const c of n.words.values()) stack.push(c);
    }
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.filters();
  }

  private child(node: TrieNode, word: string): TrieNode {
    if (word === '+') return (node.plus ??= this.newNode(node, word));
    if (word === '#') return (node.hash ??= this.newNode(node, word));
    const words = (node.words ??= new Map<string, TrieNode>());
    let c = words.get(word);
    if (c === undefined) {
      c = this.newNode(node, word);
      words.set(word, c);
    }
    return c;
  }

  private newNode(parent: TrieNode, word: string): TrieNode {
    this.nodes++;
    return new TrieNode(parent, word);
  }

  /** Remove `node` and its ancestors while they hold neither a filter nor children. */
  private prune(node: TrieNode): void {
    let n: TrieNode = node;
    while (n.parent !== undefined && n.isEmpty()) {
      const p: TrieNode = n.parent;
      if (p.plus === n) p.plus = undefined;
      else if (p.hash === n) p.hash = undefined;
      else p.words?.delete(n.word);
      this.nodes--;
      n = p;
    }
  }

  private find(filter: string): TrieNode | undefined {
    let node: TrieNode | undefined = this.root;
    let start = 0;
    for (;;) {
      let end = filter.indexOf('/', start);
      if (end === -1) end = filter.length;
      const w = filter.slice(start, end);
      node = w === '+' ? node.plus : w === '#' ? node.hash : node.words?.get(w);
      if (node === undefined) return undefined;
      if (end === filter.length) return node;
      start = end + 1;
    }
  }
}

/**
 * Collect every stored filter below `start` (which has consumed `words[0..i)`) that
 * matches the rest of the topic. Iterative, with two parallel stacks: a valid topic
 * can have 32768 levels, too deep for recursion.
 */
function walk(start: TrieNode, words: readonly string[], i: number, out: string[]): void {
  const nodes: TrieNode[] = [start];
  const depths: number[] = [i];
  const n = words.length;
  for (let node = nodes.pop(); node !== undefined; node = nodes.pop()) {
    const d = depths.pop()!;
    // 'prefix/#' matches the prefix itself and everything below [MQTT-4.7.1-2].
    const h = node.hash;
    if (h !== undefined && h.refs > 0) out.push(h.filter);
    if (d === n) {
      if (node.refs > 0) out.push(node.filter);
      continue;
    }
    const w = node.words?.get(words[d]!);
    if (w !== undefined) {
      nodes.push(w);
      depths.push(d + 1);
    }
    if (node.plus !== undefined) {
      nodes.push(node.plus);
      depths.push(d + 1);
    }
  }
}
