/**
 * The client's one actor (EMQX's channel process): it owns the socket while the client
 * is connected, runs the protocol (channel.ts) over the session state (session.ts), and
 * outlives the socket for a persistent session, queueing what arrives until the client
 * comes back, expires, or another connection takes it over.
 */
import { generate, type Packet } from 'mqtt-packet';
import { genServer, logger, type Ctx, type From, type GenServer, type Pid, type Ref } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { Channel, type Action, type SubscribeItem } from '../connection/channel.js';
import { connack, type ClientInfo } from '../connection/connect.js';
import { Inbound } from '../connection/inbound.js';
import { Keepalive } from '../connection/keepalive.js';
import type { Transport } from '../connection/transport.js';
import { encodeFast } from '../mqtt/publish-codec.js';
import { RC_KEEP_ALIVE_TIMEOUT, RC_MALFORMED_PACKET, RC_PACKET_TOO_LARGE, RC_SERVER_SHUTTING_DOWN, RC_SESSION_TAKEN_OVER } from '../mqtt/reason-codes.js';
import { publish, type DeliverMsg } from '../routing/dispatch.js';
import { subscribe, unsubscribe } from '../routing/broker.js';
import { DISPATCHER } from '../routing/dispatcher.js';
import { willChanged } from '../cm/cm.js';
import { Session, type Pending, type SessionSnapshot, type SubOpts } from './session.js';
import { mergePendings, pendingOf, resubscribeRequests } from './takeover.js';

const log = logger('broker:session');

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
    | readonly ['$timer', TimerKind];
}

type TimerKind = 'keepalive' | 'retry' | 'expire' | 'will' | 'handover';

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
interface State {
  readonly ctx: BrokerContext;
  readonly session: Session;
  info: ClientInfo;
  channel: Channel | undefined;
  transport: Transport | undefined;
  inbound: Inbound | undefined;
  keepalive: Keepalive | undefined;
  will: ClientInfo['will'];
  readonly timers: Map<string, Ref>;
  handoff: Pending[] | undefined;
  adopting: { readonly attach: Attach; readonly held: Pending[]; seen: Set<string> } | undefined;
}

export const sessionServer: GenServer<SessionProtocol, State, [BrokerContext, Attach]> = {
  init([ctx, attach], self) {
    const m = ctx.cfg.mqtt;
    const session = new Session(attach.info.clientId, {
      maxInflight: m.max_inflight,
      maxMqueueLen: m.max_mqueue_len,
      storeQos0: m.mqueue_store_qos0,
      maxAwaitingRel: m.max_awaiting_rel,
    });
    const s: State = {
      ctx,
      session,
      info: attach.info,
      channel: undefined,
      transport: undefined,
      inbound: undefined,
      keepalive: undefined,
      will: undefined,
      timers: new Map(),
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
            awaitingRel: s.session.awaitingRel.size,
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

// --- connection ----------------------------------------------------------------------

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

function attachConnection(s: State, a: Attach, resumed: boolean, self: Ctx): void {
  const now = Date.now();
  cancelTimer(s, 'expire', self);
  cancelTimer(s, 'will', self); // [MQTT-3.1.3-9]: reconnected before the will delay passed
  const sessionPresent = resumed && !a.info.cleanStart;
  s.info = a.info;
  s.will = a.info.will;
  s.session.setWindow(a.info.receiveMaximum);
  s.channel = new Channel(a.info, s.session, s.ctx.cfg, s.ctx.acl);
  s.transport = a.transport;
  s.inbound = new Inbound(a.info.protocolVersion, s.ctx.cfg.mqtt.max_packet_size);
  const t = a.transport;
  const me = self.self;
  t.onData((chunk) => self.send(me, ['$data', t, chunk]));
  t.onClose(() => self.send(me, ['$closed', t]));
  t.onDrain(() => self.send(me, ['$drain']));
  write(s, connack(a.info, sessionPresent, s.ctx.cfg));
  s.keepalive = new Keepalive(a.info.keepaliveS, now, 0);
  armKeepalive(s, s.keepalive.start(now), self);
  armTimer(s, 'retry', s.ctx.cfg.mqtt.retry_interval_ms, self);
  if (sessionPresent) run(s, s.channel.work(s.session.resume(now), now), self);
  // What followed the CONNECT is handled as any later data, in order, each step awaited.
  for (const chunk of a.rest) if (chunk.length > 0) self.send(me, ['$data', t, chunk]);
  t.resume();
}

function onData(s: State, chunk: Buffer, self: Ctx): void | Promise<unknown> {
  const ch = s.channel;
  const inb = s.inbound;
  if (ch === undefined || inb === undefined) return;
  s.ctx.metrics.bytesReceived += chunk.length;
  const r = inb.push(chunk);
  if (r.t !== 'ok') {
    log.warn('bad_packet_closed', { client: s.info.clientId, peer: s.transport?.peer, reason: r.t });
    return close(s, r.t === 'too_large' ? RC_PACKET_TOO_LARGE : RC_MALFORMED_PACKET, r.t, self);
  }
  const now = Date.now();
  const err = r.error;
  // Mostly one packet per chunk: its actions as they are (read only from here).
  if (r.packets.length === 1 && err === undefined) return runAsync(s, ch.handleIn(r.packets[0]!, now), self);
  const actions: Action[] = [];
  for (const pk of r.packets) for (const a of ch.handleIn(pk, now)) actions.push(a);
  if (err !== undefined) {
    log.warn('malformed_packet_closed', { client: s.info.clientId, peer: s.transport?.peer, error: String((err as Error).message ?? err) });
    actions.push(ch.close(RC_MALFORMED_PACKET, 'malformed packet'));
  }
  return runAsync(s, actions, self);
}

/** Carry out actions; the first one that needs the broker makes the rest wait for it. */
function runAsync(s: State, actions: readonly Action[], self: Ctx): void | Promise<unknown> {
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i]!;
    if (a.t === 'subscribe' || a.t === 'unsubscribe') {
      return (async () => {
        await runBroker(s, a, self);
        const r = runAsync(s, actions.slice(i + 1), self);
        if (r !== undefined) await r;
      })();
    }
    if (!runOne(s, a, self)) return;
  }
}

function run(s: State, actions: readonly Action[], self: Ctx): void {
  for (const a of actions) if (!runOne(s, a, self)) return;
}

/** One synchronous action; false when the connection is gone and the rest must be dropped. */
function runOne(s: State, a: Action, self: Ctx): boolean {
  switch (a.t) {
    case 'send':
      write(s, a.packet);
      return true;
    case 'publish': {
      s.ctx.metrics.messagesReceived++; // from clients only: not the broker's own ($SYS, wills)
      const n = publish(s.ctx, a.msg, self);
      if (a.ack !== undefined && s.channel !== undefined) write(s, (s.channel.publishAck(a.ack, a.packetId ?? 0, n) as { packet: Packet }).packet);
      return true;
    }
    case 'close':
      void close(s, a.reasonCode, a.why, self);
      return false;
    case 'client_disconnect':
      // [MQTT-3.14.4-3]: a normal DISCONNECT discards the will (v5 0x04 asks for it).
      if (!a.publishWill) setWill(s, undefined, self);
      if (a.sessionExpiryS !== undefined) s.info = { ...s.info, sessionExpiryS: Math.min(a.sessionExpiryS, s.ctx.cfg.mqtt.max_session_expiry_s) };
      void disconnected(s, 'normal', a.publishWill, self);
      return false;
    case 'subscribe':
    case 'unsubscribe':
      return true; // handled by runAsync
  }
}

async function runBroker(s: State, a: Extract<Action, { t: 'subscribe' | 'unsubscribe' }>, self: Ctx): Promise<void> {
  if (a.t === 'unsubscribe') {
    await unsubscribe(self, a.filters);
    if (s.channel !== undefined) run(s, s.channel.unsubscribed(a.packetId, a.filters), self);
    return;
  }
  const ok = a.items.filter((it) => it.rc === undefined);
  const granted = ok.length === 0 ? [] : await subscribe(self, s.info.clientId, ok.map((it) => ({ raw: it.raw, filter: it.filter, opts: it.opts })));
  let k = 0;
  const results = a.items.map((it) => it.rc ?? granted[k++]!);
  if (s.channel === undefined) return;
  run(s, s.channel.subscribed(a.packetId, a.items, results), self);
  sendRetained(s, a.items, results, self);
}

/** Retained messages for new subscriptions, per Retain Handling [MQTT-3.3.1-9..11]. */
function sendRetained(s: State, items: readonly SubscribeItem[], results: readonly number[], self: Ctx): void {
  const now = Date.now();
  for (const [i, it] of items.entries()) {
    if (results[i]! >= 0x80 || it.opts.share !== undefined) continue; // not for shared subscriptions
    if (it.opts.rh === 2 || (it.opts.rh === 1 && !it.isNew)) continue;
    for (const m of s.ctx.retained.match(it.filter, now)) {
      const r = s.session.deliver(m, it.opts.qos, true, it.opts.subId, s.channel !== undefined, now);
      if (r.work !== undefined && s.channel !== undefined) run(s, s.channel.work([r.work], now), self);
    }
  }
}

function deliver(s: State, opts: DeliverMsg[1]['opts'], msg: DeliverMsg[2], self: Ctx): void {
  if (s.handoff !== undefined) return void s.handoff.push(pendingOf(opts, msg));
  if (s.adopting !== undefined) return void s.adopting.held.push(pendingOf(opts, msg));
  const now = Date.now();
  const t = s.transport;
  // A client that does not read: its socket backlog is bounded; beyond it, messages
  // wait in the session queue (bounded, with its drop policy) until it drains.
  const writable = s.channel !== undefined && t !== undefined && t.backlog < s.ctx.cfg.mqtt.socket_high_water;
  const r = s.session.deliver(msg, opts.qos, opts.rap ? msg.flags.retain : false, opts.subId, writable, now);
  if (r.dropped !== undefined) s.ctx.metrics.messagesDropped++;
  if (r.work !== undefined && s.channel !== undefined) run(s, s.channel.work([r.work], now), self);
}

function write(s: State, packet: Packet): void {
  const t = s.transport;
  if (t === undefined) return;
  const b = encodeFast(packet, s.info.protocolVersion) ?? generate(packet, { protocolVersion: s.info.protocolVersion });
  s.ctx.metrics.bytesSent += b.length;
  if (packet.cmd === 'publish') s.ctx.metrics.messagesSent++;
  t.write(b);
}

/** The server ends the connection (v5: with a DISCONNECT carrying the reason). */
function close(s: State, reasonCode: number | undefined, why: string, self: Ctx): void | Promise<unknown> {
  log.debug('connection_closed_by_server', { client: s.info.clientId, why, rc: reasonCode });
  if (reasonCode !== undefined && s.info.protocolVersion === 5) write(s, { cmd: 'disconnect', reasonCode });
  return disconnected(s, why, true, self);
}

/** Close the current connection without ending the session (takeover, discard). */
function dropConnection(s: State, reasonCode: number, why: string, self: Ctx): void {
  if (s.info.protocolVersion === 5) write(s, { cmd: 'disconnect', reasonCode });
  const t = s.transport;
  s.channel = undefined;
  s.transport = undefined;
  s.inbound = undefined;
  t?.end();
  cancelTimer(s, 'keepalive', self);
  log.debug('connection_dropped', { client: s.info.clientId, why });
  // On takeover the will goes only if it has no delay (the session continues) [MQTT-3.1.4-3].
  if (why === 'takenover' && s.will !== undefined && s.will.delayS === 0) publishWill(s, self);
  else if (why === 'takenover') s.will = undefined;
}

/** The connection is gone: will, then the session ends now or waits for its expiry. */
function disconnected(s: State, why: string, abnormal: boolean, self: Ctx): void | Promise<unknown> {
  const t = s.transport;
  s.channel = undefined;
  s.transport = undefined;
  s.inbound = undefined;
  t?.end();
  cancelTimer(s, 'keepalive', self);
  cancelTimer(s, 'retry', self);
  const expiry = s.info.sessionExpiryS;
  if (abnormal && s.will !== undefined) {
    const delay = Math.min(s.will.delayS, expiry);
    if (delay > 0) armTimer(s, 'will', delay * 1000, self);
    else publishWill(s, self);
  }
  log.debug('client_disconnected', { client: s.info.clientId, why });
  if (expiry === 0) {
    publishWill(s, self);
    self.stop('normal');
    return;
  }
  if (expiry !== 0xffffffff) armTimer(s, 'expire', expiry * 1000, self);
}

function publishWill(s: State, self: Ctx): void {
  const w = s.will;
  if (w === undefined) return;
  setWill(s, undefined, self);
  // The will is a publish by this client: the ACL applies to it as to any other (EMQX does so too).
  if (!s.ctx.acl.check(s.info.clientId, s.info.username, 'publish', w.msg.topic)) {
    log.warn('will_denied', { client: s.info.clientId, topic: w.msg.topic });
    return;
  }
  publish(s.ctx, { ...w.msg, timestamp: Date.now() }, self);
}

/** The will the registry keeps for this client, for when this node dies (delay capped by the session's expiry). */
export function registryWill(info: ClientInfo, will: ClientInfo['will']): ClientInfo['will'] {
  return will === undefined ? undefined : { ...will, delayS: Math.min(will.delayS, info.sessionExpiryS) };
}

function setWill(s: State, will: ClientInfo['will'], self: Ctx): void {
  if (s.will === will) return;
  s.will = will;
  if (s.ctx.dist.alive) willChanged(self, s.info.clientId, registryWill(s.info, will));
}

// --- timers ----------------------------------------------------------------------------

function onTimer(s: State, kind: TimerKind, self: Ctx): void | Promise<unknown> {
  s.timers.delete(kind);
  const now = Date.now();
  switch (kind) {
    case 'keepalive': {
      if (s.keepalive === undefined || s.channel === undefined) return;
      const r = s.keepalive.check(now, s.channel.recvCount);
      if (r.status === 'timeout') {
        log.debug('keepalive_timeout', { client: s.info.clientId, idle_ms: r.idleMs });
        return close(s, RC_KEEP_ALIVE_TIMEOUT, 'keepalive_timeout', self); // [MQTT-3.1.2-24]
      }
      armKeepalive(s, r, self);
      return;
    }
    case 'retry':
      if (s.channel === undefined) return;
      // v5 resends only on reconnect [MQTT-4.4.0-1]; 3.1.1 allows a retry (EMQX retry_interval).
      if (s.info.protocolVersion !== 5) run(s, s.channel.work(s.session.retry(now, s.ctx.cfg.mqtt.retry_interval_ms), now), self);
      s.session.expireAwaitingRel(now, s.ctx.cfg.mqtt.await_rel_timeout_ms);
      armTimer(s, 'retry', s.ctx.cfg.mqtt.retry_interval_ms, self);
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

function armKeepalive(s: State, r: ReturnType<Keepalive['check']>, self: Ctx): void {
  if (r.status === 'ok') armTimer(s, 'keepalive', r.nextCheckInMs, self);
}

function armTimer(s: State, kind: TimerKind, ms: number, self: Ctx): void {
  cancelTimer(s, kind, self);
  s.timers.set(kind, self.sendAfter(self.self, ['$timer', kind], ms));
}

function cancelTimer(s: State, kind: string, self: Ctx): void {
  const t = s.timers.get(kind);
  if (t !== undefined) {
    self.cancelTimer(t);
    s.timers.delete(kind);
  }
}

export type { Pid };
