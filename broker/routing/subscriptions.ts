/**
 * Local subscriptions (FEATURES M1): for each filter, the sessions on this node that
 * subscribed, and the shared-subscription groups with their members. Every publish
 * reads it on the publishing process; only the broker process writes. Pure.
 */
import { SmallMap, type Pid } from '../../runtime/index.js';
import type { SubOpts } from '../session/session.js';

export interface Subscriber {
  readonly pid: Pid;
  readonly clientId: string;
  /** As the client sent it (`$share/g/f` included). */
  readonly raw: string;
  /** The routed filter. */
  readonly filter: string;
  readonly opts: SubOpts;
}

export class SharedGroup {
  members: Subscriber[] = [];
  /** Round-robin position. */
  next = 0;
}

export class SubTable {
  /**
   * filter → pid key → subscriber (non-shared). SmallMaps here and in bySession: most
   * filters have one subscriber and most sessions one or two subscriptions (a storm of
   * clients each with its own filter made two Maps per client, about 380 bytes).
   */
  readonly normal = new Map<string, SmallMap<string, Subscriber>>();
  /** filter → group → members. */
  readonly shared = new Map<string, Map<string, SharedGroup>>();
  /** pid key → raw filter → subscriber, to clean up after a session. */
  private readonly bySession = new Map<string, SmallMap<string, Subscriber>>();

  /**
   * Add or update a subscription. True when its route — the filter, or the filter's
   * shared group — had no local subscriber before (the node's route must be added).
   */
  add(s: Subscriber): boolean {
    const had = this.hasRoute(s.filter, s.opts.share);
    const key = s.pid.key;
    const old = this.bySession.get(key)?.get(s.raw);
    if (old !== undefined) this.detach(old);
    if (s.opts.share === undefined) {
      let m = this.normal.get(s.filter);
      if (m === undefined) this.normal.set(s.filter, (m = new SmallMap<string, Subscriber>()));
      m.set(key, s);
    } else {
      let gs = this.shared.get(s.filter);
      if (gs === undefined) this.shared.set(s.filter, (gs = new Map<string, SharedGroup>()));
      let g = gs.get(s.opts.share);
      if (g === undefined) gs.set(s.opts.share, (g = new SharedGroup()));
      g.members.push(s);
    }
    let bs = this.bySession.get(key);
    if (bs === undefined) this.bySession.set(key, (bs = new SmallMap<string, Subscriber>()));
    bs.set(s.raw, s);
    return !had;
  }

  /** Remove one subscription; returns it and whether its route has no local subscriber left. */
  remove(pid: Pid, raw: string): { sub: Subscriber; lastForRoute: boolean } | undefined {
    const bs = this.bySession.get(pid.key);
    const s = bs?.get(raw);
    if (s === undefined) return undefined;
    bs!.delete(raw);
    if (bs!.size === 0) this.bySession.delete(pid.key);
    this.detach(s);
    return { sub: s, lastForRoute: !this.hasRoute(s.filter, s.opts.share) };
  }

  /** Remove everything a session subscribed; returns the routes left with no local subscriber. */
  removeSession(pid: Pid): [filter: string, group: string | undefined][] {
    const bs = this.bySession.get(pid.key);
    if (bs === undefined) return [];
    this.bySession.delete(pid.key);
    const emptied: [string, string | undefined][] = [];
    for (const s of bs.values()) {
      this.detach(s);
      if (!this.hasRoute(s.filter, s.opts.share) && !emptied.some(([f, g]) => f === s.filter && g === s.opts.share)) emptied.push([s.filter, s.opts.share]);
    }
    return emptied;
  }

  /** Has this node a subscriber for the filter (ordinary, or in shared group `group`)? */
  hasRoute(filter: string, group: string | undefined): boolean {
    return group === undefined ? this.normal.has(filter) : this.shared.get(filter)?.has(group) === true;
  }

  hasSession(pid: Pid): boolean {
    return this.bySession.has(pid.key);
  }

  hasFilter(filter: string): boolean {
    return this.normal.has(filter) || this.shared.has(filter);
  }

  /** Number of subscriptions (for $SYS and metrics). */
  get count(): number {
    let n = 0;
    for (const bs of this.bySession.values()) n += bs.size;
    return n;
  }

  /** Filters with at least one local subscriber. */
  filters(): string[] {
    return [...new Set([...this.normal.keys(), ...this.shared.keys()])];
  }

  private detach(s: Subscriber): void {
    if (s.opts.share === undefined) {
      const m = this.normal.get(s.filter);
      m?.delete(s.pid.key);
      if (m?.size === 0) this.normal.delete(s.filter);
      return;
    }
    const gs = this.shared.get(s.filter);
    const g = gs?.get(s.opts.share);
    if (g === undefined) return;
    g.members = g.members.filter((x) => x !== s);
    if (g.members.length === 0) gs!.delete(s.opts.share);
    if (gs!.size === 0) this.shared.delete(s.filter);
  }
}
