/**
 * The client-id registry's tables on one node, held in the broker context as ETS tables
 * are by their owner: cm_registry writes them, with one exception. A connection whose
 * id's home is this node takes the id's lock itself when it is free (a write to this
 * node's table, as any Erlang process may write a public ETS table), rather than
 * making one round trip to the registry:
 * - an opener process (`tryClaim`), which then tells the registry to monitor it, as it
 *   monitors every holder;
 * - for an id the cluster does not know, the listener (`tryClaimNew`): no process holds
 *   that lock, and the session's registration releases it.
 * A lock that someone holds, or an id whose dead node's will is waiting, still goes
 * through the registry's `claim` call (it queues, and cancels the will).
 */
import type { From, NodeName, Pid, Ref } from '../../runtime/index.js';
import type { Message } from '../mqtt/message.js';

/** Where a client's session is, and what to publish if its node dies. */
export interface Registration {
  readonly node: NodeName;
  readonly pid: Pid;
  readonly will: { readonly msg: Message; readonly delayS: number } | undefined;
  /** When the session took the id (ms, its node's clock): of two holding one id, the newer stays. */
  readonly since: number;
}

/** The lock on one client id: who holds it, and who waits (answered in turn). */
export interface Lock {
  /** The holder (the process opening a session); undefined for a caller outside any process. */
  pid: Pid | undefined;
  /** The registry's monitor on the holder: a holder that dies (or whose node does) frees the lock. */
  monitor: Ref | undefined;
  readonly waiters: From[];
}

export class RegistryTable {
  /** client id → registration (ids this node is home to, or backup for). */
  readonly entries = new Map<string, Registration>();
  /** client id → its lock, while held. */
  readonly locks = new Map<string, Lock>();
  /** client id → a dead node's client's will waiting for its delay. */
  readonly wills = new Map<string, { readonly msg: Message; readonly timer: Ref }>();

  /**
   * Take `id`'s free lock for `pid` here: its current entry (undefined if none), or
   * 'busy' when the registry must be asked (held, or a will waits). A holder process
   * then casts `held` to the registry so that the lock is freed if it dies.
   */
  tryClaim(id: string, pid: Pid | undefined): Registration | undefined | 'busy' {
    if (this.locks.has(id) || this.wills.has(id)) return 'busy';
    this.locks.set(id, { pid, monitor: undefined, waiters: [] });
    return this.entries.get(id);
  }

  /** As tryClaim, for an id that nobody holds or held (no entry): true if its lock is now taken, for no process. */
  tryClaimNew(id: string): boolean {
    return !this.entries.has(id) && this.tryClaim(id, undefined) !== 'busy';
  }

  /** A new registry starts empty, as the old one's locks were guarded by its monitors (and its will timers ended with it). */
  clear(): void {
    this.entries.clear();
    this.locks.clear();
    this.wills.clear();
  }
}
