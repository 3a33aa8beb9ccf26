/**
 * The start-up self-check (broker/connection/self-check.ts): startBroker returns only
 * once two loopback clients have connected and subscribed (one left with DISCONNECT,
 * one with a reset) and their sessions have ended; it leaves no session, route,
 * subscription or counter behind; it is off when configured so, or when anonymous
 * clients are refused; a listener it cannot reach is logged and start-up goes on.
 */
import test from 'ava';
import net from 'node:net';
import { writeToStream } from 'mqtt-packet';
import { selfCheck } from '../../../broker/connection/self-check.js';
import { passwordLine } from '../../../broker/index.js';
import { rawConnected, testBroker } from '../../helpers/broker.js';
import { captureLogs } from '../../helpers/runtime.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

test('self-check: start-up talks MQTT to its own listener and leaves nothing behind', async (t) => {
  const logs = captureLogs(t);
  const b = await testBroker(t);
  t.is(b.broker.selfCheck, 'passed');
  const done = logs.find((l) => l.event === 'self_check_done');
  t.truthy(done, 'logged (debug)');
  t.is(done?.fields?.['served'], true);
  // Both clients had a session, and were disconnected, before startBroker returned.
  const left = logs.filter((l) => l.event === 'client_disconnected' && String(l.fields?.['client']).startsWith('beamq-self-check-'));
  t.deepEqual(left.map((l) => l.fields?.['why']).sort(), ['closed', 'normal']);
  const ctx = b.broker.ctx;
  t.is(ctx.sessions.size, 0, 'no session left');
  t.is(ctx.subs.count, 0, 'no subscription left');
  t.is(ctx.routes.size, 0, 'no route left');
  t.true(Object.values(ctx.metrics.snapshot()).every((v) => v === 0), 'counters set back: $SYS does not count it');
  // The broker serves as usual afterwards.
  t.is((await rawConnected(t, b)).connack.returnCode, 0);
  // The self-check's client used mqtt-packet's encoder, whose number cache (65,536 Buffers) the broker turned off first.
  t.false(writeToStream.cacheNumbers);
});

test('self-check: off when configured so, and when anonymous clients are refused', async (t) => {
  t.is((await testBroker(t, { listeners: { self_check: false } })).broker.selfCheck, 'off');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-self-check-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const passwd = path.join(dir, 'passwd');
  fs.writeFileSync(passwd, passwordLine('alice', 'wonderland') + '\n');
  const logs = captureLogs(t);
  const b = await testBroker(t, { auth: { password_file: passwd, allow_anonymous: false } });
  t.is(b.broker.selfCheck, 'off');
  t.false(logs.some((l) => l.event === 'connect_refused'), 'no refused CONNECT logged at start');
  const { connack } = await rawConnected(t, b, { connect: { clientId: 'alice-1', username: 'alice', password: Buffer.from('wonderland') } });
  t.is(connack.returnCode, 0);
});

test('self-check: a listener it cannot reach is logged as failed; the counters are untouched', async (t) => {
  const b = await testBroker(t, { listeners: { self_check: false } });
  // A port nobody listens on: bound, then closed.
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  const logs = captureLogs(t);
  t.is(await selfCheck(b.broker.ctx, '127.0.0.1', port), 'failed');
  const failed = logs.find((l) => l.event === 'self_check_failed');
  t.is(failed?.level, 'warn');
  t.regex(String(failed?.fields?.['error']), /ECONNREFUSED/);
  t.true(Object.values(b.broker.ctx.metrics.snapshot()).every((v) => v === 0));
});
