/**
 * Retained messages (FEATURES M13): the last retained message per topic, kept in a
 * tree of topic levels so that a new subscription's filter finds its matches by
 * walking only the branches it can match. An empty payload clears [MQTT-3.3.1-10].
 * Pure: time comes in as an argument.
 */
import { isExpired, type Message } from '../mqtt/message.js';

class Level {
  children: Map<string, Level> | undefined = undefined;
  msg: Message | undefined = undefined;
}

export class RetainedStore {
  private readonly root = new Level();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Store (or, for an empty payload, clear) the retained message of `msg.topic`. */
  put(msg: Message): void {
    const words = msg.topic.split('/');
    if (msg.payload.length === 0) return this.clearTopic(words);
    let n = this.root;
    for (const w of words) {
      let c = n.children?.get(w);
      if (c === undefined) (n.children ??= new Map()).set(w, (c = new Level()));
      n = c;
    }
    if (n.msg === undefined) this.count++;
    n.msg = msg;
  }

  get(topic: string): Message | undefined {
    let n: Level | undefined = this.root;
    for (const w of topic.split('/')) n = n?.children?.get(w);
    return n?.msg;
  }

  /** Every unexpired retained message whose topic `filter` matches (the `$` rule applies). */
  match(filter: string, nowMs: number): Message[] {
    const out: Message[] = [];
    if (this.count === 0) return out; // most subscribes, when nothing is retained: no split, no walk
    this.walk(this.root, filter.split('/'), 0, out, nowMs);
    return out;
  }

  /** Everything, for replication and inspection. */
  all(): Message[] {
    const out: Message[] = [];
    const visit = (n: Level): void => {
      if (n.msg !== undefined) out.push(n.msg);
      if (n.children !== undefined) for (const c of n.children.values()) visit(c);
    };
    visit(this.root);
    return out;
  }

  private walk(n: Level, f: string[], i: number, out: Message[], nowMs: number): void {
    if (i === f.length) {
      if (n.msg !== undefined && !isExpired(n.msg, nowMs)) out.push(n.msg);
      return;
    }
    const w = f[i]!;
    if (w === '#') {
      // `a/#` matches `a` itself and everything below [MQTT-4.7.1-2].
      if (n.msg !== undefined && !isExpired(n.msg, nowMs) && n !== this.root) out.push(n.msg);
      this.all0(n, i === 0, out, nowMs);
      return;
    }
    if (n.children === undefined) return;
    if (w === '+') {
      for (const [word, c] of n.children) {
        if (i === 0 && word.startsWith('$')) continue; // [MQTT-4.7.2-1]
        this.walk(c, f, i + 1, out, nowMs);
      }
      return;
    }
    const c = n.children.get(w);
    if (c !== undefined) this.walk(c, f, i + 1, out, nowMs);
  }

  private all0(n: Level, atRoot: boolean, out: Message[], nowMs: number): void {
    if (n.children === undefined) return;
    for (const [word, c] of n.children) {
      if (atRoot && word.startsWith('$')) continue;
      if (c.msg !== undefined && !isExpired(c.msg, nowMs)) out.push(c.msg);
      this.all0(c, false, out, nowMs);
    }
  }

  /** Forget every retained message (this node joins another cluster and takes its). */
  clear(): void {
    this.root.children = undefined;
    this.root.msg = undefined;
    this.count = 0;
  }

  private clearTopic(words: string[]): void {
    const path: Level[] = [this.root];
    let n: Level | undefined = this.root;
    for (const w of words) {
      n = n.children?.get(w);
      if (n === undefined) return;
      path.push(n);
    }
    if (n.msg === undefined) return;
    n.msg = undefined;
    this.count--;
    // Prune empty branches.
    for (let i = path.length - 1; i > 0; i--) {
      const node = path[i]!;
      if (node.msg !== undefined || (node.children?.size ?? 0) > 0) break;
      path[i - 1]!.children!.delete(words[i - 1]!);
    }
  }
}
