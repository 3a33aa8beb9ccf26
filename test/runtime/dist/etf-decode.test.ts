import test from 'ava';
import fc from 'fast-check';
import { Pid, Ref } from '../../../runtime/terms.js';
import {
  decodeTerm,
  decodeTermAt,
  DistProtocolError,
  encodeTerm,
  ErlBitBinary,
  ErlExport,
  ErlFun,
  ErlList,
  ErlPort,
  type DistProtocolErrorCode,
} from '../../../runtime/dist/etf.js';
import { hasBinary, runCommand } from '../../helpers/procs.js';
import { hex } from '../../helpers/raw-tcp.js';
import { term } from './etf-arbitrary.js';

/** Decoding either succeeds or throws DistProtocolError: never RangeError, TypeError, … */
function decodesSafely(b: Buffer): boolean {
  try {
    decodeTerm(b);
    return true;
  } catch (err) {
    return err instanceof DistProtocolError;
  }
}

test('etf decode: every truncation of a valid term is a DistProtocolError', (t) => {
  fc.assert(
    fc.property(term, (v) => {
      const bytes = encodeTerm(v);
      for (let n = 0; n < bytes.length; n++) {
        try {
          decodeTerm(bytes.subarray(0, n));
          return false;
        } catch (err) {
          if (!(err instanceof DistProtocolError)) return false;
        }
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('etf decode: random and mutated bytes never escape as anything but DistProtocolError', (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (b) => decodesSafely(Buffer.concat([Buffer.of(131), b]))), { numRuns: 3000 });
  fc.assert(
    fc.property(term, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }), (v, flips) => {
      const bytes = Buffer.from(encodeTerm(v));
      for (const [at, x] of flips) bytes[at % bytes.length] = x;
      return decodesSafely(bytes);
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('etf decode: hostile sizes, depth and content are refused', (t) => {
  const deep = Buffer.concat([Buffer.of(131), Buffer.alloc(2 * 2000, Buffer.of(104, 1)), Buffer.of(106)]);
  const rows: [string, Buffer, DistProtocolErrorCode][] = [
    ['no version', hex('6101'), 'malformed'],
    ['empty', Buffer.alloc(0), 'truncated'],
    ['list of 4G elements', hex('836cffffffff6a'), 'truncated'],
    ['tuple beyond input', hex('8369ffffffff'), 'truncated'],
    ['map beyond input', hex('8374ffffffff'), 'truncated'],
    ['binary beyond input', hex('836dffffffff00'), 'truncated'],
    ['deep nesting', deep, 'too_deep'],
    ['huge bignum', Buffer.concat([hex('836f00010000'), Buffer.alloc(65537)]), 'too_large'],
    ['bad bignum sign', hex('836e010201'), 'malformed'],
    ['invalid utf-8 atom', hex('837702c328'), 'malformed'],
    ['atom over 255 chars', Buffer.concat([hex('8376' + (600).toString(16).padStart(4, '0')), Buffer.alloc(600, 0x61)]), 'malformed'],
    ['latin-1 atom over 255', Buffer.concat([hex('83640100'), Buffer.alloc(256, 0x61)]), 'malformed'],
    ['trailing bytes', hex('83610100'), 'malformed'],
    ['unknown tag', hex('8301'), 'malformed'],
    ['atom cache ref', hex('835201'), 'unsupported'],
    ['compressed', hex('83500000000178'), 'unsupported'],
    ['pid with a non-atom node', hex('835861'), 'malformed'],
    ['ref with 1 word', hex('835a0001770161000000010000000a'), 'unsupported'],
    ['ref first word over 18 bits', hex('835a000377016100000001000400000000000000000000'), 'unsupported'],
    ['empty bitstring', hex('834d0000000001'), 'malformed'],
    ['bits 9', hex('834d000000010901'), 'malformed'],
    ['NaN float', hex('83467ff8000000000000'), 'malformed'],
    ['duplicate map key', hex('8374000000026101610261016103'), 'malformed'],
    ['export arity not small int', hex('837177016d7701666200000001'), 'malformed'],
  ];
  for (const [what, b, code] of rows) {
    const err = t.throws(() => decodeTerm(b), { instanceOf: DistProtocolError }, what);
    t.is(err?.code, code, what);
  }
  const fine = Buffer.concat([Buffer.of(131), Buffer.alloc(2 * 500, Buffer.of(104, 1)), Buffer.of(106)]);
  t.true(Array.isArray(decodeTerm(fine)), '500 levels are fine');
});

test('etf decode: legacy tags decode too', (t) => {
  t.is(decodeTerm(hex('836400026f6b')), 'ok', 'ATOM_EXT');
  t.is(decodeTerm(hex('837302fc6e')), 'ün', 'SMALL_ATOM_EXT is Latin-1');
  t.is(decodeTerm(hex('8364000474727565')), true, 'ATOM_EXT true');
  const float = Buffer.concat([Buffer.of(131, 99), Buffer.from('1.50000000000000000000e+00'.padEnd(31, '\0'), 'latin1')]);
  t.is(decodeTerm(float), 1.5, 'FLOAT_EXT');
  t.deepEqual(decodeTerm(hex('8367770161000000010000000203')), new Pid('a', 1, 2, 3), 'PID_EXT');
  t.deepEqual(decodeTerm(hex('8372000377016103000000010000000200000003')), new Ref('a', 3, 1 + 2 * 2 ** 18, [3]), 'NEW_REFERENCE_EXT');
  t.deepEqual(decodeTerm(hex('836677016100000005' + '02')), new ErlPort('a', 5n, 2), 'PORT_EXT');
  const at = decodeTermAt(hex('ff8361018361020000'), 1);
  t.deepEqual(at, { term: 1, end: 4 });
});

// ---------------------------------------------------------------------------
// Terms produced by a real erl

const haveErl = hasBinary('erl');
if (!haveErl) console.log('etf decode: erl not installed (apt-get install erlang-base); real-term test skipped');

/** Erlang expressions, the JS value each decodes to, and whether re-encoding gives BEAM's bytes. */
const SAMPLES: [erlang: string, js: unknown, sameBytes: boolean][] = [
  ['atom', 'atom', true],
  ["'hello world'", 'hello world', true],
  ['list_to_atom([252, 110])', 'ün', true],
  ['list_to_atom([16#1F600, $x])', '😀x', true],
  ['true', true, true],
  ['false', false, true],
  ['0', 0, true],
  ['255', 255, true],
  ['256', 256, true],
  ['-1', -1, true],
  ['2147483647', 2147483647, true],
  ['-2147483648', -2147483648, true],
  ['2147483648', 2147483648, true],
  ['(1 bsl 53) - 1', 2 ** 53 - 1, true],
  ['1 bsl 53', 2n ** 53n, true],
  ['-(1 bsl 64)', -(2n ** 64n), true],
  ['1 bsl 2100', 2n ** 2100n, true],
  ['1.5', 1.5, true],
  ['-0.25', -0.25, true],
  ['3.0', 3, false],
  ['1.0e300', 1e300, false],
  ['{}', [], true],
  ['{a, 1, "s"}', ['a', 1, new ErlList([115])], true],
  ['list_to_tuple(lists:seq(1, 300))', Array.from({ length: 300 }, (_, i) => i + 1), true],
  ['[]', new ErlList([]), true],
  ['"abc"', new ErlList([97, 98, 99]), true],
  ['[16#1F600, $a]', new ErlList([0x1f600, 97]), true],
  ['[1, a, <<2>>]', new ErlList([1, 'a', Buffer.from([2])]), true],
  ['[1 | 2]', new ErlList([1], 2), true],
  ['<<>>', Buffer.alloc(0), true],
  ['<<1, 2, 3>>', Buffer.from([1, 2, 3]), true],
  ['<<1, 2, 3:4>>', new ErlBitBinary(Buffer.from([1, 2, 0x30]), 4), true],
  ['#{a => 1, "b" => [], {x} => y}', new Map<unknown, unknown>([['a', 1], [['x'], 'y'], [new ErlList([98]), new ErlList([])]]), true],
  ['list_to_pid("<0.42.7>")', new Pid('nonode@nohost', 42, 7, 0), true],
  ['list_to_ref("#Ref<0.1.2.3>")', new Ref('nonode@nohost', 0, 3 + 2 * 2 ** 18, [1]), true],
  ['fun lists:map/2', new ErlExport('lists', 'map', 2), true],
  ['{ok, [{k, #{1 => 2.5}}]}', ['ok', new ErlList([['k', new Map([[1, 2.5]])]])], true],
];

(haveErl ? test : test.skip)('etf decode: terms from a real erl (term_to_binary) decode to the mapped JS values', async (t) => {
  const expr =
    `Ts = [${SAMPLES.map(([e]) => e).join(', ')}, fun() -> ok end, hd(erlang:ports())], ` +
    `[io:format("~s ~s~n", [binary:encode_hex(term_to_binary(T)), binary:encode_hex(term_to_binary(T, [{minor_version, 2}]))]) || T <- Ts], ` +
    'halt().';
  const r = await runCommand('erl', ['-noshell', '-eval', expr], { timeoutMs: 30_000 });
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => l.split(' ').map(hex) as [Buffer, Buffer]);
  t.is(lines.length, SAMPLES.length + 2);
  SAMPLES.forEach(([e, js, same], i) => {
    const [v1, v2] = lines[i]!;
    t.deepEqual(decodeTerm(v1), js, `${e} (default minor version)`);
    t.deepEqual(decodeTerm(v2), js, `${e} (minor version 2)`);
    if (same) t.is(encodeTerm(decodeTerm(v2)).toString('hex'), v2.toString('hex'), `${e}: re-encoded as BEAM encodes it`);
  });
  const [fun, port] = lines.slice(SAMPLES.length).map(([, v2]) => [v2, decodeTerm(v2)] as const);
  t.true(fun![1] instanceof ErlFun, 'a local fun is kept opaque');
  t.is(encodeTerm(fun![1]).toString('hex'), fun![0].toString('hex'), 'and re-encoded unchanged');
  t.true(port![1] instanceof ErlPort);
});
