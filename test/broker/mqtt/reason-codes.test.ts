/** broker/mqtt/reason-codes.ts: values, names, which packet carries which code, and the 3.1.1 CONNACK/SUBACK mapping. */
import test from 'ava';
import {
  CONNACK_AUTH,
  CONNACK_CREDENTIALS,
  CONNACK_INVALID_ID,
  CONNACK_PROTO_VER,
  CONNACK_SERVER,
  connackCompat,
  connackReturnCodeName,
  isError,
  isReasonCodeFor,
  REASON_CODES,
  reasonCodeName,
  RC_BANNED,
  RC_KEEP_ALIVE_TIMEOUT,
  RC_MALFORMED_PACKET,
  RC_NO_MATCHING_SUBSCRIBERS,
  RC_NOT_AUTHORIZED,
  RC_PACKET_TOO_LARGE,
  RC_PROTOCOL_ERROR,
  RC_QUOTA_EXCEEDED,
  RC_RECEIVE_MAXIMUM_EXCEEDED,
  RC_SESSION_TAKEN_OVER,
  RC_SUCCESS,
  RC_TOPIC_ALIAS_INVALID,
  RC_UNSPECIFIED_ERROR,
  subackCompat,
  type ConnackReturnCode,
} from '../../../broker/mqtt/reason-codes.js';

test('reason-codes: the values of table 2-6', (t) => {
  const rows: [number, number][] = [
    [RC_SUCCESS, 0x00],
    [RC_NO_MATCHING_SUBSCRIBERS, 0x10],
    [RC_UNSPECIFIED_ERROR, 0x80],
    [RC_MALFORMED_PACKET, 0x81],
    [RC_PROTOCOL_ERROR, 0x82],
    [RC_NOT_AUTHORIZED, 0x87],
    [RC_KEEP_ALIVE_TIMEOUT, 0x8d],
    [RC_SESSION_TAKEN_OVER, 0x8e],
    [RC_RECEIVE_MAXIMUM_EXCEEDED, 0x93],
    [RC_TOPIC_ALIAS_INVALID, 0x94],
    [RC_PACKET_TOO_LARGE, 0x95],
    [RC_QUOTA_EXCEEDED, 0x97],
  ];
  for (const [c, v] of rows) t.is(c, v);
  t.is(REASON_CODES.length, 43, 'every code of the table, shared values once');
  t.deepEqual([...REASON_CODES].sort((a, b) => a - b), REASON_CODES, 'ascending');
});

test('reason-codes: names depend on the packet for shared values', (t) => {
  t.is(reasonCodeName(0x00, 'puback'), 'success');
  t.is(reasonCodeName(0x00, 'disconnect'), 'normal_disconnection');
  t.is(reasonCodeName(0x00, 'suback'), 'granted_qos_0');
  t.is(reasonCodeName(0x00), 'success');
  t.is(reasonCodeName(0x8e), 'session_taken_over');
  t.is(reasonCodeName(0x03), 'unknown_error');
  t.is(reasonCodeName(0xff), 'unknown_error');
});

test('reason-codes: which packet may carry which code', (t) => {
  t.true(isReasonCodeFor(RC_NO_MATCHING_SUBSCRIBERS, 'puback'));
  t.true(isReasonCodeFor(RC_NO_MATCHING_SUBSCRIBERS, 'pubrec'));
  t.false(isReasonCodeFor(RC_NO_MATCHING_SUBSCRIBERS, 'pubcomp'));
  t.true(isReasonCodeFor(RC_SESSION_TAKEN_OVER, 'disconnect'));
  t.false(isReasonCodeFor(RC_SESSION_TAKEN_OVER, 'connack'));
  t.true(isReasonCodeFor(0x92, 'pubrel'));
  t.false(isReasonCodeFor(0x92, 'puback'));
  t.true(isReasonCodeFor(0x02, 'suback'));
  t.false(isReasonCodeFor(0x02, 'puback'));
  t.false(isReasonCodeFor(0x05, 'disconnect'));
});

test('reason-codes: codes of 0x80 and above are errors', (t) => {
  t.false(isError(0x00));
  t.false(isError(0x19));
  t.true(isError(0x80));
  t.true(isError(0xa2));
});

test('[MQTT-3.2.2-6] reason-codes: v5 CONNACK codes map onto 3.1.1 return codes, or none', (t) => {
  const rows: [number, ConnackReturnCode | undefined][] = [
    [0x00, 0],
    [0x80, CONNACK_PROTO_VER],
    [0x81, CONNACK_PROTO_VER],
    [0x82, CONNACK_PROTO_VER],
    [0x83, CONNACK_PROTO_VER],
    [0x84, CONNACK_PROTO_VER],
    [0x85, CONNACK_INVALID_ID],
    [0x86, CONNACK_CREDENTIALS],
    [0x87, CONNACK_AUTH],
    [0x88, CONNACK_SERVER],
    [0x89, CONNACK_SERVER],
    [RC_BANNED, CONNACK_AUTH],
    [0x8c, CONNACK_AUTH],
    [0x90, CONNACK_SERVER],
    [0x97, CONNACK_SERVER],
    [0x9c, CONNACK_SERVER],
    [0x9d, CONNACK_SERVER],
    [0x9f, CONNACK_SERVER],
    // No 3.1.1 code applies: close without CONNACK.
    [0x95, undefined],
    [0x99, undefined],
    [0x9a, undefined],
    [0x8e, undefined],
  ];
  for (const [v5, v3] of rows) t.is(connackCompat(v5), v3, `0x${v5.toString(16)}`);
  t.is(connackReturnCodeName(CONNACK_AUTH), 'not_authorized');
  t.is(connackReturnCodeName(9), 'unknown_error');
});

test('[MQTT-3.9.3-2] reason-codes: SUBACK failures become 0x80 for 3.1.1', (t) => {
  t.is(subackCompat(0), 0);
  t.is(subackCompat(1), 1);
  t.is(subackCompat(2), 2);
  for (const c of [0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2]) t.is(subackCompat(c), 0x80);
});
