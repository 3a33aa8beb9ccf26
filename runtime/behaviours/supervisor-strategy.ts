/**
 * The supervisor's decisions as a pure function: given the strategy, the children in
 * start order, the recent restarts and which child exited why, say what to do.
 * OTP's rules (FEATURES P10): permanent always restarts, transient only after an
 * abnormal exit, temporary never (and is forgotten); more than `intensity` restarts
 * within `periodS` seconds makes the supervisor give up. Pure: no processes, no clock.
 */
import { isCleanExit, type Reason } from '../types.js';
import type { RestartType } from './child-spec.js';

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'simple_one_for_one';

export interface SupFlags {
  readonly strategy: Strategy;
  /** Restarts allowed within the period (OTP default 1). */
  readonly intensity: number;
  /** The period, seconds (OTP default 5). */
  readonly periodS: number;
}

export const DEFAULT_FLAGS: SupFlags = { strategy: 'one_for_one', intensity: 1, periodS: 5 };

/** A child as the strategy sees it. `key` identifies it (id, or pid key under simple_one_for_one). */
export interface ChildView {
  readonly key: string;
  readonly restart: RestartType;
  /** False for a child that is not running (terminated and kept, or never started). */
  readonly running: boolean;
}

export type SupAction =
  /** Stop these running children, in this order (reverse start order). */
  | readonly ['terminate', readonly string[]]
  /** (Re)start these children, in this order (start order). */
  | readonly ['start', readonly string[]]
  /** Forget this child (a temporary one, or a simple_one_for_one instance). */
  | readonly ['delete', string]
  /** Keep the child's spec but do not restart it. */
  | readonly ['keep', string]
  /** Too many restarts: stop every child and exit with this reason. */
  | readonly ['give_up', Reason];

export interface Decision {
  /** Restart timestamps (ms) still inside the period, including any new one. */
  readonly restarts: readonly number[];
  readonly actions: readonly SupAction[];
}

/** Does a child with this restart type come back after exiting with `reason`? */
export function shouldRestart(restart: RestartType, reason: Reason): boolean {
  if (restart === 'permanent') return true;
  if (restart === 'transient') return !isCleanExit(reason);
  return false;
}

/** Record one restart at `nowMs`; undefined when that exceeds the intensity. */
export function addRestart(flags: SupFlags, restarts: readonly number[], nowMs: number): number[] | undefined {
  const since = nowMs - flags.periodS * 1000;
  const kept = restarts.filter((t) => t > since);
  kept.push(nowMs);
  return kept.length > flags.intensity ? undefined : kept;
}

/** What to do when child `key` exited with `reason`. `children` are in start order. */
export function onChildExit(
  flags: SupFlags,
  children: readonly ChildView[],
  restarts: readonly number[],
  key: string,
  reason: Reason,
  nowMs: number,
): Decision {
  const i = children.findIndex((c) => c.key === key);
  const child = children[i];
  if (child === undefined) return { restarts, actions: [] };
  if (!shouldRestart(child.restart, reason)) {
    const forget = child.restart === 'temporary' || flags.strategy === 'simple_one_for_one';
    return { restarts, actions: [forget ? ['delete', key] : ['keep', key]] };
  }
  const next = addRestart(flags, restarts, nowMs);
  if (next === undefined) return { restarts, actions: [['give_up', 'shutdown']] };
  switch (flags.strategy) {
    case 'one_for_one':
    case 'simple_one_for_one':
      return { restarts: next, actions: [['start', [key]]] };
    case 'one_for_all':
    case 'rest_for_one': {
      const affected = flags.strategy === 'one_for_all' ? children : children.slice(i);
      const others = affected.filter((c) => c.key !== key);
      const toStop = others.filter((c) => c.running).map((c) => c.key).reverse();
      // Temporary siblings are stopped but not brought back; transient and permanent are.
      const toStart = affected.filter((c) => c.key === key || c.restart !== 'temporary').map((c) => c.key);
      const forget = others.filter((c) => c.restart === 'temporary').map((c): SupAction => ['delete', c.key]);
      const actions: SupAction[] = [];
      if (toStop.length > 0) actions.push(['terminate', toStop]);
      actions.push(...forget, ['start', toStart]);
      return { restarts: next, actions };
    }
  }
}

/** Children to stop when the supervisor shuts down: every running one, in reverse start order. */
export function shutdownOrder(children: readonly ChildView[]): string[] {
  return children.filter((c) => c.running).map((c) => c.key).reverse();
}
