import test from 'ava';
import fc from 'fast-check';
import { Mailbox } from '../../runtime/process/mailbox.js';

type Op = { op: 'push'; v: number } | { op: 'shift' } | { op: 'removeAt'; i: number };

const ops = fc.array(
  fc.oneof(
    fc.record({ op: fc.constant('push' as const), v: fc.integer() }),
    fc.record({ op: fc.constant('shift' as const) }),
    fc.record({ op: fc.constant('removeAt' as const), i: fc.nat(40) }),
  ),
  { maxLength: 300 },
);

test('mailbox: behaves as an array model under any push/shift/removeAt sequence', (t) => {
  fc.assert(
    fc.property(ops, (seq: Op[]) => {
      const mb = new Mailbox();
      const model: number[] = [];
      for (const o of seq) {
        if (o.op === 'push') {
          mb.push(o.v);
          model.push(o.v);
        } else if (o.op === 'shift') {
          if (model.length === 0) continue;
          if (mb.shift() !== model.shift()) return false;
        } else {
          if (o.i >= model.length) continue;
          if (mb.removeAt(o.i) !== model.splice(o.i, 1)[0]) return false;
        }
        if (mb.length !== model.length) return false;
      }
      return JSON.stringify(mb.toArray()) === JSON.stringify(model);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('mailbox: an idle mailbox holds no buffer, a drained big one gives it back', (t) => {
  const mb = new Mailbox();
  t.is((mb as unknown as { buf: unknown[] }).buf.length, 0);
  for (let i = 0; i < 5000; i++) mb.push(i);
  for (let i = 0; i < 5000; i++) t.is(mb.shift(), i);
  t.is((mb as unknown as { buf: unknown[] }).buf.length, 0);
});
