/**
 * The pure supervisor decisions, table-driven: every strategy × restart type, and the
 * intensity window's edges (OTP: more than `intensity` restarts in `periodS` → give up).
 */
import test from 'ava';
import { addRestart, onChildExit, shouldRestart, shutdownOrder, type ChildView, type SupFlags, type Strategy } from '../../runtime/behaviours/supervisor-strategy.js';
import type { RestartType } from '../../runtime/behaviours/child-spec.js';
import type { Reason } from '../../runtime/types.js';

const kids = (restart: RestartType, ...others: RestartType[]): ChildView[] =>
  ['a', 'b', 'c'].map((key, i) => ({ key, restart: i === 1 ? restart : (others[i === 0 ? 0 : 1] ?? 'permanent'), running: key !== 'b' }));

test('strategy: restart types decide by reason', (t) => {
  const rows: [RestartType, Reason, boolean][] = [
    ['permanent', 'normal', true],
    ['permanent', 'shutdown', true],
    ['permanent', 'boom', true],
    ['transient', 'normal', false],
    ['transient', 'shutdown', false],
    ['transient', ['shutdown', 'x'], false],
    ['transient', 'boom', true],
    ['transient', 'killed', true],
    ['temporary', 'boom', false],
    ['temporary', 'normal', false],
  ];
  for (const [type, reason, restart] of rows) t.is(shouldRestart(type, reason), restart, `${type} ${JSON.stringify(reason)}`);
});

const flags = (strategy: Strategy, intensity = 3, periodS = 5): SupFlags => ({ strategy, intensity, periodS });

test('strategy: what each strategy does when the middle child (b) crashes', (t) => {
  const rows: [Strategy, RestartType, unknown[]][] = [
    ['one_for_one', 'permanent', [['start', ['b']]]],
    ['one_for_one', 'transient', [['start', ['b']]]],
    ['one_for_one', 'temporary', [['delete', 'b']]],
    ['one_for_all', 'permanent', [['terminate', ['c', 'a']], ['start', ['a', 'b', 'c']]]],
    ['one_for_all', 'temporary', [['delete', 'b']]],
    ['rest_for_one', 'permanent', [['terminate', ['c']], ['start', ['b', 'c']]]],
    ['rest_for_one', 'transient', [['terminate', ['c']], ['start', ['b', 'c']]]],
    ['simple_one_for_one', 'permanent', [['start', ['b']]]],
    ['simple_one_for_one', 'transient', [['start', ['b']]]],
    ['simple_one_for_one', 'temporary', [['delete', 'b']]],
  ];
  for (const [strategy, type, actions] of rows) {
    const d = onChildExit(flags(strategy), kids(type), [], 'b', 'boom', 1000);
    t.deepEqual(d.actions, actions, `${strategy} / ${type}`);
  }
});

test('strategy: a clean exit of a transient child is kept (or deleted under simple_one_for_one), not restarted', (t) => {
  t.deepEqual(onChildExit(flags('one_for_one'), kids('transient'), [], 'b', 'normal', 0).actions, [['keep', 'b']]);
  t.deepEqual(onChildExit(flags('one_for_all'), kids('transient'), [], 'b', 'shutdown', 0).actions, [['keep', 'b']]);
  t.deepEqual(onChildExit(flags('simple_one_for_one'), kids('transient'), [], 'b', 'normal', 0).actions, [['delete', 'b']]);
});

test('strategy: temporary siblings are stopped and forgotten by one_for_all, not restarted', (t) => {
  const children: ChildView[] = [
    { key: 'a', restart: 'temporary', running: true },
    { key: 'b', restart: 'permanent', running: false },
    { key: 'c', restart: 'permanent', running: true },
  ];
  t.deepEqual(onChildExit(flags('one_for_all'), children, [], 'b', 'boom', 0).actions, [
    ['terminate', ['c', 'a']],
    ['delete', 'a'],
    ['start', ['b', 'c']],
  ]);
});

test('strategy: intensity edges — exactly `intensity` restarts in the period pass, one more gives up', (t) => {
  const f = flags('one_for_one', 2, 5);
  let restarts: readonly number[] = [];
  for (const now of [0, 1000]) {
    const d = onChildExit(f, kids('permanent'), restarts, 'b', 'boom', now);
    t.deepEqual(d.actions, [['start', ['b']]], `restart at ${now}`);
    restarts = d.restarts;
  }
  t.deepEqual(onChildExit(f, kids('permanent'), restarts, 'b', 'boom', 4999).actions, [['give_up', 'shutdown']]);
  // Outside the window the old restarts no longer count.
  t.deepEqual(onChildExit(f, kids('permanent'), restarts, 'b', 'boom', 5001).actions, [['start', ['b']]]);
  // OTP's default, 1 in 5 s, and intensity 0.
  t.truthy(addRestart({ strategy: 'one_for_one', intensity: 1, periodS: 5 }, [], 0));
  t.is(addRestart({ strategy: 'one_for_one', intensity: 1, periodS: 5 }, [0], 4000), undefined);
  t.is(addRestart({ strategy: 'one_for_one', intensity: 0, periodS: 5 }, [], 0), undefined);
  // Clean exits that are not restarted do not count.
  t.deepEqual(onChildExit(flags('one_for_one', 0), kids('transient'), [], 'b', 'normal', 0).restarts, []);
});

test('strategy: shutdown order is reverse start order, running children only', (t) => {
  t.deepEqual(shutdownOrder(kids('permanent')), ['c', 'a']);
});

test('strategy: an exit from an unknown child changes nothing', (t) => {
  t.deepEqual(onChildExit(flags('one_for_one'), kids('permanent'), [5], 'zzz', 'boom', 6), { restarts: [5], actions: [] });
});
