import test from 'ava';
import { type NodeInfo } from '../../epmd/protocol.js';
import { Registry } from '../../epmd/registry.js';

const T = 1795316787;
const node = (name: string, hi = 6, port = 45001): NodeInfo => ({
  name, port, nodeType: 77, protocol: 0, highestVersion: hi, lowestVersion: 5, extra: Buffer.alloc(0),
});
const reg = (r: Registry, conn: number, n: NodeInfo) => r.register(conn, Buffer.from(n.name, 'utf8'), n);

test('registry: creation starts at unix time + 1 and rises by one per re-registration', (t) => {
  let now = T;
  const r = new Registry(() => now);
  t.deepEqual(reg(r, 1, node('c1')), { ok: true, creation: T + 1 });
  t.deepEqual(reg(r, 2, node('c2')), { ok: true, creation: T + 1 }, 'two new names in the same second share a creation');
  r.unregisterConn(1);
  now += 100; // a re-registration counts from the name's counter, not the clock
  t.deepEqual(reg(r, 3, node('c1')), { ok: true, creation: T + 2 });
  r.unregisterConn(3);
  t.deepEqual(reg(r, 4, node('c1')), { ok: true, creation: T + 3 });
});

test('registry: nodes below version 6 get counter % 3 + 1', (t) => {
  const r = new Registry(() => 1795316632); // counter 1795316633 → 3, as observed
  t.deepEqual(reg(r, 1, node('v5', 5)), { ok: true, creation: 3 });
  r.unregisterConn(1);
  t.deepEqual(reg(r, 2, node('v5', 5)), { ok: true, creation: 1 });
  t.deepEqual(reg(r, 3, node('v0', 0)), { ok: true, creation: 3 });
});

test('registry: the counter wraps to 4, never to 0..3', (t) => {
  const r = new Registry(() => 0xfffffffe - 1);
  t.deepEqual(reg(r, 1, node('w')), { ok: true, creation: 0xfffffffe });
  r.unregisterConn(1);
  t.deepEqual(reg(r, 2, node('w')), { ok: true, creation: 0xffffffff });
  r.unregisterConn(2);
  t.deepEqual(reg(r, 3, node('w')), { ok: true, creation: 4 });
});

test('registry: refusals — name in use, too long, not UTF-8, extra too long', (t) => {
  const r = new Registry(() => T);
  t.true(reg(r, 1, node('dup')).ok);
  t.deepEqual(reg(r, 2, node('dup')), { ok: false, reason: 'name_in_use' });
  t.deepEqual(reg(r, 3, node('a'.repeat(256))), { ok: false, reason: 'name_too_long' });
  t.true(reg(r, 4, node('a'.repeat(255))).ok, '255 characters are fine');
  t.true(reg(r, 5, node('é'.repeat(255))).ok, '255 two-byte characters are fine');
  const bad = node('x');
  t.deepEqual(r.register(6, Buffer.from([0x63, 0xff, 0x61]), bad), { ok: false, reason: 'name_not_utf8' });
  t.deepEqual(reg(r, 7, { ...node('big'), extra: Buffer.alloc(1021) }), { ok: false, reason: 'extra_too_long' });
  t.is(r.size, 3);
});

test('registry: listing is newest first; unregistering by connection or by name', (t) => {
  const r = new Registry(() => T);
  reg(r, 1, node('a', 6, 1));
  reg(r, 2, node('b', 6, 2));
  reg(r, 3, node('c', 6, 3));
  t.deepEqual(r.registered().map((e) => e.node.name), ['c', 'b', 'a']);
  t.is(r.unregisterConn(2), 'b');
  t.is(r.unregisterConn(2), undefined);
  t.is(r.unregisterName('a'), 1);
  t.is(r.lookup('a'), undefined);
  t.is(r.lookup('c')?.port, 3);
  t.deepEqual(r.unregistered().map((e) => e.node.name), ['b', 'a'], 'old names oldest first');
});

test('registry: at most the configured number of old names are remembered', (t) => {
  const r = new Registry(() => T, 1000);
  for (let i = 0; i < 1100; i++) {
    reg(r, i, node(`n${i}`));
    r.unregisterConn(i);
  }
  t.is(r.unregistered().length, 1000);
  t.is(r.unregistered()[0]?.node.name, 'n100', 'the oldest were forgotten first');
});
