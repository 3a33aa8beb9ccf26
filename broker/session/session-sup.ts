/**
 * session_sup: a simple_one_for_one supervisor of session actors, one per client id.
 * Sessions are temporary children: a session that ends is not restarted (its client
 * reconnects and gets a new one), as EMQX's channels.
 */
import { ExitError, genServer, Pid, supervisor, worker, type Ctx } from '../../runtime/index.js';
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
 * Start a session actor for `attach` under session_sup, from process `via`: in the
 * caller's own turn when session_sup would only start it and answer
 * (supervisor.startChildHere), else by a call.
 */
export function startSession(via: Ctx, ctx: BrokerContext, attach: Attach): Pid | Promise<Pid> {
  try {
    const here = supervisor.startChildHere(via, SESSION_SUP, [ctx, attach]);
    if (here !== undefined) {
      return here instanceof Pid
        ? here
        : here.catch((err: unknown) => {
            throw startFailed(err);
          });
    }
  } catch (err) {
    return Promise.reject(startFailed(err));
  }
  return (via.call(SESSION_SUP, ['start_child', [ctx, attach]], Infinity) as Promise<readonly ['ok', Pid] | readonly ['error', unknown]>).then((r) => {
    if (r[0] === 'ok') return r[1];
    throw new ExitError(['start_session_failed', r[1]]);
  });
}

function startFailed(err: unknown): ExitError {
  return new ExitError(['start_session_failed', err instanceof ExitError ? err.reason : String(err)]);
}
