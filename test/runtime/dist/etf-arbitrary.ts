/** fast-check generators of JS terms in beamq's ETF mapping, in the canonical form decode returns. */
import fc from 'fast-check';
import { Pid, Ref } from '../../../runtime/terms.js';
import { ErlBitBinary, ErlExport, ErlList } from '../../../runtime/dist/etf.js';

const u32 = fc.nat({ max: 2 ** 32 - 1 });
/** Atoms: any text of ≤ 40 UTF-16 units except true/false (which decode as booleans). */
export const atom = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => s !== 'true' && s !== 'false');
const node = fc.constantFrom('a@127.0.0.1', 'nonode@nohost', 'b@host', 'ü@x.y');

export const integer = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 700n), max: 2n ** 700n }).map((b) =>
    b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b,
  ),
);
/** Non-integral finite doubles (integral ones are integers in the mapping). */
export const float = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d));
export const pid = fc.tuple(node, u32, u32, u32).map(([n, i, s, c]) => new Pid(n, i, s, c));
export const ref = fc
  .tuple(node, u32, fc.nat({ max: 2 ** 50 - 1 }), fc.option(fc.array(u32, { maxLength: 3 }), { nil: undefined }))
  .filter(([, , , ext]) => !(ext?.length === 1 && ext[0] === 0))
  .map(([n, c, id, ext]) => new Ref(n, c, id, ext));
const binary = fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a));
const bitBinary = fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 8 })).map(([d, b]) => new ErlBitBinary(Buffer.from(d), b));
const exportFun = fc.tuple(atom, atom, fc.integer({ min: 0, max: 255 })).map(([m, f, a]) => new ErlExport(m, f, a));

export const leaf = fc.oneof(atom, fc.boolean(), integer, float, binary, pid, ref, bitBinary, exportFun);

const { term } = fc.letrec<{ term: unknown; tuple: unknown[]; list: ErlList; map: Map<unknown, unknown> }>((tie) => ({
  term: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('tuple'), tie('list'), tie('map')),
  tuple: fc.array(tie('term'), { maxLength: 5 }),
  list: fc
    .tuple(fc.array(tie('term'), { maxLength: 5 }), fc.option(fc.oneof(leaf, tie('tuple')), { nil: undefined }))
    // A list with no cells is its tail: keep only shapes that decode to themselves.
    .filter(([items, tail]) => items.length > 0 || tail === undefined)
    .map(([items, tail]) => new ErlList(items, tail)),
  map: fc
    .uniqueArray(fc.tuple(fc.oneof(atom, fc.integer(), fc.boolean()), tie('term')), { selector: ([k]) => k, maxLength: 5 })
    .map((entries) => new Map(entries)),
}));

export { term };
