/**
 * The channel manager (EMQX emqx_cm): the client-id registry of this node and a lock
 * per client id, so two connections with the same id are handled one after the other
 * (takeover or discard, never both sessions alive). Monitors every registered session
 * to forget it when it ends, and closes the sockets it owned if it did not end cleanly
 * (a killed actor runs no terminate: as a BEAM port, its socket dies with it).
 */
import { genServer, isCleanExit, serverName, type Ctx, type DownMsg, type From, type GenServer, type Pid } from '../../runtime/index.js';
import type { Transport } from '../connection/transport.js';
import type { BrokerContext } from '../context.js';

export interface CmProtocol {
  calls: {
    /** Resolves when this caller holds the lock of `clientId`. */
    lock: { args: [clientId: string]; reply: 'ok' };
    register: { args: [clientId: string, pid: Pid]; reply: 'ok' };
    /** Clients connected now: the sockets handed to session actors and still open. */
    connected: { args: []; reply: number };
  };
  casts: {
    unlock: { args: [clientId: string] };
    /** `pid` now owns `transport` (a new session, or a takeover). */
    own: { args: [pid: Pid, transport: Transport] };
  };
  info: DownMsg;
}

export const CM = serverName<CmProtocol>('cm');

/*
 * State
 *   ctx      its `sessions` map (client id → session actor) is written only here
 *   locks    client id → callers waiting for the lock (the head holds it)
 *   watched  session pid key → client id, for DOWN
 *   sockets  session pid key → the transports handed to it (closed ones pruned on each hand-over)
 */
interface State {
  readonly ctx: BrokerContext;
  readonly locks: Map<string, From[]>;
  readonly watched: Map<string, string>;
  readonly sockets: Map<string, Transport[]>;
}

export const cmServer: GenServer<CmProtocol, State, BrokerContext> = {
  init: (ctx) => genServer.ok({ ctx, locks: new Map(), watched: new Map(), sockets: new Map() }),

  handleCall(req, from, s, self) {
    switch (req[0]) {
      case 'lock': {
        const q = s.locks.get(req[1]);
        if (q === undefined) {
          s.locks.set(req[1], [from]);
          return genServer.reply('ok' as const, s);
        }
        q.push(from); // answered by unlock
        return genServer.noreply(s);
      }
      case 'register': {
        const [, clientId, pid] = req;
        s.ctx.sessions.set(clientId, pid);
        s.watched.set(pid.key, clientId);
        self.monitor(pid);
        return genServer.reply('ok' as const, s);
      }
      case 'connected': {
        let n = 0;
        for (const ts of s.sockets.values()) for (const t of ts) if (!t.closed) n++;
        return genServer.reply(n, s);
      }
    }
  },

  handleCast(msg, s, self) {
    if (msg[0] === 'own') {
      const [, pid, t] = msg;
      if (!s.watched.has(pid.key)) {
        s.watched.set(pid.key, '');
        self.monitor(pid);
      }
      s.sockets.set(pid.key, [...(s.sockets.get(pid.key) ?? []).filter((x) => !x.closed), t]);
      return genServer.noreply(s);
    }
    const q = s.locks.get(msg[1]);
    if (q === undefined) return genServer.noreply(s);
    q.shift();
    const next = q[0];
    if (next === undefined) s.locks.delete(msg[1]);
    else genServer.replyTo(next, 'ok');
    return genServer.noreply(s);
  },

  handleInfo(msg, s, self) {
    if (msg[0] !== 'DOWN') return genServer.unexpected(self.log, 'info', msg, s);
    const pid = msg[3] as Pid;
    const clientId = s.watched.get(pid.key);
    s.watched.delete(pid.key);
    const reason = msg[4];
    for (const t of s.sockets.get(pid.key) ?? []) if (!t.closed && !isCleanExit(reason)) t.destroy();
    s.sockets.delete(pid.key);
    if (clientId !== undefined && s.ctx.sessions.get(clientId)?.equals(pid) === true) s.ctx.sessions.delete(clientId);
    return genServer.noreply(s);
  },
};

export const lock = (via: Ctx, clientId: string): Promise<unknown> => via.call(CM, ['lock', clientId], Infinity);
export const unlock = (via: Ctx, clientId: string): void => via.cast(CM, ['unlock', clientId]);
export const owned = (via: Ctx, pid: Pid, transport: Transport): void => via.cast(CM, ['own', pid, transport]);
export const connectedCount = (via: Ctx): Promise<number> => via.call(CM, ['connected'], 5_000) as Promise<number>;
export const registerSession = (via: Ctx, clientId: string, pid: Pid): Promise<unknown> => via.call(CM, ['register', clientId, pid], Infinity);
