/**
 * EPMD encoders and decoders against the bytes the real OTP 25 epmd exchanged
 * (shared/reference/erlang/epmd-reference.md).
 */
import test from 'ava';
import {
  decodeAlive2Resp,
  decodePort2Resp,
  decodeRequest,
  encodeAlive2Req,
  encodeAlive2Resp,
  encodePort2Resp,
  encodePortPlease2Req,
  namesLine,
  parseNames,
  ProtocolError,
  utf8Chars,
} from '../../epmd/protocol.js';
import { hex } from '../helpers/raw-tcp.js';

const v6 = { name: 'cprobe_v6', port: 45001, nodeType: 77, protocol: 0, highestVersion: 6, lowestVersion: 5 };
const hid = { name: 'cprobe_hid', port: 45003, nodeType: 72, protocol: 0, highestVersion: 6, lowestVersion: 5, extra: Buffer.from('ex1') };

test('protocol: ALIVE2_REQ encodes byte for byte as erl sends it', (t) => {
  t.is(encodeAlive2Req(v6).toString('hex'), '001678afc94d000006000500096370726f62655f76360000');
  t.is(encodeAlive2Req(hid).toString('hex'), '001a78afcb480000060005000a6370726f62655f6869640003657831');
});

test('protocol: ALIVE2_REQ decodes every field, extra included', (t) => {
  const r = decodeRequest(hex('78afcb480000060005000a6370726f62655f6869640003657831'));
  if (r.kind !== 'alive2') return t.fail(r.kind);
  t.like(r.node, { name: 'cprobe_hid', port: 45003, nodeType: 72, protocol: 0, highestVersion: 6, lowestVersion: 5 });
  t.is(r.node.extra.toString(), 'ex1');
});

test('protocol: ALIVE2 answers are X_RESP for v6 and 16-bit RESP below', (t) => {
  t.is(encodeAlive2Resp(6, true, 0x6b025b99).toString('hex'), '76006b025b99');
  t.is(encodeAlive2Resp(5, true, 3).toString('hex'), '79000003');
  t.is(encodeAlive2Resp(6, false, 99).toString('hex'), '760100000063');
  t.is(encodeAlive2Resp(5, false, 99).toString('hex'), '79010063');
  t.deepEqual(decodeAlive2Resp(hex('76006b025b99')), { ok: true, creation: 0x6b025b99, extended: true });
  t.deepEqual(decodeAlive2Resp(hex('79000003')), { ok: true, creation: 3, extended: false });
  t.is(decodeAlive2Resp(hex('7600')), undefined, 'incomplete answer waits for more');
});

test('protocol: PORT2_RESP echoes what was registered, 7701 for an unknown name', (t) => {
  const node = { ...v6, extra: Buffer.alloc(0) };
  t.is(encodePort2Resp(node).toString('hex'), '7700afc94d000006000500096370726f62655f76360000');
  t.is(encodePort2Resp(hid).toString('hex'), '7700afcb480000060005000a6370726f62655f6869640003657831');
  t.is(encodePort2Resp(undefined).toString('hex'), '7701');
  t.deepEqual(decodePort2Resp(hex('7700afcb480000060005000a6370726f62655f6869640003657831')), hid);
  t.is(decodePort2Resp(hex('7701')), 'noport');
  // A real OTP 25 node 'hb'
  t.like(decodePort2Resp(hex('7700a7434d0000060005000268620000')), { name: 'hb', port: 0xa743, highestVersion: 6 });
});

test('protocol: PORT_PLEASE2_REQ strips one trailing NUL and refuses NUL inside', (t) => {
  t.is(encodePortPlease2Req('cprobe_v6').toString('hex'), '000a7a6370726f62655f7636');
  t.deepEqual(decodeRequest(hex('7a6370726f62655f763600')), { kind: 'port_please2', name: 'cprobe_v6' });
  t.throws(() => decodeRequest(hex('7a61006200')), { instanceOf: ProtocolError });
  t.throws(() => decodeRequest(hex('7a')), { instanceOf: ProtocolError });
});

test('protocol: NAMES lines are exactly the real format and parse back', (t) => {
  const text = namesLine('cprobe_hid', 45003) + namesLine('cprobe_v5', 45002) + namesLine('cprobe_v6', 45001);
  t.is(
    Buffer.concat([hex('00003821'), Buffer.from(text)]).toString('hex'),
    '000038216e616d65206370726f62655f68696420617420706f72742034353030330a6e616d65206370726f62655f763520617420706f72742034353030320a6e616d65206370726f62655f763620617420706f72742034353030310a',
  );
  t.deepEqual(parseNames(text), [
    { name: 'cprobe_hid', port: 45003 },
    { name: 'cprobe_v5', port: 45002 },
    { name: 'cprobe_v6', port: 45001 },
  ]);
});

test('protocol: malformed ALIVE2 bodies are refused without a reply', (t) => {
  const rows: [string, string][] = [
    ['78afc94d00', 'body shorter than 14 bytes'],
    ['78afc94d0000060005000000', 'empty name (13 bytes)'],
    ['78afe64d000006000500c8616263', 'name length beyond the packet'],
    ['78afea4d0000060005000a6370726f6265006e756c0000', 'NUL inside the name'],
    ['78afea4d000006000500016100ff', 'extra length beyond the packet'],
    ['51', 'unknown code Q'],
  ];
  for (const [body, why] of rows) t.throws(() => decodeRequest(hex(body)), { instanceOf: ProtocolError }, why);
});

test('protocol: utf8Chars counts characters and rejects what the real daemon rejects', (t) => {
  const rows: [number[], number][] = [
    [[0x61, 0x62], 2],
    [[0xc3, 0xa9], 1], // é
    [[0xe2, 0x82, 0xac], 1], // €
    [[0xf0, 0x9f, 0x98, 0x80], 1], // 😀
    [[0x63, 0xff, 0x61], -1],
    [[0xc0, 0x80], -1], // overlong NUL
    [[0xe0, 0x80, 0x80], -1], // overlong
    [[0xed, 0xa0, 0x80], -1], // surrogate
    [[0xf4, 0x90, 0x80, 0x80], -1], // > U+10FFFF
    [[0xc3], -1], // truncated
  ];
  for (const [bytes, n] of rows) t.is(utf8Chars(Uint8Array.from(bytes)), n, Buffer.from(bytes).toString('hex'));
});
