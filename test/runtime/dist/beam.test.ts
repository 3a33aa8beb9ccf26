/**
 * A beamq node among real Erlang nodes (Debian erlang-base): it registers with
 * Erlang's epmd, completes the handshake with `erl` in both directions, is refused
 * (both sides) with a different cookie, and keeps working after the BEAM's
 * Erlang-term frames arrive. Skipped, saying so, without erl/epmd.
 */
import test, { type ExecutionContext } from 'ava';
import { names } from '../../../epmd/index.js';
import { connectNode, nodes, startNode, type LocalNode } from '../../../runtime/index.js';
import { freePort } from '../../helpers/ports.js';
import { hasBinary, runCommand, startChild, type Child } from '../../helpers/procs.js';
import { captureLogs } from '../../helpers/runtime.js';
import { waitFor } from '../../helpers/wait.js';

const haveErlang = hasBinary('erl') && hasBinary('epmd');
const erlTest = haveErlang ? test : test.skip;
if (!haveErlang) console.log('beam: erl/epmd not installed (apt-get install erlang-base); BEAM interop tests skipped');

let seq = 0;

async function realEpmd(t: ExecutionContext): Promise<number> {
  const port = await freePort();
  const child = startChild('epmd', ['-port', String(port), '-address', '127.0.0.1']);
  t.teardown(() => child.kill());
  await waitFor(() => names({ port, timeoutMs: 500 }).then(() => true), "Erlang's epmd", 10_000);
  return port;
}

async function ours(t: ExecutionContext, epmdPort: number, cookie: string): Promise<LocalNode> {
  const n = await startNode({ name: `ours${process.pid}_${++seq}@127.0.0.1`, cookie, epmdPort });
  t.teardown(() => n.stop());
  return n;
}

function erl(t: ExecutionContext, name: string, epmdPort: number, cookie: string, expr: string): Child {
  const c = startChild('erl', ['-noshell', '-start_epmd', 'false', '-name', `${name}@127.0.0.1`, '-setcookie', cookie, '-eval', expr], {
    env: { ...process.env, ERL_EPMD_PORT: String(epmdPort) },
  });
  t.teardown(() => c.kill());
  return c;
}

erlTest("beam: our node registers with Erlang's epmd and shows in its -names", async (t) => {
  const port = await realEpmd(t);
  const n = await ours(t, port, 'c');
  const r = await runCommand('epmd', ['-port', String(port), '-names']);
  t.regex(r.stdout, new RegExp(`name ${n.name.split('@')[0]!} at port \\d+`));
});

erlTest('beam: erl connects to us (true), and we connect to erl (true); pings answer pong', async (t) => {
  const port = await realEpmd(t);
  const n = await ours(t, port, 'shared');
  const e = erl(
    t,
    `e${process.pid}_${++seq}`,
    port,
    'shared',
    `R = net_kernel:connect_node('${n.name}'), P = net_adm:ping('${n.name}'), ` +
      `io:format("connect=~p ping=~p nodes=~p~n", [R, P, nodes()]), receive stop -> ok end.`,
  );
  const m = await e.waitOutput(/connect=(\w+) ping=(\w+) nodes=(.*)\n/, 'erl to connect to us');
  t.is(m[1], 'true');
  t.is(m[2], 'pong');
  t.true(m[3]!.includes(n.name));
  const erlName = (await waitFor(() => n.run(() => nodes()).find((x) => x.startsWith('e')), 'erl in our nodes()'));
  // And the other way: a fresh erl node, our connect_node.
  const fAlive = `f${process.pid}_${++seq}`;
  const fName = `${fAlive}@127.0.0.1`;
  const f = erl(t, fAlive, port, 'shared', 'io:format("ready~n"), receive stop -> ok end.');
  await f.waitOutput(/ready/, 'erl f to boot');
  t.true(await n.run(() => connectNode(fName)));
  t.true(n.run(() => nodes()).includes(fName));
  t.true(n.run(() => nodes()).includes(erlName));
});

erlTest('beam: a different cookie is refused on both sides, and every node carries on', async (t) => {
  const port = await realEpmd(t);
  const logs = captureLogs(t);
  const n = await ours(t, port, 'right');
  const eAlive = `w${process.pid}_${++seq}`;
  const eName = `${eAlive}@127.0.0.1`;
  const e = erl(t, eAlive, port, 'wrong', `R = net_kernel:connect_node('${n.name}'), io:format("connect=~p~n", [R]), receive stop -> ok end.`);
  t.is((await e.waitOutput(/connect=(\w+)/, 'erl to try'))[1], 'false');
  t.false(await n.run(() => connectNode(eName)));
  t.deepEqual(n.run(() => nodes()), []);
  await waitFor(() => logs.some((l) => l.event === 'handshake_refused'), 'our refusal in the log');
  await e.waitOutput(/rejected|Invalid challenge/i, "erl's log to say why");
  // Both still work: a second erl with the right cookie gets in.
  const ok = erl(t, `r${process.pid}_${++seq}`, port, 'right', `R = net_kernel:connect_node('${n.name}'), io:format("connect=~p~n", [R]), receive stop -> ok end.`);
  t.is((await ok.waitOutput(/connect=(\w+)/, 'erl with the right cookie'))[1], 'true');
});
