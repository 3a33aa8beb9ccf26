/**
 * The runtime's one public entry. `broker/` and `scripts/` import only this file.
 *
 * Processes are written as GenServers (typed callback objects, the fast path), plain
 * handler objects, or async functions with selective `receive`. Free functions act on
 * the current node: the node of the running process, else the first node started.
 */
export { logger, setLogLevel, type Logger, type LogLevel } from './log.js';
export { Pid, Ref, NO_NODE, isPid, isRef, type Atom, type NodeName } from './terms.js';
export {
  ExitError,
  isCleanExit,
  isTag,
  tagOf,
  formatTerm,
  serverName,
  type Reason,
  type Msg,
  type Dest,
  type ExitMsg,
  type DownMsg,
  type NodeMsg,
  type SystemMsg,
  type Protocol,
  type CallOf,
  type CastOf,
  type InfoOf,
  type ReplyOf,
  type AnyReplyOf,
  type ServerName,
  type ServerRef,
} from './types.js';
export { realClock, type Clock } from './clock.js';
export { SmallMap, type ReadonlySmallMap } from './process/small-map.js';
export { startNode, LocalNode, type NodeOptions } from './node.js';
export { BUSY_WAIT_LEVELS, DEFAULT_BUSY_WAIT, busyWait, isBusyWait, setBusyWait, type BusyWait } from './process/busy-wait.js';
export { tierUpEarly } from './jit.js';
export { microtask } from './process/microtask.js';
export {
  self,
  currentProcess,
  node,
  spawn,
  spawnLink,
  spawnMonitor,
  send,
  exit,
  link,
  unlink,
  monitor,
  demonitor,
  trapExit,
  register,
  unregister,
  whereis,
  registered,
  processes,
  processInfo,
  isProcessAlive,
  makeRef,
  sendAfter,
  cancelTimer,
  readTimer,
  waitExit,
  type ProcessInfo,
} from './api.js';
export type { Ctx } from './process/process.js';
export type { Handler, SpawnOptions, SpawnTarget } from './process/node-core.js';
export { TIMEOUT, type Self, type Matcher, type Timeout } from './process/receive.js';
export { ExitSignal } from './process/shared.js';
export { DEFAULT_CALL_TIMEOUT_MS, type From } from './process/call.js';
export * as genServer from './behaviours/gen-server.js';
export type { GenServer, Step, InitResult, StartOptions } from './behaviours/gen-server.js';
export * as supervisor from './behaviours/supervisor.js';
export type { SupervisorSpec, ChildInfo, ChildCounts } from './behaviours/supervisor.js';
export { worker, supervisorChild, type ChildSpec, type RestartType, type Shutdown, type ChildType } from './behaviours/child-spec.js';
export type { Strategy } from './behaviours/supervisor-strategy.js';
export { nodes, connectNode, disconnectNode, monitorNode, monitorNodes, spawnOn, exportModule } from './api-dist.js';
export type { DistOptions } from './dist/distribution.js';
export type { NetKernel } from './dist/net-kernel.js';
export type { ExportedFn } from './process/node-core.js';
export { shellBindings, formatShell, type Bindings, type Shell } from './shell.js';
export { NodeNameError } from './dist/node-name.js';
export { CookieError } from './dist/cookie.js';
export * as rpc from './services/rpc.js';
export { RpcError, type RpcReason, type MulticallResult } from './services/rpc.js';
export * as global from './services/global.js';
export * as pg from './services/pg.js';
export type { Group as PgGroup, PgNotice } from './services/pg.js';
