/**
 * The runtime's one public entry. `broker/` and `scripts/` import only this file.
 */
export { logger, setLogLevel, type Logger, type LogLevel } from './log.js';
