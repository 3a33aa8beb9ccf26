/**
 * GenServer: a behaviour as a typed callback object, driven by the scheduler with no
 * promise per message. Callbacks return steps (`reply`, `noreply`, `stop`); a callback
 * that returns a promise parks the server (its mailbox fills) until it settles, which
 * is how a server awaits a call to another. Semantics follow OTP's gen_server.
 */
import { logger } from '../log.js';
import { Pid } from '../terms.js';
import {
  ExitError,
  formatTerm,
  isCleanExit,
  type AnyReplyOf,
  type CallOf,
  type CastOf,
  type InfoOf,
  type Protocol,
  type Reason,
  type ReplyOf,
  type ServerRef,
  type SystemMsg,
} from '../types.js';
import { call as rawCall, callNow, cast as rawCast, NOT_NOW, reply as rawReply, DEFAULT_CALL_TIMEOUT_MS, type From } from '../process/call.js';
import type { NodeCore } from '../process/node-core.js';
import type { Ctx, Driver, Proc } from '../process/process.js';
import { current } from '../process/scheduler.js';
import { exitProcess, unlink } from '../process/signals.js';
import { currentCore } from '../process/current-core.js';
import type { TimerEntry } from '../process/timers.js';

const log = logger('runtime:gen_server');

/** The system message stopServer sends. */
const STOP_TAG = '$gen_stop';

export type { From };

/** What `init` answers. */
export type InitResult<S> =
  | { readonly t: 'ok'; readonly state: S }
  | { readonly t: 'stop'; readonly reason: Reason }
  | { readonly t: 'ignore' };

/** What a callback answers: reply now, no reply (yet), or stop. */
export type Step<S, R = never> =
  | { readonly t: 'reply'; readonly reply: R; readonly state: S }
  | { readonly t: 'noreply'; readonly state: S }
  | { readonly t: 'stop'; readonly reason: Reason; readonly state: S; readonly reply?: R; readonly hasReply: boolean };

type Maybe<T> = T | PromiseLike<T>;

/** A server: the callbacks of OTP's gen_server, typed by its protocol `P`, state `S` and init args `A`. */
export interface GenServer<P extends Protocol, S, A = void> {
  init(args: A, ctx: Ctx): Maybe<InitResult<S>>;
  handleCall?(req: CallOf<P>, from: From, state: S, ctx: Ctx): Maybe<Step<S, AnyReplyOf<P>>>;
  handleCast?(msg: CastOf<P>, state: S, ctx: Ctx): Maybe<Step<S>>;
  handleInfo?(msg: InfoOf<P> | SystemMsg, state: S, ctx: Ctx): Maybe<Step<S>>;
  /**
   * Called on stop, on a crash in a callback, and on shutdown by the parent when trapping
   * exits. A returned promise delays the exit until it settles (a supervisor stopping its
   * children), except after a crash, when the process is already gone.
   */
  terminate?(reason: Reason, state: S, ctx: Ctx): void | PromiseLike<void>;
}

// --- step constructors -------------------------------------------------------

export const ok = <S>(state: S): InitResult<S> => ({ t: 'ok', state });
export const ignore = (): InitResult<never> => ({ t: 'ignore' });
export const reply = <S, R>(value: R, state: S): Step<S, R> => ({ t: 'reply', reply: value, state });
export const noreply = <S>(state: S): Step<S, never> => ({ t: 'noreply', state });
/** Stop with `reason`; in `init` the state is omitted. With a reply value, the caller gets it first. */
export function stop<S = never, R = never>(reason: Reason, state?: S, ...replyValue: [R] | []): Step<S, R> & InitResult<S> {
  return { t: 'stop', reason, state: state as S, hasReply: replyValue.length > 0, ...(replyValue.length > 0 ? { reply: replyValue[0] } : {}) } as Step<S, R> & InitResult<S>;
}

/** Log an unexpected message with a stable event id and keep going (EMQX's `unexpected_info`). */
export function unexpected<S>(l: { warn(e: string, f?: Record<string, unknown>): void }, kind: 'call' | 'cast' | 'info', msg: unknown, state: S): Step<S, never> {
  l.warn(`unexpected_${kind}`, { msg: formatTerm(msg) });
  return { t: 'noreply', state };
}

// --- the driver --------------------------------------------------------------

function isPromise(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

interface Starter {
  resolve(pid: Pid | 'ignore'): void;
  reject(e: ExitError): void;
}

class GenServerDriver<S> implements Driver {
  state!: S;
  /**
   * The message being handled, for a crash report (OTP's "last message in"). Cleared
   * once it is handled: an idle server must not keep its last message (a socket's
   * data, say) alive for as long as it waits.
   */
  lastMsg: unknown = undefined;
  /** Present until init answered: the caller of start/startLink waits on it (none for spawnLink). */
  starter: Starter | undefined;
  /** The init timeout, cancelled once init answers. */
  initTimer: TimerEntry | undefined = undefined;
  private terminated = false;

  constructor(
    private readonly cb: GenServer<Protocol, S, unknown>,
    private args: unknown,
    readonly parent: Pid | undefined,
    readonly label: string,
    starter: Starter | undefined,
  ) {
    this.starter = starter;
  }

  start(p: Proc): void | PromiseLike<unknown> {
    const r = this.cb.init(this.args, p);
    this.args = undefined; // init has them; the server should not keep them alive
    if (isPromise(r)) return r.then((res) => this.afterInit(p, res));
    this.afterInit(p, r);
  }

  private afterInit(p: Proc, res: InitResult<S>): void {
    const s = this.starter;
    this.starter = undefined;
    if (this.initTimer !== undefined) p.core.timers.cancel(this.initTimer);
    if (res.t === 'ok') {
      this.state = res.state;
      s?.resolve(p.pid);
      return;
    }
    // A failed init answers the starter, which is unlinked first so that only the
    // answer reports the failure (as OTP 26's proc_lib:init_fail does). Without a
    // starter (spawnLink) nobody waits: the link reports it.
    if (this.parent !== undefined && s !== undefined) unlink(p.core, p, this.parent);
    this.terminated = true;
    if (res.t === 'ignore') {
      s?.resolve('ignore');
      exitProcess(p.core, p, 'normal');
    } else {
      s?.reject(new ExitError(res.reason, ['init', this.label]));
      exitProcess(p.core, p, res.reason);
    }
  }

  handle(msg: unknown, p: Proc): void | PromiseLike<unknown> {
    this.lastMsg = msg;
    const cb = this.cb;
    if (Array.isArray(msg)) {
      const tag: unknown = msg[0];
      if (tag === '$gen_call' && msg.length === 3) {
        const from = msg[1] as From;
        if (cb.handleCall === undefined) return this.apply(p, unexpected(log, 'call', msg[2], this.state), undefined);
        const r = cb.handleCall(msg[2] as never, from, this.state, p);
        return isPromise(r) ? r.then((st) => this.apply(p, st as Step<S, unknown>, from)) : this.apply(p, r, from);
      }
      if (tag === '$gen_cast' && msg.length === 2) {
        if (cb.handleCast === undefined) return this.apply(p, unexpected(log, 'cast', msg[1], this.state), undefined);
        const r = cb.handleCast(msg[1] as never, this.state, p);
        return isPromise(r) ? r.then((st) => this.apply(p, st as Step<S, unknown>, undefined)) : this.apply(p, r, undefined);
      }
      // The parent's exit signal, trapped: terminate and follow it (OTP gen_server).
      if (tag === 'EXIT' && this.parent !== undefined && this.parent.equals(msg[1])) {
        return this.apply(p, { t: 'stop', reason: msg[2] as Reason, state: this.state, hasReply: false }, undefined);
      }
      // stopServer(): terminate, then exit with the given reason (proc_lib:stop).
      if (tag === STOP_TAG && msg.length === 2) {
        return this.apply(p, { t: 'stop', reason: msg[1] as Reason, state: this.state, hasReply: false }, undefined);
      }
    }
    if (cb.handleInfo === undefined) return this.apply(p, unexpected(log, 'info', msg, this.state), undefined);
    const r = cb.handleInfo(msg as never, this.state, p);
    return isPromise(r) ? r.then((st) => this.apply(p, st as Step<S, unknown>, undefined)) : this.apply(p, r, undefined);
  }

  private apply(p: Proc, step: Step<S, unknown>, from: From | undefined): void | PromiseLike<void> {
    switch (step.t) {
      case 'reply':
        this.state = step.state;
        this.lastMsg = undefined;
        if (from !== undefined) rawReply(p.core, from, step.reply);
        return;
      case 'noreply':
        this.state = step.state;
        this.lastMsg = undefined;
        return;
      case 'stop':
        this.state = step.state;
        if (from !== undefined && step.hasReply) rawReply(p.core, from, step.reply);
        if (!isCleanExit(step.reason)) {
          log.error('gen_server_terminating', {
            server: this.label,
            pid: p.pid.toString(),
            reason: formatTerm(step.reason),
            last_message: formatTerm(this.lastMsg),
          });
        }
        {
          const reason = step.reason;
          const t = this.runTerminate(p, reason);
          if (isPromise(t)) return t.then(() => exitProcess(p.core, p, reason), (e: unknown) => this.terminateFailed(p, reason, e));
          exitProcess(p.core, p, reason);
        }
        return;
    }
  }

  private terminateFailed(p: Proc, reason: Reason, e: unknown): void {
    log.error('terminate_failed', { server: this.label, error: e instanceof Error ? e.stack : String(e) });
    exitProcess(p.core, p, reason);
  }

  exited(reason: Reason, p: Proc, crashed: boolean): void {
    if (this.initTimer !== undefined) p.core.timers.cancel(this.initTimer);
    if (this.starter !== undefined) {
      // Died before init finished (a crash in init, or killed).
      const s = this.starter;
      this.starter = undefined;
      s.reject(new ExitError(reason, ['init', this.label]));
    }
    if (crashed) {
      const t = this.runTerminate(p, reason);
      if (isPromise(t)) t.then(undefined, (e: unknown) => log.error('terminate_failed', { server: this.label, error: String(e) }));
    }
  }

  private runTerminate(p: Proc, reason: Reason): void | PromiseLike<void> {
    if (this.terminated || this.cb.terminate === undefined) return;
    this.terminated = true;
    try {
      return this.cb.terminate(reason, this.state, p);
    } catch (err) {
      log.error('terminate_failed', { server: this.label, error: err instanceof Error ? err.stack : String(err) });
    }
  }

  describe(): Record<string, unknown> {
    return { behaviour: 'gen_server', server: this.label, last_message: formatTerm(this.lastMsg) };
  }
}

// --- API -----------------------------------------------------------------------

export interface StartOptions {
  /** Register the server under this local name. */
  readonly name?: string;
  /** How long init may take (default: forever, as OTP). */
  readonly timeoutMs?: number;
  readonly trapExit?: boolean;
}

function startWith<P extends Protocol, S, A>(
  core: NodeCore,
  cb: GenServer<P, S, A>,
  args: A,
  opts: StartOptions,
  parent: Proc | undefined,
): Promise<Pid> {
  return new Promise<Pid>((resolve, reject) => {
    const label = opts.name ?? 'gen_server';
    const starter: Starter = {
      resolve: (v) => (v === 'ignore' ? reject(new ExitError('ignore', ['init', label])) : resolve(v)),
      reject,
    };
    const d = new GenServerDriver<S>(cb as unknown as GenServer<Protocol, S, unknown>, args, parent?.pid, label, starter);
    let p: Proc;
    try {
      p = core.spawnDriver(d, { ...(opts.name === undefined ? {} : { name: opts.name }), ...(opts.trapExit === true ? { trapExit: true } : {}) }, parent === undefined ? undefined : { linkTo: parent });
    } catch (err) {
      reject(err instanceof ExitError ? err : new ExitError(['error', err]));
      return;
    }
    if (opts.timeoutMs !== undefined && Number.isFinite(opts.timeoutMs)) {
      d.initTimer = core.timers.after(opts.timeoutMs, () => {
        d.initTimer = undefined;
        const s = d.starter;
        if (s === undefined) return;
        d.starter = undefined;
        s.reject(new ExitError('timeout', ['init', label]));
        exitProcess(core, p, 'killed');
      });
    }
  });
}

/** Start a server (not linked). Resolves with its pid once `init` returned `ok`. */
export function start<P extends Protocol, S, A>(cb: GenServer<P, S, A>, args: A, opts: StartOptions = {}): Promise<Pid> {
  return startWith(currentCore(), cb, args, opts, undefined);
}

/** Start a server linked to the calling process (unlinked when called outside a process). */
export function startLink<P extends Protocol, S, A>(cb: GenServer<P, S, A>, args: A, opts: StartOptions = {}): Promise<Pid> {
  return startWith(currentCore(), cb, args, opts, current.proc);
}

/**
 * Start a server linked to the calling process and return its pid at once: `init`
 * runs in the server's first turn, and the caller does not wait for it (OTP's
 * proc_lib:spawn_link, which EMQX uses to start its connection processes). For a
 * supervisor that starts many children, each start then costs no round trip. An
 * init that fails or crashes ends the server, and the link reports why.
 */
export function spawnLink<P extends Protocol, S, A>(cb: GenServer<P, S, A>, args: A, opts: Omit<StartOptions, 'timeoutMs'> = {}): Pid {
  const core = currentCore();
  const parent = current.proc;
  const d = new GenServerDriver<S>(cb as unknown as GenServer<Protocol, S, unknown>, args, parent?.pid, opts.name ?? 'gen_server', undefined);
  const p = core.spawnDriver(d, { ...(opts.name === undefined ? {} : { name: opts.name }), ...(opts.trapExit === true ? { trapExit: true } : {}) }, parent === undefined ? undefined : { linkTo: parent });
  return p.pid;
}

/** Call `server` and await its reply. Rejects with `ExitError` (noproc, timeout, nodedown, or its exit reason). */
export function call<P extends Protocol, R extends CallOf<P>>(
  server: ServerRef<P>,
  req: R,
  timeoutMs: number = DEFAULT_CALL_TIMEOUT_MS,
): Promise<ReplyOf<P, R[0]>> {
  const caller = current.proc;
  return rawCall(caller?.core ?? currentCore(), server, req, timeoutMs, caller) as Promise<ReplyOf<P, R[0]>>;
}

/** Send a cast to `server`; never fails. */
export function cast<P extends Protocol>(server: ServerRef<P>, msg: CastOf<P>): void {
  const caller = current.proc;
  rawCast(caller?.core ?? currentCore(), server, msg, caller);
}

/** The gen_server `server` names on `core`'s node, if it is one there. */
function localServer(core: NodeCore, server: ServerRef<Protocol>): Proc | undefined {
  const p = typeof server === 'string' ? core.names.get(server) : server instanceof Pid ? core.lookup(server) : server[1] === core.name ? core.names.get(server[0]) : undefined;
  return p !== undefined && p.driver instanceof GenServerDriver ? p : undefined;
}

/*
 * castHere and callHere: a message to a gen_server on the caller's node that is waiting
 * (nothing queued before it, no step under way) is handled at once, as that server, in
 * the caller's turn (Scheduler.handleNow), rather than a message and a turn later.
 * Erlang orders messages only between two processes, and that order holds; what may
 * differ is only how the server's own sends interleave with the caller's later ones.
 * For the per-connection bookkeeping on a connect storm's path. A server that is busy
 * gets the message as usual.
 */

/** cast from `via`, handled at once by a waiting local gen_server. */
export function castHere<P extends Protocol>(via: Ctx, server: ServerRef<P>, msg: CastOf<P>): void {
  const caller = via as Proc;
  const core = caller.core;
  const p = localServer(core, server);
  if (p !== undefined && core.scheduler.handleNow(p, ['$gen_cast', msg])) return;
  rawCast(core, server, msg, caller);
}

/**
 * call from `via`, handled at once by a waiting local gen_server: a reply given in that
 * step is answered as the value itself (no monitor, promise or turn); otherwise, as
 * call, a promise of it.
 */
export function callHere<P extends Protocol, R extends CallOf<P>>(
  via: Ctx,
  server: ServerRef<P>,
  req: R,
  timeoutMs: number = DEFAULT_CALL_TIMEOUT_MS,
): ReplyOf<P, R[0]> | Promise<ReplyOf<P, R[0]>> {
  const caller = via as Proc;
  const core = caller.core;
  const p = localServer(core, server);
  if (p !== undefined) {
    const r = callNow(core, p, server, req, timeoutMs, caller);
    if (r !== NOT_NOW) return r as ReplyOf<P, R[0]> | Promise<ReplyOf<P, R[0]>>;
  }
  return rawCall(core, server, req, timeoutMs, caller) as Promise<ReplyOf<P, R[0]>>;
}

/** Answer a call later (after returning `noreply`). */
export function replyTo(from: From, value: unknown): void {
  rawReply(currentCore(), from, value);
}

/**
 * Stop a server as gen_server:stop/3 does: it runs `terminate` and exits with `reason`
 * (after the messages already in its mailbox); resolves once it is gone. After
 * `timeoutMs` it is killed instead.
 */
export async function stopServer(server: ServerRef<Protocol>, reason: Reason = 'normal', timeoutMs = Infinity): Promise<void> {
  const core = current.proc?.core ?? currentCore();
  const pid = typeof server === 'string' ? core.whereis(server) : server instanceof Array ? undefined : (server);
  const p = pid === undefined ? undefined : core.lookup(pid);
  if (p === undefined) throw new ExitError('noproc', ['gen_server', 'stop', [server]]);
  const done = core.waitExit(p.pid);
  if (p.driver instanceof GenServerDriver) p.deliver([STOP_TAG, reason]);
  else exitProcess(core, p, reason);
  const timer = Number.isFinite(timeoutMs) ? core.timers.after(timeoutMs, () => exitProcess(core, p, 'killed')) : undefined;
  await done;
  if (timer !== undefined) core.timers.cancel(timer);
}
