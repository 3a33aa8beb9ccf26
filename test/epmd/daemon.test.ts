/**
 * Our daemon over real loopback TCP, answer by answer against the bytes of the real
 * OTP 25 epmd (shared/reference/erlang/epmd-reference.md §1–§5).
 */
import test from 'ava';
import { register, names, portPlease, dump, kill, stop } from '../../epmd/index.js';
import { assertHealthy, daemon } from '../helpers/epmd.js';
import { hex, rawConnect, exchange } from '../helpers/raw-tcp.js';
import { waitFor } from '../helpers/wait.js';

const T = 1795316787;
const fixedClock = { nowSeconds: () => T };

test('daemon: ALIVE2 v6, v5 and hidden+extra get the real answers; PORT2 echoes them', async (t) => {
  const d = await daemon(t, fixedClock);
  const v6 = await rawConnect(d.port);
  await v6.write(hex('001678afc94d000006000500096370726f62655f76360000'));
  t.is((await v6.waitBytes(6)).toString('hex'), '7600' + (T + 1).toString(16).padStart(8, '0'));
  const v5 = await rawConnect(d.port);
  await v5.write(hex('001678afca4d000005000500096370726f62655f76350000'));
  t.is((await v5.waitBytes(4)).toString('hex'), '7900' + ((T + 1) % 3 + 1).toString(16).padStart(4, '0'));
  const h = await rawConnect(d.port);
  await h.write(hex('001a78afcb480000060005000a6370726f62655f6869640003657831'));
  t.is((await h.waitBytes(6)).subarray(0, 2).toString('hex'), '7600');

  t.is((await exchange(d.port, hex('000a7a6370726f62655f7636'))).toString('hex'), '7700afc94d000006000500096370726f62655f76360000');
  t.is((await exchange(d.port, hex('000a7a6370726f62655f7635'))).toString('hex'), '7700afca4d000005000500096370726f62655f76350000');
  t.is(
    (await exchange(d.port, hex('000b7a6370726f62655f686964'))).toString('hex'),
    '7700afcb480000060005000a6370726f62655f6869640003657831',
  );
  t.is((await exchange(d.port, hex('000b7a6370726f62655f763600'))).toString('hex'), '7700afc94d000006000500096370726f62655f76360000', 'trailing NUL stripped');
  t.is((await exchange(d.port, hex('000e7a6370726f62655f6e6f73756368'))).toString('hex'), '7701');

  // NAMES: the port, then newest registration first.
  const portHex = d.port.toString(16).padStart(8, '0');
  const namesReply = await exchange(d.port, hex('00016e'));
  t.is(namesReply.subarray(0, 4).toString('hex'), portHex);
  t.is(namesReply.subarray(4).toString(), 'name cprobe_hid at port 45003\nname cprobe_v5 at port 45002\nname cprobe_v6 at port 45001\n');

  // The registrations are still open; each connection is the registration.
  t.false(v6.isClosed() || v5.isClosed() || h.isClosed());
  v5.destroy();
  await waitFor(() => d.registered().length === 2, 'cprobe_v5 to be unregistered');
  t.is((await exchange(d.port, hex('000a7a6370726f62655f7635'))).toString('hex'), '7701');
  v6.destroy();
  h.destroy();
});

test('daemon: a duplicate name is refused with creation 99 and the connection stays open', async (t) => {
  const d = await daemon(t, fixedClock);
  const a = await rawConnect(d.port);
  await a.write(hex('001678afc94d000006000500096370726f62655f76360000'));
  await a.waitBytes(6);
  const dup = await rawConnect(d.port);
  await dup.write(hex('001678afd34d000006000500096370726f62655f76360000'));
  t.is((await dup.waitBytes(6)).toString('hex'), '760100000063');
  const dup5 = await rawConnect(d.port);
  await dup5.write(hex('001678afd44d000005000500096370726f62655f76350000'));
  const okV5 = await dup5.waitBytes(4);
  t.is(okV5.subarray(0, 2).toString('hex'), '7900', 'a different name (cprobe_v5) is fine');
  await assertHealthy(t, d);
  t.false(dup.isClosed(), 'refused ALIVE2 keeps its connection open, as the real daemon does');
  // Any byte on it then closes it.
  await dup.write(hex('00'));
  await dup.waitClose();
  t.deepEqual(d.registered().map((r) => r.name).sort(), ['cprobe_v5', 'cprobe_v6']);
  a.destroy();
  dup5.destroy();
});

test('daemon: names of 255 characters register, 256 and bad UTF-8 are refused with a reply', async (t) => {
  const d = await daemon(t);
  const mk = (nameBytes: Buffer): Buffer => {
    const body = Buffer.concat([hex('78afd54d0000060005'), Buffer.from([nameBytes.length >> 8, nameBytes.length & 255]), nameBytes, hex('0000')]);
    return Buffer.concat([Buffer.from([body.length >> 8, body.length & 255]), body]);
  };
  const long = await rawConnect(d.port);
  await long.write(mk(Buffer.alloc(256, 0x61)));
  t.is((await long.waitBytes(6)).toString('hex'), '760100000063');
  const ok = await rawConnect(d.port);
  await ok.write(mk(Buffer.alloc(255, 0x61)));
  t.is((await ok.waitBytes(6)).subarray(0, 2).toString('hex'), '7600');
  const bad = await rawConnect(d.port);
  await bad.write(mk(hex('63ff61')));
  t.is((await bad.waitBytes(6)).toString('hex'), '760100000063');
  t.is(d.registered().length, 1);
  for (const c of [long, ok, bad]) c.destroy();
});

test('daemon: any byte on a registration socket unregisters, a second ALIVE2 included', async (t) => {
  const d = await daemon(t);
  const c = await rawConnect(d.port);
  await c.write(hex('001678afc94d000006000500096370726f62655f76360000'));
  await c.waitBytes(6);
  t.is(d.registered().length, 1);
  await c.write(hex('001678afca4d000005000500096370726f62655f76350000'));
  await c.waitClose();
  await waitFor(() => d.registered().length === 0, 'both names to be gone');
  await assertHealthy(t, d);
});

test('daemon: DUMP lists active then old names in the real format', async (t) => {
  const d = await daemon(t);
  const r1 = await register('dumpme', 40000, { port: d.port });
  const r2 = await register('gone', 40001, { port: d.port });
  await r2.close();
  await waitFor(() => d.registered().length === 1, 'gone to be unregistered');
  const out = await dump({ port: d.port });
  t.is(out.epmdPort, d.port);
  t.regex(out.text, /^active name {5}<dumpme> at port 40000, fd = \d+\n\0old\/unused name <gone>, port = 40001, fd = \d+ \n\0$/);
  await r1.close();
});

test('daemon: KILL is refused with NO while nodes live, OK stops the daemon when none do', async (t) => {
  const d = await daemon(t);
  const r = await register('holdme', 40000, { port: d.port });
  t.is(await kill({ port: d.port }), 'NO');
  await assertHealthy(t, d);
  await r.close();
  await waitFor(() => d.registered().length === 0, 'holdme to be unregistered');
  t.is(await kill({ port: d.port }), 'OK');
  t.is(await d.stopped, 'killed');
  await t.throwsAsync(names({ port: d.port, timeoutMs: 1000 }), { name: 'EpmdError' });
});

test('daemon: STOP is refused without a word unless relaxed; relaxed it unregisters', async (t) => {
  const strict = await daemon(t);
  const r = await register('holdme', 40000, { port: strict.port });
  t.is(await stop('holdme', { port: strict.port }), '');
  t.deepEqual(strict.registered().map((x) => x.name), ['holdme'], 'the node stays registered');
  await r.close();

  const relaxed = await daemon(t, { relaxedCommandCheck: true });
  const r2 = await register('holdme', 40000, { port: relaxed.port });
  t.is(await stop('holdme', { port: relaxed.port }), 'STOPPED');
  await r2.closed; // the daemon closed the registration socket
  t.is(await stop('holdme', { port: relaxed.port }), 'NOEXIST');
  t.is(await portPlease('holdme', { port: relaxed.port }), 'noport');
  t.is(await kill({ port: relaxed.port }), 'OK');
});

test('daemon: client register/lookup/names/close round trip', async (t) => {
  const d = await daemon(t);
  const r = await register('n1', 41234, { port: d.port, extra: Buffer.from('x') });
  t.true(r.extended);
  t.true(r.creation > 3);
  const info = await portPlease('n1', { port: d.port });
  t.like(info, { name: 'n1', port: 41234, highestVersion: 6, lowestVersion: 6, nodeType: 77 });
  t.deepEqual((await names({ port: d.port })).nodes, [{ name: 'n1', port: 41234 }]);
  await t.throwsAsync(register('n1', 1, { port: d.port }), { name: 'EpmdError', message: /refused/ });
  await r.close();
  await waitFor(async () => (await portPlease('n1', { port: d.port })) === 'noport', 'n1 to be unregistered');
  const again = await register('n1', 41234, { port: d.port });
  t.is(again.creation, r.creation + 1, 're-registration bumps the creation');
  await again.close();
});
