/**
 * Child specifications: what a supervisor starts, how it restarts it and how it stops
 * it. `worker()` and `supervisorChild()` fill OTP's defaults (shutdown 5000 ms for a
 * worker, infinity for a supervisor). Pure.
 */
import type { Pid } from '../terms.js';

export type RestartType = 'permanent' | 'transient' | 'temporary';
export type Shutdown = number | 'brutal_kill' | 'infinity';
export type ChildType = 'worker' | 'supervisor';

export interface ChildSpec {
  readonly id: string;
  /**
   * Start the child linked to the calling process (the supervisor): call a `startLink`
   * before any `await`. Extra arguments come from `startChild` under simple_one_for_one.
   */
  readonly start: (...extra: never[]) => Pid | Promise<Pid>;
  readonly restart: RestartType;
  readonly shutdown: Shutdown;
  readonly type: ChildType;
}

export type ChildOptions = Partial<Pick<ChildSpec, 'restart' | 'shutdown'>>;

export function worker(id: string, start: ChildSpec['start'], opts: ChildOptions = {}): ChildSpec {
  return { id, start, restart: opts.restart ?? 'permanent', shutdown: opts.shutdown ?? 5000, type: 'worker' };
}

export function supervisorChild(id: string, start: ChildSpec['start'], opts: ChildOptions = {}): ChildSpec {
  return { id, start, restart: opts.restart ?? 'permanent', shutdown: opts.shutdown ?? 'infinity', type: 'supervisor' };
}

/** Why a spec is invalid, or undefined. */
export function checkChildSpec(s: ChildSpec): string | undefined {
  if (typeof s.id !== 'string' || s.id === '') return 'id must be a non-empty string';
  if (typeof s.start !== 'function') return `child ${s.id}: start must be a function`;
  if (!['permanent', 'transient', 'temporary'].includes(s.restart)) return `child ${s.id}: bad restart type ${String(s.restart)}`;
  if (!(s.shutdown === 'brutal_kill' || s.shutdown === 'infinity' || (typeof s.shutdown === 'number' && s.shutdown >= 0))) {
    return `child ${s.id}: bad shutdown ${String(s.shutdown)}`;
  }
  if (s.type !== 'worker' && s.type !== 'supervisor') return `child ${s.id}: bad type ${String(s.type)}`;
  return undefined;
}
