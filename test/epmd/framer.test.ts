import test from 'ava';
import fc from 'fast-check';
import { RequestFramer } from '../../epmd/framer.js';
import { MAX_REQUEST_LENGTH, ProtocolError } from '../../epmd/protocol.js';
import { hex } from '../helpers/raw-tcp.js';

const req = hex('000a7a6370726f62655f7636');

test('framer: a request in one piece comes out whole', (t) => {
  t.deepEqual(new RequestFramer().push(req), req.subarray(2));
});

test('framer: any split of a request reassembles to the same body', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: req.length - 1 }), { maxLength: 6 }), (cuts) => {
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const f = new RequestFramer();
      let out: Buffer | undefined;
      let prev = 0;
      for (const p of [...points, req.length]) {
        const r = f.push(req.subarray(prev, p));
        prev = p;
        if (r !== undefined) out = r;
      }
      return out !== undefined && out.equals(req.subarray(2));
    }),
  );
  t.pass();
});

test('framer: byte at a time', (t) => {
  const f = new RequestFramer();
  let out: Buffer | undefined;
  for (const b of req) out = f.push(Buffer.of(b)) ?? out;
  t.deepEqual(out, req.subarray(2));
});

test('framer: length 0, oversize and excess bytes are refused', (t) => {
  t.throws(() => new RequestFramer().push(hex('0000')), { instanceOf: ProtocolError, message: /length 0/ });
  t.throws(() => new RequestFramer().push(hex('ffff6e')), { instanceOf: ProtocolError, message: /65535/ });
  const max = Buffer.alloc(2);
  max.writeUInt16BE(MAX_REQUEST_LENGTH + 1);
  t.throws(() => new RequestFramer().push(max), { instanceOf: ProtocolError });
  max.writeUInt16BE(MAX_REQUEST_LENGTH);
  t.is(new RequestFramer().push(max), undefined, `${MAX_REQUEST_LENGTH} is accepted and waits for the body`);
  // Two NAMES requests in one write: more than the first announced.
  t.throws(() => new RequestFramer().push(hex('00016e00016e')), { instanceOf: ProtocolError });
  // Excess arriving in a later piece.
  const f = new RequestFramer();
  f.push(hex('00026e'));
  t.throws(() => f.push(hex('0000')), { instanceOf: ProtocolError });
  // Anything after a complete request.
  const g = new RequestFramer();
  g.push(hex('00016e'));
  t.throws(() => g.push(hex('00')), { instanceOf: ProtocolError });
});
