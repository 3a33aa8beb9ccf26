/** broker/connection/keepalive.ts: the 1.5 × rule on simulated time, never early and boundedly late, and Server Keep Alive. */
import test from 'ava';
import { Keepalive, KEEPALIVE_MULTIPLIER, negotiateKeepalive } from '../../../broker/connection/keepalive.js';

const T0 = 1_000_000;

test('[MQTT-3.1.2-24] keepalive: closed after 1.5 × the interval with nothing received', (t) => {
  const ka = new Keepalive(10, T0, 0);
  t.is(ka.timeoutMs, 15_000);
  t.deepEqual(ka.start(T0), { status: 'ok', nextCheckInMs: 5_000 });
  t.deepEqual(ka.check(T0 + 5_000, 0), { status: 'ok', nextCheckInMs: 5_000 });
  t.deepEqual(ka.check(T0 + 10_000, 0), { status: 'ok', nextCheckInMs: 5_000 });
  t.deepEqual(ka.check(T0 + 14_999, 0), { status: 'ok', nextCheckInMs: 1 });
  t.deepEqual(ka.check(T0 + 15_000, 0), { status: 'timeout', idleMs: 15_000 });
});

test('[MQTT-3.1.2-24] keepalive: any packet received restarts the count, dated at the check that sees it', (t) => {
  const ka = new Keepalive(10, T0, 7);
  t.is(ka.check(T0 + 5_000, 8).status, 'ok'); // one packet since the start
  t.is(ka.lastActivityAtMs, T0 + 5_000);
  t.deepEqual(ka.check(T0 + 19_999, 8), { status: 'ok', nextCheckInMs: 1 }, 'not closed at 1.5 × after the start');
  t.deepEqual(ka.check(T0 + 20_000, 8), { status: 'timeout', idleMs: 15_000 });
});

test('keepalive: never closes early, and at most one check interval late', (t) => {
  // A client whose last packet came right after a check: seen at the next check.
  const ka = new Keepalive(4, T0, 0);
  let count = 0;
  let now = T0;
  let lastPacketAt = T0;
  for (let i = 0; i < 3; i++) {
    const r = ka.check(now, count);
    t.is(r.status, 'ok');
    if (r.status !== 'ok') return;
    lastPacketAt = now + 1;
    count++; // a packet just after this check
    now += r.nextCheckInMs;
  }
  for (;;) {
    const r = ka.check(now, count);
    if (r.status === 'timeout') break;
    t.is(r.status, 'ok');
    if (r.status !== 'ok') return;
    now += r.nextCheckInMs;
  }
  const silentFor = now - lastPacketAt;
  t.true(silentFor >= 4_000 * KEEPALIVE_MULTIPLIER, `closed after ${silentFor} ms of silence, not before 6000`);
  t.true(silentFor <= 4_000 * KEEPALIVE_MULTIPLIER + ka.checkIntervalMs, `closed after ${silentFor} ms, within one check interval`);
});

test('keepalive: 0 turns it off', (t) => {
  const ka = new Keepalive(0, T0);
  t.false(ka.enabled);
  t.deepEqual(ka.start(T0), { status: 'disabled' });
  t.deepEqual(ka.check(T0 + 1e9, 0), { status: 'disabled' });
});

test('keepalive: a custom check interval bounds the wait between checks', (t) => {
  const ka = new Keepalive(60, T0, 0, 1_000);
  t.deepEqual(ka.start(T0), { status: 'ok', nextCheckInMs: 1_000 });
  t.deepEqual(ka.check(T0 + 89_500, 0), { status: 'ok', nextCheckInMs: 500 });
  t.is(ka.check(T0 + 90_000, 0).status, 'timeout');
});

test('keepalive: the largest interval and bad values', (t) => {
  t.is(new Keepalive(65_535, T0).timeoutMs, 65_535 * 1500);
  for (const bad of [-1, 65_536, 1.5, Number.NaN]) t.throws(() => new Keepalive(bad, T0), { instanceOf: RangeError }, String(bad));
  t.throws(() => new Keepalive(10, T0, 0, 0), { instanceOf: RangeError });
});

test('[MQTT-3.2.2-21] keepalive: an MQTT 5 server may impose its Server Keep Alive', (t) => {
  t.deepEqual(negotiateKeepalive(60, 5, 30), { keepaliveS: 30, serverKeepAliveS: 30 });
  t.deepEqual(negotiateKeepalive(0, 5, 30), { keepaliveS: 30, serverKeepAliveS: 30 }, 'even over a client that asked for none');
  t.deepEqual(negotiateKeepalive(60, 5, 0), { keepaliveS: 0, serverKeepAliveS: 0 }, 'or turn it off');
});

test('[MQTT-3.2.2-22] keepalive: without Server Keep Alive the client value applies', (t) => {
  t.deepEqual(negotiateKeepalive(60, 5), { keepaliveS: 60, serverKeepAliveS: undefined });
  // MQTT 3.1.1 has no Server Keep Alive: the client's value stands.
  t.deepEqual(negotiateKeepalive(60, 4, 30), { keepaliveS: 60, serverKeepAliveS: undefined });
  t.deepEqual(negotiateKeepalive(60, 3, 30), { keepaliveS: 60, serverKeepAliveS: undefined });
  t.throws(() => negotiateKeepalive(70_000, 4), { instanceOf: RangeError });
  t.throws(() => negotiateKeepalive(60, 5, -1), { instanceOf: RangeError });
});
