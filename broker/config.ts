/**
 * Broker configuration: the type, OTP/EMQX-like defaults, and where values come from
 * (defaults < JSON config file < `BEAMQ_…` environment variables, EMQX's `EMQX_…`
 * convention: `BEAMQ_MQTT__MAX_PACKET_SIZE=1MB` sets `mqtt.max_packet_size`).
 * Validation fails with one clear message naming the key. Pure (reads only what it is given).
 */
import { BUSY_WAIT_LEVELS, DEFAULT_BUSY_WAIT, isBusyWait, type BusyWait } from '../runtime/index.js';

export interface ListenerConfig {
  readonly enable: boolean;
  /** `host:port`, or a port alone (all interfaces), as EMQX's `bind`. Port 0 picks a free one. */
  readonly bind: string;
}

export interface TcpListenerConfig extends ListenerConfig {
  /**
   * `handle`: sockets on libuv's stream handle (tcp-handle.ts: no node:net Socket, a
   * connection costs a third less CPU and ~2 KB less memory); `net`: node:net. A Node
   * without the handle bindings gets `net` (logged).
   */
  readonly backend: 'handle' | 'net';
}

export interface WsListenerConfig extends ListenerConfig {
  readonly path: string;
}

export interface Config {
  readonly node: {
    /** The node name (`--name` wins); `name@host`, or `name` for a long name on this host. */
    readonly name: string;
    /** The cookie (`--cookie` wins); empty = `$HOME/.erlang.cookie`. */
    readonly cookie: string;
    /** Where membership and other node state is kept. */
    readonly data_dir: string;
    /** The event loop's busy wait (erl's +sbwt; `--busy-wait` wins): none … very_long. */
    readonly busy_wait: BusyWait;
  };
  readonly listeners: {
    readonly tcp: TcpListenerConfig;
    readonly ws: WsListenerConfig;
    /**
     * At start, talk MQTT to our own TCP listener over loopback before serving
     * (connection/self-check.ts: proves the listener, and settles V8's object shapes of
     * a connection's close before the connect path is optimized).
     */
    readonly self_check: boolean;
  };
  readonly mqtt: {
    /** Largest packet accepted (and sent: the smaller of this and the client's). */
    readonly max_packet_size: number;
    /** Client ids longer than this are refused (0x85). */
    readonly max_clientid_len: number;
    /** Our Receive Maximum towards clients: inflight QoS 1/2 messages per session. */
    readonly max_inflight: number;
    /** Queued messages per session while its window is full or the client is away; 0 = unlimited. */
    readonly max_mqueue_len: number;
    readonly mqueue_store_qos0: boolean;
    /** Unacknowledged QoS 1/2 messages are sent again after this long (ms). */
    readonly retry_interval_ms: number;
    /** Incoming QoS 2 messages awaiting PUBREL, per session. */
    readonly max_awaiting_rel: number;
    readonly await_rel_timeout_ms: number;
    /** Upper bound on a client's Session Expiry Interval (s). */
    readonly max_session_expiry_s: number;
    /** The largest Topic Alias Maximum we accept from clients (v5). */
    readonly max_topic_alias: number;
    /** Close a connection that sends no CONNECT within this long (ms). */
    readonly idle_timeout_ms: number;
    readonly retain_available: boolean;
    readonly wildcard_subscription: boolean;
    readonly shared_subscription: boolean;
    readonly shared_subscription_strategy: 'round_robin' | 'random' | 'hash_clientid';
    /** v5 Server Keep Alive; 0 = use the client's. */
    readonly server_keepalive_s: number;
    /** Unread bytes queued to a client's socket beyond which deliveries go to its mqueue. */
    readonly socket_high_water: number;
  };
  readonly auth: {
    readonly allow_anonymous: boolean;
    /** `username:salt:hash` lines (scrypt), see broker/auth.ts; empty = no password file. */
    readonly password_file: string;
    /** ACL rules, see broker/auth.ts; empty = allow all. */
    readonly acl_file: string;
  };
  readonly sys: {
    /** $SYS/brokers/<node>/… publish interval (ms); 0 = off. */
    readonly interval_ms: number;
  };
  readonly cluster: {
    readonly discovery_strategy: 'manual' | 'static';
    readonly static: { readonly seeds: readonly string[] };
    /** Heal partitions automatically (EMQX cluster.autoheal). */
    readonly autoheal: boolean;
    /** Force-leave members down longer than this (ms); 0 = never. */
    readonly autoclean_ms: number;
  };
}

export const DEFAULTS: Config = {
  node: { name: 'beamq@127.0.0.1', cookie: '', data_dir: '.beamq-data', busy_wait: DEFAULT_BUSY_WAIT },
  listeners: {
    tcp: { enable: true, bind: '0.0.0.0:1883', backend: 'handle' },
    ws: { enable: true, bind: '0.0.0.0:8083', path: '/mqtt' },
    self_check: true,
  },
  mqtt: {
    max_packet_size: 1024 * 1024,
    max_clientid_len: 65535,
    max_inflight: 32,
    max_mqueue_len: 1000,
    mqueue_store_qos0: true,
    retry_interval_ms: 30_000,
    max_awaiting_rel: 100,
    await_rel_timeout_ms: 300_000,
    max_session_expiry_s: 7_200,
    max_topic_alias: 65_535,
    idle_timeout_ms: 15_000,
    retain_available: true,
    wildcard_subscription: true,
    shared_subscription: true,
    shared_subscription_strategy: 'round_robin',
    server_keepalive_s: 0,
    socket_high_water: 1024 * 1024,
  },
  auth: { allow_anonymous: true, password_file: '', acl_file: '' },
  sys: { interval_ms: 60_000 },
  cluster: { discovery_strategy: 'manual', static: { seeds: [] }, autoheal: true, autoclean_ms: 24 * 3600 * 1000 },
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Split a `bind` value: `host:port`, `[v6]:port` or a port alone. */
export function parseBind(bind: string, key = 'bind'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(bind) ?? /^()()(\d+)$/.exec(bind);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`config ${key}: expected host:port or a port, got ${JSON.stringify(bind)}`);
  return { host: m[1] !== undefined && m[1] !== '' ? m[1] : m[2] !== undefined && m[2] !== '' ? m[2] : '0.0.0.0', port };
}

/** Inclusive bounds of numeric settings beyond "a whole number ≥ 0" (which all of them must be). */
const RANGES: Readonly<Record<string, readonly [number, number]>> = {
  'mqtt.max_packet_size': [1, 268_435_455], // the largest Remaining Length + header (§2.2.3)
  'mqtt.max_clientid_len': [1, 65_535],
  'mqtt.max_inflight': [1, 65_535],
  'mqtt.retry_interval_ms': [1, 2 ** 31 - 1],
  'mqtt.idle_timeout_ms': [1, 2 ** 31 - 1],
  'mqtt.max_awaiting_rel': [0, 65_535],
  'mqtt.await_rel_timeout_ms': [1, 2 ** 31 - 1],
  'mqtt.max_session_expiry_s': [0, 0xffffffff],
  'mqtt.max_topic_alias': [0, 65_535],
  'mqtt.server_keepalive_s': [0, 65_535],
  'sys.interval_ms': [0, 2 ** 31 - 1],
};

/** Check what the types alone do not say; throws ConfigError naming the key. */
export function validateConfig(c: Config): Config {
  parseBind(c.listeners.tcp.bind, 'listeners.tcp.bind');
  parseBind(c.listeners.ws.bind, 'listeners.ws.bind');
  checkNumbers(c as unknown as Json, '');
  if (!['round_robin', 'random', 'hash_clientid'].includes(c.mqtt.shared_subscription_strategy)) {
    throw new ConfigError(`config mqtt.shared_subscription_strategy: round_robin, random or hash_clientid, got ${c.mqtt.shared_subscription_strategy}`);
  }
  if (!isBusyWait(c.node.busy_wait)) throw new ConfigError(`config node.busy_wait: one of ${BUSY_WAIT_LEVELS.join(', ')}, got ${String(c.node.busy_wait)}`);
  if (!['manual', 'static'].includes(c.cluster.discovery_strategy)) throw new ConfigError(`config cluster.discovery_strategy: manual or static, got ${c.cluster.discovery_strategy}`);
  if (!['handle', 'net'].includes(c.listeners.tcp.backend)) throw new ConfigError(`config listeners.tcp.backend: handle or net, got ${c.listeners.tcp.backend}`);
  if (!c.listeners.ws.path.startsWith('/')) throw new ConfigError(`config listeners.ws.path: must start with /, got ${c.listeners.ws.path}`);
  return c;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function checkNumbers(v: Json, at: string): void {
  if (typeof v === 'number') {
    const [lo, hi] = RANGES[at] ?? [0, Number.MAX_SAFE_INTEGER];
    if (!Number.isInteger(v) || v < lo || v > hi) throw new ConfigError(`config ${at}: must be a whole number in ${lo}..${hi}, got ${v}`);
    return;
  }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) checkNumbers(x, at === '' ? k : `${at}.${k}`);
}

/**
 * The effective configuration: defaults, then `file` (parsed JSON), then `env`
 * (`BEAMQ_A__B__C=value` sets `a.b.c`). Unknown keys and wrong types are errors.
 */
export function loadConfig(file: unknown = {}, env: Record<string, string | undefined> = {}, overrides: unknown = {}): Config {
  let c = structuredClone(DEFAULTS) as unknown as Json;
  c = merge(c, file as Json, '');
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('BEAMQ_') || v === undefined || k === 'BEAMQ_LOG_LEVEL') continue;
    const path = k.slice(6).toLowerCase().split('__');
    c = setPath(c, path, v, k);
  }
  c = merge(c, overrides as Json, '');
  return validateConfig(c as unknown as Config);
}

function merge(base: Json, over: Json, at: string): Json {
  if (over === null || over === undefined) return base;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return coerce(base, over, at);
  if (typeof over !== 'object' || Array.isArray(over)) throw new ConfigError(`config ${at || '(root)'}: expected an object`);
  const out: { [k: string]: Json } = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (!(k in base)) throw new ConfigError(`config: unknown key ${at ? at + '.' : ''}${k}`);
    out[k] = merge(base[k]!, v, at ? `${at}.${k}` : k);
  }
  return out;
}

function setPath(c: Json, path: string[], raw: string, envName: string): Json {
  let cur = c as { [k: string]: Json };
  for (let i = 0; i < path.length - 1; i++) {
    const next = cur[path[i]!];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) throw new ConfigError(`${envName}: unknown config key ${path.join('.')}`);
    cur = next;
  }
  const last = path[path.length - 1]!;
  if (!(last in cur)) throw new ConfigError(`${envName}: unknown config key ${path.join('.')}`);
  cur[last] = coerce(cur[last]!, raw, `${path.join('.')} (from ${envName})`);
  return c;
}

/** Take `v` in the shape of `like`: numbers (with KB/MB and s/m/h suffixes), booleans, lists. */
function coerce(like: Json, v: Json, at: string): Json {
  if (typeof like === 'number') {
    if (typeof v === 'number') return v;
    if (typeof v === 'string') {
      const n = parseQuantity(v);
      if (n !== undefined) return n;
    }
    throw new ConfigError(`config ${at}: expected a number, got ${JSON.stringify(v)}`);
  }
  if (typeof like === 'boolean') {
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'on') return true;
    if (v === 'false' || v === 'off') return false;
    throw new ConfigError(`config ${at}: expected true or false, got ${JSON.stringify(v)}`);
  }
  if (Array.isArray(like)) {
    if (Array.isArray(v)) return v;
    if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    throw new ConfigError(`config ${at}: expected a list`);
  }
  if (typeof v !== 'string') throw new ConfigError(`config ${at}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

const UNITS: Record<string, number> = { kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

function parseQuantity(s: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(s);
  if (m === null) return undefined;
  const unit = m[2]!.toLowerCase();
  if (unit === '') return Number(m[1]);
  const f = UNITS[unit];
  return f === undefined ? undefined : Number(m[1]) * f;
}
