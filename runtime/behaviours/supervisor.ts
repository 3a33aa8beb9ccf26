/**
 * The supervisor process: starts children in order, restarts them by its strategy
 * (decided by supervisor-strategy.ts, carried out here), stops them in reverse order
 * with their shutdown timeouts, and answers startChild/terminateChild/… calls.
 * It is a GenServer that traps exits; its children are linked to it.
 */
import { logger } from '../log.js';
import { Pid } from '../terms.js';
import { ExitError, formatTerm, isCleanExit, serverName, type AnyReplyOf, type CallOf, type Reason, type ServerRef, type SystemMsg } from '../types.js';
import type { From } from '../process/call.js';
import type { Ctx, Proc } from '../process/process.js';
import { runAs } from '../process/scheduler.js';
import { checkChildSpec, type ChildSpec, type ChildType } from './child-spec.js';
import * as gen from './gen-server.js';
import { DEFAULT_FLAGS, onChildExit, shutdownOrder, type SupAction, type SupFlags, type Strategy } from './supervisor-strategy.js';

const log = logger('runtime:supervisor');

export interface SupervisorSpec {
  readonly strategy?: Strategy;
  readonly intensity?: number;
  readonly periodS?: number;
  /** Under simple_one_for_one: exactly one spec, the template for every child. */
  readonly children: readonly ChildSpec[];
}

export interface ChildInfo {
  readonly id: string;
  /** The running pid, or undefined when the child is not running. */
  readonly pid: Pid | undefined;
  readonly type: ChildType;
}

export interface ChildCounts {
  readonly specs: number;
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}

type Result<T> = readonly ['ok', T] | readonly ['error', unknown];

interface SupProtocol {
  calls: {
    start_child: { args: [specOrArgs: ChildSpec | readonly unknown[]]; reply: Result<Pid> };
    terminate_child: { args: [idOrPid: string | Pid]; reply: Result<null> };
    restart_child: { args: [id: string]; reply: Result<Pid> };
    delete_child: { args: [id: string]; reply: Result<null> };
    which_children: { args: []; reply: ChildInfo[] };
    count_children: { args: []; reply: ChildCounts };
  };
  info: readonly ['$sup_try_again', string];
}

/** The start arguments kept for a child that is never restarted. */
const NO_ARGS: readonly unknown[] = Object.freeze([]);

/*
 * State
 *   flags     strategy, intensity, period
 *   children  by key, in start order; under simple_one_for_one one entry per instance (key `#n`)
 *   byPid     running child pid key → child, for EXIT lookups
 *   template  the simple_one_for_one spec
 *   restarts  timestamps (ms) of recent restarts, for the intensity check
 * Invariant: a child is in byPid iff its `pid` is set.
 */
interface ChildRec {
  readonly key: string;
  readonly spec: ChildSpec;
  /** Extra start arguments of a simple_one_for_one child; dropped once a temporary one runs (never restarted). */
  args: readonly unknown[];
  pid: Pid | undefined;
}

interface State {
  readonly flags: SupFlags;
  readonly name: string;
  /** By key, in start order (a Map keeps insertion order and deletes in O(1)). */
  readonly children: Map<string, ChildRec>;
  readonly byPid: Map<string, ChildRec>;
  readonly template: ChildSpec | undefined;
  restarts: readonly number[];
}

const ok = <T>(v: T): Result<T> => ['ok', v];
const err = (reason: unknown): Result<never> => ['error', reason];

const supervisorServer: gen.GenServer<SupProtocol, State, { spec: SupervisorSpec; name: string }> = {
  async init({ spec, name }, ctx) {
    const flags: SupFlags = {
      strategy: spec.strategy ?? DEFAULT_FLAGS.strategy,
      intensity: spec.intensity ?? DEFAULT_FLAGS.intensity,
      periodS: spec.periodS ?? DEFAULT_FLAGS.periodS,
    };
    for (const c of spec.children) {
      const bad = checkChildSpec(c);
      if (bad !== undefined) return gen.stop(['bad_child_spec', bad]);
    }
    if (flags.strategy === 'simple_one_for_one' && spec.children.length !== 1) {
      return gen.stop(['bad_start_spec', 'simple_one_for_one needs exactly one child spec']);
    }
    const s: State = {
      flags,
      name,
      children: new Map(),
      byPid: new Map(),
      template: flags.strategy === 'simple_one_for_one' ? spec.children[0] : undefined,
      restarts: [],
    };
    if (s.template !== undefined) return gen.ok(s);
    for (const c of spec.children) {
      const rec: ChildRec = { key: c.id, spec: c, args: [], pid: undefined };
      s.children.set(rec.key, rec);
      const r = await startRec(s, rec, ctx as Proc);
      if (r[0] === 'error') {
        await shutdownAll(s, ctx as Proc);
        return gen.stop(['shutdown', ['failed_to_start_child', c.id, r[1]]]);
      }
    }
    return gen.ok(s);
  },

  handleCall(req, from, s, ctx) {
    // A simple_one_for_one child whose start answers at once is started without
    // parking the supervisor (a connect storm starts thousands in a row).
    if (req[0] === 'start_child' && s.template !== undefined) {
      const args = Array.isArray(req[1]) ? (req[1] as readonly unknown[]) : [];
      const rec: ChildRec = { key: `#${++sofoSeq}`, spec: s.template, args, pid: undefined };
      const r = startRec(s, rec, ctx as Proc);
      if (r instanceof Promise) return r.then((res) => startedSofo(s, rec, res));
      return startedSofo(s, rec, r);
    }
    return handleOtherCall(req, from, s, ctx);
  },

  handleInfo(msg, s, ctx) {
    const p = ctx as Proc;
    if (msg[0] === 'EXIT') {
      const rec = s.byPid.get((msg[1]).key);
      if (rec === undefined) return gen.noreply(s); // not a child (any more)
      s.byPid.delete(rec.pid!.key);
      rec.pid = undefined;
      const reason = msg[2];
      if (!isCleanExit(reason)) {
        log.error('child_terminated', { supervisor: s.name, child: rec.spec.id, pid: String(msg[1]), reason: formatTerm(reason) });
      }
      return carryOut(s, rec, reason, p);
    }
    if (msg[0] === '$sup_try_again') {
      const rec = s.children.get(msg[1]);
      if (rec === undefined || rec.pid !== undefined) return gen.noreply(s);
      return carryOut(s, rec, 'restart_failed', p);
    }
    return gen.unexpected(log, 'info', msg, s);
  },

  async terminate(_reason, s, ctx) {
    await shutdownAll(s, ctx as Proc);
  },
};

function startedSofo(s: State, rec: ChildRec, r: Result<Pid>): gen.Step<State, Result<Pid>> {
  if (r[0] === 'ok') {
    // As OTP: a temporary child is never restarted, so its start arguments are not
    // kept (they can hold a whole connection's worth of state, per child).
    if (rec.spec.restart === 'temporary') rec.args = NO_ARGS;
    s.children.set(rec.key, rec);
  }
  return gen.reply(r, s);
}

/** Every call but a simple_one_for_one start_child. */
async function handleOtherCall(req: CallOf<SupProtocol>, _from: From, s: State, ctx: Ctx): Promise<gen.Step<State, AnyReplyOf<SupProtocol>>> {
  const p = ctx as Proc;
  switch (req[0]) {
    case 'start_child': {
      const spec = req[1] as ChildSpec;
      const bad = checkChildSpec(spec);
      if (bad !== undefined) return gen.reply(err(['bad_child_spec', bad]), s);
      const existing = s.children.get(spec.id);
      if (existing !== undefined) return gen.reply(err(existing.pid === undefined ? 'already_present' : ['already_started', existing.pid]), s);
      const rec: ChildRec = { key: spec.id, spec, args: [], pid: undefined };
      const r = await startRec(s, rec, p);
      if (r[0] === 'ok') s.children.set(rec.key, rec);
      return gen.reply(r, s);
    }
    case 'terminate_child': {
      const rec = find(s, req[1]);
      if (rec === undefined) return gen.reply(err('not_found'), s);
      await shutdownChild(s, rec, p);
      if (s.template !== undefined || rec.spec.restart === 'temporary') remove(s, rec);
      return gen.reply(ok(null), s);
    }
    case 'restart_child': {
      if (s.template !== undefined) return gen.reply(err('simple_one_for_one'), s);
      const rec = find(s, req[1]);
      if (rec === undefined) return gen.reply(err('not_found'), s);
      if (rec.pid !== undefined) return gen.reply(err('running'), s);
      return gen.reply(await startRec(s, rec, p), s);
    }
    case 'delete_child': {
      if (s.template !== undefined) return gen.reply(err('simple_one_for_one'), s);
      const rec = find(s, req[1]);
      if (rec === undefined) return gen.reply(err('not_found'), s);
      if (rec.pid !== undefined) return gen.reply(err('running'), s);
      remove(s, rec);
      return gen.reply(ok(null), s);
    }
    case 'which_children':
      return gen.reply(
        [...s.children.values()].map((c) => ({ id: c.spec.id, pid: c.pid, type: c.spec.type })),
        s,
      );
    case 'count_children': {
      const specs = s.template !== undefined ? 1 : s.children.size;
      let active = 0;
      let supervisors = 0;
      for (const c of s.children.values()) {
        if (c.pid !== undefined) active++;
        if (c.spec.type === 'supervisor') supervisors++;
      }
      return gen.reply({ specs, active, supervisors, workers: s.children.size - supervisors }, s);
    }
  }
}

/** Ask the strategy what to do about `rec` having exited, and do it. */
function carryOut(s: State, rec: ChildRec, reason: Reason, p: Proc): gen.Step<State> | Promise<gen.Step<State>> {
  // one_for_one decisions concern the one child: skip building a view of thousands.
  const st = s.flags.strategy;
  const children = st === 'one_for_one' || st === 'simple_one_for_one' ? [rec] : [...s.children.values()];
  const d = onChildExit(s.flags, children.map(view), s.restarts, rec.key, reason, Date.now());
  s.restarts = d.restarts;
  // A temporary child's end only deletes it: done without parking the supervisor.
  if (d.actions.every((a) => a[0] === 'delete' || a[0] === 'keep')) {
    for (const a of d.actions) if (a[0] === 'delete') removeKey(s, a[1]);
    return gen.noreply(s);
  }
  return carryOutAsync(s, d.actions, p);
}

function removeKey(s: State, key: string): void {
  const rec = s.children.get(key);
  if (rec !== undefined) remove(s, rec);
}

async function carryOutAsync(s: State, actions: readonly SupAction[], p: Proc): Promise<gen.Step<State>> {
  for (const a of actions) {
    const stopped = await run(a, s, p);
    if (stopped !== undefined) return stopped;
  }
  return gen.noreply(s);
}

const view = (c: ChildRec) => ({ key: c.key, restart: c.spec.restart, running: c.pid !== undefined });

async function run(a: SupAction, s: State, p: Proc): Promise<gen.Step<State> | undefined> {
  switch (a[0]) {
    case 'terminate':
      for (const k of a[1]) {
        const rec = s.children.get(k);
        if (rec !== undefined) await shutdownChild(s, rec, p);
      }
      return undefined;
    case 'start':
      for (const k of a[1]) {
        const rec = s.children.get(k);
        if (rec === undefined || rec.pid !== undefined) continue;
        const r = await startRec(s, rec, p);
        // As OTP's try_again_restart: a failed restart is retried, counting against the intensity.
        if (r[0] === 'error') p.send(p.pid, ['$sup_try_again', rec.key]);
      }
      return undefined;
    case 'delete': {
      const rec = s.children.get(a[1]);
      if (rec !== undefined) remove(s, rec);
      return undefined;
    }
    case 'keep':
      return undefined;
    case 'give_up':
      log.error('reached_max_restart_intensity', { supervisor: s.name, intensity: s.flags.intensity, period_s: s.flags.periodS });
      return gen.stop(a[1], s);
  }
}

/** simple_one_for_one instances are keyed `#n`. */
let sofoSeq = 0;

function find(s: State, idOrPid: string | Pid): ChildRec | undefined {
  return idOrPid instanceof Pid ? s.byPid.get(idOrPid.key) : s.children.get(idOrPid);
}

function remove(s: State, rec: ChildRec): void {
  s.children.delete(rec.key);
  if (rec.pid !== undefined) s.byPid.delete(rec.pid.key);
}

/** Start `rec`'s child; synchronous when its start function answers with a pid (not a promise). */
function startRec(s: State, rec: ChildRec, p: Proc): Result<Pid> | Promise<Result<Pid>> {
  let r: unknown;
  try {
    // The child's startLink must see the supervisor as its caller, even after an await.
    r = runAs(p, () => (rec.spec.start as (...a: readonly unknown[]) => Pid | Promise<Pid>)(...rec.args));
  } catch (e) {
    return startFailed(s, rec, e);
  }
  if (r instanceof Pid) return started(s, rec, p, r);
  return Promise.resolve(r).then(
    (pid) => started(s, rec, p, pid),
    (e: unknown) => startFailed(s, rec, e),
  );
}

function startFailed(s: State, rec: ChildRec, e: unknown): Result<Pid> {
  const reason = e instanceof ExitError ? e.reason : formatTerm(e);
  log.error('start_error', { supervisor: s.name, child: rec.spec.id, reason: formatTerm(reason) });
  return err(reason);
}

function started(s: State, rec: ChildRec, p: Proc, pid: unknown): Result<Pid> {
  if (!(pid instanceof Pid)) {
    log.error('start_error', { supervisor: s.name, child: rec.spec.id, reason: 'start did not return a pid' });
    return err(['bad_return', formatTerm(pid)]);
  }
  p.link(pid); // a start function that lost the caller still leaves the child supervised
  rec.pid = pid;
  s.byPid.set(pid.key, rec);
  return ok(pid);
}

/** Stop one child: `shutdown` then `kill` after its timeout (or `kill` at once), and wait for it. */
async function shutdownChild(s: State, rec: ChildRec, p: Proc): Promise<void> {
  const pid = rec.pid;
  if (pid === undefined) return;
  rec.pid = undefined;
  s.byPid.delete(pid.key);
  const core = p.core;
  const down = core.waitExit(pid);
  // Unlink and drop an EXIT already queued: this exit is ours, not a crash to act on.
  p.unlink(pid);
  const i = p.mailbox.findIndex((m) => Array.isArray(m) && m[0] === 'EXIT' && pid.equals(m[1]));
  if (i >= 0) p.mailbox.removeAt(i);
  const sd = rec.spec.shutdown;
  let expected: Reason = 'shutdown';
  if (sd === 'brutal_kill') {
    expected = 'killed';
    p.exit(pid, 'kill');
  } else {
    p.exit(pid, 'shutdown');
    if (sd !== 'infinity') {
      let timer;
      const timedOut = new Promise<'timeout'>((r) => (timer = core.timers.after(sd, () => r('timeout'))));
      if ((await Promise.race([down, timedOut])) === 'timeout') {
        expected = 'killed';
        p.exit(pid, 'kill');
      } else if (timer !== undefined) core.timers.cancel(timer);
    }
  }
  const reason = await down;
  if (reason !== expected && reason !== 'noproc' && !(expected === 'shutdown' && isCleanExit(reason))) {
    log.error('shutdown_error', { supervisor: s.name, child: rec.spec.id, reason: formatTerm(reason) });
  }
}

async function shutdownAll(s: State, p: Proc): Promise<void> {
  for (const k of shutdownOrder([...s.children.values()].map(view))) {
    const rec = s.children.get(k);
    if (rec !== undefined) await shutdownChild(s, rec, p);
  }
}

// --- API -------------------------------------------------------------------------

export type SupRef = ServerRef<SupProtocol>;

/** Start a supervisor linked to the caller. Resolves once every child has started. */
export function startLink(spec: SupervisorSpec, opts: { name?: string } = {}): Promise<Pid> {
  const name = opts.name ?? 'supervisor';
  return gen.startLink(supervisorServer, { spec, name }, { ...(opts.name === undefined ? {} : { name: opts.name }), trapExit: true });
}

/** Start a supervisor that is not linked to the caller. */
export function start(spec: SupervisorSpec, opts: { name?: string } = {}): Promise<Pid> {
  const name = opts.name ?? 'supervisor';
  return gen.start(supervisorServer, { spec, name }, { ...(opts.name === undefined ? {} : { name: opts.name }), trapExit: true });
}

function unwrap<T>(r: Result<T>, what: string): T {
  if (r[0] === 'ok') return r[1];
  throw new ExitError(r[1] as Reason, ['supervisor', what]);
}

/** Add and start a child (a spec, or the extra start arguments under simple_one_for_one). */
export async function startChild(sup: SupRef, specOrArgs: ChildSpec | readonly unknown[]): Promise<Pid> {
  return unwrap(await gen.call(sup, ['start_child', specOrArgs], Infinity), 'start_child');
}

export async function terminateChild(sup: SupRef, idOrPid: string | Pid): Promise<void> {
  unwrap(await gen.call(sup, ['terminate_child', idOrPid], Infinity), 'terminate_child');
}

export async function restartChild(sup: SupRef, id: string): Promise<Pid> {
  return unwrap(await gen.call(sup, ['restart_child', id], Infinity), 'restart_child');
}

export async function deleteChild(sup: SupRef, id: string): Promise<void> {
  unwrap(await gen.call(sup, ['delete_child', id], Infinity), 'delete_child');
}

export function whichChildren(sup: SupRef): Promise<ChildInfo[]> {
  return gen.call(sup, ['which_children'], Infinity);
}

export function countChildren(sup: SupRef): Promise<ChildCounts> {
  return gen.call(sup, ['count_children'], Infinity);
}

export const supervisorRef = (name: string): SupRef => serverName<SupProtocol>(name);
export type { SystemMsg, Ctx };
