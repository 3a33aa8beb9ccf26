/**
 * Authentication and authorisation end to end: anonymous by default; a password
 * file of salted scrypt hashes (right CONNACK code for each failure, 3.1.1 and v5,
 * each failure logged); an ACL file allowing and denying publish/subscribe per user
 * name or client id with %u/%c, applied to SUBSCRIBE, PUBLISH and the will.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { passwordLine } from '../../../broker/index.js';
import { rawConnected, sessionGone, testBroker } from '../../helpers/broker.js';
import type { MqttTestClient } from '../../helpers/mqtt.js';
import { captureLogs } from '../../helpers/runtime.js';

function files(t: ExecutionContext, content: Record<string, string>): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'beamq-auth-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(content)) fs.writeFileSync((out[name] = path.join(dir, name)), text);
  return out;
}

const PASSWORDS = [passwordLine('alice', 'wonderland'), passwordLine('bob', 'builder'), '# a comment', ''].join('\n');

test('auth: anonymous clients are allowed by default', async (t) => {
  const b = await testBroker(t);
  t.is((await rawConnected(t, b)).connack.returnCode, 0);
  t.is((await rawConnected(t, b, { protocolVersion: 5, connect: { username: 'anyone', password: Buffer.from('x') } })).connack.reasonCode, 0);
});

test('[MQTT-3.1.4-2] auth: a password file admits the right password; a wrong one, an unknown user or no user get the right code, and are logged', async (t) => {
  const f = files(t, { passwd: PASSWORDS });
  const b = await testBroker(t, { auth: { password_file: f['passwd'], allow_anonymous: false } });
  const logs = captureLogs(t);
  const cases: [string | undefined, string | undefined, number, number][] = [
    ['alice', 'wonderland', 0, 0],
    ['bob', 'builder', 0, 0],
    ['alice', 'builder', 4, 0x86],
    ['mallory', 'wonderland', 4, 0x86],
    ['alice', undefined, 4, 0x86],
    [undefined, undefined, 5, 0x87],
  ];
  for (const [username, password, v4, v5] of cases) {
    for (const v of [4, 5] as const) {
      const creds = { clientId: `pw-${username}-${v}`, ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password: Buffer.from(password) }) };
      const { client, connack } = await rawConnected(t, b, { protocolVersion: v, connect: creds });
      t.is(v === 5 ? connack.reasonCode : connack.returnCode, v === 5 ? v5 : v4, `${username}/${password} v${v}`);
      if (v4 !== 0) await client.expectClosed();
    }
  }
  const refused = logs.filter((l) => l.event === 'connect_refused' && String(l.fields?.['client']).startsWith('pw-'));
  t.is(refused.length, 8);
  t.true(refused.every((l) => l.level === 'warn' && typeof l.fields?.['reason'] === 'string'));
  // The peer is found out only when needed (tcp-handle.ts): still the client's address and port.
  t.true(refused.every((l) => /^127\.0\.0\.1:[1-9][0-9]*$/.test(String(l.fields?.['peer']))), 'each names the client by address:port');
});

test('auth: allow_anonymous true with a password file lets clients without a user name in, still checking those with one', async (t) => {
  const f = files(t, { passwd: PASSWORDS });
  const b = await testBroker(t, { auth: { password_file: f['passwd'], allow_anonymous: true } });
  t.is((await rawConnected(t, b)).connack.returnCode, 0);
  t.is((await rawConnected(t, b, { connect: { username: 'alice', password: Buffer.from('nope') } })).connack.returnCode, 4);
});

const ACL = `
# first match wins; no match allows
allow user alice publish alice/#
deny  user alice publish #
allow client sensor-%c publish never/matches
allow all    subscribe own/%u/#
allow all    subscribe own/%c/#
deny  all    subscribe own/#
deny  client spy subscribe #
deny  all    publish forbidden/#
`;

async function untilMarker(sub: MqttTestClient, pub: MqttTestClient): Promise<string[]> {
  await pub.publish('marker', 'MARKER', { qos: 1 });
  const got: string[] = [];
  for (let p = await sub.nextPacket('publish'); p.payload.toString() !== 'MARKER'; p = await sub.nextPacket('publish')) {
    got.push(`${p.topic}=${p.payload.toString()}`);
    await sub.ackPublish(p);
  }
  return got;
}

test('auth: the ACL file allows and denies SUBSCRIBE per user name and client id, with %u and %c (3.1.1 0x80, v5 0x87)', async (t) => {
  const f = files(t, { acl: ACL });
  const b = await testBroker(t, { auth: { acl_file: f['acl'] } });
  for (const v of [4, 5] as const) {
    const deny = v === 5 ? 0x87 : 0x80;
    const alice = (await rawConnected(t, b, { protocolVersion: v, connect: { clientId: `c${v}`, username: 'alice' } })).client;
    t.deepEqual((await alice.subscribe([{ topic: 'own/alice/x', qos: 1 }, { topic: `own/c${v}/#`, qos: 1 }, { topic: 'own/bob/x', qos: 1 }, { topic: 'free/t', qos: 1 }])).granted, [1, 1, deny, 1]);
    const spy = (await rawConnected(t, b, { protocolVersion: v, connect: { clientId: 'spy' } })).client;
    t.deepEqual((await spy.subscribe([{ topic: 'free/t', qos: 0 }])).granted, [deny]);
    await spy.close();
    await sessionGone(b, 'spy');
  }
});

test('auth: a denied PUBLISH is not routed; v5 acks it with 0x87, 3.1.1 acks it as usual', async (t) => {
  const f = files(t, { acl: ACL });
  const b = await testBroker(t, { auth: { acl_file: f['acl'] } });
  const sub = (await rawConnected(t, b)).client;
  await sub.subscribe([{ topic: '#', qos: 1 }]);
  const other = (await rawConnected(t, b)).client;
  for (const v of [4, 5] as const) {
    const alice = (await rawConnected(t, b, { protocolVersion: v, connect: { username: 'alice' } })).client;
    const [ok] = await alice.publish('alice/t', `mine${v}`, { qos: 1 });
    const [denied] = await alice.publish('bob/t', `theirs${v}`, { qos: 1 });
    const [denied2] = await alice.publish('bob/t', `theirs${v}`, { qos: 2 });
    t.is(ok!.cmd === 'puback' ? (ok.reasonCode ?? 0) : -1, 0);
    t.is(denied!.cmd === 'puback' ? (denied.reasonCode ?? 0) : -1, v === 5 ? 0x87 : 0);
    t.is(denied2!.cmd === 'pubrec' ? (denied2.reasonCode ?? 0) : -1, v === 5 ? 0x87 : 0);
    await other.publish('forbidden/x', 'no', { qos: 1 });
    t.deepEqual(await untilMarker(sub, other), [`alice/t=mine${v}`]);
  }
});

test('auth: a will to a topic the client may not publish to is not published', async (t) => {
  const f = files(t, { acl: ACL });
  const b = await testBroker(t, { auth: { acl_file: f['acl'] } });
  const sub = (await rawConnected(t, b)).client;
  await sub.subscribe('#', 1);
  const will = (topic: string) => ({ topic, payload: Buffer.from(topic), qos: 1 as const, retain: false });
  const denied = (await rawConnected(t, b, { connect: { clientId: 'wd', will: will('forbidden/will') } })).client;
  await denied.close();
  await sessionGone(b, 'wd');
  const allowed = (await rawConnected(t, b, { connect: { clientId: 'wa', will: will('allowed/will') } })).client;
  await allowed.close();
  t.is((await sub.nextPacket('publish')).topic, 'allowed/will', 'the denied will never came, the allowed one did');
});

test('auth: a bad password or ACL file stops the broker from starting, naming the line', async (t) => {
  const f = files(t, { passwd: 'alice-without-colons\n', acl: 'allow nobody publish #\n' });
  await t.throwsAsync(testBroker(t, { auth: { password_file: f['passwd'] } }), { message: /password file line 1/ });
  await t.throwsAsync(testBroker(t, { auth: { acl_file: f['acl'] } }), { message: /acl file line 1/ });
});
