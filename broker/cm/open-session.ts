/**
 * Opening a session for a CONNECT (EMQX emqx_cm:open_session, FEATURES §3): hold the
 * client id's lock at its home, then take over or discard whatever session holds the
 * id — here or on another node — or start a new one, register it, and release.
 */
import { ExitError, logger, type Ctx, type NodeName, type Pid, type Self } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { registryWill } from '../session/session-connection.js';
import { TAKEOVER_TIMEOUT_MS, type Attach } from '../session/session-state.js';
import type { Pending, SessionSnapshot } from '../session/session.js';
import { startSession } from '../session/session-sup.js';
import { registerNewSession, registerSession } from './cm.js';
import { homeOf } from './home.js';
import { REGISTRY, type ClaimReply, type Registration } from './registry.js';

const log = logger('broker:cm');

/** How long a CONNECT waits for its id's lock (another connection with the id holds it). */
const CLAIM_TIMEOUT_MS = 15_000;
/** Attempts to reach an id's home before claiming it here (the home went down meanwhile). */
const CLAIM_ATTEMPTS = 4;

/** How the session was opened: Session Present follows from it. */
export type Opened = { readonly pid: Pid; readonly how: 'new' | 'taken_over' | 'moved' };

/**
 * The common case, a client id new to the cluster whose home is this node: its free
 * lock is taken here and the session started without a process of its own — `via`
 * (the listener) asks session_sup, as esockd's acceptor starts each connection under
 * its supervisor. No process holds the lock meanwhile: it is released when the
 * session is registered, or here when it could not start. False, having done nothing,
 * when the id is held or known anywhere: the caller then opens it from a process
 * (openSession), which may have to take a session over.
 */
export function openNewSession(via: Ctx, ctx: BrokerContext, attach: Attach, failed: (err: unknown) => void): boolean {
  const id = attach.info.clientId;
  if (ctx.sessions.has(id)) return false;
  if (ctx.members.size > 0 && homeOf(id, [ctx.node, ...ctx.members]) !== ctx.node) return false;
  if (!ctx.registry.tryClaimNew(id)) return false;
  const started = (pid: Pid): void => {
    registerNewSession(via, id, pid, registryWill(attach.info, attach.info.will), ctx.node, attach.transport);
    ctx.metrics.connects++;
  };
  const r = startSession(via, ctx, attach);
  if (r instanceof Promise) {
    r.then(started, (err: unknown) => {
      via.cast(REGISTRY, ['release', id, undefined]);
      failed(err);
    });
  } else started(r);
  return true;
}

/** Open the session for `attach` from process `self`; the session actor then owns the socket. */
export async function openSession(self: Self, ctx: BrokerContext, attach: Attach): Promise<Opened> {
  const id = attach.info.clientId;
  const [home, existing] = await claim(self, ctx, id);
  let released = false;
  try {
    const opened = await takeOrStart(self, ctx, attach, existing);
    await registerSession(self, id, opened.pid, registryWill(attach.info, attach.info.will), home, attach.transport);
    released = true; // registering released the lock
    return opened;
  } finally {
    if (!released) self.cast(['cm_registry', home], ['release', id, undefined]);
  }
}

/** Take the id's lock at its home; if the home cannot be reached, at the next one (or here). */
async function claim(self: Self, ctx: BrokerContext, id: string): Promise<readonly [NodeName, Registration | undefined]> {
  for (let attempt = 1; ; attempt++) {
    const home = ctx.dist.alive && attempt <= CLAIM_ATTEMPTS ? homeOf(id, [ctx.node, ...ctx.members]) : ctx.node;
    if (home === ctx.node) {
      // A free lock here is taken without a round trip; the registry then guards it.
      const r = ctx.registry.tryClaim(id, self.self);
      if (r !== 'busy') {
        self.cast(REGISTRY, ['held', id, self.self]);
        return [home, r];
      }
    }
    try {
      const r = (await self.call(home === ctx.node ? REGISTRY : ['cm_registry', home], ['claim', id], CLAIM_TIMEOUT_MS)) as ClaimReply;
      return [home, r[1]];
    } catch (err) {
      // A lock held that long, or no registry here: the caller refuses the CONNECT.
      if (!(err instanceof ExitError) || home === ctx.node || err.reason === 'timeout') throw err;
      log.warn('home_unreachable', { client: id, home, attempt, reason: String(err.reason) });
      // The home is down or cut off: wait (bounded) for the members to say so, then re-hash.
      if (ctx.members.has(home)) await self.receive(() => undefined, 100 * attempt);
    }
  }
}

async function takeOrStart(self: Ctx, ctx: BrokerContext, attach: Attach, existing: Registration | undefined): Promise<Opened> {
  const id = attach.info.clientId;
  const local = ctx.sessions.get(id);
  const remote = existing !== undefined && existing.node !== ctx.node ? existing.pid : undefined;
  if (local !== undefined) {
    // Two live sessions (the registry missed one, members changing): keep the local one.
    if (remote !== undefined) await kick(self, remote);
    if (attach.info.cleanStart) await kick(self, local);
    else {
      const r = await ask<'ok' | 'ended'>(self, local, ['takeover', attach]);
      if (r === 'ok') return { pid: local, how: 'taken_over' };
      // 'ended' (the old session lasted only with its connection) or gone: start afresh.
    }
  } else if (remote !== undefined) {
    if (attach.info.cleanStart) await kick(self, remote);
    else {
      const moved = await moveHere(self, ctx, attach, remote);
      if (moved !== undefined) return { pid: moved, how: 'moved' };
    }
  }
  return { pid: await startSession(self, ctx, attach), how: 'new' };
}

/**
 * Take over the session `old` on another node (FEATURES §3.4): begin (it closes its
 * connection and keeps deliveries), a session here restores its state and subscribes,
 * end (it hands over what it kept and ends), resume here. Undefined: nothing to move.
 */
async function moveHere(self: Ctx, ctx: BrokerContext, attach: Attach, old: Pid): Promise<Pid | undefined> {
  const begun = await ask<readonly ['ok', SessionSnapshot] | 'ended'>(self, old, ['takeover_begin']);
  if (begun === undefined || begun === 'ended') return undefined;
  const pid = await startSession(self, ctx, { ...attach, adopting: true });
  try {
    await self.call(pid, ['adopt', begun[1]], TAKEOVER_TIMEOUT_MS);
  } catch (err) {
    self.exit(old, 'kill'); // it is waiting for an end that will not come
    throw err;
  }
  let pendings = await ask<Pending[]>(self, old, ['takeover_end']);
  if (pendings === undefined) {
    // What it kept since `begin` is lost with it; everything before moved with the snapshot.
    log.warn('takeover_end_failed', { client: attach.info.clientId, old: String(old) });
    pendings = [];
  }
  await self.call(pid, ['resume', pendings], TAKEOVER_TIMEOUT_MS);
  return pid;
}

/** End a session for a clean-start connection (it publishes its will), wherever it is. */
async function kick(self: Ctx, pid: Pid): Promise<void> {
  await ask(self, pid, ['discard']);
}

/**
 * Call a session about the hand-over; undefined when it is gone. One that does not
 * answer in time is killed (EMQX does the same), so that it cannot come back to life.
 */
async function ask<R>(self: Ctx, pid: Pid, req: readonly unknown[]): Promise<R | undefined> {
  try {
    return (await self.call(pid, req, TAKEOVER_TIMEOUT_MS)) as R;
  } catch (err) {
    if (!(err instanceof ExitError)) throw err;
    if (err.reason === 'timeout') {
      log.warn('session_unresponsive_killed', { pid: String(pid), req: String(req[0]) });
      self.exit(pid, 'kill');
    }
    return undefined;
  }
}
