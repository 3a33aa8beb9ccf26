import test from 'ava';
import { digest } from '../../../runtime/dist/cookie.js';
import { DistProtocolError, type DistProtocolErrorCode } from '../../../runtime/dist/errors.js';
import {
  decodeChallenge,
  decodeChallengeAck,
  decodeChallengeReply,
  decodeComplement,
  decodeSendName,
  decodeStatus,
  encodeChallenge,
  encodeChallengeAck,
  encodeChallengeReply,
  encodeComplement,
  encodeSendName,
  encodeSendNameV5,
  encodeStatus,
} from '../../../runtime/dist/handshake-messages.js';
import { hex } from '../../helpers/raw-tcp.js';
import { REF } from './reference.js';

test('handshake messages: send_name layout matches OTP 25 byte for byte', (t) => {
  t.is(encodeSendName({ flags: REF.flags, creation: REF.a.creation, name: REF.a.name }).toString('hex'), REF.sendName);
  t.deepEqual(decodeSendName(hex(REF.sendName)), { version: 6, flags: REF.flags, creation: REF.a.creation, name: REF.a.name });
});

test('handshake messages: status, challenge, reply and ack match OTP 25 byte for byte', (t) => {
  t.is(encodeStatus('ok').toString('hex'), REF.status);
  t.is(decodeStatus(hex(REF.status)), 'ok');
  const ch = { flags: REF.flags, challenge: REF.b.challenge, creation: REF.b.creation, name: REF.b.name };
  t.is(encodeChallenge(ch).toString('hex'), REF.challenge);
  t.deepEqual(decodeChallenge(hex(REF.challenge)), ch);
  // Our digest of B's challenge with the recovered cookie is exactly what A sent.
  const reply = { challenge: REF.a.challenge, digest: digest(REF.b.challenge, REF.cookie) };
  t.is(encodeChallengeReply(reply).toString('hex'), REF.reply);
  t.deepEqual(decodeChallengeReply(hex(REF.reply)), reply);
  t.is(encodeChallengeAck(digest(REF.a.challenge, REF.cookie)).toString('hex'), REF.ack);
  t.deepEqual(decodeChallengeAck(hex(REF.ack)), digest(REF.a.challenge, REF.cookie));
});

test('handshake messages: the bad-cookie capture has a digest that does not match', (t) => {
  // shared/reference/erlang/handshake-bad-cookie-hidden.txt: B's challenge, then A's reply.
  const ch = decodeChallenge(hex('4e0000000d07df7fbd8ece4da86b025d3f000c6862403132372e302e302e31'));
  const reply = decodeChallengeReply(hex('72839f8e23ea23b67457890bf78d91635bab08fd50'));
  t.is(ch.challenge, 2395884968);
  t.notDeepEqual(reply.digest, digest(ch.challenge, REF.cookie));
  const hidden = decodeSendName(hex('4e0000000d07df7fbc6b025d41000c6861403132372e302e302e31'));
  t.is(hidden.flags & 1n, 0n, 'a hidden node does not set PUBLISHED');
});

test('handshake messages: old send_name, complement, extra bytes', (t) => {
  const v5 = encodeSendNameV5({ flags: 0x1_0100_0004n, name: 'old@h.x' });
  t.is(v5.toString('hex'), '6e0005' + '01000004' + Buffer.from('old@h.x').toString('hex'));
  t.deepEqual(decodeSendName(v5), { version: 5, flags: 0x0100_0004n, creation: undefined, name: 'old@h.x' });
  const c = encodeComplement({ flags: 0xd_0000_0000n, creation: 7 });
  t.is(c.toString('hex'), '630000000d00000007');
  t.deepEqual(decodeComplement(c), { flagsHigh: 0xd_0000_0000n, creation: 7 });
  // "Any extra data after the node Name must be accepted and ignored."
  t.is(decodeSendName(Buffer.concat([hex(REF.sendName), hex('ffff')])).name, REF.a.name);
  t.is(decodeChallenge(Buffer.concat([hex(REF.challenge), hex('00')])).name, REF.b.name);
});

test('handshake messages: malformed messages throw DistProtocolError', (t) => {
  const rows: [string, () => unknown, DistProtocolErrorCode][] = [
    ['empty send_name', () => decodeSendName(Buffer.alloc(0)), 'truncated'],
    ['unknown tag', () => decodeSendName(hex('78')), 'malformed'],
    ['short N', () => decodeSendName(hex(REF.sendName).subarray(0, 14)), 'truncated'],
    ['name beyond', () => decodeSendName(hex(REF.sendName).subarray(0, 20)), 'truncated'],
    ['bad utf-8 name', () => decodeSendName(Buffer.concat([hex('4e0000000d07df7fbd6b025d400002'), hex('c328')])), 'malformed'],
    ['n version 6', () => decodeSendName(hex('6e000601000004616263')), 'malformed'],
    ['status tag', () => decodeStatus(hex('6f6b')), 'malformed'],
    ['challenge tag', () => decodeChallenge(hex(REF.sendName)), 'truncated'],
    ['reply length', () => decodeChallengeReply(hex(REF.reply).subarray(0, 20)), 'malformed'],
    ['reply tag', () => decodeChallengeReply(hex(REF.ack)), 'malformed'],
    ['ack length', () => decodeChallengeAck(hex(REF.ack + '00')), 'malformed'],
    ['complement length', () => decodeComplement(hex('6300')), 'malformed'],
  ];
  for (const [what, f, code] of rows) {
    t.is(t.throws(f, { instanceOf: DistProtocolError }, what)?.code, code, what);
  }
});
