/**
 * The broker's public entry: start an MQTT broker on a runtime node.
 */
export { startBroker, type Broker } from './app.js';
export { loadConfig, DEFAULTS, ConfigError, type Config } from './config.js';
export { passwordLine } from './auth.js';
export type { BrokerContext } from './context.js';
export { formatStatus, CTL_MODULE } from './cluster/ctl.js';
export type { ClusterStatus, ClusterResult } from './cluster/cluster.js';
