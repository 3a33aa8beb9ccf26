/**
 * Request/reply between processes (gen_server's call, cast and reply) on aliases and
 * monitors, as OTP 24+ does: the caller mints one ref that is both the reply alias and
 * a monitor on the server, so a dead server answers at once (`noproc`, its exit reason,
 * or `['nodedown', node]`), and a late reply after a timeout is dropped.
 */
import { Pid, Ref, type Atom, type NodeName } from '../terms.js';
import { ExitError, type Reason } from '../types.js';
import type { NodeCore } from './node-core.js';
import type { Proc } from './process.js';
import type { Alias, MonitorRec, Watcher } from './shared.js';
import { addMonitor, detachFromTarget } from './signals.js';
import type { TimerEntry } from './timers.js';

/** gen_server's default call timeout. */
export const DEFAULT_CALL_TIMEOUT_MS = 5_000;

/** Who asked: the caller's pid (undefined outside a process) and the reply alias. */
export type From = readonly [pid: Pid | undefined, tag: Ref];

/** A server address: pid, local name, or `[name, node]`. */
export type CallTarget = Pid | Atom | readonly [Atom, NodeName];

class PendingCall implements Alias, Watcher {
  readonly pid = undefined;
  timer: TimerEntry | undefined = undefined;
  rec: MonitorRec | undefined = undefined;
  finished = false;

  constructor(
    private readonly core: NodeCore,
    readonly ref: Ref,
    private readonly resolve: (v: unknown) => void,
    private readonly reject: (e: ExitError) => void,
    private readonly server: CallTarget,
    private readonly req: unknown,
  ) {}

  held(rec: MonitorRec): void {
    this.rec = rec;
  }

  released(): void {
    this.rec = undefined;
  }

  deliver(msg: unknown): void {
    if (this.finished) return;
    this.finish();
    this.resolve(replyValue(msg));
  }

  deliverDown(_ref: Ref, who: Pid | readonly [Atom, NodeName], reason: Reason): void {
    if (this.finished) return;
    this.rec = undefined;
    this.finish();
    const node = who instanceof Pid ? who.node : who[1];
    this.reject(new ExitError(reason === 'noconnection' ? ['nodedown', node] : reason, callDetail(this.server, this.req)));
  }

  timeout(): void {
    this.timer = undefined;
    if (this.finished) return;
    this.finish();
    this.reject(new ExitError('timeout', callDetail(this.server, this.req)));
  }

  private finish(): void {
    this.finished = true;
    this.core.aliases.delete(this.ref.id);
    if (this.timer !== undefined) this.core.timers.cancel(this.timer);
    if (this.rec !== undefined) detachFromTarget(this.core, this.rec);
  }
}

/** The value of a reply, `[ref, value]` (Erlang's `{Tag, Reply}`). */
const replyValue = (msg: unknown): unknown => (Array.isArray(msg) && msg.length === 2 ? msg[1] : msg);

/**
 * Wait for the reply to the call `ref` names: the alias, a monitor on `target`, and
 * the timeout unless the monitor found `target` gone at once (`finished`).
 */
function awaitReply(
  core: NodeCore,
  ref: Ref,
  target: Pid | readonly [Atom, NodeName],
  server: CallTarget,
  req: unknown,
  timeoutMs: number,
  resolve: (v: unknown) => void,
  reject: (e: ExitError) => void,
): PendingCall {
  const pc = new PendingCall(core, ref, resolve, reject, server, req);
  core.aliases.set(ref.id, pc);
  addMonitor(core, pc, target, ref);
  if (!pc.finished && Number.isFinite(timeoutMs)) pc.timer = core.timers.after(timeoutMs, callTimedOut, pc);
  return pc;
}

/** A call's timer (a shared function: a call is hot, a closure per call is garbage). */
const callTimedOut = (pc: PendingCall): void => pc.timeout();

/** What a failed call says it was (built only on failure: calls are hot). */
const callDetail = (server: CallTarget, req: unknown): unknown => ['gen_server', 'call', [server, req]];

/**
 * Send `['$gen_call', from, req]` to `server` and wait for the reply. Rejects with an
 * `ExitError` whose reason is `noproc`, `timeout`, `['nodedown', node]` or the server's
 * exit reason.
 */
export function call(
  core: NodeCore,
  server: CallTarget,
  req: unknown,
  timeoutMs: number = DEFAULT_CALL_TIMEOUT_MS,
  caller?: Proc,
): Promise<unknown> {
  // A local name resolves once, so the monitor and the request go to the same process.
  let target: Pid | readonly [Atom, NodeName];
  if (typeof server === 'string' || (Array.isArray(server) && server[1] === core.name)) {
    const name = typeof server === 'string' ? server : (server as readonly [Atom, NodeName])[0];
    const p = core.names.get(name);
    if (p === undefined) return Promise.reject(new ExitError('noproc', callDetail(server, req)));
    target = p.pid;
  } else target = server;

  return new Promise((resolve, reject) => {
    const ref = core.makeRef();
    if (awaitReply(core, ref, target, server, req, timeoutMs, resolve, reject).finished) return; // noproc at once
    const from: From = [caller?.pid, ref];
    core.send(target, ['$gen_call', from, req], caller);
  });
}

/** What callNow answers when the server was not waiting: nothing was done, call as usual. */
export const NOT_NOW: unique symbol = Symbol('not_now');

/** The reply of a call handled in the caller's turn (callNow), kept until read. */
class HeldReply implements Alias {
  got = false;
  value: unknown = undefined;

  deliver(msg: unknown): void {
    if (this.got) return;
    this.got = true;
    this.value = replyValue(msg);
  }
}

/**
 * A call that local process `p` (the server `server` names) handles at once, in the
 * caller's turn (Scheduler.handleNow), when it is waiting. A reply given
 * in that step is answered as the value itself: no monitor, promise, message turn or
 * microtask. A server that answers later (noreply, or a step that parked it) is then
 * waited for as by call; one that ended in the step rejects with its exit reason.
 * NOT_NOW, having done nothing, when `p` was not waiting.
 */
export function callNow(
  core: NodeCore,
  p: Proc,
  server: CallTarget,
  req: unknown,
  timeoutMs: number,
  caller: Proc | undefined,
): unknown {
  if (!core.scheduler.waiting(p)) return NOT_NOW;
  const ref = core.makeRef();
  const held = new HeldReply();
  core.aliases.set(ref.id, held);
  core.scheduler.handleNow(p, ['$gen_call', [caller?.pid, ref] satisfies From, req]);
  if (held.got) {
    core.aliases.delete(ref.id);
    return held.value;
  }
  if (!p.alive) {
    core.aliases.delete(ref.id);
    return Promise.reject(new ExitError(p.exitReason ?? 'noproc', callDetail(server, req)));
  }
  return new Promise((resolve, reject) => void awaitReply(core, ref, p.pid, server, req, timeoutMs, resolve, reject));
}

/** Fire-and-forget `['$gen_cast', msg]`; never fails, even if the server is gone. */
export function cast(core: NodeCore, server: CallTarget, msg: unknown, caller?: Proc): void {
  try {
    core.send(server, ['$gen_cast', msg], caller);
  } catch {
    // gen_server:cast to a missing name is silently dropped.
  }
}

/**
 * Answer a call, now or later (deferred reply). The reply `[tag, value]` goes to the
 * tag when it is an alias (ours), to the alias inside an OTP 24+ `[alias | Ref]` tag
 * (a BEAM caller), else to the caller's pid.
 */
export function reply(core: NodeCore, from: From, value: unknown): void {
  const tag: unknown = from[1];
  if (tag instanceof Ref) return core.send(tag, [tag, value]);
  const alias = (tag as { tail?: unknown } | null)?.tail;
  if (alias instanceof Ref) return core.send(alias, [tag, value]);
  if (from[0] !== undefined) core.send(from[0], [tag, value]);
}
