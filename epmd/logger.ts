/**
 * The logging shape `epmd/` accepts as an option, so the daemon needs nothing of the
 * runtime. A winston-backed `logger(label)` from the runtime fits it as is.
 */
export interface EpmdLogger {
  error(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  debug(event: string, fields?: Record<string, unknown>): void;
}

/** The default: say nothing. */
export const silentLogger: EpmdLogger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};
