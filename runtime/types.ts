/**
 * The runtime's contract types: reasons, system messages, destinations, the exit
 * error that `call` rejects with, and the protocol-map helpers that type a server's
 * calls, casts and replies. Messages are plain values: tuples are readonly arrays
 * whose first element is an atom tag; atoms are strings.
 */
import type { Atom, NodeName, Pid, Ref } from './terms.js';

export type { Atom, NodeName } from './terms.js';

/** Any message. Messages are treated as immutable; local sends pass the reference. */
export type Msg = unknown;

/**
 * Why a process exited: an atom or a tagged tuple, as in Erlang. Well-known ones:
 * `normal`, `shutdown` and `['shutdown', _]` are clean exits (no crash report;
 * transient children are not restarted); a thrown exception gives `['error', err]`;
 * `kill` sent by exit/2 is untrappable and becomes `killed`; the runtime itself says
 * `noproc`, `noconnection` and `timeout`.
 */
export type Reason = Atom | readonly [Atom, ...unknown[]];

/** `['EXIT', from, reason]`: an exit signal turned into a message by `trapExit`. */
export type ExitMsg = readonly ['EXIT', from: Pid, reason: Reason];
/** `['DOWN', ref, 'process', who, reason]`: a monitored process (or name) went away. */
export type DownMsg = readonly ['DOWN', ref: Ref, type: 'process', who: Pid | readonly [Atom, NodeName], reason: Reason];
/** `['nodeup' | 'nodedown', node]` for `monitorNode` / `monitorNodes` watchers. */
export type NodeMsg = readonly ['nodeup' | 'nodedown', node: NodeName];
export type SystemMsg = ExitMsg | DownMsg | NodeMsg;

/** Where a message can go: a pid, a locally registered name, a name on a node, or an alias. */
export type Dest = Pid | Atom | readonly [Atom, NodeName] | Ref;

/** True for the reasons OTP treats as a clean exit. */
export function isCleanExit(r: unknown): boolean {
  return r === 'normal' || r === 'shutdown' || (Array.isArray(r) && r[0] === 'shutdown' && r.length === 2);
}

/** The tag of a tagged tuple, or undefined. Handy in `switch (tagOf(msg))`. */
export function tagOf(m: unknown): unknown {
  return Array.isArray(m) ? m[0] : undefined;
}

/** True when `m` is a tuple tagged `tag`. */
export function isTag<T extends Atom>(m: unknown, tag: T): m is readonly [T, ...unknown[]] {
  return Array.isArray(m) && m[0] === tag;
}

/** Format any term the way Erlang prints it, roughly: for logs and errors. */
export function formatTerm(t: unknown, depth = 0): string {
  if (depth > 8) return '...';
  if (typeof t === 'string') return /^[a-z][A-Za-z0-9_@]*$/.test(t) ? t : `'${t}'`;
  if (Array.isArray(t)) return `{${t.map((x) => formatTerm(x, depth + 1)).join(',')}}`;
  if (t instanceof Error) return `${t.name}: ${t.message}`;
  if (Buffer.isBuffer(t)) return `<<${t.length} bytes>>`;
  if (t instanceof Map) return `#{${[...t].map(([k, v]) => `${formatTerm(k, depth + 1)}=>${formatTerm(v, depth + 1)}`).join(',')}}`;
  if (typeof t === 'object' && t !== null && (t).toString !== Object.prototype.toString) {
    return (t as { toString(): string }).toString();
  }
  if (typeof t === 'object' && t !== null) {
    try {
      return JSON.stringify(t, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    } catch {
      return '#{...}';
    }
  }
  return String(t);
}

/**
 * The error a failed `call` (and other exit-style failures) rejects with. `reason` is
 * the Erlang reason: `'noproc'`, `'timeout'`, `['nodedown', node]`, or the reason the
 * server exited with. `detail` says what was being done, as OTP's `{gen_server, call, …}`.
 */
export class ExitError extends Error {
  override readonly name = 'ExitError';
  constructor(
    readonly reason: Reason,
    readonly detail?: unknown,
  ) {
    super(`exit: ${formatTerm(reason)}${detail === undefined ? '' : ' in ' + formatTerm(detail)}`);
  }
}

// ---------------------------------------------------------------------------
// Protocol maps: one declaration per server types its callers and its callbacks.

/** A server's protocol: its calls (with reply types), casts and info messages. */
export interface Protocol {
  readonly calls?: { readonly [tag: string]: { readonly args: readonly unknown[]; readonly reply: unknown } };
  readonly casts?: { readonly [tag: string]: { readonly args: readonly unknown[] } };
  readonly info?: unknown;
}

type CallsOf<P> = P extends { readonly calls: infer C } ? C : Record<never, never>;
type CastsOf<P> = P extends { readonly casts: infer C } ? C : Record<never, never>;

/** The union of call requests: `readonly ['add_route', Filter, NodeName] | …`. */
export type CallOf<P extends Protocol> = {
  [K in keyof CallsOf<P> & string]: CallsOf<P>[K] extends { readonly args: infer A extends readonly unknown[] } ? readonly [K, ...A] : never;
}[keyof CallsOf<P> & string];

/** The reply type of call `K`. */
export type ReplyOf<P extends Protocol, K> = K extends keyof CallsOf<P>
  ? CallsOf<P>[K] extends { readonly reply: infer R }
    ? R
    : never
  : never;

/** Any reply of the protocol (what `handleCall` may answer). */
export type AnyReplyOf<P extends Protocol> = ReplyOf<P, keyof CallsOf<P>>;

/** The union of cast messages. */
export type CastOf<P extends Protocol> = {
  [K in keyof CastsOf<P> & string]: CastsOf<P>[K] extends { readonly args: infer A extends readonly unknown[] } ? readonly [K, ...A] : never;
}[keyof CastsOf<P> & string];

/** The info messages a server expects besides system messages. */
export type InfoOf<P extends Protocol> = P extends { readonly info: infer I } ? I : never;

/** A registered name that carries its server's protocol as a phantom type. */
export type ServerName<P extends Protocol> = Atom & { readonly __protocol?: P };

/** How callers address a server: its pid, its local name, or `[name, node]`. */
export type ServerRef<P extends Protocol> = Pid | ServerName<P> | readonly [ServerName<P>, NodeName];

/** Declare a server's registered name with its protocol: `serverName<RouterProtocol>('router')`. */
export function serverName<P extends Protocol>(name: Atom): ServerName<P> {
  return name;
}
