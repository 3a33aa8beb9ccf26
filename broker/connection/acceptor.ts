/**
 * A new connection until it has a session: read the CONNECT (within idle_timeout),
 * check it, authenticate, then — holding the client id's lock — take over or discard
 * the existing session, or start a new session actor, which then owns the socket.
 * Runs as a short-lived process per connection.
 */
import { randomBytes } from 'node:crypto';
import { generate, type IConnectPacket, type Packet } from 'mqtt-packet';
import { logger, ExitError, type Self } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { lock, registerSession, unlock } from '../cm/cm.js';
import { RC_BAD_USER_NAME_OR_PASSWORD, RC_MALFORMED_PACKET, RC_NOT_AUTHORIZED, RC_PACKET_TOO_LARGE } from '../mqtt/reason-codes.js';
import type { Attach } from '../session/session-server.js';
import { startSession } from '../session/session-sup.js';
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
    let rest = Buffer.alloc(0);
    while (connect === undefined) {
      const m = await self.receive((x) => (Array.isArray(x) && (x[0] === '$data' || x[0] === '$closed') ? x : undefined), Math.max(0, deadline - Date.now()));
      if (!Array.isArray(m) || m[0] === '$closed') {
        if (!Array.isArray(m)) log.debug('connect_timeout', { peer: transport.peer });
        transport.destroy();
        return;
      }
      buf = Buffer.concat([buf, m[1] as Buffer]);
      const n = firstPacketLength(buf, ctx.cfg.mqtt.max_packet_size);
      if (n === 'more') continue;
      if (n === 'malformed' || n === 'too_large') return refuse(ctx, transport, 5, n === 'too_large' ? RC_PACKET_TOO_LARGE : RC_MALFORMED_PACKET, n);
      const p = parseOne(buf.subarray(0, n));
      rest = buf.subarray(n);
      if (p === undefined || p.cmd !== 'connect') {
        // [MQTT-3.1.0-1]: the first packet must be CONNECT.
        log.warn('first_packet_not_connect', { peer: transport.peer, cmd: p?.cmd ?? 'malformed' });
        transport.destroy();
        return;
      }
      connect = p;
    }
    const version = connect.protocolVersion ?? 4;
    const v = checkConnect(connect, ctx.cfg, transport.peerhost, Date.now(), () => `beamq-${randomBytes(8).toString('hex')}`);
    if (!v.ok) return refuse(ctx, transport, version, v.reasonCode, v.why, connect.clientId);
    const auth = ctx.auth.authenticate({ clientId: v.info.clientId, username: connect.username, password: connect.password });
    if (auth !== 'ok') {
      return refuse(ctx, transport, version, auth === 'bad_credentials' ? RC_BAD_USER_NAME_OR_PASSWORD : RC_NOT_AUTHORIZED, auth, v.info.clientId);
    }
    const attach: Attach = { info: v.info, transport, rest };
    const id = v.info.clientId;
    await lock(self, id);
    try {
      const existing = ctx.sessions.get(id);
      if (existing !== undefined) {
        try {
          if (!v.info.cleanStart) {
            await self.call(existing, ['takeover', attach], 15_000);
            ctx.metrics.connects++;
            return;
          }
          await self.call(existing, ['discard'], 15_000);
        } catch (err) {
          // The old session died meanwhile: start afresh.
          if (!(err instanceof ExitError)) throw err;
        }
      }
      const pid = await startSession(self, ctx, attach);
      await registerSession(self, id, pid);
      ctx.metrics.connects++;
    } finally {
      unlock(self, id);
    }
  };
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
