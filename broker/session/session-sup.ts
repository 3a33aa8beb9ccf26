/**
 * session_sup: a simple_one_for_one supervisor of session actors, one per client id.
 * Sessions are temporary children: a session that ends is not restarted (its client
 * reconnects and gets a new one), as EMQX's channels.
 */
import { ExitError, genServer, supervisor, worker, type Ctx, type Pid } from '../../runtime/index.js';
import type { BrokerContext } from '../context.js';
import { sessionServer } from './session-server.js';
import type { Attach } from './session-state.js';

export const SESSION_SUP = supervisor.supervisorRef('session_sup');

export function startSessionSup(): Promise<Pid> {
  return supervisor.startLink(
    {
      strategy: 'simple_one_for_one',
      intensity: 1000,
      periodS: 1,
      children: [
        worker('session', (...args: never[]) => {
          const [ctx, attach] = args as unknown as [BrokerContext, Attach];
          // Not waiting for each session's init, and answering with the pid itself (no
          // promise): session_sup then starts a session without parking, rather than one
          // per scheduler round, the bottleneck of a connect storm (as EMQX, whose
          // connection processes are spawn_link'ed).
          return genServer.spawnLink(sessionServer, [ctx, attach]);
        }, { restart: 'temporary', shutdown: 5000 }),
      ],
    },
    { name: 'session_sup' },
  );
}

/**
 * Start a session actor for `attach` under session_sup, from process `via`: answered in
 * the caller's own turn when session_sup is waiting (genServer.callHere), as its start
 * answers with a pid at once; else, as any call, later.
 */
export function startSession(via: Ctx, ctx: BrokerContext, attach: Attach): Pid | Promise<Pid> {
  const r = genServer.callHere(via, SESSION_SUP, ['start_child', [ctx, attach]], Infinity);
  if (r instanceof Promise) return r.then(started);
  // A failure answered at once is still the caller's promise to handle.
  return r[0] === 'ok' ? r[1] : Promise.reject(failed(r[1]));
}

function started(r: readonly ['ok', Pid] | readonly ['error', unknown]): Pid {
  if (r[0] === 'ok') return r[1];
  throw failed(r[1]);
}

const failed = (reason: unknown): ExitError => new ExitError(['start_session_failed', reason]);
