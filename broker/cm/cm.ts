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
import type { Registration, RegistryProtocol } from './registry.js';

type RegisterArgs = [clientId: string, pid: Pid, will: Will | undefined, claimedAt: NodeName, transport: Transport];

export interface CmProtocol {
  calls: {
    /**
     * `pid` holds `clientId` on this node now and owns `transport` (a new session, or a
     * takeover): record both, and tell the registry — the node whose lock the
     * connection holds (`claimedAt`) gets the release with the entry, the other
     * registry nodes the entry alone. A call from an opener process: the registry
     * monitors it as the lock's holder, so it must outlive the release sent from here
     * (its exit would free the lock before the entry is there, and a connection
     * waiting for the id would not find the session to take over).
     */
    register: { args: RegisterArgs; reply: 'ok' };
    /** Clients connected now: the sockets handed to session actors and still open. */
    connected: { args: []; reply: number };
  };
  casts: {
    /**
     * The same as a cast, for a lock that no process holds (a new id opened by the
     * listener, open-session.ts): nothing waits for it, as EMQX's channel registers itself.
     */
    register: { args: RegisterArgs };
    /** The session's will changed (a normal DISCONNECT clears it): tell its home. */
    will: { args: [clientId: string, pid: Pid, will: Will | undefined] };
    /** The members changed: register every local session with its (new) home. */
    rehome: { args: [] };
  };
  info: DownMsg;
}

export const CM = serverName<CmProtocol>('cm');

/** A client id held here: its registration, as its registry nodes keep it, and those nodes (to move it when members change). */
interface Held {
  reg: Registration;
  homes: readonly NodeName[];
}

/** A session actor monitored here: the client id it holds and the transports handed to it (closed ones pruned on each hand-over). */
interface Watched {
  id: string;
  sockets: Transport[];
}

/*
 * State (one record per client in each map: a connect storm writes each map once)
 *   ctx      its `sessions` map (client id → session actor) is written only here
 *   held     client id → its registration and registry nodes
 *   watched  session pid key → its client id and sockets, for DOWN
 */
interface State {
  readonly ctx: BrokerContext;
  readonly held: Map<string, Held>;
  readonly watched: Map<string, Watched>;
}

export const cmServer: GenServer<CmProtocol, State, BrokerContext> = {
  init: (ctx) => genServer.ok({ ctx, held: new Map(), watched: new Map() }),

  handleCall(req, _from, s, self) {
    switch (req[0]) {
      case 'register':
        register(s, req, self);
        return genServer.reply('ok' as const, s);
      case 'connected': {
        let n = 0;
        for (const w of s.watched.values()) for (const t of w.sockets) if (!t.closed) n++;
        return genServer.reply(n, s);
      }
    }
  },

  handleCast(msg, s, self) {
    switch (msg[0]) {
      case 'register':
        register(s, msg, self);
        return genServer.noreply(s);
      case 'will': {
        const [, id, pid, will] = msg;
        const h = s.held.get(id);
        if (h === undefined || !h.reg.pid.equals(pid)) return genServer.noreply(s);
        h.reg = { ...h.reg, will };
        registerAtHomes(s, id, h, self);
        return genServer.noreply(s);
      }
      case 'rehome':
        for (const [id, h] of s.held) registerAtHomes(s, id, h, self);
        return genServer.noreply(s);
    }
  },

  handleInfo(msg, s, self) {
    if (msg[0] !== 'DOWN') return genServer.unexpected(self.log, 'info', msg, s);
    const pid = msg[3] as Pid;
    const w = s.watched.get(pid.key);
    if (w === undefined) return genServer.noreply(s);
    s.watched.delete(pid.key);
    const reason = msg[4];
    if (!isCleanExit(reason)) for (const t of w.sockets) if (!t.closed) t.destroy();
    const clientId = w.id;
    if (s.ctx.sessions.get(clientId)?.equals(pid) === true) {
      s.ctx.sessions.delete(clientId);
      for (const n of s.held.get(clientId)?.homes ?? []) self.cast(['cm_registry', n], ['unregister', clientId, pid]);
      s.held.delete(clientId);
    }
    return genServer.noreply(s);
  },
};

function register(s: State, [, clientId, pid, will, claimedAt, transport]: readonly ['register', ...RegisterArgs], self: Ctx): void {
  s.ctx.sessions.set(clientId, pid);
  const w = s.watched.get(pid.key);
  if (w === undefined) {
    self.monitor(pid);
    s.watched.set(pid.key, { id: clientId, sockets: [transport] });
  } else {
    w.id = clientId;
    w.sockets = [...w.sockets.filter((x) => !x.closed), transport];
  }
  const reg: Registration = { node: s.ctx.node, pid, will, since: Date.now() };
  const at = registryNodes(clientId, [s.ctx.node, ...s.ctx.members], s.ctx.node);
  genServer.castHere<RegistryProtocol>(self, ['cm_registry', claimedAt], ['release', clientId, reg]);
  for (const n of at) if (n !== claimedAt) self.cast(['cm_registry', n], ['register', clientId, reg]);
  // A lock taken at a node no longer among them (members changed meanwhile) holds the entry too.
  s.held.set(clientId, { reg, homes: at.includes(claimedAt) ? at : [...at, claimedAt] });
}

/** Register `id` at its registry nodes now, and take it back from those no longer among them. */
function registerAtHomes(s: State, id: string, h: Held, self: Ctx): void {
  const at = registryNodes(id, [s.ctx.node, ...s.ctx.members], s.ctx.node);
  for (const n of at) self.cast(['cm_registry', n], ['register', id, h.reg]);
  for (const n of h.homes) if (!at.includes(n)) self.cast(['cm_registry', n], ['unregister', id, h.reg.pid]);
  h.homes = at;
}

export const connectedCount = (via: Ctx): Promise<number> => via.call(CM, ['connected'], 5_000) as Promise<number>;
/** Register a session from the process holding the id's lock (see the `register` call). */
export const registerSession = (via: Ctx, clientId: string, pid: Pid, will: Will | undefined, claimedAt: NodeName, transport: Transport): Promise<unknown> =>
  via.call(CM, ['register', clientId, pid, will, claimedAt, transport], Infinity);
/** Register a session whose id's lock no process holds (see the `register` cast). */
export const registerNewSession = (via: Ctx, clientId: string, pid: Pid, will: Will | undefined, claimedAt: NodeName, transport: Transport): void =>
  genServer.castHere(via, CM, ['register', clientId, pid, will, claimedAt, transport]);
export const willChanged = (via: Ctx, clientId: string, will: Will | undefined): void => via.cast(CM, ['will', clientId, via.self, will]);
