/**
 * Node names as Erlang has them (`alive@host`): parsing, validation, long vs short
 * names, and completing `--name alive` / `--sname alive` with the local host.
 * Pure: no sockets, no logging; the local host names are passed in (see `localHosts`).
 */
import net from 'node:net';
import os from 'node:os';

/** A node name is an atom: at most 255 characters (FEATURES D1, epmd MAXSYMLEN). */
export const MAX_NODE_NAME_CHARS = 255;

/**
 * `long`: the host is an IP address or a dotted FQDN (`erl -name`).
 * `short`: the host has no dots (`erl -sname`). The two never connect to each other.
 */
export type NameKind = 'long' | 'short';

export interface NodeNameParts {
  readonly alive: string;
  readonly host: string;
  readonly kind: NameKind;
  /** `alive@host` */
  readonly full: string;
}

export type NodeNameErrorCode =
  | 'missing_at' // no '@' where a full name is required
  | 'empty_alive'
  | 'bad_alive' // characters outside [0-9A-Za-z_-]
  | 'empty_host'
  | 'bad_host' // characters outside printable Latin-1, or an '@'
  | 'too_long'
  | 'not_long' // `--name` with a host that is neither an IP nor dotted
  | 'not_short' // `--sname` with a dotted host
  | 'no_long_host'; // `--name alive` on a machine whose hostname has no domain

/** A malformed node name. The message quotes the name and says what to change. */
export class NodeNameError extends Error {
  override readonly name = 'NodeNameError';
  constructor(
    readonly code: NodeNameErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// net_kernel's valid_name_head: the alive part is [0-9A-Za-z_-]+.
const ALIVE_RE = /^[0-9A-Za-z_-]+$/;
// net_kernel's validate_hostname: printable Latin-1 (`^[!-ÿ]*$`); '@' is excluded
// here because the name is split at its first '@'.
const HOST_RE = /^[!-?A-\u00ff]+$/;

/** Long when the host is an IP literal or contains a dot; short otherwise. */
export function hostKind(host: string): NameKind {
  return host.includes('.') || net.isIP(host) !== 0 ? 'long' : 'short';
}

/**
 * Parse and validate a full name `alive@host`. Throws `NodeNameError`.
 * The kind is derived from the host, so any valid name parses.
 */
export function parseNodeName(name: string): NodeNameParts {
  if ([...name].length > MAX_NODE_NAME_CHARS) {
    throw new NodeNameError('too_long', `node name '${name.slice(0, 40)}…' is longer than ${MAX_NODE_NAME_CHARS} characters`);
  }
  const at = name.indexOf('@');
  if (at < 0) throw new NodeNameError('missing_at', `node name '${name}' has no '@host' part`);
  const alive = name.slice(0, at);
  const host = name.slice(at + 1);
  checkAlive(alive, name);
  if (host === '') throw new NodeNameError('empty_host', `node name '${name}' has an empty host after '@'`);
  if (!HOST_RE.test(host)) {
    throw new NodeNameError('bad_host', `host '${host}' of node name '${name}' must be printable characters without '@' or spaces`);
  }
  return { alive, host, kind: hostKind(host), full: name };
}

function checkAlive(alive: string, name: string): void {
  if (alive === '') throw new NodeNameError('empty_alive', `node name '${name}' has an empty name before '@'`);
  if (!ALIVE_RE.test(alive)) {
    throw new NodeNameError('bad_alive', `'${alive}' in node name '${name}' may only contain letters, digits, '_' and '-'`);
  }
}

/** The local host names that complete `--sname alive` and `--name alive`. */
export interface LocalHosts {
  /** Host without domain, for short names. */
  readonly short: string;
  /** Fully qualified host, for long names; undefined when the machine has no domain. */
  readonly long: string | undefined;
}

/** The machine's host names from `os.hostname()`; tests pass their own `LocalHosts`. */
export function localHosts(): LocalHosts {
  const h = os.hostname();
  return { short: h.split('.')[0] ?? h, long: h.includes('.') ? h : undefined };
}

/**
 * The node name for `--sname arg` (kind 'short') or `--name arg` (kind 'long'), as erl
 * builds it: `arg` alone is completed with the local host of that kind; `arg` with a
 * host must have a host of that kind.
 */
export function completeNodeName(kind: NameKind, arg: string, hosts: LocalHosts = localHosts()): NodeNameParts {
  if (!arg.includes('@')) {
    checkAlive(arg, arg);
    if (kind === 'short') return parseNodeName(`${arg}@${hosts.short}`);
    if (hosts.long === undefined) {
      throw new NodeNameError(
        'no_long_host',
        `cannot complete long node name '${arg}': host '${hosts.short}' has no domain; use --name ${arg}@<ip or fqdn>, e.g. ${arg}@127.0.0.1`,
      );
    }
    return parseNodeName(`${arg}@${hosts.long}`);
  }
  const parts = parseNodeName(arg);
  if (parts.kind !== kind) {
    throw kind === 'long'
      ? new NodeNameError('not_long', `'${arg}' is not a long node name: with --name the host must be an IP address or contain dots (use --sname for '${parts.host}')`)
      : new NodeNameError('not_short', `'${arg}' is not a short node name: with --sname the host must not contain dots (use --name for '${parts.host}')`);
  }
  return parts;
}

/**
 * Can these two nodes connect? Long-name and short-name nodes cannot (FEATURES D1):
 * a long-name node refuses a short-name peer and vice versa.
 */
export function compatible(local: string | NodeNameParts, peer: string | NodeNameParts): boolean {
  const a = typeof local === 'string' ? parseNodeName(local) : local;
  const b = typeof peer === 'string' ? parseNodeName(peer) : peer;
  return a.kind === b.kind;
}
