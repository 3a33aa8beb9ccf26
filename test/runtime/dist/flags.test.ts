import test from 'ava';
import {
  advertisedFlags,
  BEAMQ_FLAG,
  beamqBoth,
  DFLAG,
  flagNames,
  hasFlag,
  MANDATORY_OTP25,
  MANDATORY_OTP26,
  missingFlags,
  negotiatedFlags,
} from '../../../runtime/dist/flags.js';

// What a real OTP 25 node sent (reference/erlang/handshake-ok.txt).
const OTP25 = 0xd07df7fbdn;
const OTP25_HIDDEN = 0xd07df7fbcn;

test('flags: bit values match a real OTP 25 handshake', (t) => {
  t.deepEqual(flagNames(OTP25), [
    'PUBLISHED', 'EXTENDED_REFERENCES', 'DIST_MONITOR', 'FUN_TAGS', 'DIST_MONITOR_NAME', 'NEW_FUN_TAGS',
    'EXTENDED_PIDS_PORTS', 'EXPORT_PTR_TAG', 'BIT_BINARIES', 'NEW_FLOATS', 'UNICODE_IO', 'DIST_HDR_ATOM_CACHE',
    'SMALL_ATOM_TAGS', 'UTF8_ATOMS', 'MAP_TAG', 'BIG_CREATION', 'SEND_SENDER', 'BIG_SEQTRACE_LABELS',
    'EXIT_PAYLOAD', 'FRAGMENTS', 'HANDSHAKE_23', 'UNLINK_ID', 'MANDATORY_25_DIGEST', 'SPAWN', 'V4_NC', 'ALIAS',
  ]);
  t.is(missingFlags(OTP25), 0n);
  t.is(missingFlags(OTP25, MANDATORY_OTP26), 0n);
});

test('flags: beamq advertises OTP 26 mandatory flags, no atom cache, no fragments', (t) => {
  const ours = advertisedFlags();
  t.is(missingFlags(ours, MANDATORY_OTP26), 0n);
  t.is(missingFlags(ours, MANDATORY_OTP25), 0n);
  const rows: [keyof typeof DFLAG | 'BEAMQ', boolean][] = [
    ['PUBLISHED', true], ['HANDSHAKE_23', true], ['BIG_CREATION', true], ['UTF8_ATOMS', true], ['MAP_TAG', true],
    ['UNLINK_ID', true], ['SPAWN', true], ['ALIAS', true], ['DIST_MONITOR', true], ['DIST_MONITOR_NAME', true],
    ['SEND_SENDER', true], ['EXIT_PAYLOAD', true], ['V4_NC', true], ['MANDATORY_25_DIGEST', true], ['BEAMQ', true],
    ['DIST_HDR_ATOM_CACHE', false], ['FRAGMENTS', false], ['ATOM_CACHE', false], ['HIDDEN_ATOM_CACHE', false], ['NAME_ME', false],
  ];
  for (const [name, set] of rows) {
    t.is(hasFlag(ours, name === 'BEAMQ' ? BEAMQ_FLAG : DFLAG[name]), set, name);
  }
  // Against a real OTP 25 node's set: ours minus our extras is a subset of theirs.
  t.is((ours & ~BEAMQ_FLAG) & ~OTP25, 0n, 'nothing OTP 25 does not know');
  t.is(advertisedFlags({ hidden: true }), ours & ~DFLAG.PUBLISHED);
});

test('flags: the beamq bit is unassigned, high, and needs both sides', (t) => {
  t.is(BEAMQ_FLAG, 1n << 60n);
  t.false(Object.values(DFLAG).includes(BEAMQ_FLAG));
  t.true(beamqBoth(advertisedFlags(), advertisedFlags({ hidden: true })));
  t.false(beamqBoth(advertisedFlags(), OTP25));
  t.is(negotiatedFlags(advertisedFlags(), OTP25_HIDDEN) & DFLAG.PUBLISHED, 0n, 'a hidden peer is not published');
  t.deepEqual(flagNames(missingFlags(DFLAG.HANDSHAKE_23 | DFLAG.UTF8_ATOMS)), [
    'EXTENDED_REFERENCES', 'FUN_TAGS', 'NEW_FUN_TAGS', 'EXTENDED_PIDS_PORTS', 'EXPORT_PTR_TAG', 'BIT_BINARIES',
    'NEW_FLOATS', 'MAP_TAG', 'BIG_CREATION',
  ]);
  t.deepEqual(flagNames((1n << 40n) | BEAMQ_FLAG), ['bit_40', 'BEAMQ']);
});
