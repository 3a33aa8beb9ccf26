/**
 * The channel manager (EMQX emqx_cm): this node's sessions by client id (the
 * cluster-wide entry and lock of each id live on its home, see registry.ts). It
 * monitors every session to forget it when it ends — telling the id's home — closes
 * the sockets a session owned if it did not end cleanly (a killed actor runs no
 * terminate: as a BEAM port, its socket dies with it), and re-registers the local
 * sessions with their homes whenever the members change.
 */
import { genServer, isCleanExit, serverName, type Ctx, type DownMsg, type GenServer, type NodeName, type Pid } from '../../runtime/index.js';
import type { Transport } from '../connection/transport.js';
import type { BrokerContext } from '../context.js';
import type { Will } from '../connection/connect.js';
import { registryNodes } from './home.js';
import type { Registration } from './registry.js';

export interface CmProtocol {
  calls: {
    /**
     * `pid` holds `clientId` on this node now and owns `transport` (a new session, or a
     * takeover): record both, and tell the registry — the node whose lock the
     * connection holds (`claimedAt`) gets the release with the entry, the other
     * registry nodes the entry alone.
     */
    register: { args: [clientId: string, pid: Pid, will: Will | undefined, claimedAt: NodeName, transport: Transport]; reply: 'ok' };
    /** Clients connected now: the sockets handed to session actors and still open. */
    connected: { args: []; reply: number };
  };
  casts: {
    /** The session's will changed (a normal DISCONNECT clears it): tell its home. */
    will: { args: [clientId: string, pid: Pid, will: Will | undefined] };
    /** The members changed: register every local session with its (new) home. */
    rehome: { args: [] };
  };
  info: DownMsg;
}

export const CM = serverName<CmProtocol>('cm');

/*
 * State
 *   ctx      its `sessions` map (client id → session actor) is written only here
 *   regs     client id → its registration, as its registry nodes keep it
 *   homes    client id → the nodes keeping that registration (to move it when members change)
 *   watched  session pid key → client id, for DOWN
 *   sockets  session pid key → the transports handed to it (closed ones pruned on each hand-over)
 */
interface State {
  readonly ctx: BrokerContext;
  readonly regs: Map<string, Registration>;
  readonly homes: Map<string, readonly NodeName[]>;
  readonly watched: Map<string, string>;
  readonly sockets: Map<string, Transport[]>;
}

export const cmServer: GenServer<CmProtocol, State, BrokerContext> = {
  init: (ctx) => genServer.ok({ ctx, regs: new Map(), homes: new Map(), watched: new Map(), sockets: new Map() }),

  handleCall(req, _from, s, self) {
    switch (req[0]) {
      case 'register': {
        const [, clientId, pid, will, claimedAt, transport] = req;
        s.ctx.sessions.set(clientId, pid);
        if (s.watched.get(pid.key) !== clientId) {
          if (!s.watched.has(pid.key)) self.monitor(pid);
          s.watched.set(pid.key, clientId);
        }
        own(s, pid, transport);
        const reg: Registration = { node: s.ctx.node, pid, will, since: Date.now() };
        s.regs.set(clientId, reg);
        const at = registryNodes(clientId, [s.ctx.node, ...s.ctx.members], s.ctx.node);
        self.cast(['cm_registry', claimedAt], ['release', clientId, reg]);
        for (const n of at) if (n !== claimedAt) self.cast(['cm_registry', n], ['register', clientId, reg]);
        // A lock taken at a node no longer among them (members changed meanwhile) holds the entry too.
        s.homes.set(clientId, at.includes(claimedAt) ? at : [...at, claimedAt]);
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
    switch (msg[0]) {
      case 'will': {
        const [, id, pid, will] = msg;
        const reg = s.regs.get(id);
        if (reg === undefined || !reg.pid.equals(pid)) return genServer.noreply(s);
        s.regs.set(id, { ...reg, will });
        registerAtHomes(s, id, self);
        return genServer.noreply(s);
      }
      case 'rehome':
        for (const id of s.regs.keys()) registerAtHomes(s, id, self);
        return genServer.noreply(s);
    }
  },

  handleInfo(msg, s, self) {
    if (msg[0] !== 'DOWN') return genServer.unexpected(self.log, 'info', msg, s);
    const pid = msg[3] as Pid;
    const clientId = s.watched.get(pid.key);
    s.watched.delete(pid.key);
    const reason = msg[4];
    for (const t of s.sockets.get(pid.key) ?? []) if (!t.closed && !isCleanExit(reason)) t.destroy();
    s.sockets.delete(pid.key);
    if (clientId !== undefined && s.ctx.sessions.get(clientId)?.equals(pid) === true) {
      s.ctx.sessions.delete(clientId);
      s.regs.delete(clientId);
      for (const n of s.homes.get(clientId) ?? []) self.cast(['cm_registry', n], ['unregister', clientId, pid]);
      s.homes.delete(clientId);
    }
    return genServer.noreply(s);
  },
};

/** `pid` now owns `t`: kept to be closed if `pid` dies uncleanly (the sockets it owned before and closed are dropped). */
function own(s: State, pid: Pid, t: Transport): void {
  const had = s.sockets.get(pid.key);
  if (had === undefined) s.sockets.set(pid.key, [t]);
  else s.sockets.set(pid.key, [...had.filter((x) => !x.closed), t]);
}

/** Register `id` at its registry nodes now, and take it back from those no longer among them. */
function registerAtHomes(s: State, id: string, self: Ctx): void {
  const reg = s.regs.get(id);
  if (reg === undefined) return;
  const at = registryNodes(id, [s.ctx.node, ...s.ctx.members], s.ctx.node);
  for (const n of at) self.cast(['cm_registry', n], ['register', id, reg]);
  for (const n of s.homes.get(id) ?? []) if (!at.includes(n)) self.cast(['cm_registry', n], ['unregister', id, reg.pid]);
  s.homes.set(id, at);
}

export const connectedCount = (via: Ctx): Promise<number> => via.call(CM, ['connected'], 5_000) as Promise<number>;
export const registerSession = (via: Ctx, clientId: string, pid: Pid, will: Will | undefined, claimedAt: NodeName, transport: Transport): Promise<unknown> =>
  via.call(CM, ['register', clientId, pid, will, claimedAt, transport], Infinity);
export const willChanged = (via: Ctx, clientId: string, will: Will | undefined): void => via.cast(CM, ['will', clientId, via.self, will]);
