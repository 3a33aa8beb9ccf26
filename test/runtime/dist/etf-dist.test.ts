import test from 'ava';
import { Pid, Ref } from '../../../runtime/terms.js';
import {
  CTRL,
  decodeDistMessage,
  DistProtocolError,
  encodeDistMessage,
  encodeTerm,
  ErlList,
  hasPayload,
  toControl,
  type Control,
  type DistProtocolErrorCode,
} from '../../../runtime/dist/etf.js';
import { hex } from '../../helpers/raw-tcp.js';

const p1 = new Pid('a@127.0.0.1', 1, 0, 5);
const p2 = new Pid('b@127.0.0.1', 2, 0, 6);
const r = new Ref('a@127.0.0.1', 5, 1234, [99]);

/** One of every control message, with its payload when it carries one. */
const EVERY: [Control, ...unknown[]][] = [
  [[CTRL.LINK, p1, p2]],
  [[CTRL.SEND, '', p2], 'hello'],
  [[CTRL.EXIT, p1, p2, 'killed']],
  [[CTRL.UNLINK, p1, p2]],
  [[CTRL.NODE_LINK]],
  [[CTRL.REG_SEND, p1, '', 'net_kernel'], ['$gen_call', [p1, r], ['is_auth', 'a@127.0.0.1']]],
  [[CTRL.GROUP_LEADER, p1, p2]],
  [[CTRL.EXIT2, p1, p2, ['shutdown', 1]]],
  [[CTRL.SEND_TT, '', p2, 'token'], 1],
  [[CTRL.EXIT_TT, p1, p2, 'token', 'normal']],
  [[CTRL.REG_SEND_TT, p1, '', 'rex', 'token'], 2],
  [[CTRL.EXIT2_TT, p1, p2, 'token', 'kill']],
  [[CTRL.MONITOR_P, p1, 'net_kernel', r]],
  [[CTRL.MONITOR_P, p1, p2, r]],
  [[CTRL.DEMONITOR_P, p1, p2, r]],
  [[CTRL.MONITOR_P_EXIT, 'net_kernel', p1, r, 'noproc']],
  [[CTRL.SEND_SENDER, p1, p2], new Map([['k', 1]])],
  [[CTRL.SEND_SENDER_TT, p1, p2, 'token'], 3],
  [[CTRL.PAYLOAD_EXIT, p1, p2], ['badarg', new ErlList([])]],
  [[CTRL.PAYLOAD_EXIT_TT, p1, p2, 'token'], 'normal'],
  [[CTRL.PAYLOAD_EXIT2, p1, p2], 'kill'],
  [[CTRL.PAYLOAD_EXIT2_TT, p1, p2, 'token'], 'kill'],
  [[CTRL.PAYLOAD_MONITOR_P_EXIT, p2, p1, r], 'noconnection'],
  [[CTRL.SPAWN_REQUEST, r, p1, p1, ['erlang', 'apply', 2], new ErlList(['link'])], new ErlList([1, 2])],
  [[CTRL.SPAWN_REQUEST_TT, r, p1, p1, ['m', 'f', 0], new ErlList([]), 'token'], new ErlList([])],
  [[CTRL.SPAWN_REPLY, r, p1, 3, p2]],
  [[CTRL.SPAWN_REPLY, r, p1, 0, 'system_limit']],
  [[CTRL.SPAWN_REPLY_TT, r, p1, 0, p2, 'token']],
  [[CTRL.ALIAS_SEND, p1, r], 'msg'],
  [[CTRL.ALIAS_SEND_TT, p1, r, 'token'], 'msg'],
  [[CTRL.UNLINK_ID, 2n ** 63n, p1, p2]],
  [[CTRL.UNLINK_ID_ACK, 7, p2, p1]],
];

test('etf dist: every control message round-trips through a pass-through frame', (t) => {
  t.is(new Set(EVERY.map(([c]) => c[0])).size, Object.keys(CTRL).length, 'every operation is covered');
  for (const [control, ...payload] of EVERY) {
    const frame = encodeDistMessage(control, ...(payload as [] | [unknown]));
    t.is(frame[0], 112);
    t.is(hasPayload(control[0]), payload.length === 1, `op ${control[0]} payload`);
    t.deepEqual(decodeDistMessage(frame), payload.length === 1 ? { control, payload: payload[0] } : { control }, `op ${control[0]}`);
  }
});

test('etf dist: the frame is 112, the control term, then the payload term', (t) => {
  const frame = encodeDistMessage([CTRL.SEND, '', p2], 'hi');
  t.is(frame.toString('hex'), '70' + encodeTerm([CTRL.SEND, '', p2]).toString('hex') + encodeTerm('hi').toString('hex'));
});

test('etf dist: atoms that decode as booleans are atoms again where the protocol needs one', (t) => {
  const frame = Buffer.concat([Buffer.of(112), encodeTerm([CTRL.REG_SEND, p1, '', true]), encodeTerm(1)]);
  t.deepEqual(decodeDistMessage(frame).control, [CTRL.REG_SEND, p1, '', 'true']);
});

test('etf dist: malformed frames and control tuples are refused', (t) => {
  const p = Buffer.of(112);
  const rows: [string, Buffer, DistProtocolErrorCode][] = [
    ['empty frame (tick)', Buffer.alloc(0), 'malformed'],
    ['atom cache header', hex('8344048fdc00410c'), 'unsupported'],
    ['fragment header', hex('834501'), 'unsupported'],
    ['not pass-through', hex('716101'), 'malformed'],
    ['control not a tuple', Buffer.concat([p, encodeTerm('x')]), 'malformed'],
    ['empty tuple', Buffer.concat([p, encodeTerm([])]), 'malformed'],
    ['unknown op', Buffer.concat([p, encodeTerm([99, p1])]), 'unsupported'],
    ['op not an int', Buffer.concat([p, encodeTerm(['send', p1])]), 'unsupported'],
    ['wrong arity', Buffer.concat([p, encodeTerm([CTRL.LINK, p1])]), 'malformed'],
    ['pid expected', Buffer.concat([p, encodeTerm([CTRL.LINK, p1, 'x'])]), 'malformed'],
    ['ref expected', Buffer.concat([p, encodeTerm([CTRL.ALIAS_SEND, p1, p2]), encodeTerm(1)]), 'malformed'],
    ['bad mfa', Buffer.concat([p, encodeTerm([CTRL.SPAWN_REQUEST, r, p1, p1, ['m', 'f'], new ErlList([])]), encodeTerm(new ErlList([]))]), 'malformed'],
    ['improper opts', Buffer.concat([p, encodeTerm([CTRL.SPAWN_REQUEST, r, p1, p1, ['m', 'f', 0], new ErlList([1], 2)]), encodeTerm(new ErlList([]))]), 'malformed'],
    ['negative unlink id', Buffer.concat([p, encodeTerm([CTRL.UNLINK_ID, -1, p1, p2])]), 'malformed'],
    ['missing payload', Buffer.concat([p, encodeTerm([CTRL.SEND, '', p2])]), 'truncated'],
    ['payload where none belongs', Buffer.concat([p, encodeTerm([CTRL.LINK, p1, p2]), encodeTerm(1)]), 'malformed'],
    ['trailing garbage', Buffer.concat([p, encodeTerm([CTRL.SEND, '', p2]), encodeTerm(1), Buffer.of(0)]), 'malformed'],
    ['truncated payload', Buffer.concat([p, encodeTerm([CTRL.SEND, '', p2]), hex('836d00000005')]), 'truncated'],
  ];
  for (const [what, frame, code] of rows) {
    t.is(t.throws(() => decodeDistMessage(frame), { instanceOf: DistProtocolError }, what)?.code, code, what);
  }
  t.throws(() => encodeDistMessage([CTRL.SEND, '', p2]), { instanceOf: DistProtocolError, message: /needs payload/ });
  t.throws(() => encodeDistMessage([CTRL.LINK, p1, p2], 1), { instanceOf: DistProtocolError, message: /takes no payload/ });
  t.throws(() => toControl([CTRL.MONITOR_P, p1, 42, r]), { instanceOf: DistProtocolError, message: /element 3 is not a proc/ });
});
