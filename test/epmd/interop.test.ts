/**
 * Interop with the real Erlang tools (Debian erlang-base): erl nodes and `epmd -names`
 * against our daemon, and our client against Erlang's epmd. Skipped, with a log line,
 * when erl/epmd are not installed.
 */
import test, { type ExecutionContext } from 'ava';
import { names, portPlease, register, startDaemon } from '../../epmd/index.js';
import { daemon } from '../helpers/epmd.js';
import { freePort } from '../helpers/ports.js';
import { hasBinary, runCommand, startChild, type Child } from '../helpers/procs.js';
import { exchange, hex, rawConnect } from '../helpers/raw-tcp.js';
import { waitFor } from '../helpers/wait.js';
import { builtScript } from '../helpers/paths.js';

const haveErlang = hasBinary('erl') && hasBinary('epmd');
const erlTest = haveErlang ? test : test.skip;
if (!haveErlang) console.log('interop: erl/epmd not installed (apt-get install erlang-base); interop tests skipped');

/** Start Erlang's own epmd in the foreground on a free loopback port; killed in teardown. */
async function realEpmd(t: ExecutionContext): Promise<number> {
  const port = await freePort();
  const child = startChild('epmd', ['-port', String(port), '-address', '127.0.0.1']);
  t.teardown(() => child.kill());
  await waitFor(() => names({ port, timeoutMs: 500 }).then(() => true), `Erlang's epmd on ${port}`, 10_000);
  return port;
}

/** A real erl node registered through epmd on `epmdPort`; killed in teardown. */
function erlNode(t: ExecutionContext, name: string, epmdPort: number, evalExpr: string): Child {
  const child = startChild(
    'erl',
    ['-noshell', '-start_epmd', 'false', '-name', `${name}@127.0.0.1`, '-setcookie', 'interop', '-eval', evalExpr],
    { env: { ...process.env, ERL_EPMD_PORT: String(epmdPort) } },
  );
  t.teardown(() => child.kill());
  return child;
}

erlTest("interop: Erlang's epmd -names lists our daemon's nodes in the same text", async (t) => {
  const d = await daemon(t);
  const a = await register('alpha', 40001, { port: d.port });
  const b = await register('beta', 40002, { port: d.port });
  const real = await runCommand('epmd', ['-port', String(d.port), '-names']);
  t.is(real.code, 0);
  t.is(real.stdout, `epmd: up and running on port ${d.port} with data:\nname beta at port 40002\nname alpha at port 40001\n`);
  const ours = await runCommand(process.execPath, [builtScript('epmd'), '-port', String(d.port), '-names']);
  t.is(ours.code, 0);
  t.is(ours.stdout, real.stdout, 'our CLI prints exactly what the real one prints');
  await a.close();
  await b.close();
});

erlTest('interop: two real erl nodes register with our daemon, ping each other, and leave on kill -9', async (t) => {
  const d = await daemon(t);
  const a = erlNode(t, 'a', d.port, 'io:format("ready~n").');
  await a.waitOutput(/ready/, 'node a to boot');
  const b = erlNode(
    t,
    'b',
    d.port,
    'P = net_adm:ping(\'a@127.0.0.1\'), {ok, Ns} = net_adm:names(), ' +
      'io:format("ping=~p names=~p~n", [P, lists:sort([N || {N, _} <- Ns])]), halt().',
  );
  const m = await b.waitOutput(/ping=(\w+) names=(.*)\n/, 'node b to ping a');
  t.is(m[1], 'pong');
  t.is(m[2], '["a","b"]');
  t.is(await b.exited(), 0);
  await waitFor(() => d.registered().length === 1, 'b to be unregistered after halt()');
  t.deepEqual(d.registered().map((r) => r.name), ['a']);
  a.kill('SIGKILL');
  await waitFor(() => d.registered().length === 0, 'a to be unregistered after kill -9');
  t.is(await portPlease('a', { port: d.port }), 'noport');
});

erlTest("interop: our client registers, looks up, lists and unregisters against Erlang's epmd", async (t) => {
  const port = await realEpmd(t);
  const r = await register('ours', 41999, { port, extra: Buffer.from('hi') });
  t.true(r.extended, 'OTP 25 epmd answers a v6 registration with ALIVE2_X_RESP');
  t.true(r.creation > 3);
  t.like(await portPlease('ours', { port }), { name: 'ours', port: 41999, nodeType: 77, highestVersion: 6 });
  t.deepEqual((await names({ port })).nodes, [{ name: 'ours', port: 41999 }]);
  await t.throwsAsync(register('ours', 1, { port }), { message: /refused/ });
  await r.close();
  await waitFor(async () => (await portPlease('ours', { port })) === 'noport', 'ours to be unregistered');
  const again = await register('ours', 41999, { port });
  t.is(again.creation, r.creation + 1, "Erlang's epmd bumps the creation as ours does");
  await again.close();
});

erlTest("interop: byte-for-byte, our daemon answers as Erlang's epmd does", async (t) => {
  const realPort = await realEpmd(t);
  const ours = await startDaemon({ port: 0, addresses: ['127.0.0.1'] });
  t.teardown(() => ours.close());
  // Same registrations on both (answers differ only by the clock-derived creation).
  const regs = [
    ['001678afc94d000006000500096370726f62655f76360000', 6],
    ['001678afca4d000005000500096370726f62655f76350000', 4],
    ['001a78afcb480000060005000a6370726f62655f6869640003657831', 6],
  ] as const;
  const held = [];
  for (const [req, n] of regs) {
    for (const port of [realPort, ours.port]) {
      const c = await rawConnect(port);
      await c.write(hex(req));
      const ans = await c.waitBytes(n);
      t.is(ans[1], 0, `registration ${req.slice(22, 40)} accepted on ${port}`);
      held.push(c);
    }
  }
  const requests = [
    '000a7a6370726f62655f7636', // PORT_PLEASE2 v6
    '000a7a6370726f62655f7635',
    '000b7a6370726f62655f686964',
    '000b7a6370726f62655f763600',
    '000e7a6370726f62655f6e6f73756368', // unknown
    '0000', 'ffff6e', '000151', '000578afc94d00', '00016e00016e', '00017a', // malformed
    '001678afd34d000006000500096370726f62655f76360000', // duplicate name
  ];
  for (const r of requests) {
    const real = r.startsWith('0016') ? (await (await connWrite(realPort, r)).waitBytes(6)) : await exchange(realPort, hex(r));
    const mine = r.startsWith('0016') ? (await (await connWrite(ours.port, r)).waitBytes(6)) : await exchange(ours.port, hex(r));
    t.is(mine.toString('hex'), real.toString('hex'), `reply to ${r}`);
  }
  const realNames = (await exchange(realPort, hex('00016e'))).subarray(4).toString();
  const ourNames = (await exchange(ours.port, hex('00016e'))).subarray(4).toString();
  t.is(ourNames, realNames, 'NAMES text');
  for (const c of held) c.destroy();

  async function connWrite(port: number, r: string) {
    const c = await rawConnect(port);
    held.push(c);
    await c.write(hex(r));
    return c;
  }
});
