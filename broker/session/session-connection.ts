/**
 * A session actor's connection side: attaching a client's socket, running the protocol
 * over what it sends, delivering to it, and what happens when it goes (will, expiry).
 * Functions over the actor's State, called from session-server.ts.
 */
import { generate, type Packet } from 'mqtt-packet';
import { logger, type Ctx, type Pid } from '../../runtime/index.js';
import { Channel, type Action, type SubscribeItem } from '../connection/channel.js';
import { connack, type ClientInfo } from '../connection/connect.js';
import { Inbound } from '../connection/inbound.js';
import type { Receiver, Transport } from '../connection/transport.js';
import { Keepalive } from '../connection/keepalive.js';
import { encodeFast } from '../mqtt/publish-codec.js';
import { RC_MALFORMED_PACKET, RC_PACKET_TOO_LARGE } from '../mqtt/reason-codes.js';
import { publish, type DeliverMsg } from '../routing/dispatch.js';
import { subscribe, subscribeHere, unsubscribe, type SubscribeRequest } from '../routing/broker.js';
import { willChanged } from '../cm/cm.js';
import { armKeepalive, armTimer, cancelTimer, ensureRetry, forgetKeepalive, type Attach, type State } from './session-state.js';
import { pendingOf } from './takeover.js';

const log = logger('broker:session');

/** Turns a transport's events into the session actor's messages (as an Erlang socket's active mode). */
class SessionReceiver implements Receiver {
  constructor(
    private readonly self: Ctx,
    private readonly me: Pid,
  ) {}

  data(t: Transport, chunk: Buffer): void {
    this.self.send(this.me, ['$data', t, chunk]);
  }

  closed(t: Transport): void {
    this.self.send(this.me, ['$closed', t]);
  }

  drain(): void {
    this.self.send(this.me, ['$drain']);
  }
}

export function attachConnection(s: State, a: Attach, resumed: boolean, self: Ctx): void {
  const now = Date.now();
  cancelTimer(s, 'expire', self);
  cancelTimer(s, 'will', self); // [MQTT-3.1.3-9]: reconnected before the will delay passed
  const sessionPresent = resumed && !a.info.cleanStart;
  s.info = a.info;
  s.will = a.info.will;
  s.session.setWindow(a.info.receiveMaximum);
  s.channel = new Channel(a.info, s.session, s.ctx.cfg, s.ctx.acl, a.transport);
  s.transport = a.transport;
  s.inbound = new Inbound(a.info.protocolVersion, s.ctx.cfg.mqtt.max_packet_size);
  const t = a.transport;
  const me = self.self;
  t.receive(new SessionReceiver(self, me));
  write(s, connack(a.info, sessionPresent, s.ctx.cfg));
  forgetKeepalive(s); // a connection not detached before (none should be): its checks end here
  s.keepalive = new Keepalive(a.info.keepaliveS, now, 0);
  armKeepalive(s, s.keepalive.start(now), now, self);
  if (sessionPresent) run(s, s.channel.work(s.session.resume(now), now), self);
  // What followed the CONNECT is handled as any later data, in order, each step awaited.
  for (const chunk of a.rest) if (chunk.length > 0) self.send(me, ['$data', t, chunk]);
  t.resume();
}

export function onData(s: State, chunk: Buffer, self: Ctx): void | Promise<unknown> {
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

/** Carry out actions; the first one that waits for the broker makes the rest wait for it. */
function runAsync(s: State, actions: readonly Action[], self: Ctx): void | Promise<unknown> {
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i]!;
    if (a.t === 'subscribe' && subscribeNow(s, a, self)) continue;
    if (a.t === 'subscribe' || a.t === 'unsubscribe') {
      return (async () => {
        await runBroker(s, a, self);
        const r = runAsync(s, actions.slice(i + 1), self);
        if (r !== undefined) await r;
      })();
    }
    if (!runOne(s, a, self)) return;
  }
  ensureRetry(s, self);
}

export function run(s: State, actions: readonly Action[], self: Ctx): void {
  for (const a of actions) if (!runOne(s, a, self)) return;
  ensureRetry(s, self);
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
  const ok = subscribeRequests(a.items);
  subscribed(s, a, ok.length === 0 ? [] : await subscribe(self, s.info.clientId, ok), self);
}

/** Subscribe in this turn where the broker allows it (subscribeHere); false if the broker must be asked. */
function subscribeNow(s: State, a: Extract<Action, { t: 'subscribe' }>, self: Ctx): boolean {
  const ok = subscribeRequests(a.items);
  const granted = ok.length === 0 ? [] : subscribeHere(self, s.ctx, s.info.clientId, ok);
  if (granted === undefined) return false;
  subscribed(s, a, granted, self);
  return true;
}

/** The items the channel accepted, to ask the broker for (arrays by push, not map/filter: see Channel.subscribe). */
function subscribeRequests(items: readonly SubscribeItem[]): SubscribeRequest[] {
  const ok: SubscribeRequest[] = [];
  for (const it of items) if (it.rc === undefined) ok.push({ raw: it.raw, filter: it.filter, opts: it.opts });
  return ok;
}

/** The broker took the accepted items (`granted`, in order): SUBACK, then the retained messages. */
function subscribed(s: State, a: Extract<Action, { t: 'subscribe' }>, granted: readonly number[], self: Ctx): void {
  let k = 0;
  const results: number[] = [];
  for (const it of a.items) results.push(it.rc ?? granted[k++]!);
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

export function deliver(s: State, opts: DeliverMsg[1]['opts'], msg: DeliverMsg[2], self: Ctx): void {
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

export function write(s: State, packet: Packet): void {
  const t = s.transport;
  if (t === undefined) return;
  const b = encodeFast(packet, s.info.protocolVersion) ?? generate(packet, { protocolVersion: s.info.protocolVersion });
  s.ctx.metrics.bytesSent += b.length;
  if (packet.cmd === 'publish') s.ctx.metrics.messagesSent++;
  t.write(b);
}

/** The server ends the connection (v5: with a DISCONNECT carrying the reason). */
export function close(s: State, reasonCode: number | undefined, why: string, self: Ctx): void | Promise<unknown> {
  log.debug('connection_closed_by_server', { client: s.info.clientId, why, rc: reasonCode });
  if (reasonCode !== undefined && s.info.protocolVersion === 5) write(s, { cmd: 'disconnect', reasonCode });
  return disconnected(s, why, true, self);
}

/** Close the current connection without ending the session (takeover, discard). */
export function dropConnection(s: State, reasonCode: number, why: string, self: Ctx): void {
  if (s.info.protocolVersion === 5) write(s, { cmd: 'disconnect', reasonCode });
  detach(s);
  log.debug('connection_dropped', { client: s.info.clientId, why });
  // On takeover the will goes only if it has no delay (the session continues) [MQTT-3.1.4-3].
  if (why === 'takenover' && s.will !== undefined && s.will.delayS === 0) publishWill(s, self);
  else if (why === 'takenover') s.will = undefined;
}

/** Forget the current connection and close its socket; the session stays. */
function detach(s: State): void {
  const t = s.transport;
  s.channel = undefined;
  s.transport = undefined;
  s.inbound = undefined;
  t?.end();
  forgetKeepalive(s);
}

/** The connection is gone: will, then the session ends now or waits for its expiry. */
export function disconnected(s: State, why: string, abnormal: boolean, self: Ctx): void | Promise<unknown> {
  detach(s);
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

export function publishWill(s: State, self: Ctx): void {
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
