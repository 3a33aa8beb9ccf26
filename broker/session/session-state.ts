/**
 * A session actor's state, how a connection reaches it, and its timers: shared by the
 * actor (session-server.ts) and the code that serves its connection
 * (session-connection.ts).
 */
import type { Ctx, Ref } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import type { Channel } from '../connection/channel.js';
import type { ClientInfo } from '../connection/connect.js';
import type { Inbound } from '../connection/inbound.js';
import type { Keepalive, KeepaliveCheck } from '../connection/keepalive.js';
import type { Transport } from '../connection/transport.js';
import type { Pending, Session } from './session.js';

/** How a new connection reaches its session actor. */
export interface Attach {
  readonly info: ClientInfo;
  readonly transport: Transport;
  /** Bytes that followed the CONNECT, in order (the transport is paused until attached). */
  readonly rest: readonly Buffer[];
  /** The session comes from another node (`adopt`, then `resume`): attach only on `resume`. */
  readonly adopting?: boolean;
}

/** How long each step of a hand-over between nodes may take (EMQX T_TAKEOVER). */
export const TAKEOVER_TIMEOUT_MS = 15_000;

/** The session's own timers (keepalive checks come from the node's sweep: keepalive-sweep.ts). */
export type TimerKind = 'retry' | 'expire' | 'will' | 'handover';

/**
 * The session's armed timers, one slot per kind. A fixed record rather than a Map: the
 * kinds are a closed set, and an idle client's session keeps this for hours (a Map is
 * about 200 bytes even with one entry; this is 56).
 */
export class SessionTimers {
  retry: Ref | undefined = undefined;
  expire: Ref | undefined = undefined;
  will: Ref | undefined = undefined;
  handover: Ref | undefined = undefined;
}

/*
 * State
 *   ctx        the node's broker context
 *   session    subscriptions, inflight, queue: lives as long as the session
 *   channel    the protocol over the current connection; undefined while disconnected
 *   transport  the socket we own while connected
 *   will       the pending will of the last connection (cleared by a normal DISCONNECT)
 *   timers     keepalive, retry, expiry, will-delay and hand-over timers, by kind
 *   handoff    while another node takes this session over: deliveries kept for it
 *   adopting   while this session is moved in from another node: the waiting
 *              connection, deliveries held meanwhile, and the ids of the messages restored
 * Invariant: channel and transport are both set, or both undefined.
 */
export interface State {
  readonly ctx: BrokerContext;
  readonly session: Session;
  info: ClientInfo;
  channel: Channel | undefined;
  transport: Transport | undefined;
  inbound: Inbound | undefined;
  keepalive: Keepalive | undefined;
  will: ClientInfo['will'];
  readonly timers: SessionTimers;
  handoff: Pending[] | undefined;
  adopting: { readonly attach: Attach; readonly held: Pending[]; seen: Set<string> } | undefined;
}

/** Have the node's keepalive sweep tell this session when its connection's next check is due. */
export function armKeepalive(s: State, r: KeepaliveCheck, nowMs: number, self: Ctx): void {
  if (r.status === 'ok' && s.keepalive !== undefined) s.ctx.keepalives.watch(s.keepalive, self.self, nowMs + r.nextCheckInMs);
}

/** The connection's keepalive checks end (it is gone). */
export function forgetKeepalive(s: State): void {
  if (s.keepalive !== undefined) s.ctx.keepalives.forget(s.keepalive);
}

/**
 * Arm the retry timer when something waits for the client's ack and it is not armed
 * (EMQX arms its retry timer only with messages in flight): an idle or QoS 0 client
 * has no timer of its own but the keepalive. Called after every step that may send.
 */
export function ensureRetry(s: State, self: Ctx): void {
  if (s.channel !== undefined && s.session.awaitsAck && s.timers.retry === undefined) armTimer(s, 'retry', s.ctx.cfg.mqtt.retry_interval_ms, self);
}

/** The timer messages, made once. */
const TIMER_MSG: { readonly [K in TimerKind]: readonly ['$timer', K] } = {
  retry: ['$timer', 'retry'],
  expire: ['$timer', 'expire'],
  will: ['$timer', 'will'],
  handover: ['$timer', 'handover'],
};

export function armTimer(s: State, kind: TimerKind, ms: number, self: Ctx): void {
  cancelTimer(s, kind, self);
  s.timers[kind] = self.sendAfter(self.self, TIMER_MSG[kind], ms);
}

export function cancelTimer(s: State, kind: TimerKind, self: Ctx): void {
  const t = s.timers[kind];
  if (t !== undefined) {
    self.cancelTimer(t);
    s.timers[kind] = undefined;
  }
}
