/**
 * Keepalive checks for every connection on the node by one sweep a second (as
 * mosquitto checks its clients' keepalives from its main loop), rather than a timer
 * per connection: a connect storm arms no timer per client, and an idle connection
 * costs one table entry where its timer cost about 250 bytes (entry, ref, argument,
 * the ref's table slot, a boxed deadline). EMQX arms a timer per connection; on the
 * BEAM a timer is cheaper than here.
 *
 * A session puts its connection's Keepalive in the table with the time of its next
 * check; the sweep sends the session, once due, the `['$timer', 'keepalive']` its own
 * timer used to, and the session checks (Keepalive.check: counts, not clocks, decide)
 * and sets the next time, or closes the connection. So a timeout is seen at most one
 * sweep late: a client silent for 1.5 × its keepalive is closed within a second after.
 */
import { genServer, isProcessAlive, type GenServer, type Pid } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import type { Keepalive } from './keepalive.js';

/** How often the table is swept: the most a timeout is seen late. */
export const KEEPALIVE_SWEEP_MS = 1000;

/** What the sweep sends a session whose check is due (the message of its old timer). */
export const KEEPALIVE_DUE = ['$timer', 'keepalive'] as const;

/** The node's connections with keepalive on: each one's Keepalive and its session. */
export class KeepaliveTable {
  private readonly watched = new Map<Keepalive, Pid>();

  get size(): number {
    return this.watched.size;
  }

  /** Check `k` for session `pid` from `dueAtMs` on, and again whenever its session says (Keepalive.dueAtMs). */
  watch(k: Keepalive, pid: Pid, dueAtMs: number): void {
    k.dueAtMs = dueAtMs;
    this.watched.set(k, pid);
  }

  /** The connection is gone. */
  forget(k: Keepalive): void {
    this.watched.delete(k);
  }

  /**
   * Tell each session whose check is due (`send`), once: it sets the next time when it
   * has checked. A session that died without forgetting its entry (killed: no
   * terminate runs) loses it here.
   */
  sweep(nowMs: number, send: (pid: Pid) => void): void {
    for (const [k, pid] of this.watched) {
      if (k.dueAtMs > nowMs) continue;
      if (!isProcessAlive(pid)) {
        this.watched.delete(k);
        continue;
      }
      k.dueAtMs = Infinity;
      send(pid);
    }
  }
}

interface SweepProtocol {
  info: readonly ['sweep'];
}

/** The sweeper: one tick a second over `ctx.keepalives` (the table outlives a restart of it). */
export const keepaliveServer: GenServer<SweepProtocol, BrokerContext, BrokerContext> = {
  init(ctx, self) {
    self.sendAfter(self.self, ['sweep'], KEEPALIVE_SWEEP_MS);
    return genServer.ok(ctx);
  },
  handleInfo(_msg, ctx, self) {
    ctx.keepalives.sweep(Date.now(), (pid) => self.send(pid, KEEPALIVE_DUE));
    self.sendAfter(self.self, ['sweep'], KEEPALIVE_SWEEP_MS);
    return genServer.noreply(ctx);
  },
};
