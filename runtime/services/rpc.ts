/**
 * rpc: the `rex` server every named node runs, and `call`/`cast`/`multicall` against
 * it (OTP's rpc). A remote call names a function the target node exported with
 * `exportModule` (functions never travel); rex runs each one in a process of its own,
 * as OTP's rex does, so a slow call never holds up the next. Rex itself never awaits.
 */
import { logger } from '../log.js';
import type { Atom, NodeName } from '../terms.js';
import { ExitError, formatTerm, serverName, type DownMsg, type Reason } from '../types.js';
import * as gen from '../behaviours/gen-server.js';
import { worker, type ChildSpec } from '../behaviours/child-spec.js';
import { call as rawCall, cast as rawCast, reply as rawReply, type From } from '../process/call.js';
import { currentCore } from '../process/current-core.js';
import type { NodeCore } from '../process/node-core.js';
import type { Proc } from '../process/process.js';
import { current } from '../process/scheduler.js';
import { ExitSignal } from '../process/shared.js';

const log = logger('runtime:rpc');

/**
 * Why a remote call failed, as the `Reason` of Erlang's `{badrpc, Reason}`:
 * `'nodedown'` (the node is not there or went away during the call), `'timeout'`,
 * `['EXIT', reason]` (the function threw, or its process died with `reason`), or
 * `['undef', module, fn]` (the node exports no such function).
 */
export type RpcReason = 'nodedown' | 'timeout' | readonly ['EXIT', Reason] | readonly ['undef', Atom, Atom];

/** What `rpc.call` rejects with: `reason` mirrors OTP's `{badrpc, Reason}`. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(readonly reason: RpcReason) {
    super(`badrpc: ${formatTerm(reason)}`);
  }
}

/** What `multicall` answers, as OTP's `{ResL, BadNodes}`. */
export interface MulticallResult {
  /**
   * `[node, value]` for every node that answered, in the order of the nodes asked. As in
   * OTP, a function that failed there still answers: its value is the `RpcError`.
   */
  readonly results: [NodeName, unknown][];
  /** The nodes that were down or did not answer in time. */
  readonly bad: NodeName[];
}

/** Rex's answer to a call: the value, or OTP's `{badrpc, Reason}`. */
type Answer = readonly ['ok', value: unknown] | readonly ['badrpc', reason: RpcReason];

interface RexProtocol {
  calls: { call: { args: [module: Atom, fn: Atom, args: readonly unknown[]]; reply: Answer } };
  casts: { cast: { args: [module: Atom, fn: Atom, args: readonly unknown[]] } };
  info: DownMsg;
}

const REX = serverName<RexProtocol>('rex');

// --- API -------------------------------------------------------------------------

/**
 * rpc:call/5: run `module.fn(...args)` on `node` (exported there with `exportModule`)
 * and resolve with its awaited result. Rejects with `RpcError`. A call to this node
 * goes to the local rex without touching the network.
 */
export async function call(node: NodeName, module: Atom, fn: Atom, args: readonly unknown[] = [], timeoutMs = Infinity): Promise<unknown> {
  const caller = current.proc;
  const core = caller?.core ?? currentCore();
  let answer: Answer;
  try {
    answer = (await rawCall(core, [REX, node], ['call', module, fn, [...args]], timeoutMs, caller)) as Answer;
  } catch (err) {
    throw new RpcError(badrpc(err));
  }
  if (answer[0] === 'ok') return answer[1];
  throw new RpcError(answer[1]);
}

/** rpc:cast/4: run `module.fn(...args)` on `node` and forget about it. Always true. */
export function cast(node: NodeName, module: Atom, fn: Atom, args: readonly unknown[] = []): true {
  const caller = current.proc;
  rawCast(caller?.core ?? currentCore(), [REX, node], ['cast', module, fn, [...args]], caller);
  return true;
}

/**
 * rpc:multicall/5: `call` on every node in parallel. Nodes that are down or time out
 * are listed in `bad`; every other node appears in `results` (see MulticallResult).
 */
export async function multicall(nodes: readonly NodeName[], module: Atom, fn: Atom, args: readonly unknown[] = [], timeoutMs = Infinity): Promise<MulticallResult> {
  const answers = await Promise.all(nodes.map((n) => call(n, module, fn, args, timeoutMs).then((v) => v, (e: unknown) => e)));
  const results: [NodeName, unknown][] = [];
  const bad: NodeName[] = [];
  answers.forEach((v, i) => {
    const node = nodes[i]!;
    if (v instanceof RpcError && (v.reason === 'nodedown' || v.reason === 'timeout')) bad.push(node);
    else results.push([node, v]);
  });
  return { results, bad };
}

/** The `rex` child spec: kernel_sup starts it on every named node. */
export function childSpec(): ChildSpec {
  return worker('rex', () => gen.startLink(rex, undefined, { name: REX }));
}

/** A failed call to rex, as OTP's rpc maps gen_server:call exits to badrpc. */
function badrpc(err: unknown): RpcReason {
  if (!(err instanceof ExitError)) return ['EXIT', ['error', err]];
  const r = err.reason;
  if (r === 'timeout') return 'timeout';
  if (r === 'noconnection' || (Array.isArray(r) && r[0] === 'nodedown')) return 'nodedown';
  return ['EXIT', r];
}

// --- the server ----------------------------------------------------------------------

/*
 * State
 *   core      the node rex serves: its exported modules and the process table calls run on.
 *   inflight  calls being run: worker monitor ref key → the caller. The worker answers the
 *             caller itself, then exits normal; rex answers only when the worker dies any
 *             other way (killed, say), with ['EXIT', reason]. An entry lives exactly as
 *             long as its worker's monitor.
 */
interface RexState {
  readonly core: NodeCore;
  readonly inflight: Map<string, From>;
}

type Fn = (...args: unknown[]) => unknown;

const rex: gen.GenServer<RexProtocol, RexState> = {
  init: (_args, ctx) => gen.ok({ core: (ctx as Proc).core, inflight: new Map() }),

  handleCall(req, from, s, ctx) {
    const [, module, fn, args] = req;
    const f = lookup(s.core, module, fn);
    if (f === undefined) return gen.reply(['badrpc', ['undef', module, fn]] as const, s);
    const [, ref] = ctx.spawnMonitor(async (self) => {
      let answer: Answer;
      // OTP's rex worker evaluates the call inside `catch`: a throw is an answer, not a crash.
      try {
        answer = ['ok', await f(...args)];
      } catch (err) {
        answer = ['badrpc', ['EXIT', err instanceof ExitSignal ? err.reason : ['error', err]]];
      }
      // A worker killed meanwhile is answered for by rex (its DOWN), whatever its function did next.
      if (s.core.isAlive(self.self)) rawReply(s.core, from, answer);
    });
    s.inflight.set(ref.key, from);
    return gen.noreply(s);
  },

  handleCast(msg, s, ctx) {
    const [, module, fn, args] = msg;
    const f = lookup(s.core, module, fn);
    if (f === undefined) {
      log.warn('rpc_cast_undef', { module, fn });
      return gen.noreply(s);
    }
    ctx.spawn(async () => {
      try {
        await f(...args);
      } catch (err) {
        // Nobody waits for a cast: the failure is only logged.
        log.warn('rpc_cast_failed', { module, fn, error: err instanceof Error ? err.message : formatTerm(err) });
      }
    });
    return gen.noreply(s);
  },

  handleInfo(msg, s, ctx) {
    if (msg[0] === 'DOWN') {
      const from = s.inflight.get(msg[1].key);
      if (from !== undefined) {
        s.inflight.delete(msg[1].key);
        if (msg[4] !== 'normal') rawReply(s.core, from, ['badrpc', ['EXIT', msg[4]]]);
        return gen.noreply(s);
      }
    }
    return gen.unexpected(ctx.log, 'info', msg, s);
  },
};

function lookup(core: NodeCore, module: Atom, fn: Atom): Fn | undefined {
  const f = core.modules.get(module)?.[fn];
  return typeof f === 'function' ? (f as Fn) : undefined;
}
