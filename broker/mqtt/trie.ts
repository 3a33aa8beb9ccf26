/**
 * The wildcard-filter index of the route table (EMQX's topic trie, FEATURES M4/M5):
 * one node per filter level, `+` and `#` children kept apart from the word children,
 * a refcount per stored filter. `match(topic)` walks only the paths the topic can
 * take, so its cost follows the number of matching paths, not the number of filters.
 * Pure and single-owner: the router process alone writes it. No I/O.
 */
import { validateTopicFilter } from './topic.js';

class TrieNode {
  /**
   * The word child while there is only one (a level under a client-unique level, as
   * `sub` in `t/<client id>/sub/#`, has one: a Map there would cost 200 bytes per client).
   */
  private one: TrieNode | undefined = undefined;
  /** Word children once there are two or more. */
  private words: Map<string, TrieNode> | undefined = undefined;
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
    return this.refs === 0 && this.plus === undefined && this.hash === undefined && this.one === undefined && (this.words === undefined || this.words.size === 0);
  }

  wordChild(w: string): TrieNode | undefined {
    const o = this.one;
    if (o !== undefined) return o.word === w ? o : undefined;
    return this.words?.get(w);
  }

  addWord(c: TrieNode): void {
    if (this.words !== undefined) this.words.set(c.word, c);
    else if (this.one === undefined) this.one = c;
    else {
      this.words = new Map([
        [this.one.word, this.one],
        [c.word, c],
      ]);
      this.one = undefined;
    }
  }

  removeWord(c: TrieNode): void {
    if (this.one === c) this.one = undefined;
    else this.words?.delete(c.word);
  }

  pushWordChildren(to: TrieNode[]): void {
    if (this.one !== undefined) to.push(this.one);
    else if (this.words !== undefined) for (const c of this.words.values()) to.push(c);
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
      const w = root.wordChild(words[0]!);
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
      n.pushWordChildren(stack);
    }
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.filters();
  }

  private child(node: TrieNode, word: string): TrieNode {
    if (word === '+') return (node.plus ??= this.newNode(node, word));
    if (word === '#') return (node.hash ??= this.newNode(node, word));
    let c = node.wordChild(word);
    if (c === undefined) {
      c = this.newNode(node, word);
      node.addWord(c);
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
      else p.removeWord(n);
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
      node = w === '+' ? node.plus : w === '#' ? node.hash : node.wordChild(w);
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
    const w = node.wordChild(words[d]!);
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
