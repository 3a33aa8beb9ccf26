/**
 * Which node a free function (`send`, `spawn`, `call`, …) acts on: the node of the
 * process whose step is running, else the default node of this OS process (the first
 * one started, or a local `nonode@nohost` node created on first use). After an `await`
 * no process step is running: code there should use its `ctx`/`self` instead.
 */
import { realClock } from '../clock.js';
import { NO_NODE } from '../terms.js';
import { NodeCore } from './node-core.js';
import { current } from './scheduler.js';

let defaultCore: NodeCore | undefined;
let override: NodeCore | undefined;

export function currentCore(): NodeCore {
  return current.proc?.core ?? override ?? (defaultCore ??= new NodeCore(NO_NODE, 0, realClock));
}

/** Run the synchronous part of `fn` with `core` as the current node (for several nodes in one OS process). */
export function withCore<T>(core: NodeCore, fn: () => T): T {
  const prev = override;
  override = core;
  try {
    return fn();
  } finally {
    override = prev;
  }
}

/** Make `core` the default for code outside processes (startNode does this for the first node). */
export function setDefaultCore(core: NodeCore | undefined): void {
  defaultCore = core;
}

export function hasDefaultCore(): boolean {
  return defaultCore !== undefined;
}
