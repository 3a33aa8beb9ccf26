/**
 * The client's one actor (EMQX's channel process): it owns the socket while the client
 * is connected, runs the protocol (channel.ts) over the session state (session.ts), and
 * outlives the socket for a persistent session, queueing what arrives until the client
 * comes back, expires, or another connection takes it over. This file is the actor: its
 * messages, the hand-over between nodes and its timers; the connection side is in
 * session-connection.ts, the state in session-state.ts.
 */
import { genServer, logger, type From, type GenServer, type Ctx, type Pid } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { RC_KEEP_ALIVE_TIMEOUT, RC_SERVER_SHUTTING_DOWN, RC_SESSION_TAKEN_OVER } from '../mqtt/reason-codes.js';
import type { DeliverMsg } from '../routing/dispatch.js';
import { subscribe } from '../routing/broker.js';
import { DISPATCHER } from '../routing/dispatcher.js';
import type { Transport } from '../connection/transport.js';
import { Session, type Pending, type SessionLimits, type SessionSnapshot, type SubOpts } from './session.js';
import { attachConnection, close, deliver, disconnected, dropConnection, onData, publishWill, run, write } from './session-connection.js';
import { armKeepalive, armTimer, cancelTimer, ensureRetry, SessionTimers, TAKEOVER_TIMEOUT_MS, type Attach, type State, type TimerKind } from './session-state.js';
import { mergePendings, resubscribeRequests } from './takeover.js';

const log = logger('broker:session');

/** What a session's `info` call says about it (inspection and tests). */
export interface SessionInfo {
  readonly clientId: string;
  readonly connected: boolean;
  /** Raw filter → options. */
  readonly subscriptions: Record<string, SubOpts>;
  /** Outgoing QoS 1/2 messages awaiting acknowledgement. */
  readonly inflight: number;
  /** Messages queued (window full, socket backed up, or client away). */
  readonly mqueue: number;
  /** Messages the queue dropped because it was full. */
  readonly dropped: number;
  /** Incoming QoS 2 packet ids awaiting PUBREL. */
  readonly awaitingRel: number;
  /** Bytes written to the socket and not yet taken by the kernel (0 while disconnected). */
  readonly socketBacklog: number;
}

export interface SessionProtocol {
  calls: {
    /** A new connection for this client id: take it over (cleanStart false) or discard the session. */
    takeover: { args: [attach: Attach]; reply: 'ok' | 'ended' };
    discard: { args: []; reply: 'ok' };
    info: { args: []; reply: SessionInfo };
    /**
     * A connection on another node takes this session over (FEATURES §3.4): the
     * connection here is closed (0x8E) and, from now on, deliveries are kept for the
     * new session. Reply: the session as data, or 'ended' (it lasted only as long as
     * its connection: nothing to move).
     */
    takeover_begin: { args: []; reply: readonly ['ok', SessionSnapshot] | 'ended' };
    /** The new session has its routes: once every forward sent here before is in, hand over what was kept, and end. */
    takeover_end: { args: []; reply: Pending[] };
    /** (New session) restore the moved session and subscribe its filters here; deliveries wait. */
    adopt: { args: [snap: SessionSnapshot]; reply: 'ok' };
    /** (New session) the old one ended with `pendings`: attach the connection and go on. */
    resume: { args: [pendings: readonly Pending[]]; reply: 'ok' };
  };
  info:
    | DeliverMsg
    | readonly ['$data', Transport, Buffer]
    | readonly ['$closed', Transport]
    | readonly ['$drain']
    | readonly ['$handed_over', From]
    /** The registry found another session holding our id, newer than us: end (as a discard). */
    | readonly ['$kick', reason: string]
    | readonly ['$timer', TimerKind | 'keepalive'];
}

/** One limits record per configuration, shared by its sessions (they only read it). */
const limitsByConfig = new WeakMap<BrokerContext['cfg']['mqtt'], SessionLimits>();

function limitsOf(m: BrokerContext['cfg']['mqtt']): SessionLimits {
  let l = limitsByConfig.get(m);
  if (l === undefined) {
    l = { maxInflight: m.max_inflight, maxMqueueLen: m.max_mqueue_len, storeQos0: m.mqueue_store_qos0, maxAwaitingRel: m.max_awaiting_rel };
    limitsByConfig.set(m, l);
  }
  return l;
}

export const sessionServer: GenServer<SessionProtocol, State, [BrokerContext, Attach]> = {
  init([ctx, attach], self) {
    const session = new Session(attach.info.clientId, limitsOf(ctx.cfg.mqtt));
    const s: State = {
      ctx,
      session,
      info: attach.info,
      channel: undefined,
      transport: undefined,
      inbound: undefined,
      keepalive: undefined,
      will: undefined,
      timers: new SessionTimers(),
      handoff: undefined,
      adopting: undefined,
    };
    self.trapExit(true);
    if (attach.adopting === true) {
      s.adopting = { attach, held: [], seen: new Set() };
      armTimer(s, 'handover', 2 * TAKEOVER_TIMEOUT_MS, self);
    } else attachConnection(s, attach, false, self);
    return genServer.ok(s);
  },

  handleCall(req, from, s, self) {
    switch (req[0]) {
      case 'takeover': {
        // A session that ends with its connection (v5 expiry 0, 3.1.1 clean session) ends
        // now, as its connection is closed: nothing to resume [MQTT-3.1.2-23].
        if (s.info.sessionExpiryS === 0) return discard(s, self, 'ended');
        // [MQTT-3.1.4-3]: the old connection gets DISCONNECT 0x8E and is closed.
        if (s.channel !== undefined) dropConnection(s, RC_SESSION_TAKEN_OVER, 'takenover', self);
        s.ctx.metrics.takeovers++;
        attachConnection(s, req[1], true, self);
        return genServer.reply('ok' as const, s);
      }
      case 'discard':
        return discard(s, self, 'ok');
      case 'takeover_begin':
        return takeoverBegin(s, self);
      case 'takeover_end':
        return takeoverEnd(s, from, self);
      case 'adopt':
        return adopt(s, req[1], self);
      case 'resume':
        return resume(s, req[1], self);
      case 'info':
        return genServer.reply<State, SessionInfo>(
          {
            clientId: s.info.clientId,
            connected: s.channel !== undefined,
            subscriptions: Object.fromEntries(s.session.subscriptions),
            inflight: s.session.inflightSize,
            mqueue: s.session.mqueue.len,
            dropped: s.session.mqueue.dropped,
            awaitingRel: s.session.awaitingRelSize,
            socketBacklog: s.transport?.backlog ?? 0,
          },
          s,
        );
    }
  },

  handleInfo(msg, s, self) {
    switch (msg[0]) {
      case 'deliver':
        deliver(s, msg[1].opts, msg[2], self);
        return genServer.noreply(s);
      case '$data':
        if (msg[1] !== s.transport) return genServer.noreply(s); // a connection we dropped
        return step(onData(s, msg[2], self), s);
      case '$closed':
        if (msg[1] !== s.transport) return genServer.noreply(s);
        return step(disconnected(s, 'closed', true, self), s);
      case '$drain': {
        if (s.channel !== undefined) run(s, s.channel.work(s.session.drain(Date.now()), Date.now()), self);
        return genServer.noreply(s);
      }
      case '$timer':
        return step(onTimer(s, msg[1], self), s);
      case '$kick':
        if (s.handoff !== undefined || s.adopting !== undefined) return genServer.noreply(s); // moving: the move decides
        log.warn('session_kicked', { client: s.info.clientId, reason: msg[1] });
        if (s.channel !== undefined) dropConnection(s, RC_SESSION_TAKEN_OVER, 'discarded', self);
        publishWill(s, self);
        return genServer.stop(['shutdown', 'kicked'], s);
      case '$handed_over': {
        // Every delivery that reached us before the barrier is in `handoff` now.
        const kept = s.handoff ?? [];
        s.handoff = undefined;
        genServer.replyTo(msg[1], kept);
        return genServer.stop(['shutdown', 'takenover'], s);
      }
      case 'EXIT':
        // Our parent (session_sup) is going: end with it.
        return genServer.stop(msg[2], s);
      default:
        return genServer.unexpected(log, 'info', msg, s);
    }
  },

  terminate(reason, s) {
    s.adopting?.attach.transport.destroy(); // never attached: nobody else will close it
    const t = s.transport;
    if (t === undefined) return;
    // The broker is stopping: a v5 client is told why (0x8B Server shutting down, as EMQX).
    if (reason === 'shutdown' && s.info.protocolVersion === 5) {
      write(s, { cmd: 'disconnect', reasonCode: RC_SERVER_SHUTTING_DOWN });
      t.end();
    } else t.destroy();
  },
};

/** The session ends for a new connection: the old one is told (0x8E) and the will goes. */
function discard<R extends 'ok' | 'ended'>(s: State, self: Ctx, reply: R): ReturnType<typeof genServer.stop<State, R>> {
  if (s.channel !== undefined) dropConnection(s, RC_SESSION_TAKEN_OVER, 'discarded', self);
  publishWill(s, self);
  return genServer.stop(['shutdown', 'discarded'], s, reply);
}

// --- moving between nodes (FEATURES §3.4) ----------------------------------------------

/** Old session, first step: close the connection, keep deliveries from now on, give the state. */
function takeoverBegin(s: State, self: Ctx): ReturnType<typeof genServer.reply<State, readonly ['ok', SessionSnapshot] | 'ended'>> | ReturnType<typeof genServer.stop<State, 'ended'>> {
  if (s.info.sessionExpiryS === 0) return discard(s, self, 'ended');
  // [MQTT-3.1.4-3]: the old connection gets DISCONNECT 0x8E; its will goes only if undelayed.
  if (s.channel !== undefined) dropConnection(s, RC_SESSION_TAKEN_OVER, 'takenover', self);
  // The client is back (elsewhere) before a delayed will was due: none [MQTT-3.1.3-9].
  cancelTimer(s, 'will', self);
  s.will = undefined;
  cancelTimer(s, 'retry', self);
  cancelTimer(s, 'expire', self);
  s.handoff = [];
  armTimer(s, 'handover', 2 * TAKEOVER_TIMEOUT_MS, self);
  s.ctx.metrics.takeovers++;
  return genServer.reply(['ok', s.session.snapshot()] as const, s);
}

/**
 * Old session, last step. The new session's routes are on every member now, but a
 * forward sent here before a member learnt them may still be on its way: the
 * dispatcher's barrier waits for those; what they delivered is in our mailbox ahead
 * of `$handed_over`, so it is in `handoff` when that is handled.
 */
async function takeoverEnd(s: State, from: From, self: Ctx): Promise<ReturnType<typeof genServer.noreply<State>>> {
  if (s.handoff === undefined) throw new Error('takeover_end without takeover_begin');
  await self.call(DISPATCHER, ['barrier'], TAKEOVER_TIMEOUT_MS);
  self.send(self.self, ['$handed_over', from]);
  return genServer.noreply(s);
}

/** New session, first step: the moved state, and routes here for its subscriptions. */
async function adopt(s: State, snap: SessionSnapshot, self: Ctx): Promise<ReturnType<typeof genServer.reply<State, 'ok'>>> {
  const a = s.adopting;
  if (a === undefined) throw new Error('adopt: not adopting');
  a.seen = s.session.restore(snap);
  const reqs = resubscribeRequests(snap);
  if (reqs.length > 0) await subscribe(self, s.info.clientId, reqs);
  return genServer.reply('ok' as const, s);
}

/** New session, last step: CONNACK (Session Present), resend inflight, then queue, then what both sessions kept. */
function resume(s: State, fromOld: readonly Pending[], self: Ctx): ReturnType<typeof genServer.reply<State, 'ok'>> {
  const a = s.adopting;
  if (a === undefined) throw new Error('resume: not adopting');
  s.adopting = undefined;
  cancelTimer(s, 'handover', self);
  const rest = mergePendings(a.seen, fromOld, a.held);
  attachConnection(s, a.attach, true, self);
  const now = Date.now();
  for (const p of rest) {
    const r = s.session.deliver(p.msg, p.qos, p.retain, p.subId, s.channel !== undefined, now);
    if (r.dropped !== undefined) s.ctx.metrics.messagesDropped++;
    if (r.work !== undefined && s.channel !== undefined) run(s, s.channel.work([r.work], now), self);
  }
  return genServer.reply('ok' as const, s);
}

/** A hand-over that never finished (the other node died mid-way). */
function handoverTimedOut(s: State, self: Ctx): void {
  if (s.adopting !== undefined) {
    log.warn('adopt_timeout', { client: s.info.clientId });
    self.stop(['shutdown', 'adopt_timeout']);
    return;
  }
  const kept = s.handoff;
  if (kept === undefined) return;
  // The new session never took it: this one carries on, offline, with what it kept.
  log.warn('takeover_abandoned', { client: s.info.clientId, kept: kept.length });
  s.handoff = undefined;
  const now = Date.now();
  for (const p of kept) if (s.session.deliver(p.msg, p.qos, p.retain, p.subId, false, now).dropped !== undefined) s.ctx.metrics.messagesDropped++;
  if (s.info.sessionExpiryS !== 0xffffffff) armTimer(s, 'expire', s.info.sessionExpiryS * 1000, self);
}

/** A handler's work may have to wait for the broker: the step waits with it. */
function step(r: void | Promise<unknown>, s: State): ReturnType<typeof genServer.noreply<State>> | Promise<ReturnType<typeof genServer.noreply<State>>> {
  return r === undefined ? genServer.noreply(s) : r.then(() => genServer.noreply(s));
}

// --- timers ----------------------------------------------------------------------------

function onTimer(s: State, kind: TimerKind | 'keepalive', self: Ctx): void | Promise<unknown> {
  const now = Date.now();
  if (kind === 'keepalive') {
    // From the node's sweep; one for a connection gone meanwhile finds none (or the next one, early: harmless).
    const k = s.keepalive;
    if (k === undefined || s.channel === undefined) return;
    const r = k.check(now, s.channel.recvCount);
    if (r.status === 'timeout') {
      log.debug('keepalive_timeout', { client: s.info.clientId, idle_ms: r.idleMs });
      return close(s, RC_KEEP_ALIVE_TIMEOUT, 'keepalive_timeout', self); // [MQTT-3.1.2-24]
    }
    armKeepalive(s, r, now, self);
    return;
  }
  s.timers[kind] = undefined;
  switch (kind) {
    case 'retry':
      if (s.channel === undefined) return;
      // v5 resends only on reconnect [MQTT-4.4.0-1]; 3.1.1 allows a retry (EMQX retry_interval).
      if (s.info.protocolVersion !== 5) run(s, s.channel.work(s.session.retry(now, s.ctx.cfg.mqtt.retry_interval_ms), now), self);
      s.session.expireAwaitingRel(now, s.ctx.cfg.mqtt.await_rel_timeout_ms);
      ensureRetry(s, self);
      return;
    case 'will':
      publishWill(s, self);
      return;
    case 'handover':
      handoverTimedOut(s, self);
      return;
    case 'expire':
      if (s.channel !== undefined || s.handoff !== undefined) return;
      publishWill(s, self);
      self.stop('normal');
      return;
  }
}

export type { Pid };
