/**
 * `scripts/node` as separate OS processes on loopback: Erlang's distribution
 * walkthrough with four nodes, a wrong cookie, the cookie file rules, and the Node
 * flags the launcher starts Node with.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDaemon } from '../../epmd/index.js';
import { NODE_FLAGS, launcherFlags } from '../../scripts/node-flags.js';
import { script } from '../helpers/paths.js';
import { runCommand, startChild } from '../helpers/procs.js';
import { startRepl } from '../helpers/repl.js';
import { waitFor } from '../helpers/wait.js';

async function epmd(t: ExecutionContext) {
  const d = await startDaemon({ port: 0, addresses: ['127.0.0.1'] });
  t.teardown(() => d.close());
  return d;
}

const tag = `${process.pid}`;
const watchNodes = 'spawn(async (s) => { monitor_nodes(true); for (;;) print(await s.receive()) })';

test("node: Erlang's walkthrough — four nodes, connect, nodes(), names(), and node3 killed", async (t) => {
  const d = await epmd(t);
  const env = { ERL_EPMD_PORT: String(d.port), BEAMQ_LOG_LEVEL: process.env['DEBUG_WALK'] ?? 'warn' };
  const names = [1, 2, 3, 4].map((i) => `node${i}_${tag}@127.0.0.1`);
  const others = [1, 2, 3].map((i) => {
    const c = startChild(script('node'), ['--name', names[i]!, '--cookie', 'walk', '--noshell', '--eval', watchNodes], {
      env: { ...process.env, ...env },
    });
    t.teardown(() => c.kill());
    return c;
  });
  await waitFor(() => d.registered().length === 3, 'nodes 2-4 to register');
  const n1 = await startRepl(t, ['--name', names[0]!, '--cookie', 'walk'], env);
  for (const n of names.slice(1)) t.is(await n1.eval(`connect_node('${n}')`), 'true');
  const visible = await n1.eval('nodes()');
  for (const n of names.slice(1)) t.true(visible.includes(n), `nodes() lists ${n}`);
  const listed = await n1.eval('names()');
  for (const n of names) t.regex(listed, new RegExp(`\\[${n.split('@')[0]!},\\d+\\]`), `names() lists ${n}`);

  // The mesh forms in the background (node1 told each node of the others): wait for it.
  for (const c of [others[0]!, others[2]!]) await c.waitOutput(new RegExp(`\\[nodeup,'${names[2]}'\\]`), 'the mesh to reach node3');
  // node1 watches node3 and a process on it; then node3's OS process is killed.
  t.is(await n1.eval(`monitor_node('${names[2]}', true)`), 'ok');
  t.regex(await n1.eval(`monitor(['net_kernel', '${names[2]}'])`), /#Ref/);
  others[1]!.kill('SIGKILL');
  const got = [await n1.eval('receive()'), await n1.eval('receive()')].join('\n');
  t.true(got.includes(`[nodedown,'${names[2]}']`), `nodedown for node3 in ${got}`);
  t.regex(got, /\['DOWN',#Ref.*,process,\[net_kernel,'node3.*'\],noconnection\]/);
  // The other nodes' monitors saw it too.
  if (process.env['DEBUG_WALK'] !== undefined) t.teardown(() => others.forEach((c, i) => console.log(`--- node${i + 2}\n` + c.output())));
  for (const c of [others[0]!, others[2]!]) await c.waitOutput(new RegExp(`\\[nodedown,'${names[2]}'\\]`), 'nodedown on another node');
  await waitFor(async () => !(await n1.eval('nodes()')).includes(names[2]!), 'nodes() to shrink');
  await waitFor(async () => !(await n1.eval('names()')).includes(names[2]!.split('@')[0]!), 'names() to drop node3');
  t.true((await n1.eval('nodes()')).includes(names[1]!));
});

test('node: a wrong cookie gives connect_node false, both logs say why, both carry on', async (t) => {
  const d = await epmd(t);
  const env = { ERL_EPMD_PORT: String(d.port), BEAMQ_LOG_LEVEL: 'warn' };
  const other = `cookie2_${tag}@127.0.0.1`;
  const c = startChild(script('node'), ['--name', other, '--cookie', 'theirs', '--noshell'], { env: { ...process.env, ...env } });
  t.teardown(() => c.kill());
  await waitFor(() => d.registered().length === 1, 'the other node to register');
  const n1 = await startRepl(t, ['--name', `cookie1_${tag}@127.0.0.1`, '--cookie', 'ours'], env);
  t.is(await n1.eval(`connect_node('${other}')`), 'false');
  await n1.child.waitOutput(/handshake_refused.*bad_cookie/, 'our log to say why');
  await c.waitOutput(/handshake_refused.*Invalid challenge reply/, 'their log to say why');
  t.is(await n1.eval('1 + 1'), '2');
  t.is(await n1.eval('nodes()'), '[]');
  t.is(d.registered().length, 2, 'both nodes still registered');
});

test('node: a missing cookie file is created with mode 0400; a 0644 one is refused', async (t) => {
  const d = await epmd(t);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-home-'));
  t.teardown(() => fs.rmSync(home, { recursive: true, force: true }));
  const env = { ...process.env, HOME: home, ERL_EPMD_PORT: String(d.port), BEAMQ_LOG_LEVEL: 'warn' };
  const file = path.join(home, '.erlang.cookie');
  const r = await runCommand(script('node'), ['--name', `ck_${tag}@127.0.0.1`, '--noshell', '--eval', 'q()'], { env });
  t.is(r.code, 0, r.stderr);
  t.is(fs.statSync(file).mode & 0o777, 0o400);
  t.regex(fs.readFileSync(file, 'utf8'), /^[A-Z]{20}$/);
  fs.chmodSync(file, 0o644);
  const bad = await runCommand(script('node'), ['--name', `ck2_${tag}@127.0.0.1`, '--noshell'], { env });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /\.erlang\.cookie/);
  t.regex(bad.stderr, /owner only/i);
  t.false(bad.stderr.includes(fs.readFileSync(file, 'utf8')), 'the cookie is never printed');
});

test('node: a malformed name is refused with a clear message', async (t) => {
  const r = await runCommand(script('node'), ['--name', 'bad name@host', '--noshell'], { env: { ...process.env, BEAMQ_LOG_LEVEL: 'warn' } });
  t.is(r.code, 1);
  t.regex(r.stderr, /bad name/);
});

test('node: --busy-wait takes the levels of erl +sbwt and refuses any other', async (t) => {
  const r = await runCommand(script('node'), ['--name', `bw_${tag}@127.0.0.1`, '--busy-wait', 'sometimes', '--noshell'], { env: { ...process.env, BEAMQ_LOG_LEVEL: 'warn' } });
  t.is(r.code, 1);
  t.regex(r.stderr, /--busy-wait: one of none, very_short, short, medium, long, very_long, got sometimes/);
});

test("node: the launcher starts Node with its GC flags, less those NODE_OPTIONS names", async (t) => {
  // The shell script's flags are the list the bench starts beamq with.
  t.true(fs.readFileSync(script('node'), 'utf8').includes(`for f in ${NODE_FLAGS.join(' ')}; do`), 'scripts/node passes NODE_FLAGS');
  const d = await epmd(t);
  const cmdline = async (alive: string, nodeOptions: string | undefined): Promise<string[]> => {
    const env = { ...process.env, ERL_EPMD_PORT: String(d.port), BEAMQ_LOG_LEVEL: 'warn', NODE_OPTIONS: nodeOptions ?? '' };
    const before = d.registered().length;
    const c = startChild(script('node'), ['--name', `${alive}_${tag}@127.0.0.1`, '--cookie', 'flags', '--noshell'], { env });
    t.teardown(() => c.kill());
    await waitFor(() => d.registered().length === before + 1, `${alive} to register`);
    // The script execs Node: the child's pid is the node's.
    return fs.readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').split('\0');
  };
  const plain = await cmdline('flags1', undefined);
  for (const f of NODE_FLAGS) t.true(plain.includes(f), `${f} given`);
  // Node allows the semi-space flags in NODE_OPTIONS (not the pretenuring, feedback or compile-queue ones), in either spelling.
  const own = await cmdline('flags2', '--max_semi_space_size=64');
  t.deepEqual(
    own.filter((a) => NODE_FLAGS.includes(a)),
    ['--min-semi-space-size=16', '--no-allocation-site-pretenuring', '--no-lazy-feedback-allocation', '--concurrent-recompilation-queue-length=64'],
    'a flag NODE_OPTIONS names is the operator\'s',
  );
  t.deepEqual(launcherFlags('--max_semi_space_size=64'), ['--min-semi-space-size=16', '--no-allocation-site-pretenuring', '--no-lazy-feedback-allocation', '--concurrent-recompilation-queue-length=64'], 'the bench picks them as the script does');
});
