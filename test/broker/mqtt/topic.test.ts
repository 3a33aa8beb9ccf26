/** broker/mqtt/topic.ts: table-driven validation and matching (spec examples, the '$' rule), shared-subscription parsing, and match against the level-by-level definition. */
import test from 'ava';
import fc from 'fast-check';
import {
  isDollarTopic,
  isWildcard,
  levels,
  match,
  MAX_TOPIC_BYTES,
  parseFilter,
  sharedFilter,
  validateTopicFilter,
  validateTopicName,
  type TopicErrorKind,
} from '../../../broker/mqtt/topic.js';
import { RC_TOPIC_FILTER_INVALID, RC_TOPIC_NAME_INVALID } from '../../../broker/mqtt/reason-codes.js';

// [filter, topic, matches]
const MATCH_ROWS: [string, string, boolean][] = [
  // §4.7.1.2 examples
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/#', 'sport', true],
  ['#', 'sport/tennis', true],
  ['#', '/', true],
  ['#', '/finance', true],
  // §4.7.1.3 examples
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player2', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['+/tennis/#', 'sport/tennis', true],
  ['+/tennis/#', 'sport/tennis/player1', true],
  ['+/tennis/#', 'sport/golf', false],
  // exact levels, empty levels, case
  ['a/b/c', 'a/b/c', true],
  ['a/b/c', 'a/b', false],
  ['a/b', 'a/b/c', false],
  ['a/b', 'a/bc', false],
  ['a/bc', 'a/b', false],
  ['A', 'a', false],
  ['a//b', 'a//b', true],
  ['a/+/b', 'a//b', true],
  ['a/', 'a', false],
  ['a/+', 'a/', true],
  ['a/#', 'a/', true],
  ['/', '/', true],
  ['+/+', '/', true],
  ['+', '+', true],
  ['é/+', 'é/x', true],
  // [MQTT-4.7.2-1] the '$' rule
  ['#', '$SYS', false],
  ['#', '$SYS/broker/uptime', false],
  ['+/monitor/Clients', '$SYS/monitor/Clients', false],
  ['+', '$SYS', false],
  ['$SYS/#', '$SYS/monitor/Clients', true],
  ['$SYS/#', '$SYS', true],
  ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
  ['$SYS/+/Clients', '$SYS/monitor/Clients', true],
  ['a/+', 'a/$b', true],
  ['a/#', 'a/$b', true],
];

for (const [filter, topic, expected] of MATCH_ROWS) {
  test(`topic: match('${filter}', '${topic}') is ${expected}`, (t) => {
    t.is(match(filter, topic), expected);
  });
}

test('[MQTT-4.7.2-1] topic: a filter starting with a wildcard never matches a $ topic', (t) => {
  for (const f of ['#', '+', '+/#', '+/+', '+/a']) for (const topic of ['$SYS', '$SYS/a', '$a/a', '$']) t.false(match(f, topic), `${f} vs ${topic}`);
});

// [name, error or undefined]
const NAME_ROWS: [string, TopicErrorKind | undefined][] = [
  ['a', undefined],
  ['/', undefined],
  ['a//b', undefined],
  ['$SYS/uptime', undefined],
  [' ', undefined],
  ['😀/b', undefined],
  ['', 'empty'], // [MQTT-4.7.3-1]
  ['a/+', 'wildcard_in_name'], // [MQTT-3.3.2-2]
  ['a/#', 'wildcard_in_name'],
  ['a+', 'wildcard_in_name'],
  ['#', 'wildcard_in_name'],
  ['a\u0000b', 'null_char'], // [MQTT-4.7.3-2]
  ['a\ud800', 'bad_utf8'],
  ['\udc00a', 'bad_utf8'],
  ['a\ud800b', 'bad_utf8'],
];

test('[MQTT-4.7.1-1] topic: names are validated', (t) => {
  for (const [name, reason] of NAME_ROWS) {
    const r = validateTopicName(name);
    if (reason === undefined) t.is(r, undefined, JSON.stringify(name));
    else t.deepEqual(r, { type: 'invalid', reason, reasonCode: RC_TOPIC_NAME_INVALID }, JSON.stringify(name));
  }
});

// [filter, error or undefined]
const FILTER_ROWS: [string, TopicErrorKind | undefined][] = [
  ['#', undefined],
  ['+', undefined],
  ['+/+', undefined],
  ['/+', undefined],
  ['+/', undefined],
  ['a/+/b', undefined],
  ['a/#', undefined],
  ['+/#', undefined],
  ['/', undefined],
  ['$SYS/#', undefined],
  ['$share/g/a', undefined], // only syntax is checked here; parseFilter takes it apart
  ['', 'empty'], // [MQTT-4.7.3-1]
  ['a/#/b', 'bad_hash'], // [MQTT-4.7.1-2]
  ['#/', 'bad_hash'],
  ['a#', 'bad_hash'],
  ['#a', 'bad_hash'],
  ['a/b#', 'bad_hash'],
  ['##', 'bad_hash'],
  ['a+', 'bad_plus'], // [MQTT-4.7.1-3]
  ['+a', 'bad_plus'],
  ['a/+b/c', 'bad_plus'],
  ['a/b+', 'bad_plus'],
  ['++', 'bad_plus'],
  ['a\u0000', 'null_char'],
  ['\ud800/#', 'bad_utf8'],
];

test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] topic: filters are validated', (t) => {
  for (const [filter, reason] of FILTER_ROWS) {
    const r = validateTopicFilter(filter);
    if (reason === undefined) t.is(r, undefined, JSON.stringify(filter));
    else t.deepEqual(r, { type: 'invalid', reason, reasonCode: RC_TOPIC_FILTER_INVALID }, JSON.stringify(filter));
  }
});

test('[MQTT-4.7.3-3] topic: at most 65535 bytes of UTF-8, counted in bytes not characters', (t) => {
  t.is(validateTopicName('a'.repeat(MAX_TOPIC_BYTES)), undefined);
  t.is(validateTopicName('a'.repeat(MAX_TOPIC_BYTES + 1))?.reason, 'too_long');
  // 'é' is 2 bytes: 32767 of them plus one 'a' is 65535 bytes, one more 'a' is over.
  t.is(validateTopicName('é'.repeat(32_767) + 'a'), undefined);
  t.is(validateTopicName('é'.repeat(32_767) + 'aa')?.reason, 'too_long');
  // '€' is 3 bytes, '😀' 4 bytes from 2 UTF-16 units.
  t.is(validateTopicName('€'.repeat(21_845)), undefined);
  t.is(validateTopicName('€'.repeat(21_845) + 'a')?.reason, 'too_long');
  t.is(validateTopicName('😀'.repeat(16_383) + 'aaa'), undefined);
  t.is(validateTopicName('😀'.repeat(16_384))?.reason, 'too_long');
  t.is(validateTopicFilter('a/'.repeat(32_767) + '#')?.reason, undefined);
  t.is(validateTopicFilter('a/'.repeat(32_768) + '#')?.reason, 'too_long');
});

// [raw, parsed]
const SHARE_ROWS: [string, ReturnType<typeof parseFilter>][] = [
  ['a/b', { type: 'plain', filter: 'a/b' }],
  ['$share', { type: 'plain', filter: '$share' }],
  ['$sharex/g/a', { type: 'plain', filter: '$sharex/g/a' }],
  ['$share/g/a/+', { type: 'shared', group: 'g', filter: 'a/+' }],
  ['$share/g/#', { type: 'shared', group: 'g', filter: '#' }],
  ['$share/g//', { type: 'shared', group: 'g', filter: '/' }],
  ['$share/g/$SYS/#', { type: 'shared', group: 'g', filter: '$SYS/#' }],
  ['$queue/a/b', { type: 'shared', group: '$queue', filter: 'a/b' }],
  ['$queue/#', { type: 'shared', group: '$queue', filter: '#' }],
  // [MQTT-4.8.2-1] a share name at least one character long
  ['$share//a', { type: 'invalid', reason: 'bad_share_group', reasonCode: RC_TOPIC_FILTER_INVALID }],
  // [MQTT-4.8.2-2] no '+' or '#' in it, followed by '/' and a filter
  ['$share/g+/a', { type: 'invalid', reason: 'bad_share_group', reasonCode: RC_TOPIC_FILTER_INVALID }],
  ['$share/+/a', { type: 'invalid', reason: 'bad_share_group', reasonCode: RC_TOPIC_FILTER_INVALID }],
  ['$share/#/a', { type: 'invalid', reason: 'bad_share_group', reasonCode: RC_TOPIC_FILTER_INVALID }],
  ['$share/g', { type: 'invalid', reason: 'bad_share_filter', reasonCode: RC_TOPIC_FILTER_INVALID }],
  ['$share/g/', { type: 'invalid', reason: 'bad_share_filter', reasonCode: RC_TOPIC_FILTER_INVALID }],
  ['$share/', { type: 'invalid', reason: 'bad_share_group', reasonCode: RC_TOPIC_FILTER_INVALID }],
  ['$queue/', { type: 'invalid', reason: 'bad_share_filter', reasonCode: RC_TOPIC_FILTER_INVALID }],
  ['$share/g/a/#/b', { type: 'invalid', reason: 'bad_hash', reasonCode: RC_TOPIC_FILTER_INVALID }],
  ['$queue/a+', { type: 'invalid', reason: 'bad_plus', reasonCode: RC_TOPIC_FILTER_INVALID }],
  ['a/#/b', { type: 'invalid', reason: 'bad_hash', reasonCode: RC_TOPIC_FILTER_INVALID }],
];

test('[MQTT-4.8.2-2] topic: shared subscriptions are parsed into group and filter', (t) => {
  for (const [raw, parsed] of SHARE_ROWS) t.deepEqual(parseFilter(raw), parsed, raw);
});

test('topic: sharedFilter rebuilds what parseFilter takes apart', (t) => {
  t.is(sharedFilter('g', 'a/+'), '$share/g/a/+');
  t.deepEqual(parseFilter(sharedFilter('grp', 'x/#')), { type: 'shared', group: 'grp', filter: 'x/#' });
});

test('topic: wildcard check looks at whole levels', (t) => {
  const rows: [string, boolean][] = [
    ['#', true],
    ['+', true],
    ['a/+/b', true],
    ['a/#', true],
    ['+/a', true],
    ['a/b', false],
    ['a', false],
    ['a+b/c', false],
    ['a/b#', false],
    ['/', false],
  ];
  for (const [f, w] of rows) t.is(isWildcard(f), w, f);
});

test('topic: levels keep empty levels', (t) => {
  t.deepEqual(levels('a/b/c'), ['a', 'b', 'c']);
  t.deepEqual(levels('/finance'), ['', 'finance']);
  t.deepEqual(levels('a//'), ['a', '', '']);
  t.deepEqual(levels('a'), ['a']);
});

test('topic: $ topics are recognised', (t) => {
  t.true(isDollarTopic('$SYS/x'));
  t.true(isDollarTopic('$'));
  t.false(isDollarTopic('a/$SYS'));
  t.false(isDollarTopic(''));
});

/** The definition, level by level on split arrays: the reference `match` must agree with. */
function naiveMatch(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const n = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= n.length) return false;
    if (f[i] !== '+' && f[i] !== n[i]) return false;
  }
  return f.length === n.length;
}

test('topic: match agrees with the level-by-level definition on random filters and names', (t) => {
  const word = fc.constantFrom('a', 'b', '', '$x', 'ab');
  const name = fc.array(word, { minLength: 1, maxLength: 5 }).map((ws) => ws.join('/'));
  const filter = fc
    .tuple(fc.array(fc.oneof(word, fc.constant('+')), { minLength: 1, maxLength: 5 }), fc.boolean())
    .map(([ws, hash]) => (hash ? [...ws.slice(1), '#'] : ws).join('/'));
  fc.assert(fc.property(filter, name, (f, n) => match(f, n) === naiveMatch(f, n)), { numRuns: 5_000 });
  t.pass();
});
