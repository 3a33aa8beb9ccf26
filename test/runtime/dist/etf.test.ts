import test from 'ava';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { Pid, Ref } from '../../../runtime/terms.js';
import {
  decodeTerm,
  DistProtocolError,
  encodeTerm,
  type DistProtocolErrorCode,
  ErlBitBinary,
  ErlExport,
  ErlList,
  ErlPort,
  TAG,
} from '../../../runtime/dist/etf.js';
import { hex } from '../../helpers/raw-tcp.js';
import { term } from './etf-arbitrary.js';

const h = (v: unknown): string => encodeTerm(v).toString('hex');

test('etf: any term round-trips exactly (JS → ETF → JS)', (t) => {
  fc.assert(fc.property(term, (v) => isDeepStrictEqual(decodeTerm(encodeTerm(v)), v)), { numRuns: 2000 });
  t.pass();
});

test('etf: a leading U+FEFF (byte order mark) is text, not dropped', (t) => {
  // TextDecoder strips a leading BOM unless told not to; found by the property above (seed 771142851).
  for (const v of ['\uFEFF', '\uFEFFok', new Map([[0, '\uFEFF']])]) t.deepEqual(decodeTerm(encodeTerm(v)), v);
});

test('etf: any encoding round-trips exactly (ETF → JS → ETF)', (t) => {
  fc.assert(
    fc.property(term, (v) => {
      const bytes = encodeTerm(v);
      return encodeTerm(decodeTerm(bytes)).equals(bytes);
    }),
    { numRuns: 1000 },
  );
  t.pass();
});

test('etf: the mapping of JS values (encode side)', (t) => {
  const rows: [string, unknown, string][] = [
    ['atom', 'ok', '8377026f6b'],
    ['empty atom', '', '837700'],
    ['true', true, '83770474727565'],
    ['undefined', undefined, '837709756e646566696e6564'],
    ['null', null, '837709756e646566696e6564'],
    ['small int', 255, '8361ff'],
    ['int', 256, '836200000100'],
    ['negative int', -1, '8362ffffffff'],
    ['integral float is an int', 3.0, '836103'],
    ['float', 1.5, '83463ff8000000000000'],
    ['2^53 is a big', 2 ** 53, '836e070000000000000020'],
    ['bigint in int range', 5n, '836105'],
    ['big negative', -(2n ** 64n), '836e0901000000000000000001'],
    ['tuple', ['a', 1], '8368027701616101'],
    ['empty tuple', [], '836800'],
    ['nil', new ErlList([]), '836a'],
    ['string', ErlList.charlist('abc'), '836b0003616263'],
    ['list', new ErlList([1000]), '836c0000000162000003e86a'],
    ['improper', new ErlList([1], 2), '836c0000000161016102'],
    ['nested tail flattens', new ErlList([1], new ErlList([2])), '836b00020102'],
    ['no cells: the tail', new ErlList([], 'x'), '83770178'],
    ['binary', Buffer.from([1, 2]), '836d000000020102'],
    ['bitstring', new ErlBitBinary(Buffer.from([1, 0x30]), 4), '834d00000002040130'],
    ['map', new Map([['a', 1]]), '8374000000017701616101'],
    ['object is an atom-keyed map', { a: 1 }, '8374000000017701616101'],
    ['pid', new Pid('n@h', 1, 2, 3), '83587703' + Buffer.from('n@h').toString('hex') + '000000010000000200000003'],
    ['ref words', new Ref('n@h', 3, 5 + 7 * 2 ** 18), '835a00037703' + Buffer.from('n@h').toString('hex') + '00000003' + '00000005' + '00000007' + '00000000'],
    ['ref ext', new Ref('n@h', 3, 5, [9, 10]), '835a00047703' + Buffer.from('n@h').toString('hex') + '00000003' + '00000005' + '00000000' + '00000009' + '0000000a'],
    ['export', new ErlExport('lists', 'map', 2), '837177056c6973747377036d61706102'],
    ['port', new ErlPort('n@h', 7n, 1), '83597703' + Buffer.from('n@h').toString('hex') + '0000000700000001'],
    ['v4 port', new ErlPort('n@h', 2n ** 40n, 1), '83787703' + Buffer.from('n@h').toString('hex') + '0000010000000000' + '00000001'],
  ];
  for (const [what, v, expected] of rows) t.is(h(v), expected, what);
  t.is(encodeTerm('x'.repeat(255)).length, 3 + 255, '255 characters fit SMALL_ATOM_UTF8_EXT');
  t.is(encodeTerm('é'.repeat(200))[1], TAG.ATOM_UTF8, 'more than 255 bytes: ATOM_UTF8_EXT');
  t.is(encodeTerm(new Array(256).fill(0))[1], TAG.LARGE_TUPLE);
  t.is(encodeTerm(2n ** 2100n)[1], TAG.LARGE_BIG);
  t.is(encodeTerm(new ErlList(new Array(70000).fill(1)))[1], TAG.LIST, 'too long for STRING_EXT');
});

test('etf: values with no Erlang term are refused', (t) => {
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  const rows: [string, unknown, DistProtocolErrorCode][] = [
    ['NaN', NaN, 'unencodable'],
    ['Infinity', Infinity, 'unencodable'],
    ['function', () => 1, 'unencodable'],
    ['symbol', Symbol('s'), 'unencodable'],
    ['Date', new Date(0), 'unencodable'],
    ['long atom', 'x'.repeat(256), 'unencodable'],
    ['lone surrogate', 'a\ud800', 'unencodable'],
    ['cycle', cyclic, 'too_deep'],
    ['pid id', new Pid('n@h', 2 ** 32, 0, 0), 'unencodable'],
    ['ref id', new Ref('n@h', 0, 2 ** 51), 'unencodable'],
    ['ref words', new Ref('n@h', 0, 1, [1, 2, 3, 4]), 'unencodable'],
    ['bitstring bits', new ErlBitBinary(Buffer.from([1]), 0), 'unencodable'],
  ];
  for (const [what, v, code] of rows) {
    t.is(t.throws(() => encodeTerm(v), { instanceOf: DistProtocolError }, what)?.code, code, what);
  }
});

test('etf: refs map to BEAM words and back (id = w0 + w1·2^18)', (t) => {
  // #Ref<0.2325052609.2242641922.116335> from an OTP 25 node: words are printed in reverse.
  const r = decodeTerm(hex('835A0003770D6E6F6E6F6465406E6F686F7374000000000001C66F85AC00028A957CC1')) as Ref;
  t.true(r instanceof Ref);
  t.is(r.id, 116335 + 2242641922 * 2 ** 18);
  t.deepEqual(r.ext, [2325052609]);
  t.is(encodeTerm(r).toString('hex').toUpperCase(), '835A0003770D6E6F6E6F6465406E6F686F7374000000000001C66F85AC00028A957CC1');
  const plain = new Ref('n@h', 1, 42);
  t.is((decodeTerm(encodeTerm(plain)) as Ref).ext, undefined, 'no ext stays no ext');
  t.deepEqual((decodeTerm(encodeTerm(new Ref('n@h', 1, 42, [0, 0]))) as Ref).ext, [0, 0], 'zero words beyond one are kept');
});

test('etf: charlists convert to and from text', (t) => {
  t.is(ErlList.charlist('hé😀').toCharString(), 'hé😀');
  t.deepEqual(ErlList.charlist('hé😀').items, [104, 233, 0x1f600]);
  t.is(new ErlList([1], 2).toCharString(), undefined);
  t.is(new ErlList(['a']).toCharString(), undefined);
  t.is(new ErlBitBinary(Buffer.from([1, 2]), 3).bitLength, 11);
});
