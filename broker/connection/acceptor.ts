/**
 * A new connection until it has a session: read the CONNECT (within idle_timeout),
 * check it, authenticate, then open the session (cm/open-session.ts: take over or
 * discard the id's session anywhere in the cluster, or start one), which then owns the
 * socket. Only a CONNECT whose client id is held or known somewhere gets a short-lived
 * process for that; a new id's session is started straight away (openNewSession).
 */
import { randomBytes } from 'node:crypto';
import { generate, type Packet } from 'mqtt-packet';
import { logger, ExitError, type Ctx, type Self } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { openNewSession, openSession } from '../cm/open-session.js';
import { RC_BAD_USER_NAME_OR_PASSWORD, RC_SERVER_BUSY, RC_MALFORMED_PACKET, RC_NOT_AUTHORIZED, RC_PACKET_TOO_LARGE, RC_UNSUPPORTED_PROTOCOL_VERSION } from '../mqtt/reason-codes.js';
import { decodeFast } from '../mqtt/publish-codec.js';
import type { Attach } from '../session/session-state.js';
import { checkConnect, connackRefused } from './connect.js';
import type { ConnectWaits } from './connect-wait.js';
import { frame, parseWhole } from './inbound.js';
import type { Transport } from './transport.js';

const log = logger('broker:acceptor');

/** Split the first MQTT packet off `buf`: its length, 'more' if incomplete, or an error. */
export function firstPacketLength(buf: Buffer, max: number): number | 'more' | 'malformed' | 'too_large' {
  const h = frame(buf, 0);
  if (h === undefined) return 'more';
  if (h === 'malformed') return h;
  if (max > 0 && h.end > max) return 'too_large';
  return buf.length >= h.end ? h.end : 'more';
}

/** How long the first packet in `buf` is, for ConnectWaits: -1 hands it over as it is (not a CONNECT, or a bad length). */
function splitConnect(max: number): (buf: Buffer) => number | 'more' {
  return (buf) => {
    // [MQTT-3.1.0-1]: the first packet must be CONNECT; no need to wait for the rest of another.
    if (buf[0] !== 0x10) return -1;
    const n = firstPacketLength(buf, max);
    return n === 'malformed' || n === 'too_large' ? -1 : n;
  };
}

/**
 * Take a new connection: wait for its CONNECT (within idle_timeout, see
 * connect-wait.ts), check it and authenticate, all without a process; an accepted
 * CONNECT whose id is not new gets one, to open the session (it may wait for the id's
 * lock and take a session over).
 */
export function accept(ctx: BrokerContext, waits: ConnectWaits, spawner: Ctx, transport: Transport): void {
  const max = ctx.cfg.mqtt.max_packet_size;
  waits.wait(transport, splitConnect(max), (end) => {
    if (end.t !== 'connect') {
      if (end.t === 'timeout') log.debug('connect_timeout', { peer: transport.peer });
      transport.destroy();
      return;
    }
    const buf = end.bytes;
    if (buf[0] !== 0x10) return notConnect(transport, buf[0]);
    const n = firstPacketLength(buf, max);
    if (n === 'malformed' || n === 'too_large') return refuse(ctx, transport, protocolLevel(buf) ?? 4, n === 'too_large' ? RC_PACKET_TOO_LARGE : RC_MALFORMED_PACKET, n);
    const connect = parseOne(buf);
    if (connect === undefined || connect.cmd !== 'connect') {
      const level = protocolLevel(buf);
      // [MQTT-3.1.2-2]: a level we do not speak gets 0x01 (the 3.1.1 CONNACK every level understands).
      if (level !== undefined && level !== 3 && level !== 4 && level !== 5) return refuse(ctx, transport, 4, RC_UNSUPPORTED_PROTOCOL_VERSION, `protocol level ${level}`);
      log.warn('malformed_connect', { peer: transport.peer }); // [MQTT-3.1.2-1], [MQTT-3.1.2-3], [MQTT-3.1.4-1]
      transport.destroy();
      return;
    }
    // From here until the session actor owns the socket (the lock may take a while),
    // bytes are held aside in order (the transport is paused: only what was read already).
    const rest: Buffer[] = [end.rest];
    // A close meanwhile is for the session to see: it is told when it takes the transport.
    transport.receive({ data: (_t, c) => rest.push(c), closed: () => undefined, drain: () => undefined });
    const version = connect.protocolVersion ?? 4;
    const v = checkConnect(connect, ctx.cfg, transport, Date.now(), () => `beamq-${randomBytes(8).toString('hex')}`);
    if (!v.ok) return refuse(ctx, transport, version, v.reasonCode, v.why, connect.clientId);
    const auth = ctx.auth.authenticate({ clientId: v.info.clientId, username: connect.username, password: connect.password });
    if (auth !== 'ok') {
      return refuse(ctx, transport, version, auth === 'bad_credentials' ? RC_BAD_USER_NAME_OR_PASSWORD : RC_NOT_AUTHORIZED, auth, v.info.clientId);
    }
    const attach: Attach = { info: v.info, transport, rest };
    if (!openNewSession(spawner, ctx, attach, (err) => openFailed(ctx, attach, version, err))) spawner.spawn(opener(ctx, attach, version));
  });
}

/** The process body that opens the session of an accepted CONNECT; it ends once the session owns the socket. */
function opener(ctx: BrokerContext, attach: Attach, version: number): (self: Self) => Promise<void> {
  return async (self) => {
    // A socket that closes meanwhile is the session's to notice: it owns the transport next.
    try {
      await openSession(self, ctx, attach);
    } catch (err) {
      return openFailed(ctx, attach, version, err);
    }
    ctx.metrics.connects++;
  };
}

/** The id's lock was held too long, or the hand-over failed: the client may retry. */
function openFailed(ctx: BrokerContext, attach: Attach, version: number, err: unknown): void {
  log.warn('open_session_failed', { client: attach.info.clientId, error: err instanceof ExitError ? String(err.reason) : String(err) });
  refuse(ctx, attach.transport, version, RC_SERVER_BUSY, 'open_session_failed', attach.info.clientId);
}

/** The protocol level byte of a CONNECT at the head of `buf`, if that much has arrived. */
function protocolLevel(buf: Buffer): number | undefined {
  let i = 1;
  while (i < 5 && i < buf.length && (buf[i]! & 0x80) !== 0) i++;
  const nameAt = i + 1;
  if (nameAt + 2 > buf.length) return undefined;
  const nameLen = buf.readUInt16BE(nameAt);
  const name = buf.toString('latin1', nameAt + 2, nameAt + 2 + nameLen);
  if (name !== 'MQTT' && name !== 'MQIsdp') return undefined;
  return buf[nameAt + 2 + nameLen];
}

function notConnect(t: Transport, firstByte: number | undefined): void {
  log.warn('first_packet_not_connect', { peer: t.peer, type: (firstByte ?? 0) >> 4 });
  t.destroy();
}

function parseOne(b: Buffer): Packet | undefined {
  // The usual CONNECT (no will, no properties) by the fast decoder; mqtt-packet for the
  // rest (it costs several times more, a debug call's arguments array per step included).
  const h = frame(b, 0);
  const fast = typeof h === 'object' ? decodeFast(b, 0, h.body, b.length, 5) : undefined;
  if (fast !== undefined) return fast;
  const out: Packet[] = [];
  // The parser reads the CONNECT's own protocol level; version 5 only enables properties.
  parseWhole(b, 5, out);
  return out[0];
}

function refuse(ctx: BrokerContext, t: Transport, version: number, rc: number, why: string, clientId?: string): void {
  ctx.metrics.connectsRefused++;
  log.warn('connect_refused', { peer: t.peer, client: clientId, reason: why, rc });
  const ack = connackRefused(version, rc);
  if (ack !== undefined) t.write(generate(ack, { protocolVersion: version }));
  t.end();
}
