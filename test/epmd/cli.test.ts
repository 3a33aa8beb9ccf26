/**
 * `scripts/epmd` as a user runs it: -daemon, -names, -dump, -kill, -stop, exit codes
 * and texts as the real epmd prints them (epmd-reference.md §7–§8).
 */
import test from 'ava';
import { names, register } from '../../epmd/index.js';
import { freePort } from '../helpers/ports.js';
import { hasBinary, runCommand } from '../helpers/procs.js';
import { script } from '../helpers/paths.js';
import { waitFor } from '../helpers/wait.js';

const epmd = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  runCommand(script('epmd'), args, { env: { ...process.env, BEAMQ_LOG_LEVEL: 'error', ...env } });

test('cli: -names with no daemon says so on stderr and exits 1', async (t) => {
  const port = await freePort();
  const r = await epmd(['-port', String(port), '-names']);
  t.is(r.code, 1);
  t.is(r.stderr, 'epmd: Cannot connect to local epmd\n');
});

test('cli: -daemon detaches and serves; a second one on the busy port exits 0; -kill stops it', async (t) => {
  const port = await freePort();
  t.teardown(() => epmd(['-port', String(port), '-kill']).then(() => undefined));
  const start = await epmd(['-port', String(port), '-daemon']);
  t.is(start.code, 0);
  t.is(start.stdout + start.stderr, '', '-daemon prints nothing');
  // The daemon listens the moment -daemon returns.
  t.is((await names({ port })).epmdPort, port);
  const second = await epmd(['-port', String(port), '-daemon']);
  t.is(second.code, 0, 'a second daemon on a busy port exits quietly with 0');
  const second2 = await epmd(['-port', String(port)]);
  t.is(second2.code, 0);

  const r = await register('holdme', 40000, { port });
  const list = await epmd(['-port', String(port), '-names']);
  t.is(list.stdout, `epmd: up and running on port ${port} with data:\nname holdme at port 40000\n`);
  const d = await epmd(['-port', String(port), '-dump']);
  t.regex(d.stdout, /^epmd: up and running on port \d+ with data:\nactive name {5}<holdme> at port 40000, fd = \d+\n\0$/);
  const refused = await epmd(['-port', String(port), '-kill']);
  t.is(refused.code, 1);
  t.is(refused.stdout, 'Killing not allowed - living nodes in database.\n');
  const stop = await epmd(['-port', String(port), '-stop', 'holdme']);
  t.is(stop.code, 1);
  t.is(stop.stdout, 'epmd: local epmd responded with <>\n');
  await r.close();
  await waitFor(async () => (await names({ port })).nodes.length === 0, 'holdme to unregister');
  const killed = await epmd(['-port', String(port), '-kill']);
  t.is(killed.code, 0);
  t.is(killed.stdout, 'Killed\n');
  await waitFor(() => names({ port, timeoutMs: 500 }).then(() => false, () => true), 'the daemon to exit');
});

test('cli: ERL_EPMD_PORT chooses the port; -relaxed_command_check allows -stop', async (t) => {
  const port = await freePort();
  const env = { ERL_EPMD_PORT: String(port) };
  t.teardown(() => epmd(['-kill'], env).then(() => undefined));
  t.is((await epmd(['-daemon', '-relaxed_command_check'], env)).code, 0);
  const r = await register('victim', 40000, { port });
  const stop = await epmd(['-stop', 'victim'], env);
  t.is(stop.stdout, 'STOPPED\n');
  t.is(stop.code, 0);
  await r.closed;
  t.is((await epmd(['-stop', 'victim'], env)).stdout, 'NOEXIST\n');
  t.is((await epmd(['-kill'], env)).stdout, 'Killed\n');
});

(hasBinary('epmd') ? test : test.skip)("cli: Erlang's epmd -kill stops our daemon", async (t) => {
  const port = await freePort();
  t.is((await epmd(['-port', String(port), '-daemon'])).code, 0);
  const real = await runCommand('epmd', ['-port', String(port), '-kill']);
  t.is(real.stdout, 'Killed\n');
  t.is(real.code, 0);
  await waitFor(() => names({ port, timeoutMs: 500 }).then(() => false, () => true), 'the daemon to exit');
});

test('cli: unknown options are refused with usage', async (t) => {
  const r = await epmd(['-bogus']);
  t.is(r.code, 1);
  t.regex(r.stderr, /unknown option -bogus/);
});
