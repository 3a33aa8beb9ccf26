/**
 * A session's inflight window (EMQX `emqx_inflight`): outgoing QoS 1/2 messages the
 * client has not yet acknowledged, keyed by packet id, in the order they were sent.
 * Insert, delete and lookup are O(1) (a Map keeps insertion order, and updating an
 * entry keeps its place); iteration is oldest first, the order in which resent
 * PUBLISH packets must go ([MQTT-4.6.0-1], which 3.1.1 applies to servers through
 * [MQTT-4.6.0-6]). Pure: no timers, no I/O.
 */

/** What the server waits for about one packet id. */
export type InflightEntry<M> =
  /** A PUBLISH was sent: QoS 1 awaits PUBACK, QoS 2 awaits PUBREC. */
  | { readonly phase: 'wait_ack'; readonly message: M; readonly sentAtMs: number }
  /** QoS 2 after PUBREC: a PUBREL was sent and PUBCOMP is awaited. */
  | { readonly phase: 'wait_comp'; readonly sentAtMs: number };

/** One packet to send again: a PUBLISH with DUP set, or the PUBREL as it was. */
export type Resend<M> =
  | { readonly kind: 'publish'; readonly packetId: number; readonly message: M; readonly dup: true }
  | { readonly kind: 'pubrel'; readonly packetId: number };

/**
 * The entries of every empty window until its first insert: most sessions never have a
 * QoS 1/2 message in flight, so they need no table of their own. Never written.
 */
const NONE: Map<number, never> = new Map<number, never>();

export class Inflight<M> {
  private entries: Map<number, InflightEntry<M>> = NONE;

  /**
   * @param maxSize the client's Receive Maximum (1..65535) [MQTT-3.3.4-9]; 0 means
   * no limit, as EMQX's `max_inflight = 0`.
   */
  constructor(private maxSize: number) {
    checkMax(maxSize);
  }

  get max(): number {
    return this.maxSize;
  }

  get size(): number {
    return this.entries.size;
  }

  isEmpty(): boolean {
    return this.entries.size === 0;
  }

  /**
   * True when no further QoS 1/2 PUBLISH may be sent until an acknowledgement frees
   * a slot [MQTT-3.3.4-9]. A window shrunk below its size (`resize`) stays full.
   */
  isFull(): boolean {
    return this.maxSize !== 0 && this.entries.size >= this.maxSize;
  }

  has(packetId: number): boolean {
    return this.entries.has(packetId);
  }

  get(packetId: number): InflightEntry<M> | undefined {
    return this.entries.get(packetId);
  }

  /**
   * Add an entry as the newest. Returns false, changing nothing, when the packet id
   * is already in use or the window is full; the caller must check both first.
   */
  insert(packetId: number, entry: InflightEntry<M>): boolean {
    if (this.entries.has(packetId) || this.isFull()) return false;
    if (this.entries === NONE) this.entries = new Map();
    this.entries.set(packetId, entry);
    return true;
  }

  /**
   * Replace an entry in place (its position in the order is kept), for the QoS 2
   * step PUBREC → PUBREL or a retry's new send time. False when the id is absent.
   */
  update(packetId: number, entry: InflightEntry<M>): boolean {
    if (!this.entries.has(packetId)) return false;
    this.entries.set(packetId, entry);
    return true;
  }

  /** Remove and return an entry (on PUBACK or PUBCOMP); undefined when absent. */
  delete(packetId: number): InflightEntry<M> | undefined {
    const e = this.entries.get(packetId);
    if (e !== undefined) this.entries.delete(packetId);
    return e;
  }

  /** The oldest entry, or undefined when empty. */
  oldest(): [packetId: number, entry: InflightEntry<M>] | undefined {
    for (const kv of this.entries) return kv;
    return undefined;
  }

  /** Entries oldest first. Safe against `update` while iterating; not against insert. */
  [Symbol.iterator](): IterableIterator<[packetId: number, entry: InflightEntry<M>]> {
    return this.entries.entries();
  }

  /** A new Receive Maximum; entries beyond it stay until acknowledged. */
  resize(maxSize: number): void {
    checkMax(maxSize);
    this.maxSize = maxSize;
  }

  /**
   * Everything to send again when a client resumes its session, oldest first, with
   * each send time set to `nowMs`: unacknowledged PUBLISH packets with DUP=1 and
   * PUBREL packets as they were [MQTT-4.4.0-1], [MQTT-3.3.1-1].
   */
  redeliver(nowMs: number): Resend<M>[] {
    return this.resend(nowMs, () => true);
  }

  /**
   * The entries sent at or before `nowMs - retryIntervalMs`, oldest first, marked as
   * sent at `nowMs` (EMQX's `retry_interval`). MQTT 5 resends only on reconnect
   * [MQTT-4.4.0-1]; the session decides whether to call this at all.
   */
  retryDue(nowMs: number, retryIntervalMs: number): Resend<M>[] {
    const cutoff = nowMs - retryIntervalMs;
    return this.resend(nowMs, (e) => e.sentAtMs <= cutoff);
  }

  /** The earliest send time among the entries (for arming a retry timer), or undefined. */
  earliestSentAtMs(): number | undefined {
    let min: number | undefined;
    for (const e of this.entries.values()) if (min === undefined || e.sentAtMs < min) min = e.sentAtMs;
    return min;
  }

  private resend(nowMs: number, due: (e: InflightEntry<M>) => boolean): Resend<M>[] {
    const out: Resend<M>[] = [];
    for (const [packetId, e] of this.entries) {
      if (!due(e)) continue;
      if (e.phase === 'wait_ack') {
        out.push({ kind: 'publish', packetId, message: e.message, dup: true });
        this.entries.set(packetId, { phase: 'wait_ack', message: e.message, sentAtMs: nowMs });
      } else {
        out.push({ kind: 'pubrel', packetId });
        this.entries.set(packetId, { phase: 'wait_comp', sentAtMs: nowMs });
      }
    }
    return out;
  }
}

function checkMax(maxSize: number): void {
  if (!Number.isInteger(maxSize) || maxSize < 0 || maxSize > 65_535) throw new RangeError(`inflight max must be 0..65535, got ${maxSize}`);
}
