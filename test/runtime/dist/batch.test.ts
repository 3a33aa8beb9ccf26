/**
 * The beamq-to-beamq frame format (batch.ts over cbor-codec.ts), without sockets: every
 * control message and value round-trips, endpoint pids and refs travel without their
 * node names, a value that cannot be encoded is refused alone, and malformed frames are
 * refused with DistProtocolError before anything is delivered.
 */
import test from 'ava';
import fc from 'fast-check';
import { Pid, Ref } from '../../../runtime/terms.js';
import { BATCH_MARK, BatchReader, BatchWriter } from '../../../runtime/dist/batch.js';
import { ValueWriter, type Endpoints } from '../../../runtime/dist/cbor-codec.js';
import { DistProtocolError } from '../../../runtime/dist/errors.js';
import { CTRL, type Control } from '../../../runtime/dist/etf-dist.js';

const A = 'alpha_node@127.0.0.1';
const B = 'beta_node@127.0.0.1';
const C = 'gamma_node@127.0.0.1';
// What A and B each see: themselves and the other end.
const atA: Endpoints = { self: A, selfCreation: 11, peer: B, peerCreation: 22 };
const atB: Endpoints = { self: B, selfCreation: 22, peer: A, peerCreation: 11 };

const pa = new Pid(A, 5, 1, 11);
const pb = new Pid(B, 7, 0, 22);
const oldB = new Pid(B, 7, 0, 21); // an older incarnation of B
const pc = new Pid(C, 9, 0, 33);

/** Write `msgs` at A, read the frame at B; what B gets. */
function roundTrip(msgs: readonly (readonly [Control, unknown])[]): { frame: Buffer; got: [Control, unknown][] } {
  const w = new BatchWriter(atA);
  for (const [ctl, msg] of msgs) if (!w.add(ctl, msg)) throw new Error(`refused ${String(ctl[0])}`);
  const out = w.take();
  const frame = out.subarray(4);
  if (out.readUInt32BE(0) !== frame.length) throw new Error('length prefix');
  const got: [Control, unknown][] = [];
  new BatchReader(atB).read(frame, (ctl, msg) => got.push([ctl, msg]) > 0);
  return { frame, got };
}

test('batch: every kind of control message round-trips, in order', (t) => {
  const alias = new Ref(B, 22, 99);
  const msgs: [Control, unknown][] = [
    [[CTRL.SEND_SENDER, pa, pb], ['msg', 1]],
    [[CTRL.SEND, '', pb], 'plain'],
    [[CTRL.REG_SEND, pa, '', 'net_kernel'], ['$gen_cast', ['connect_all', [C]]]],
    [[CTRL.REG_SEND, pa, '', 'ü'.repeat(85)], 'long unicode name in the header'],
    [[CTRL.REG_SEND, pa, '', 'n'.repeat(200)], 'a longer name goes generic'],
    [[CTRL.ALIAS_SEND, pa, alias], [alias, 'reply']],
    [[CTRL.ALIAS_SEND, pa, new Ref(B, 22, 1, [1, 2])], 'ref with extra words goes generic'],
    [[CTRL.SEND_SENDER, pa, oldB], 'to an older incarnation goes generic'],
    [[CTRL.SEND_SENDER, pa, pc], 'to a third node goes generic'],
    [[CTRL.LINK, pa, pb], undefined],
    [[CTRL.EXIT, pa, pb, ['error', 'boom']], undefined],
    [[CTRL.MONITOR_P, pa, 'name', new Ref(A, 11, 3)], undefined],
    [[CTRL.PAYLOAD_EXIT, pa, pb], 'payload reason'],
    [[CTRL.SEND_SENDER, pa, pb], ['msg', 2]],
  ];
  const { got } = roundTrip(msgs);
  t.deepEqual(got, msgs);
});

test('batch: endpoint pids and refs carry no node name, others do', (t) => {
  const { frame } = roundTrip([
    [[CTRL.SEND_SENDER, pa, pb], [pa, new Ref(A, 11, 3), pb]],
    [[CTRL.ALIAS_SEND, pa, new Ref(B, 22, 4)], 'x'],
  ]);
  t.false(frame.includes(A) || frame.includes(B), 'no endpoint name on the wire');
  const { frame: f2 } = roundTrip([[[CTRL.SEND_SENDER, pa, pb], [pc]]]);
  t.true(f2.includes(C), 'a third node is named');
});

test('batch: a value that cannot be encoded is refused and leaves the batch as it was', (t) => {
  const w = new BatchWriter(atA);
  t.true(w.add([CTRL.SEND_SENDER, pa, pb], 'ok'));
  const before = w.bytes;
  t.false(w.add([CTRL.SEND_SENDER, pa, pb], ['x', () => 1]));
  t.regex(w.refusal, /function/, 'the refusal says why');
  t.false(w.add([CTRL.SEND, '', pb], Symbol('s')));
  t.false(w.add([CTRL.EXIT, pa, pb, { f: () => 1 }], undefined));
  t.is(w.size, 1);
  t.is(w.bytes, before);
  const got: unknown[] = [];
  new BatchReader(atB).read(w.take().subarray(4), (_c, m) => got.push(m) > 0);
  t.deepEqual(got, ['ok']);
  t.is(w.size, 0, 'take empties the writer');
});

test('batch: deliver returning false stops the batch', (t) => {
  const w = new BatchWriter(atA);
  for (let i = 0; i < 5; i++) w.add([CTRL.SEND_SENDER, pa, pb], i);
  const got: unknown[] = [];
  new BatchReader(atB).read(w.take().subarray(4), (_c, m) => got.push(m) < 2);
  t.deepEqual(got, [0, 1]);
});

// Values: the fast encoder's domain and what it hands to cbor-x (objects, Maps, bigints).
const endpointPid = fc.tuple(fc.constantFrom([A, 11], [B, 22]), fc.nat(), fc.nat()).map(([[n, c], i, s]) => new Pid(n as string, i, s, c as number));
const anyPid = fc.oneof(endpointPid, fc.tuple(fc.nat(), fc.nat()).map(([i, s]) => new Pid(C, i, s, 33)));
const anyRef = fc.oneof(
  fc.tuple(fc.constantFrom([A, 11], [B, 22], [C, 33]), fc.nat({ max: 2 ** 40 })).map(([[n, c], id]) => new Ref(n as string, c as number, id)),
  fc.tuple(fc.nat(), fc.array(fc.nat({ max: 2 ** 32 - 1 }), { minLength: 1, maxLength: 3 })).map(([id, ext]) => new Ref(A, 11, id, ext)),
);
const leaf = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  // -0 travels as 0 (an integer in CBOR, as cbor-x writes it).
  fc.double().map((d) => (Object.is(d, -0) ? 0 : d)),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  anyPid,
  anyRef,
);
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 4 }),
    fc.uniqueArray(fc.tuple(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), tie('value')), { selector: ([k]) => k, maxLength: 4 }).map((e) => new Map(e)),
  ),
}));

test('batch: any value round-trips as the message of a send', (t) => {
  fc.assert(
    fc.property(fc.array(value, { minLength: 1, maxLength: 8 }), (vals) => {
      const { got } = roundTrip(vals.map((v) => [[CTRL.SEND_SENDER, pa, pb], v] as const));
      t.deepEqual(got.map(([, m]) => m), vals);
    }),
    { numRuns: 300 },
  );
});

test('batch: -0 arrives as 0 whichever encoder writes it', (t) => {
  const { got } = roundTrip([
    [[CTRL.SEND, '', pb], [-0]],
    [[CTRL.SEND, '', pb], [-0, new Map()]],
  ]);
  t.true(Object.is((got[0]![1] as number[])[0], 0));
  t.true(Object.is((got[1]![1] as number[])[0], 0));
});

test('batch: the value writer grows past its first buffer', (t) => {
  const w = new ValueWriter(atA, 16);
  const big = 'x'.repeat(5000);
  t.true(w.write([big, Buffer.alloc(3000, 7), 'é'.repeat(300)]));
  const { got } = roundTrip([[[CTRL.SEND, '', pb], [big, Buffer.alloc(3000, 7), 'é'.repeat(300)]]]);
  t.deepEqual(got[0]![1], [big, Buffer.alloc(3000, 7), 'é'.repeat(300)]);
  t.true(w.length > 8300);
});

/** A valid frame to corrupt: two sends. */
function validFrame(): Buffer {
  const w = new BatchWriter(atA);
  w.add([CTRL.SEND_SENDER, pa, pb], ['msg', 1]);
  w.add([CTRL.SEND, '', pb], 'two');
  return Buffer.from(w.take().subarray(4));
}

test('batch: malformed frames are refused before anything is delivered', (t) => {
  const f = validFrame();
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0, 0);
    return b;
  };
  const set = (at: number, bytes: Buffer | number[]): Buffer => {
    const c = Buffer.from(f);
    Buffer.from(bytes).copy(c, at);
    return c;
  };
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['a legacy CBOR tuple', Buffer.from([0x83, 0x02, 0x60, 0x01])],
    ['wrong mark', set(0, [0x00])],
    ['count zero', set(1, u32(0))],
    ['count above the values', set(1, u32(3))],
    ['count below the values', set(1, u32(1))],
    ['header longer than the frame', set(5, u32(0xffffff))],
    ['unknown entry kind', set(9, [0x77])],
    ['bad node code', set(10, [0x05])],
    ['values cut short', f.subarray(0, f.length - 2)],
    ['garbage values', Buffer.concat([f.subarray(0, 9 + f.readUInt32BE(5)), Buffer.from([0xff, 0xff, 0xff])])],
    ['stray header bytes', (() => {
      const c = Buffer.concat([f.subarray(0, 9), f.subarray(9, 9 + f.readUInt32BE(5)), Buffer.from([0x02]), f.subarray(9 + f.readUInt32BE(5))]);
      c.writeUInt32BE(f.readUInt32BE(5) + 1, 5);
      return c;
    })()],
    ['random bytes', Buffer.from([BATCH_MARK, ...Array.from({ length: 40 }, (_, i) => (i * 97 + 13) & 0xff)])],
  ];
  for (const [what, frame] of cases) {
    let delivered = 0;
    const e = t.throws(() => new BatchReader(atB).read(frame, () => ++delivered > 0), { instanceOf: DistProtocolError }, what);
    t.is(e?.code, 'malformed', what);
    t.is(delivered, 0, `${what}: nothing delivered`);
  }
});

test('batch: a generic entry that is not a control tuple is refused', (t) => {
  const w = new ValueWriter(atA);
  w.write('not a tuple');
  const vals = w.bytes();
  const frame = Buffer.concat([Buffer.from([BATCH_MARK, 0, 0, 0, 1, 0, 0, 0, 1, 0]), vals]);
  t.throws(() => new BatchReader(atB).read(frame, () => true), { instanceOf: DistProtocolError });
});
