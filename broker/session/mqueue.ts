/**
 * A session's message queue (EMQX `emqx_mqueue`): messages for a client whose
 * inflight window is full or who is offline. Bounded by `maxLen` (0 = unlimited);
 * when full, QoS 0 messages go first, then the oldest of the lowest priority.
 * Optional per-topic priorities: higher priorities leave first, FIFO within one.
 * Pure and single-owner (the session actor): no timers, no I/O; O(levels) per op.
 */
import type { Message } from '../mqtt/message.js';

/** What the queue needs of a message. */
export interface Queueable {
  readonly qos: 0 | 1 | 2;
  readonly topic: string;
}

export interface MQueueOptions {
  /** Maximum number of queued messages; 0 means unlimited. */
  readonly maxLen: number;
  /** Queue QoS 0 messages too; when false they are refused (EMQX `mqueue_store_qos0`). */
  readonly storeQos0: boolean;
  /** Topic name → priority; a higher number leaves the queue first. */
  readonly priorities?: ReadonlyMap<string, number>;
  /** Priority of topics not in `priorities`: below or above all of them, or a number. Default 'lowest'. */
  readonly defaultPriority?: 'lowest' | 'highest' | number;
}

class QNode<M> {
  prev: QNode<M> | undefined = undefined;
  next: QNode<M> | undefined = undefined;
  /** Neighbours among the QoS 0 messages of the same level. */
  prev0: QNode<M> | undefined = undefined;
  next0: QNode<M> | undefined = undefined;
  constructor(
    readonly msg: M,
    readonly level: Level<M>,
  ) {}
}

/** The messages of one priority, oldest at the head, with a second list through the QoS 0 ones. */
class Level<M> {
  head: QNode<M> | undefined = undefined;
  tail: QNode<M> | undefined = undefined;
  head0: QNode<M> | undefined = undefined;
  tail0: QNode<M> | undefined = undefined;
  constructor(readonly priority: number) {}
}

const NO_PRIORITIES: ReadonlyMap<string, never> = new Map<string, never>();

export class MQueue<M extends Queueable = Message> {
  readonly maxLen: number;
  readonly storeQos0: boolean;
  /** Ordered from the highest priority (dequeued first) to the lowest. */
  private readonly levels: Level<M>[];
  private readonly byTopic: ReadonlyMap<string, Level<M>>;
  private readonly defaultLevel: Level<M>;
  private length = 0;
  private droppedCount = 0;

  constructor(opts: MQueueOptions) {
    if (!Number.isInteger(opts.maxLen) || opts.maxLen < 0) throw new RangeError(`mqueue maxLen must be an integer >= 0, got ${opts.maxLen}`);
    this.maxLen = opts.maxLen;
    this.storeQos0 = opts.storeQos0;
    if (opts.priorities === undefined || opts.priorities.size === 0) {
      // The usual case, made without temporaries: one queue per session, one level each.
      const only = new Level<M>(typeof opts.defaultPriority === 'number' ? opts.defaultPriority : 0);
      this.levels = [only];
      this.defaultLevel = only;
      this.byTopic = NO_PRIORITIES;
      return;
    }
    const table = opts.priorities;
    const values = [...table.values()];
    const dp = opts.defaultPriority ?? 'lowest';
    const defaultP =
      dp === 'lowest' ? (values.length === 0 ? 0 : Math.min(...values) - 1) : dp === 'highest' ? (values.length === 0 ? 0 : Math.max(...values) + 1) : dp;
    const ps = [...new Set([...values, defaultP])].sort((a, b) => b - a);
    this.levels = ps.map((p) => new Level<M>(p));
    const level = (p: number): Level<M> => this.levels.find((l) => l.priority === p)!;
    this.defaultLevel = level(defaultP);
    this.byTopic = new Map([...table].map(([topic, p]) => [topic, level(p)]));
  }

  get len(): number {
    return this.length;
  }

  /** Messages pushed out because the queue was full, or removed by `filter`. */
  get dropped(): number {
    return this.droppedCount;
  }

  isEmpty(): boolean {
    return this.length === 0;
  }

  isFull(): boolean {
    return this.maxLen !== 0 && this.length >= this.maxLen;
  }

  /**
   * Enqueue `msg`. Returns the message that did not make it, if any:
   * - `msg` itself when it is QoS 0 and QoS 0 is not stored (not counted as dropped, as in EMQX);
   * - when full, the oldest QoS 0 message of the lowest priority that has one (counting
   *   `msg` as the newest of its priority), else the oldest message of the lowest
   *   non-empty priority, again counting `msg`. Counted in `dropped`.
   */
  push(msg: M): M | undefined {
    if (msg.qos === 0 && !this.storeQos0) return msg;
    const level = this.levelOf(msg.topic);
    if (this.maxLen !== 0 && this.length >= this.maxLen) {
      const victim = this.victim(level, msg.qos === 0);
      this.droppedCount++;
      if (victim === undefined) return msg;
      this.unlink(victim);
      this.append(new QNode(msg, level));
      return victim.msg;
    }
    this.append(new QNode(msg, level));
    this.length++;
    return undefined;
  }

  /** Dequeue the next message: highest priority first, oldest first within it. */
  pop(): M | undefined {
    if (this.length === 0) return undefined;
    for (const l of this.levels) {
      const n = l.head;
      if (n !== undefined) {
        this.unlink(n);
        this.length--;
        return n.msg;
      }
    }
    return undefined;
  }

  /** The message `pop` would return, left in place. */
  peek(): M | undefined {
    for (const l of this.levels) if (l.head !== undefined) return l.head.msg;
    return undefined;
  }

  /** Queued messages in dequeue order; the queue is unchanged. */
  toArray(): M[] {
    const out: M[] = [];
    for (const l of this.levels) for (let n = l.head; n !== undefined; n = n.next) out.push(n.msg);
    return out;
  }

  /** Empty the queue, returning its messages in dequeue order (session takeover, redispatch). */
  drain(): M[] {
    const out = this.toArray();
    for (const l of this.levels) l.head = l.tail = l.head0 = l.tail0 = undefined;
    this.length = 0;
    return out;
  }

  /** Keep only the messages `keep` accepts (for example the unexpired ones); the others count as dropped. */
  filter(keep: (msg: M) => boolean): void {
    for (const l of this.levels) {
      for (let n = l.head; n !== undefined; ) {
        const next = n.next;
        if (!keep(n.msg)) {
          this.unlink(n);
          this.length--;
          this.droppedCount++;
        }
        n = next;
      }
    }
  }

  /** `{len, maxLen, dropped}` as EMQX's `emqx_mqueue:stats/1` reports them. */
  stats(): { len: number; maxLen: number; dropped: number } {
    return { len: this.length, maxLen: this.maxLen, dropped: this.droppedCount };
  }

  private levelOf(topic: string): Level<M> {
    return this.levels.length === 1 ? this.defaultLevel : (this.byTopic.get(topic) ?? this.defaultLevel);
  }

  /** The node to push out for an incoming message of `incoming` level; undefined means the incoming one. */
  private victim(incoming: Level<M>, incomingQos0: boolean): QNode<M> | undefined {
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const l = this.levels[i]!;
      if (l.head0 !== undefined) return l.head0;
      if (l === incoming && incomingQos0) return undefined;
    }
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const l = this.levels[i]!;
      if (l.head !== undefined) return l.head;
      if (l === incoming) return undefined;
    }
    return undefined;
  }

  private append(n: QNode<M>): void {
    const l = n.level;
    n.prev = l.tail;
    if (l.tail === undefined) l.head = n;
    else l.tail.next = n;
    l.tail = n;
    if (n.msg.qos === 0) {
      n.prev0 = l.tail0;
      if (l.tail0 === undefined) l.head0 = n;
      else l.tail0.next0 = n;
      l.tail0 = n;
    }
  }

  private unlink(n: QNode<M>): void {
    const l = n.level;
    if (n.prev === undefined) l.head = n.next;
    else n.prev.next = n.next;
    if (n.next === undefined) l.tail = n.prev;
    else n.next.prev = n.prev;
    if (n.msg.qos === 0) {
      if (n.prev0 === undefined) l.head0 = n.next0;
      else n.prev0.next0 = n.next0;
      if (n.next0 === undefined) l.tail0 = n.prev0;
      else n.next0.prev0 = n.prev0;
    }
  }
}
