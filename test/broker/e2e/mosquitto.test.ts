/**
 * The broker with mosquitto's own clients (mosquitto_pub, mosquitto_sub) as child
 * processes, MQTT 3.1, 3.1.1 and 5.0 over TCP (these clients have no WebSocket):
 * QoS 0/1/2, retained messages, wills, persistent sessions, v5 properties and
 * Subscription Identifiers, Maximum Packet Size, shared subscriptions, $SYS and
 * password authentication. Skipped, saying so, when the clients are not installed.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { passwordLine } from '../../../broker/index.js';
import { haveMosquittoClients, rawConnected, sessionGone, sessionInfo, sessionPid, sessionUp, testBroker, type TestBroker } from '../../helpers/broker.js';
import { waitFor } from '../../helpers/wait.js';
import { runCommand, startChild, type Child } from '../../helpers/procs.js';

const FORMAT = 'MSG %t q=%q r=%r p=%p';
type Version = 'mqttv31' | 'mqttv311' | 'mqttv5';

let seq = 0;

/**
 * A mosquitto_sub whose subscriptions the broker holds (seen in its session, not in
 * the client's output, which a pipe buffers until it exits); killed in teardown.
 */
async function sub(t: ExecutionContext, b: TestBroker, args: readonly string[], format = FORMAT): Promise<Child> {
  const i = args.indexOf('-i');
  const id = i >= 0 ? args[i + 1]! : `mosq-sub-${process.pid}-${++seq}`;
  const c = startChild('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(b.tcp), '-F', format, ...(i >= 0 ? [] : ['-i', id]), ...args]);
  t.teardown(() => c.kill());
  const topics = args.flatMap((a, k) => (a === '-t' ? [args[k + 1]!] : []));
  let exited = false;
  void c.exited(60_000).then(() => (exited = true), () => undefined);
  // A -C 1 subscriber may get a retained message and be gone before we look.
  await waitFor(async () => {
    if (exited) return true;
    if (sessionPid(b, id) === undefined) return false;
    const subs = (await sessionInfo(b, id)).subscriptions;
    return topics.every((x) => x in subs);
  }, `mosquitto_sub ${args.join(' ')} to subscribe`);
  return c;
}

async function pub(b: TestBroker, args: readonly string[]): Promise<{ code: number | string; stderr: string }> {
  return runCommand('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(b.tcp), ...args]);
}

/** The MSG lines of a mosquitto_sub that exits after them (-C). */
async function lines(c: Child): Promise<string[]> {
  const code = await c.exited(15_000);
  if (code !== 0) throw new Error(`mosquitto_sub exited with ${code}: ${c.output()}`);
  // 'exit' may come before the last of its output has been read.
  const out = c.proc.stdout!;
  if (!out.readableEnded) await new Promise((resolve) => out.once('end', resolve));
  return c
    .output()
    .split('\n')
    .filter((l) => l.startsWith('MSG '));
}

for (const v of ['mqttv31', 'mqttv311', 'mqttv5'] as const satisfies readonly Version[]) {
  test(`mosquitto: ${v} publish QoS 0/1/2 to a QoS 2 and a QoS 1 subscriber, in order, downgraded`, async (t) => {
    if (!haveMosquittoClients(t)) return t.pass();
    const b = await testBroker(t);
    const s2 = await sub(t, b, ['-V', v, '-q', '2', '-t', 'mq/+', '-C', '3']);
    const s1 = await sub(t, b, ['-V', v, '-q', '1', '-t', 'mq/#', '-C', '3']);
    for (const q of [0, 1, 2]) t.is((await pub(b, ['-V', v, '-q', String(q), '-t', 'mq/t', '-m', `m${q}`])).code, 0);
    t.deepEqual(await lines(s2), ['MSG mq/t q=0 r=0 p=m0', 'MSG mq/t q=1 r=0 p=m1', 'MSG mq/t q=2 r=0 p=m2']);
    t.deepEqual(await lines(s1), ['MSG mq/t q=0 r=0 p=m0', 'MSG mq/t q=1 r=0 p=m1', 'MSG mq/t q=1 r=0 p=m2']);
  });
}

test('mosquitto: a retained message reaches later subscribers flagged retained; -r -n clears it', async (t) => {
  if (!haveMosquittoClients(t)) return t.pass();
  const b = await testBroker(t);
  for (const v of ['mqttv311', 'mqttv5'] as const) {
    await pub(b, ['-V', v, '-q', '1', '-r', '-t', `ret/${v}`, '-m', 'kept']);
    const late = await sub(t, b, ['-V', v, '-q', '1', '-t', `ret/${v}`, '-C', '1']);
    t.deepEqual(await lines(late), [`MSG ret/${v} q=1 r=1 p=kept`]);
    await pub(b, ['-V', v, '-q', '1', '-r', '-n', '-t', `ret/${v}`]);
  }
  const after = await sub(t, b, ['-t', 'ret/#', '-t', 'marker', '-C', '1']);
  await pub(b, ['-t', 'marker', '-m', 'M']);
  t.deepEqual(await lines(after), ['MSG marker q=0 r=0 p=M'], 'nothing retained any more');
});

test('mosquitto: the will of a killed client is published; not that of one that disconnects', async (t) => {
  if (!haveMosquittoClients(t)) return t.pass();
  const b = await testBroker(t);
  const watcher = await sub(t, b, ['-q', '1', '-t', 'will/#', '-t', 'marker', '-C', '3']);
  for (const v of ['mqttv311', 'mqttv5'] as const) {
    const polite = await sub(t, b, ['-V', v, '-i', `polite-${v}`, '-t', 'x', '-C', '1', '--will-topic', `will/polite/${v}`, '--will-payload', 'no']);
    await pub(b, ['-t', 'x', '-m', 'bye']);
    t.is(await polite.exited(), 0);
    await sessionGone(b, `polite-${v}`);
    const doomed = await sub(t, b, ['-V', v, '-i', `doomed-${v}`, '-t', 'x', '--will-topic', `will/doomed/${v}`, '--will-payload', 'gone', '--will-qos', '1']);
    await sessionUp(b, `doomed-${v}`);
    doomed.kill('SIGKILL');
    await sessionGone(b, `doomed-${v}`);
  }
  await pub(b, ['-q', '1', '-t', 'marker', '-m', 'M']);
  t.deepEqual(await lines(watcher), ['MSG will/doomed/mqttv311 q=1 r=0 p=gone', 'MSG will/doomed/mqttv5 q=1 r=0 p=gone', 'MSG marker q=1 r=0 p=M']);
});

test('mosquitto: a persistent session (-c) gets the QoS 1 and 2 messages published while it was away', async (t) => {
  if (!haveMosquittoClients(t)) return t.pass();
  const b = await testBroker(t);
  for (const v of ['mqttv311', 'mqttv5'] as const) {
    const id = `persist-${v}`;
    const first = await sub(t, b, ['-V', v, '-c', '-i', id, '-q', '2', '-t', `away/${v}`]);
    first.kill('SIGKILL');
    await first.exited();
    for (let i = 0; i < 4; i++) await pub(b, ['-V', v, '-q', String(1 + (i % 2)), '-t', `away/${v}`, '-m', `m${i}`]);
    const back = startChild('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(b.tcp), '-V', v, '-c', '-i', id, '-q', '2', '-t', `away/${v}`, '-C', '4', '-F', FORMAT]);
    t.teardown(() => back.kill()); // its subscription is the session's: it need not subscribe again
    // libmosquitto hands a QoS 2 message over at PUBREL, so the printed order is its own.
    t.deepEqual((await lines(back)).sort(), [0, 1, 2, 3].map((i) => `MSG away/${v} q=${1 + (i % 2)} r=0 p=m${i}`).sort());
  }
});

test('mosquitto: v5 properties pass through; Subscription Identifier and remaining expiry come with the message', async (t) => {
  if (!haveMosquittoClients(t)) return t.pass();
  const b = await testBroker(t);
  const s = await sub(t, b, ['-V', 'mqttv5', '-q', '1', '-t', 'props/#', '-C', '1', '-D', 'subscribe', 'subscription-identifier', '42'], 'MSG P=%P R=%R D=%D C=%C F=%F S=%S E=%E');
  const props = ['-D', 'publish', 'user-property', 'a', 'b', '-D', 'publish', 'user-property', 'c', 'd', '-D', 'publish', 'response-topic', 'reply/to'];
  props.push('-D', 'publish', 'correlation-data', 'corr-1', '-D', 'publish', 'content-type', 'text/plain', '-D', 'publish', 'payload-format-indicator', '1');
  props.push('-D', 'publish', 'message-expiry-interval', '3600');
  t.is((await pub(b, ['-V', 'mqttv5', '-q', '1', '-t', 'props/t', '-m', 'x', ...props])).code, 0);
  const [line] = await lines(s);
  t.regex(line!, /^MSG P=a:b c:d R=reply\/to D=corr-1 C=text\/plain F=1 S=42 E=(3600|3599)$/);
});

test('mosquitto: a v5 subscriber\'s Maximum Packet Size keeps larger messages from it', async (t) => {
  if (!haveMosquittoClients(t)) return t.pass();
  const b = await testBroker(t);
  const s = await sub(t, b, ['-V', 'mqttv5', '-t', 'size/t', '-C', '1', '-D', 'connect', 'maximum-packet-size', '100']);
  await pub(b, ['-t', 'size/t', '-m', 'x'.repeat(200)]);
  await pub(b, ['-t', 'size/t', '-m', 'small']);
  t.deepEqual(await lines(s), ['MSG size/t q=0 r=0 p=small']);
});

test('mosquitto: $share/<group>/<filter> splits the messages between the members', async (t) => {
  if (!haveMosquittoClients(t)) return t.pass();
  const b = await testBroker(t);
  const a = await sub(t, b, ['-V', 'mqttv5', '-q', '1', '-t', '$share/g/work/+', '-C', '3']);
  const c = await sub(t, b, ['-V', 'mqttv311', '-q', '1', '-t', '$share/g/work/+', '-C', '3']);
  for (let i = 0; i < 6; i++) await pub(b, ['-q', '1', '-t', 'work/t', '-m', `job${i}`]);
  const got = [...(await lines(a)), ...(await lines(c))].map((l) => l.split('p=')[1]).sort();
  t.deepEqual(got, [0, 1, 2, 3, 4, 5].map((i) => `job${i}`));
});

test('mosquitto: $SYS/brokers/<node>/version, and # does not see it', async (t) => {
  if (!haveMosquittoClients(t)) return t.pass();
  const b = await testBroker(t, { sys: { interval_ms: 100 } });
  const r = await runCommand('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(b.tcp), '-t', '$SYS/brokers/+/version', '-C', '1', '-v']);
  t.is(r.stdout.trim(), `$SYS/brokers/${b.node.name}/version 0.1.0`);
  const all = await sub(t, b, ['-t', '#', '-C', '1']);
  const raw = (await rawConnected(t, b)).client;
  await raw.subscribe('$SYS/#', 0);
  await raw.nextMatching((p): p is Extract<typeof p, { cmd: 'publish' }> => p.cmd === 'publish' && !p.retain, 'a periodic $SYS publish');
  await pub(b, ['-t', 'marker', '-m', 'M']);
  t.deepEqual(await lines(all), ['MSG marker q=0 r=0 p=M']);
});

test('mosquitto: user name and password against the password file; refusals say why', async (t) => {
  if (!haveMosquittoClients(t)) return t.pass();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-mosq-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'passwd');
  fs.writeFileSync(file, passwordLine('alice', 's3cret') + '\n');
  const b = await testBroker(t, { auth: { password_file: file, allow_anonymous: false } });
  for (const v of ['mqttv311', 'mqttv5'] as const) {
    t.is((await pub(b, ['-V', v, '-u', 'alice', '-P', 's3cret', '-t', 'a', '-m', 'x'])).code, 0);
    const bad = await pub(b, ['-V', v, '-u', 'alice', '-P', 'wrong', '-t', 'a', '-m', 'x']);
    t.not(bad.code, 0);
    t.regex(bad.stderr, /bad user name or password/i);
    const anon = await pub(b, ['-V', v, '-t', 'a', '-m', 'x']);
    t.not(anon.code, 0);
    t.regex(anon.stderr, /not authori[sz]ed/i);
  }
});
