/**
 * A client's MQTT session state (EMQX emqx_session_mem, FEATURES M15): its
 * subscriptions, the outgoing inflight window, the queue of messages waiting for
 * room or for the client to come back, the incoming QoS 2 packet ids awaiting
 * PUBREL, and packet-id allocation. Operations return the PUBLISH/PUBREL work to
 * send; the actor writes it. Pure: no sockets, no timers, no logging.
 */
import { SmallMap, type ReadonlySmallMap } from '../../runtime/index.js';
import type { Message, QoS } from '../mqtt/message.js';
import { isExpired, withDup } from '../mqtt/message.js';
import { Inflight, type InflightEntry, type Resend } from './inflight.js';
import { MQueue } from './mqueue.js';
import { PacketIds } from './packet-id.js';

/** Subscription options (MQTT 5 §3.8.3.1; 3.1.1 has only the QoS). */
export interface SubOpts {
  readonly qos: QoS;
  /** No Local: not sent messages this client published itself. */
  readonly nl: boolean;
  /** Retain As Published. */
  readonly rap: boolean;
  /** Retain Handling 0/1/2. */
  readonly rh: 0 | 1 | 2;
  /** Subscription Identifier (v5), sent back with each matching message. */
  readonly subId?: number;
  /** The shared-subscription group, for `$share/<group>/<filter>`. */
  readonly share?: string;
}

/** A message to send to the client: with a packet id for QoS 1/2. */
export interface Outgoing {
  readonly msg: Message;
  readonly qos: QoS;
  readonly packetId: number | undefined;
  readonly dup: boolean;
  /** Set the RETAIN flag (retained on subscribe, or retain-as-published). */
  readonly retain: boolean;
  readonly subId: number | undefined;
}

/** What a delivery or an acknowledgement asks the actor to write. */
export type Work = { readonly t: 'publish'; readonly out: Outgoing } | { readonly t: 'pubrel'; readonly packetId: number };

/** A queued delivery keeps how it must go out. */
export interface Pending {
  readonly msg: Message;
  readonly qos: QoS;
  readonly topic: string;
  readonly retain: boolean;
  readonly subId: number | undefined;
}

/**
 * A session as plain data, to move it to another node (cross-node takeover): what it
 * subscribed, what it owes the client (inflight with their packet ids, then queued),
 * and the incoming QoS 2 ids awaiting PUBREL. Encodes with the distribution codec.
 */
export interface SessionSnapshot {
  readonly clientId: string;
  readonly subscriptions: readonly (readonly [raw: string, opts: SubOpts])[];
  readonly inflight: readonly (readonly [packetId: number, entry: InflightEntry<Pending>])[];
  readonly mqueue: readonly Pending[];
  readonly awaitingRel: readonly (readonly [packetId: number, atMs: number])[];
  readonly lastPacketId: number;
}

export interface SessionLimits {
  readonly maxInflight: number;
  readonly maxMqueueLen: number;
  readonly storeQos0: boolean;
  readonly maxAwaitingRel: number;
}

/** The awaiting-PUBREL table of every session that has had no incoming QoS 2 yet (never written). */
const NO_IDS: Map<number, never> = new Map<number, never>();
/** The subscriptions of every session that has none yet (never written: see subscribe). */
const NO_SUBS: SmallMap<string, never> = new SmallMap<string, never>();

/** The queue of every session that has queued nothing yet (never written: see queue()). */
const NO_QUEUE = new MQueue<Pending>({ maxLen: 0, storeQos0: false });

/** What `deliver` answers when there is nothing to do (shared: callers only read it). */
const NOTHING: { readonly work?: Work; readonly dropped?: Message } = {};

export class Session {
  /**
   * Raw filter (as subscribed, `$share/g/f` included) → options. NO_SUBS until the
   * first subscription: many clients never subscribe. A SmallMap, as most clients that
   * do subscribe one or two filters: a Map is ~180 bytes with one entry, this ~60.
   */
  private subs: SmallMap<string, SubOpts> = NO_SUBS;
  private inflight: Inflight<Pending>;
  /** NO_QUEUE until the first message waits: most clients keep up, and a queue is ~180 bytes. */
  private mq: MQueue<Pending> = NO_QUEUE;
  /** Incoming QoS 2 packet ids with the time their PUBLISH arrived (NO_IDS until the first). */
  private awaitingRel: Map<number, number> = NO_IDS;
  private ids = new PacketIds();

  constructor(
    readonly clientId: string,
    private readonly limits: SessionLimits,
  ) {
    this.inflight = new Inflight<Pending>(limits.maxInflight);
  }

  /** The queue, to read (length, drops). */
  get mqueue(): Pick<MQueue<Pending>, 'len' | 'dropped'> {
    return this.mq;
  }

  /** The queue, to write: made at the first message that waits. */
  private queue(): MQueue<Pending> {
    if (this.mq === NO_QUEUE) this.mq = new MQueue<Pending>({ maxLen: this.limits.maxMqueueLen, storeQos0: this.limits.storeQos0 });
    return this.mq;
  }

  /** The client's Receive Maximum caps our window [MQTT-3.3.4-9]. */
  setWindow(receiveMaximum: number): void {
    this.inflight.resize(Math.min(receiveMaximum, this.limits.maxInflight || receiveMaximum));
  }

  get inflightSize(): number {
    return this.inflight.size;
  }

  /** Raw filter → options, for reading; change it with subscribe/unsubscribe. */
  get subscriptions(): ReadonlySmallMap<string, SubOpts> {
    return this.subs;
  }

  subscribe(raw: string, opts: SubOpts): void {
    if (this.subs === NO_SUBS) this.subs = new SmallMap();
    this.subs.set(raw, opts);
  }

  /** False when there was no such subscription. */
  unsubscribe(raw: string): boolean {
    return this.subs.delete(raw);
  }

  /** Incoming QoS 2 packet ids awaiting PUBREL. */
  get awaitingRelSize(): number {
    return this.awaitingRel.size;
  }

  /** Something waits for the client's ack (outgoing in flight, or incoming QoS 2 awaiting PUBREL): the retry timer has work. */
  get awaitsAck(): boolean {
    return this.inflight.size > 0 || this.awaitingRel.size > 0;
  }

  // --- outgoing -------------------------------------------------------------------

  /**
   * A message for the client. Connected with room in the window: send it now (QoS 0
   * always goes). Otherwise queue it (the queue drops by its policy when full).
   * Returns the work to do now, and the message the queue dropped, if any.
   */
  deliver(msg: Message, subQos: QoS, retain: boolean, subId: number | undefined, connected: boolean, nowMs: number): { readonly work?: Work; readonly dropped?: Message } {
    if (isExpired(msg, nowMs)) return NOTHING;
    const qos = Math.min(msg.qos, subQos) as QoS;
    // The most common case, straight out: QoS 0 to a connected client needs no Pending.
    if (connected && qos === 0) return { work: { t: 'publish', out: { msg, qos: 0, packetId: undefined, dup: false, retain, subId } } };
    const p: Pending = { msg, qos, topic: msg.topic, retain, subId };
    if (connected && (qos === 0 || !this.inflight.isFull())) {
      const w = this.send(p, nowMs);
      if (w !== undefined) return { work: w };
    }
    if (!connected && qos === 0 && !this.limits.storeQos0) return NOTHING;
    const dropped = this.queue().push(p);
    return dropped === undefined ? NOTHING : { dropped: dropped.msg };
  }

  private send(p: Pending, nowMs: number): Work | undefined {
    if (p.qos === 0) return { t: 'publish', out: { msg: p.msg, qos: 0, packetId: undefined, dup: false, retain: p.retain, subId: p.subId } };
    const id = this.ids.next((i) => this.inflight.has(i));
    if (id === undefined) return undefined; // every id in use: wait in the queue
    this.inflight.insert(id, { phase: 'wait_ack', message: p, sentAtMs: nowMs });
    return { t: 'publish', out: { msg: p.msg, qos: p.qos, packetId: id, dup: false, retain: p.retain, subId: p.subId } };
  }

  /** Fill the window from the queue (after an ack, or on reconnect). */
  drain(nowMs: number): Work[] {
    const out: Work[] = [];
    const q = this.mq;
    while (!q.isEmpty()) {
      const head = q.peek()!;
      if (head.qos > 0 && this.inflight.isFull()) break;
      q.pop();
      if (isExpired(head.msg, nowMs)) continue;
      const w = this.send(head, nowMs);
      if (w === undefined) {
        q.push(head);
        break;
      }
      out.push(w);
    }
    return out;
  }

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2): the slot frees. False if the id was unknown. */
  acked(packetId: number, nowMs: number): { known: boolean; work: Work[] } {
    const e = this.inflight.get(packetId);
    if (e === undefined) return { known: false, work: [] };
    this.inflight.delete(packetId);
    return { known: true, work: this.drain(nowMs) };
  }

  /** PUBREC: the QoS 2 message arrived; answer PUBREL. False if the id was unknown. */
  received(packetId: number, nowMs: number): boolean {
    const e = this.inflight.get(packetId);
    if (e === undefined || e.phase !== 'wait_ack') return e !== undefined;
    this.inflight.update(packetId, { phase: 'wait_comp', sentAtMs: nowMs });
    return true;
  }

  /** On reconnect: everything unacknowledged again, oldest first, PUBLISH with DUP [MQTT-4.4.0-1]. */
  resume(nowMs: number): Work[] {
    const out: Work[] = this.inflight.redeliver(nowMs).map((r) => this.resendWork(r));
    out.push(...this.drain(nowMs));
    return out;
  }

  /** Unacknowledged messages older than the retry interval, sent again. */
  retry(nowMs: number, intervalMs: number): Work[] {
    return this.inflight.retryDue(nowMs, intervalMs).map((r) => this.resendWork(r));
  }

  earliestInflightAt(): number | undefined {
    return this.inflight.earliestSentAtMs();
  }

  private resendWork(r: Resend<Pending>): Work {
    if (r.kind === 'pubrel') return { t: 'pubrel', packetId: r.packetId };
    const p = r.message;
    return { t: 'publish', out: { msg: withDup(p.msg), qos: p.qos, packetId: r.packetId, dup: true, retain: p.retain, subId: p.subId } };
  }

  // --- incoming QoS 2 ---------------------------------------------------------------

  /**
   * An incoming QoS 2 PUBLISH. 'new': route it and answer PUBREC; 'dup': answer PUBREC
   * only (exactly once, [MQTT-4.3.3-10]); 'full': too many awaiting PUBREL.
   */
  incomingQos2(packetId: number, nowMs: number): 'new' | 'dup' | 'full' {
    if (this.awaitingRel.has(packetId)) return 'dup';
    if (this.limits.maxAwaitingRel > 0 && this.awaitingRel.size >= this.limits.maxAwaitingRel) return 'full';
    if (this.awaitingRel === NO_IDS) this.awaitingRel = new Map();
    this.awaitingRel.set(packetId, nowMs);
    return 'new';
  }

  /** PUBREL from the client. False when the id is unknown (v5: PUBCOMP 0x92). */
  released(packetId: number): boolean {
    return this.awaitingRel.delete(packetId);
  }

  /** Drop awaiting-PUBREL entries older than `timeoutMs`; returns how many. */
  expireAwaitingRel(nowMs: number, timeoutMs: number): number {
    let n = 0;
    for (const [id, at] of this.awaitingRel) {
      if (nowMs - at < timeoutMs) break; // insertion order = arrival order
      this.awaitingRel.delete(id);
      n++;
    }
    return n;
  }

  /** The whole session as data (see SessionSnapshot). */
  snapshot(): SessionSnapshot {
    return {
      clientId: this.clientId,
      subscriptions: [...this.subscriptions],
      inflight: [...this.inflight],
      mqueue: this.mq.toArray(),
      awaitingRel: [...this.awaitingRel],
      lastPacketId: this.ids.last,
    };
  }

  /** Take over a session moved from another node; returns the ids of the messages it owes. */
  restore(snap: SessionSnapshot): Set<string> {
    const seen = new Set<string>();
    for (const [raw, opts] of snap.subscriptions) this.subscribe(raw, opts);
    // The window may be smaller here; inflight entries keep their ids (they are resent
    // with DUP), so lift the cap until they are acknowledged.
    this.inflight = new Inflight<Pending>(Math.max(this.limits.maxInflight, snap.inflight.length));
    for (const [id, e] of snap.inflight) {
      this.inflight.insert(id, e);
      if (e.phase === 'wait_ack') seen.add(e.message.msg.id);
    }
    for (const p of snap.mqueue) {
      this.queue().push(p);
      seen.add(p.msg.id);
    }
    if (snap.awaitingRel.length > 0) this.awaitingRel = new Map(snap.awaitingRel);
    this.ids = new PacketIds(snap.lastPacketId);
    return seen;
  }

  /** Messages still owed to the client (inflight + queued), for takeover and inspection. */
  pendingMessages(): Message[] {
    const out: Message[] = [];
    for (const [, e] of this.inflight) if (e.phase === 'wait_ack') out.push(e.message.msg);
    for (const p of this.mq.toArray()) out.push(p.msg);
    return out;
  }
}

