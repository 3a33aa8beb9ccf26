/**
 * rpc against the `rex` server of in-process named nodes: values of sync and async
 * functions, every badrpc reason, cast, multicall with a node down, and calls running
 * in processes of their own.
 */
import test from 'ava';
import { exit, exportModule, node, nodes, rpc, RpcError, self, send, type Pid } from '../../../runtime/index.js';
import { distNode, testEpmd } from '../../helpers/dist.js';
import { recorder } from '../../helpers/runtime.js';
import { withTimeout } from '../../helpers/wait.js';

async function badrpc(p: Promise<unknown>): Promise<unknown> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof RpcError)) throw new Error(`expected an RpcError, got ${String(e)}`);
  return e.reason;
}

test('rpc: call returns the value of a sync and of an async function', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  b.run(() =>
    exportModule('math', {
      add: (x: number, y: number) => x + y,
      later: async (x: number) => {
        await Promise.resolve();
        return ['doubled', x * 2];
      },
      where: () => node(),
    }),
  );
  t.is(await a.run(() => rpc.call(b.name, 'math', 'add', [1, 2])), 3);
  t.deepEqual(await a.run(() => rpc.call(b.name, 'math', 'later', [21])), ['doubled', 42]);
  t.is(await a.run(() => rpc.call(b.name, 'math', 'where')), b.name, 'the function runs on the target node');
});

test('rpc: a call to the local node runs there without the network', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  a.run(() => exportModule('m', { hi: (who: string) => `hi ${who}` }));
  t.is(await a.run(() => rpc.call(a.name, 'm', 'hi', ['me'])), 'hi me');
  t.deepEqual(a.run(() => nodes()), []);
});

test('rpc: badrpc undef for a function the node does not export', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  b.run(() => exportModule('m', { f: () => 1 }));
  t.deepEqual(await badrpc(a.run(() => rpc.call(b.name, 'm', 'g'))), ['undef', 'm', 'g']);
  t.deepEqual(await badrpc(a.run(() => rpc.call(b.name, 'nomod', 'f'))), ['undef', 'nomod', 'f']);
});

test('rpc: badrpc EXIT when the function throws or its process dies', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  b.run(() =>
    exportModule('m', {
      fail: () => {
        throw new TypeError('no such thing');
      },
      rejects: () => Promise.reject(new Error('async no')),
      suicide: () => {
        exit(self(), 'kill');
        return 'unreachable';
      },
    }),
  );
  const thrown = (await badrpc(a.run(() => rpc.call(b.name, 'm', 'fail')))) as [string, [string, Error]];
  t.is(thrown[0], 'EXIT');
  t.is(thrown[1][0], 'error');
  t.is(thrown[1][1].message, 'no such thing', 'the error crosses the network');
  const rejected = (await badrpc(a.run(() => rpc.call(b.name, 'm', 'rejects')))) as [string, [string, Error]];
  t.is(rejected[1][1].message, 'async no');
  t.deepEqual(await badrpc(a.run(() => rpc.call(b.name, 'm', 'suicide'))), ['EXIT', 'killed']);
});

test('rpc: badrpc timeout when the call outlives its timeout', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  b.run(() => exportModule('m', { never: () => new Promise(() => undefined) }));
  t.is(await badrpc(a.run(() => rpc.call(b.name, 'm', 'never', [], 50))), 'timeout');
});

test('rpc: badrpc nodedown for a node that is not running', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  t.is(await badrpc(a.run(() => rpc.call(`nobody${process.pid}@127.0.0.1`, 'm', 'f'))), 'nodedown');
});

test('rpc: cast runs the function on the node', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  const out = recorder(a);
  b.run(() => exportModule('m', { tell: (to: Pid, what: string) => send(to, [what, node()]) }));
  t.true(a.run(() => rpc.cast(b.name, 'm', 'tell', [out.pid, 'cast'])));
  t.deepEqual(await out.next((m) => Array.isArray(m) && m[0] === 'cast', 'the cast to run'), ['cast', b.name]);
});

test('rpc: multicall over three nodes lists the node that is down in bad', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  const c = await distNode(t, epmd);
  for (const n of [a, b, c]) n.run(() => exportModule('m', { where: () => node(), fail: () => Promise.reject(new Error('x')) }));
  t.deepEqual(await a.run(() => rpc.multicall([a.name, b.name, c.name], 'm', 'where')), {
    results: [
      [a.name, a.name],
      [b.name, b.name],
      [c.name, c.name],
    ],
    bad: [],
  });
  await c.stop();
  const r = await a.run(() => rpc.multicall([a.name, b.name, c.name], 'm', 'where', [], 5_000));
  t.deepEqual(r, { results: [[a.name, a.name], [b.name, b.name]], bad: [c.name] });
  // A function that fails still answers: its value is the badrpc, as in OTP's ResL.
  const f = await a.run(() => rpc.multicall([b.name], 'm', 'fail'));
  t.true(f.results[0]?.[1] instanceof RpcError);
  t.deepEqual(f.bad, []);
});

test('rpc: a slow call does not delay a fast one', async (t) => {
  const epmd = await testEpmd(t);
  const a = await distNode(t, epmd);
  const b = await distNode(t, epmd);
  let open: (v: string) => void = () => undefined;
  const gate = new Promise<string>((r) => (open = r));
  b.run(() => exportModule('m', { slow: () => gate, fast: () => 'fast' }));
  let slowDone = false;
  const slow = a.run(() => rpc.call(b.name, 'm', 'slow')).then((v) => {
    slowDone = true;
    return v;
  });
  t.is(await withTimeout(a.run(() => rpc.call(b.name, 'm', 'fast')), 'the fast call'), 'fast');
  t.false(slowDone, 'the slow call is still running');
  open('slow');
  t.is(await withTimeout(slow, 'the slow call'), 'slow');
});
