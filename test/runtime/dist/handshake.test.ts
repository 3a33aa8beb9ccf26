import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import type { Logger } from '../../../runtime/log.js';
import { digest } from '../../../runtime/dist/cookie.js';
import { advertisedFlags, BEAMQ_FLAG, DFLAG } from '../../../runtime/dist/flags.js';
import { memoryPair, type FrameIO, type MemoryFrameIO } from '../../../runtime/dist/framing.js';
import {
  accept,
  HandshakeError,
  initiate,
  type AcceptOptions,
  type HandshakeErrorCode,
  type HandshakeResult,
  type HandshakeStatus,
  type InitiateOptions,
} from '../../../runtime/dist/handshake.js';
import {
  decodeChallenge,
  encodeChallenge,
  encodeChallengeAck,
  encodeChallengeReply,
  encodeComplement,
  encodeSendName,
  encodeSendNameV5,
  encodeStatus,
} from '../../../runtime/dist/handshake-messages.js';
import { REF } from './reference.js';

interface LogLine {
  level: string;
  event: string;
  fields: Record<string, unknown> | undefined;
}

function captureLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (event: string, fields?: Record<string, unknown>) => void lines.push({ level, event, fields });
  return { lines, log: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), isDebugEnabled: () => true } };
}

const A = 'a@127.0.0.1';
const B = 'b@127.0.0.1';

function opts(over: Partial<InitiateOptions & AcceptOptions> = {}) {
  const la = captureLog();
  const lb = captureLog();
  const ini: InitiateOptions = { name: A, peer: B, creation: 11, cookie: 'monster', log: la.log, ...over };
  const acc: AcceptOptions = { name: B, creation: 22, cookie: 'monster', decideStatus: () => 'ok', log: lb.log, ...over };
  return { ini, acc, la, lb };
}

/** Run both sides over an in-memory pair; settle both (results or HandshakeErrors). */
async function both(ini: InitiateOptions, acc: AcceptOptions) {
  const [ia, ib] = memoryPair({ names: [B, 'a-addr'] });
  const [ra, rb] = await Promise.allSettled([initiate(ia, ini), accept(ib, acc)]);
  return { ra, rb, ia, ib };
}

function ok(t: ExecutionContext, r: PromiseSettledResult<HandshakeResult>): HandshakeResult {
  if (r.status === 'rejected') {
    const reason: unknown = r.reason;
    t.fail(`handshake failed: ${String(reason)}`);
    throw reason;
  }
  return r.value;
}

function code(r: PromiseSettledResult<HandshakeResult>): HandshakeErrorCode | 'resolved' | 'other' {
  if (r.status === 'fulfilled') return 'resolved';
  return r.reason instanceof HandshakeError ? r.reason.code : 'other';
}

function message(r: PromiseSettledResult<HandshakeResult>): string {
  return r.status === 'rejected' ? String((r.reason as Error).message) : '';
}

test('handshake: two beamq nodes connect and learn each other', async (t) => {
  const { ini, acc } = opts();
  const { ra, rb } = await both(ini, acc);
  const a = ok(t, ra);
  const b = ok(t, rb);
  t.like(a, { peerName: B, peerCreation: 22, peerFlags: advertisedFlags(), beamqPeer: true, status: 'ok' });
  t.like(b, { peerName: A, peerCreation: 11, peerFlags: advertisedFlags(), beamqPeer: true, status: 'ok' });
  t.is(a.flags, advertisedFlags());
});

test('handshake: works in the other direction, with per-peer cookies and a hidden node', async (t) => {
  const { ini, acc } = opts();
  const cookies: string[] = [];
  const { ra, rb } = await both(
    { ...ini, name: B, peer: A, hidden: true, cookie: (p) => (cookies.push(p), 'x') },
    { ...acc, name: A, cookie: (p) => (cookies.push(p), 'x') },
  );
  t.is(ok(t, ra).peerName, A);
  t.is(ok(t, rb).peerName, B);
  t.is(ok(t, rb).peerFlags & DFLAG.PUBLISHED, 0n);
  t.is(ok(t, ra).flags & DFLAG.PUBLISHED, 0n, 'the intersection drops PUBLISHED');
  t.deepEqual(cookies.sort(), [A, B]);
});

test('handshake: a peer without the beamq bit is a BEAM peer', async (t) => {
  const { ini, acc } = opts();
  const { ra, rb } = await both({ ...ini, flags: REF.flags }, acc);
  t.false(ok(t, ra).beamqPeer);
  t.false(ok(t, rb).beamqPeer);
  t.is(ok(t, rb).flags & BEAMQ_FLAG, 0n);
});

test('handshake: the conversation is byte for byte the OTP 25 reference', async (t) => {
  const sent: string[] = [];
  const tap = (io: FrameIO, who: string): FrameIO => ({
    peer: io.peer,
    send: (f) => (sent.push(`${who}:${Buffer.from(f).toString('hex')}`), io.send(f)),
    recv: (ms) => io.recv(ms),
    close: () => io.close(),
  });
  const [ia, ib] = memoryPair();
  const common = { flags: REF.flags, cookie: REF.cookie, log: captureLog().log };
  const [a, b] = await Promise.all([
    initiate(tap(ia, 'A'), { ...common, name: REF.a.name, creation: REF.a.creation, peer: REF.b.name, challenge: () => REF.a.challenge }),
    accept(tap(ib, 'B'), { ...common, name: REF.b.name, creation: REF.b.creation, decideStatus: () => 'ok', challenge: () => REF.b.challenge }),
  ]);
  t.deepEqual(sent, [`A:${REF.sendName}`, `B:${REF.status}`, `B:${REF.challenge}`, `A:${REF.reply}`, `B:${REF.ack}`]);
  t.is(a.peerCreation, REF.b.creation);
  t.is(b.peerCreation, REF.a.creation);
});

test('handshake: wrong cookie is refused on both sides and logged without the cookie', async (t) => {
  const { ini, acc, la, lb } = opts();
  const { ra, rb, ia, ib } = await both({ ...ini, cookie: 'wrong-cookie' }, acc);
  t.is(code(rb), 'bad_cookie');
  t.is(message(rb), `Connection attempt from node ${A} rejected. Invalid challenge reply.`);
  t.is(code(ra), 'bad_cookie');
  t.regex(message(ra), new RegExp(`${B} closed the connection after our challenge reply`));
  t.true(ia.isClosed && ib.isClosed, 'both ends closed');
  const refusals = [...la.lines, ...lb.lines].filter((l) => l.event === 'handshake_refused');
  t.deepEqual(refusals.map((l) => `${l.level} ${String(l.fields?.['code'])} ${String(l.fields?.['role'])}`).sort(), [
    'error bad_cookie acceptor',
    'error bad_cookie initiator',
  ]);
  const text = JSON.stringify([...la.lines, ...lb.lines]);
  t.false(text.includes('monster') || text.includes('wrong-cookie'), 'no cookie in any log line');
});

test('handshake: a wrong challenge_ack is refused by the initiator', async (t) => {
  const { ini } = opts();
  const [ia, ib] = memoryPair();
  const p = initiate(ia, ini);
  await ib.recv(1000); // send_name
  ib.send(encodeStatus('ok'));
  ib.send(encodeChallenge({ flags: advertisedFlags(), challenge: 42, creation: 2, name: B }));
  await ib.recv(1000); // challenge_reply
  ib.send(encodeChallengeAck(digest(0, 'not-the-cookie')));
  const bad = await t.throwsAsync(p, { instanceOf: HandshakeError });
  t.is(bad?.code, 'bad_cookie');
  t.regex(bad?.message ?? '', /wrong digest/);
});

test('handshake: a send_name where the challenge belongs is a protocol error', async (t) => {
  const { ini } = opts();
  const [ia, ib] = memoryPair();
  const p = initiate(ia, ini);
  await ib.recv(1000);
  ib.send(encodeStatus('ok'));
  ib.send(encodeSendName({ flags: advertisedFlags(), creation: 1, name: B }));
  t.is((await t.throwsAsync(p, { instanceOf: HandshakeError }))?.code, 'protocol');
});

test('handshake: each status the acceptor can send', async (t) => {
  const rows: [HandshakeStatus, boolean | undefined, HandshakeErrorCode | 'resolved', HandshakeErrorCode | 'resolved'][] = [
    ['ok', undefined, 'resolved', 'resolved'],
    ['ok_simultaneous', undefined, 'resolved', 'resolved'],
    ['nok', undefined, 'nok', 'nok'],
    ['not_allowed', undefined, 'not_allowed', 'not_allowed'],
    ['alive', true, 'resolved', 'resolved'],
    ['alive', false, 'alive', 'alive'],
    ['alive', undefined, 'alive', 'alive'],
  ];
  for (const [status, answer, initiator, acceptor] of rows) {
    const { ini, acc } = opts();
    const asked: string[] = [];
    const { ra, rb } = await both(
      { ...ini, ...(answer === undefined ? {} : { onAlive: (p: string) => (asked.push(p), answer) }) },
      { ...acc, decideStatus: () => status },
    );
    const label = `${status} answered ${String(answer)}`;
    t.is(code(ra), initiator, `initiator, ${label}`);
    t.is(code(rb), acceptor, `acceptor, ${label}`);
    if (initiator === 'resolved') t.true(ok(t, ra).status === status, label);
    if (answer !== undefined) t.deepEqual(asked, [B], `${label}: onAlive asked about the peer`);
    if (initiator !== 'resolved') t.true(message(ra).includes(B), `${label}: the message names the peer`);
  }
});

test('handshake: decideStatus sees the peer name and flags', async (t) => {
  const { ini, acc } = opts();
  const seen: [string, bigint][] = [];
  await both(ini, { ...acc, decideStatus: (n, f) => (seen.push([n, f]), 'ok') });
  t.deepEqual(seen, [[A, advertisedFlags()]]);
});

test('handshake: a silent peer times out (net_setuptime)', async (t) => {
  const { ini, acc } = opts({ setupTimeMs: 50 });
  const [ia] = memoryPair();
  const e1 = await t.throwsAsync(accept(ia, acc), { instanceOf: HandshakeError });
  t.is(e1?.code, 'timeout');
  t.regex(e1?.message ?? '', /within 50 ms \(net_setuptime\)/);
  const [ib, other] = memoryPair();
  const e2 = await t.throwsAsync(initiate(ib, ini), { instanceOf: HandshakeError });
  t.is(e2?.code, 'timeout');
  t.true((await other.recv(100)).length > 0, 'send_name went out before the wait');
  t.true(ib.isClosed);
});

test('handshake: garbage from the peer is a protocol error, never a crash', async (t) => {
  const { ini, acc } = opts({ setupTimeMs: 1000 });
  const [ia, ib] = memoryPair();
  const p = accept(ia, acc);
  ib.send(Buffer.from('GET / HTTP/1.1\r\n'));
  t.is((await t.throwsAsync(p, { instanceOf: HandshakeError }))?.code, 'protocol');
  t.true(ia.isClosed);

  const [ja, jb] = memoryPair();
  const q = initiate(ja, ini);
  await jb.recv(1000);
  jb.send(Buffer.from('sweird'));
  const e = await t.throwsAsync(q, { instanceOf: HandshakeError });
  t.is(e?.code, 'protocol');
  t.regex(e?.message ?? '', /unknown status 'weird'/);

  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
      const [x, y] = memoryPair();
      const r = accept(x, { ...acc, decideStatus: () => 'ok' });
      y.send(bytes);
      y.close();
      try {
        await r;
        return false;
      } catch (err) {
        return err instanceof HandshakeError;
      }
    }),
    { numRuns: 200 },
  );
});

test('handshake: name mismatch, missing flags and mixed name kinds are refused', async (t) => {
  const { ini, acc } = opts();
  const r1 = await both({ ...ini, peer: 'c@127.0.0.1' }, acc);
  t.is(code(r1.ra), 'name_mismatch');
  t.regex(message(r1.ra), /connected to b@127\.0\.0\.1 instead of c@127\.0\.0\.1/);
  t.is(code(r1.rb), 'peer_closed', 'the acceptor sees the connection close after its challenge');

  const r2 = await both({ ...ini, flags: advertisedFlags() & ~DFLAG.BIG_CREATION & ~DFLAG.MAP_TAG }, acc);
  t.is(code(r2.rb), 'missing_flags');
  t.regex(message(r2.rb), /MAP_TAG, BIG_CREATION/);
  t.is(code(r2.ra), 'peer_closed');

  const r3 = await both(ini, { ...acc, flags: advertisedFlags() & ~DFLAG.UTF8_ATOMS });
  t.is(code(r3.ra), 'missing_flags');

  const r4 = await both({ ...ini, name: 'a@box' }, acc);
  t.is(code(r4.rb), 'not_allowed');
  t.regex(message(r4.rb), /short names/);
  t.is(code(r4.ra), 'not_allowed');

  const r5 = await both({ ...ini, name: 'bad name@x.y' }, acc);
  t.is(code(r5.rb), 'protocol');
});

test('handshake: an old-style send_name from an OTP 23/24 node is accepted with its complement', async (t) => {
  const { acc } = opts();
  const [ia, ib] = memoryPair();
  const flags = advertisedFlags() & ~BEAMQ_FLAG;
  const p = accept(ib, acc);
  ia.send(encodeSendNameV5({ flags, name: A }));
  t.is((await ia.recv(1000)).toString(), 'sok');
  const ch = decodeChallenge(await ia.recv(1000));
  ia.send(encodeComplement({ flags, creation: 77 }));
  ia.send(encodeChallengeReply({ challenge: 5, digest: digest(ch.challenge, 'monster') }));
  t.is((await ia.recv(1000)).length, 17, 'challenge_ack');
  t.like(await p, { peerName: A, peerFlags: flags, peerCreation: 77 });

  const [ja, jb] = memoryPair();
  const q = accept(jb, acc);
  ja.send(encodeSendNameV5({ flags: flags & ~DFLAG.HANDSHAKE_23, name: A }));
  const e = await t.throwsAsync(q, { instanceOf: HandshakeError });
  t.is(e?.code, 'missing_flags');
  t.regex(e?.message ?? '', /version 5/);
});

test('handshake: a peer that vanishes mid-way is peer_closed', async (t) => {
  const { acc } = opts();
  const [ia, ib] = memoryPair();
  const p = accept(ib, acc);
  ia.close();
  t.is((await t.throwsAsync(p, { instanceOf: HandshakeError }))?.code, 'peer_closed');
  const closedEnd: MemoryFrameIO = ib;
  t.true(closedEnd.isClosed);
});
