/**
 * Logger factory on winston: one child logger per module, labelled
 * (`logger('epmd:daemon')`). Level comes from `BEAMQ_LOG_LEVEL` (default `info`)
 * or `setLogLevel`. Output goes to stderr so a REPL's stdout stays clean.
 * Messages are snake_case event ids; details go in the fields object.
 */
import winston from 'winston';

/** The shape every module logs through; `epmd/` accepts the same shape as an option. */
export interface Logger {
  error(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  debug(event: string, fields?: Record<string, unknown>): void;
  isDebugEnabled(): boolean;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'silent';

const LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug', 'silent'];

function levelFromEnv(): LogLevel {
  const v = (process.env['BEAMQ_LOG_LEVEL'] ?? 'info').toLowerCase();
  return (LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : 'info';
}

// `fields` is JSON with the event id in front: greppable and parseable at once.
const line = winston.format.printf((info) => {
  const { level, message, label, timestamp, ...fields } = info as Record<string, unknown>;
  const rest = Object.keys(fields).length > 0 ? ' ' + safeJson(fields) : '';
  return `${String(timestamp)} ${String(level)} [${String(label)}] ${String(message)}${rest}`;
});

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) =>
      typeof x === 'bigint' ? x.toString() : x instanceof Error ? { error: x.name, message: x.message } : x,
    );
  } catch {
    return '"<unserialisable>"';
  }
}

const initial = levelFromEnv();
const root = winston.createLogger({
  level: initial === 'silent' ? 'error' : initial,
  silent: initial === 'silent',
  format: winston.format.combine(winston.format.timestamp(), line),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
});

/** Change the level of every logger at run time (config, `--log-level`). */
export function setLogLevel(level: LogLevel): void {
  root.silent = level === 'silent';
  if (level !== 'silent') root.level = level;
}

/** A listener that sees every log call that passes the level check (tests, metrics). */
export type LogSink = (level: Exclude<LogLevel, 'silent'>, label: string, event: string, fields: Record<string, unknown> | undefined) => void;

const sinks: LogSink[] = [];

/** Add a sink; returns a function that removes it. */
export function onLog(sink: LogSink): () => void {
  sinks.push(sink);
  return () => {
    const i = sinks.indexOf(sink);
    if (i >= 0) sinks.splice(i, 1);
  };
}

/** A labelled logger for one module. Create it once at module top. */
export function logger(label: string): Logger {
  const child = root.child({ label });
  // Check the level before winston builds and streams an info object: a filtered
  // call must cost next to nothing, since modules log freely at debug and info.
  const on = (level: Exclude<LogLevel, 'silent'>): boolean => sinks.length > 0 || (!root.silent && root.isLevelEnabled(level));
  const emit = (level: Exclude<LogLevel, 'silent'>, e: string, f: Record<string, unknown> | undefined): void => {
    for (const s of sinks) s(level, label, e, f);
    if (!root.silent && root.isLevelEnabled(level)) child.log(level, e, f);
  };
  return {
    error: (e, f) => void (on('error') && emit('error', e, f)),
    warn: (e, f) => void (on('warn') && emit('warn', e, f)),
    info: (e, f) => void (on('info') && emit('info', e, f)),
    debug: (e, f) => void (on('debug') && emit('debug', e, f)),
    isDebugEnabled: () => on('debug'),
  };
}
