/**
 * Interop with a real Erlang node (Debian erlang-base, OTP 25) over loopback TCP: our
 * initiator and our acceptor against erl's dist_util, with the right and a wrong cookie,
 * then real ETF pass-through frames from erl, answered well enough for net_adm:ping to
 * print pong. Each test starts its own epmd (our daemon) and erl, and kills them in
 * teardown. Skipped, with a log line, when erl is not installed.
 */
import test, { type ExecutionContext } from 'ava';
import net from 'node:net';
import { portPlease, register } from '../../../epmd/index.js';
import { Pid, Ref } from '../../../runtime/terms.js';
import { DFLAG, hasFlag } from '../../../runtime/dist/flags.js';
import { SocketFrameIO } from '../../../runtime/dist/framing.js';
import { accept, HandshakeError, initiate, type HandshakeResult } from '../../../runtime/dist/handshake.js';
import { CTRL, decodeDistMessage, encodeDistMessage, ErlList, type DistMessage } from '../../../runtime/dist/etf.js';
import { daemon } from '../../helpers/epmd.js';
import { hasBinary, startChild, type Child } from '../../helpers/procs.js';
import { withTimeout } from '../../helpers/wait.js';

const haveErl = hasBinary('erl');
const erlTest = haveErl ? test.serial : test.skip;
if (!haveErl) console.log('dist interop: erl not installed (apt-get install erlang-base); interop tests skipped');

const OURS = 'ours@127.0.0.1';
const WAIT_MS = 20_000;

/** A real erl node with a long name, registered with the epmd on `epmdPort`; killed in teardown. */
function erl(t: ExecutionContext, name: string, cookie: string, epmdPort: number, expr: string): Child {
  const child = startChild(
    'erl',
    ['-noshell', '-start_epmd', 'false', '-name', `${name}@127.0.0.1`, '-setcookie', cookie, '-eval', expr],
    { env: { ...process.env, ERL_EPMD_PORT: String(epmdPort) } },
  );
  t.teardown(() => child.kill());
  return child;
}

/** Connect to a registered erl node and run our initiator over the socket. */
async function dial(t: ExecutionContext, epmdPort: number, alive: string, cookie: string): Promise<{ io: SocketFrameIO; result: Promise<HandshakeResult> }> {
  const info = await portPlease(alive, { port: epmdPort });
  if (info === 'noport') throw new Error(`${alive} is not registered`);
  const socket = net.connect({ host: '127.0.0.1', port: info.port });
  t.teardown(() => socket.destroy());
  await withTimeout(new Promise((r) => socket.once('connect', r)), `TCP connect to ${alive}`);
  const io = new SocketFrameIO(socket);
  return { io, result: initiate(io, { name: OURS, peer: `${alive}@127.0.0.1`, creation: 7, cookie }) };
}

/** Read connected frames until `match` returns a value (ticks skipped); every read is bounded. */
async function until<T>(io: SocketFrameIO, seen: DistMessage[], match: (m: DistMessage) => T | undefined): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const frame = await io.recv(Math.max(1, deadline - Date.now()));
    if (frame.length === 0) continue; // tick
    const m = decodeDistMessage(frame);
    seen.push(m);
    const v = match(m);
    if (v !== undefined) return v;
  }
}

erlTest('dist interop: our initiator completes the handshake with erl and exchanges ETF messages', async (t) => {
  const epmd = await daemon(t);
  const node = erl(
    t,
    'x',
    'c',
    epmd.port,
    'register(echo, self()), io:format("ready~n"), ' +
      'receive {From, Msg} -> From ! {echo, Msg, nodes()} after 20000 -> timeout end, ' +
      'receive never -> ok after 20000 -> ok end.',
  );
  await node.waitOutput(/ready/, 'erl x to boot', WAIT_MS);
  const { io, result } = await dial(t, epmd.port, 'x', 'c');
  const hs = await result;
  t.is(hs.peerName, 'x@127.0.0.1');
  t.false(hs.beamqPeer, 'a BEAM node does not set the beamq bit');
  t.true(hs.peerCreation > 0, 'creation from epmd');
  t.true(hasFlag(hs.flags, DFLAG.ALIAS) && !hasFlag(hs.flags, DFLAG.DIST_HDR_ATOM_CACHE) && !hasFlag(hs.flags, DFLAG.FRAGMENTS));

  // Send {self(), hello} to erl's registered `echo`; it answers to our pid with nodes().
  io.setMode('connected');
  const me = new Pid(OURS, 1, 0, 7);
  io.send(encodeDistMessage([CTRL.REG_SEND, me, '', 'echo'], [me, 'hello']));
  const seen: DistMessage[] = [];
  const reply = await until(io, seen, (m) => {
    const c = m.control;
    return (c[0] === CTRL.SEND_SENDER || c[0] === CTRL.SEND) && c[2].equals(me) ? m.payload : undefined;
  });
  t.deepEqual(reply, ['echo', 'hello', new ErlList([OURS])], 'erl lists us in nodes(): a visible node');
  io.close();
});

erlTest('dist interop: with a wrong cookie our initiator fails with bad_cookie and erl logs the refusal', async (t) => {
  const epmd = await daemon(t);
  const node = erl(t, 'x', 'c', epmd.port, 'io:format("ready~n"), receive never -> ok after 20000 -> ok end.');
  await node.waitOutput(/ready/, 'erl x to boot', WAIT_MS);
  const { result } = await dial(t, epmd.port, 'x', 'not-c');
  const err = await t.throwsAsync(result, { instanceOf: HandshakeError });
  t.is(err?.code, 'bad_cookie');
  t.regex(err?.message ?? '', /x@127\.0\.0\.1 closed the connection after our challenge reply/);
  await node.waitOutput(/Connection attempt from node '?ours@127\.0\.0\.1'? rejected\. Invalid challenge reply/, 'erl to log the bad cookie', WAIT_MS);
  t.pass();
});

/**
 * Our acceptor, registered with epmd as `ours`: runs the handshake on the first
 * connection, then answers net_kernel's is_auth call as net_adm:ping expects.
 */
async function ourNode(t: ExecutionContext, epmdPort: number, cookie: string) {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = new Set<net.Socket>();
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const reg = await register('ours', (server.address() as net.AddressInfo).port, { port: epmdPort });
  t.teardown(() => reg.close());
  const seen: DistMessage[] = [];
  const me = new Pid(OURS, 1, 0, reg.creation);
  const outcome = new Promise<{ hs: HandshakeResult; answered: Promise<DistMessage> }>((resolve, reject) => {
    server.once('connection', (socket) => {
      sockets.add(socket);
      const io = new SocketFrameIO(socket);
      accept(io, { name: OURS, creation: reg.creation, cookie, decideStatus: () => 'ok' }).then((hs) => {
        io.setMode('connected');
        // net_adm:ping = gen:call({net_kernel, Node}, {is_auth, node()}): a REG_SEND of
        // {'$gen_call', {From, Tag}, {is_auth, Node}}; the answer is {Tag, yes} to From,
        // or to the alias when Tag is [alias | Ref] (OTP 24+ gen:call).
        const answered = until(io, seen, (m) => {
          const c = m.control;
          if (c[0] !== CTRL.REG_SEND || c[3] !== 'net_kernel' || !Array.isArray(m.payload)) return undefined;
          const [label, from, req] = m.payload as unknown[];
          if (label !== '$gen_call' || !Array.isArray(from) || !Array.isArray(req) || req[0] !== 'is_auth') return undefined;
          const [pid, tag] = from as [Pid, unknown];
          const alias = tag instanceof ErlList && tag.items[0] === 'alias' && tag.tail instanceof Ref ? tag.tail : undefined;
          if (alias !== undefined && hasFlag(hs.flags, DFLAG.ALIAS)) io.send(encodeDistMessage([CTRL.ALIAS_SEND, me, alias], [tag, 'yes']));
          else io.send(encodeDistMessage([CTRL.SEND_SENDER, me, pid], [tag, 'yes']));
          return m;
        });
        resolve({ hs, answered });
      }, reject);
    });
  });
  return { outcome, seen };
}

erlTest('dist interop: erl connects to our acceptor, and net_adm:ping gets pong from us', async (t) => {
  const epmd = await daemon(t);
  const ours = await ourNode(t, epmd.port, 'c');
  const node = erl(t, 'y', 'c', epmd.port, `io:format("ping=~p~n", [net_adm:ping('${OURS}')]), halt().`);
  const { hs, answered } = await withTimeout(ours.outcome, 'erl to connect to our acceptor', WAIT_MS);
  t.is(hs.peerName, 'y@127.0.0.1');
  t.true(hasFlag(hs.peerFlags, DFLAG.PUBLISHED));
  const call = await withTimeout(answered, 'the is_auth call from net_adm:ping', WAIT_MS);
  t.like(call.payload, { 0: '$gen_call', 2: ['is_auth', 'y@127.0.0.1'] });
  const m = await node.waitOutput(/ping=(\w+)/, 'erl to print the ping result', WAIT_MS);
  t.is(m[1], 'pong', 'erl printed pong');
  t.is(await node.exited(WAIT_MS), 0);
  t.log('control ops decoded from erl:', ours.seen.map((s) => s.control[0]).join(' '));
});

erlTest('dist interop: erl with a wrong cookie is refused by our acceptor and gets pang', async (t) => {
  const epmd = await daemon(t);
  const ours = await ourNode(t, epmd.port, 'c');
  const node = erl(t, 'y', 'wrong', epmd.port, `io:format("ping=~p~n", [net_adm:ping('${OURS}')]), halt().`);
  const err = await t.throwsAsync(withTimeout(ours.outcome, 'erl to connect to our acceptor', WAIT_MS), { instanceOf: HandshakeError });
  t.is(err?.code, 'bad_cookie');
  t.is(err?.message, 'Connection attempt from node y@127.0.0.1 rejected. Invalid challenge reply.');
  const m = await node.waitOutput(/ping=(\w+)/, 'erl to print the ping result', WAIT_MS);
  t.is(m[1], 'pang');
});
