/**
 * A new connection until it has a session: read the CONNECT (within idle_timeout),
 * check it, authenticate, then open the session (cm/open-session.ts: take over or
 * discard the id's session anywhere in the cluster, or start one), which then owns the socket.
 * Runs as a short-lived process per connection.
 */
import { randomBytes } from 'node:crypto';
import { generate, type IConnectPacket, type Packet } from 'mqtt-packet';
import { logger, ExitError, type Self } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { owned } from '../cm/cm.js';
import { openSession, type Opened } from '../cm/open-session.js';
import { RC_BAD_USER_NAME_OR_PASSWORD, RC_SERVER_BUSY, RC_MALFORMED_PACKET, RC_NOT_AUTHORIZED, RC_PACKET_TOO_LARGE, RC_UNSUPPORTED_PROTOCOL_VERSION } from '../mqtt/reason-codes.js';
import type { Attach } from '../session/session-server.js';
import { checkConnect, connackRefused } from './connect.js';
import { parseWhole } from './inbound.js';
import type { Transport } from './transport.js';

const log = logger('broker:acceptor');

/** Split the first MQTT packet off `buf`: its length, 'more' if incomplete, or an error. */
export function firstPacketLength(buf: Buffer, max: number): number | 'more' | 'malformed' | 'too_large' {
  if (buf.length < 2) return 'more';
  let len = 0;
  let mult = 1;
  for (let i = 1; i <= 4; i++) {
    if (i >= buf.length) return 'more';
    const b = buf[i]!;
    len += (b & 0x7f) * mult;
    mult *= 128;
    if ((b & 0x80) === 0) {
      const total = 1 + i + len;
      if (max > 0 && total > max) return 'too_large';
      return buf.length >= total ? total : 'more';
    }
  }
  return 'malformed';
}

/** The process body for one accepted connection. */
export function acceptor(ctx: BrokerContext, transport: Transport): (self: Self) => Promise<void> {
  return async (self) => {
    let buf = Buffer.alloc(0);
    transport.onData((c) => self.send(self.self, ['$data', c]));
    transport.onClose(() => self.send(self.self, ['$closed']));
    const deadline = Date.now() + ctx.cfg.mqtt.idle_timeout_ms;
    let connect: IConnectPacket | undefined;
    while (connect === undefined) {
      const m = await self.receive((x) => (Array.isArray(x) && (x[0] === '$data' || x[0] === '$closed') ? x : undefined), Math.max(0, deadline - Date.now()));
      if (!Array.isArray(m) || m[0] === '$closed') {
        if (!Array.isArray(m)) log.debug('connect_timeout', { peer: transport.peer });
        transport.destroy();
        return;
      }
      buf = Buffer.concat([buf, m[1] as Buffer]);
      // [MQTT-3.1.0-1]: the first packet must be CONNECT; no need to wait for the rest of another.
      if (buf[0] !== 0x10) return notConnect(transport, buf[0]);
      const n = firstPacketLength(buf, ctx.cfg.mqtt.max_packet_size);
      if (n === 'more') continue;
      if (n === 'malformed' || n === 'too_large') return refuse(ctx, transport, protocolLevel(buf) ?? 4, n === 'too_large' ? RC_PACKET_TOO_LARGE : RC_MALFORMED_PACKET, n);
      const p = parseOne(buf.subarray(0, n));
      if (p === undefined || p.cmd !== 'connect') {
        const level = protocolLevel(buf);
        // [MQTT-3.1.2-2]: a level we do not speak gets 0x01 (the 3.1.1 CONNACK every level understands).
        if (level !== undefined && level !== 3 && level !== 4 && level !== 5) return refuse(ctx, transport, 4, RC_UNSUPPORTED_PROTOCOL_VERSION, `protocol level ${level}`);
        log.warn('malformed_connect', { peer: transport.peer }); // [MQTT-3.1.2-1], [MQTT-3.1.2-3], [MQTT-3.1.4-1]
        transport.destroy();
        return;
      }
      connect = p;
      buf = buf.subarray(n);
    }
    // From here until the session actor owns the socket (the lock and auth may take a
    // while), bytes are held aside in order, not lost with this process's mailbox.
    const rest: Buffer[] = [buf];
    transport.pause();
    transport.onData((c) => rest.push(c));
    for (;;) {
      const m = await self.receive((x) => (Array.isArray(x) && x[0] === '$data' ? (x as [string, Buffer]) : undefined), 0);
      if (!Array.isArray(m)) break;
      rest.push(m[1]);
    }
    const version = connect.protocolVersion ?? 4;
    const v = checkConnect(connect, ctx.cfg, transport.peerhost, Date.now(), () => `beamq-${randomBytes(8).toString('hex')}`);
    if (!v.ok) return refuse(ctx, transport, version, v.reasonCode, v.why, connect.clientId);
    const auth = ctx.auth.authenticate({ clientId: v.info.clientId, username: connect.username, password: connect.password });
    if (auth !== 'ok') {
      return refuse(ctx, transport, version, auth === 'bad_credentials' ? RC_BAD_USER_NAME_OR_PASSWORD : RC_NOT_AUTHORIZED, auth, v.info.clientId);
    }
    const attach: Attach = { info: v.info, transport, rest };
    let opened: Opened;
    try {
      opened = await openSession(self, ctx, attach);
    } catch (err) {
      // The id's lock was held too long, or the hand-over failed: the client may retry.
      log.warn('open_session_failed', { client: v.info.clientId, error: err instanceof ExitError ? String(err.reason) : String(err) });
      return refuse(ctx, transport, version, RC_SERVER_BUSY, 'open_session_failed', v.info.clientId);
    }
    owned(self, opened.pid, transport);
    ctx.metrics.connects++;
  };
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
