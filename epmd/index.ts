/**
 * The port-mapper, as a library: `startDaemon` runs an EPMD-compatible daemon; the
 * client functions talk to ours or to Erlang's. The protocol module is exported for
 * tools and tests. Nothing here depends on the rest of beamq.
 */
export {
  startDaemon,
  AddressInUseError,
  DEFAULT_PACKET_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  type Daemon,
  type DaemonOptions,
  type RegisteredNode,
} from './daemon.js';
export {
  register,
  portPlease,
  names,
  dump,
  kill,
  stop,
  request,
  defaultEpmdPort,
  EpmdError,
  DEFAULT_TIMEOUT_MS,
  type ClientOptions,
  type RegisterOptions,
  type Registration,
  type NamesResult,
  type EpmdErrorCode,
} from './client.js';
export * as protocol from './protocol.js';
export { DEFAULT_PORT } from './protocol.js';
export { type EpmdLogger, silentLogger } from './logger.js';
