/**
 * MQTT 5.0 reason codes (spec §2.4, table 2-6) with their names and the packets each
 * may appear in, plus the MQTT 3.1.1 CONNACK return codes (§3.2.2.3) and the mapping
 * from a v5 reason code to what a 3.1.1 client can be told (as EMQX's
 * `emqx_reason_codes:compat/2`). Pure constants and lookups.
 */

// Several codes share a value: 0x00 is Success, Normal disconnection or Granted QoS 0
// depending on the packet that carries it.
export const RC_SUCCESS = 0x00;
export const RC_NORMAL_DISCONNECTION = 0x00;
export const RC_GRANTED_QOS_0 = 0x00;
export const RC_GRANTED_QOS_1 = 0x01;
export const RC_GRANTED_QOS_2 = 0x02;
export const RC_DISCONNECT_WITH_WILL_MESSAGE = 0x04;
export const RC_NO_MATCHING_SUBSCRIBERS = 0x10;
export const RC_NO_SUBSCRIPTION_EXISTED = 0x11;
export const RC_CONTINUE_AUTHENTICATION = 0x18;
export const RC_RE_AUTHENTICATE = 0x19;
export const RC_UNSPECIFIED_ERROR = 0x80;
export const RC_MALFORMED_PACKET = 0x81;
export const RC_PROTOCOL_ERROR = 0x82;
export const RC_IMPLEMENTATION_SPECIFIC_ERROR = 0x83;
export const RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84;
export const RC_CLIENT_IDENTIFIER_NOT_VALID = 0x85;
export const RC_BAD_USER_NAME_OR_PASSWORD = 0x86;
export const RC_NOT_AUTHORIZED = 0x87;
export const RC_SERVER_UNAVAILABLE = 0x88;
export const RC_SERVER_BUSY = 0x89;
export const RC_BANNED = 0x8a;
export const RC_SERVER_SHUTTING_DOWN = 0x8b;
export const RC_BAD_AUTHENTICATION_METHOD = 0x8c;
export const RC_KEEP_ALIVE_TIMEOUT = 0x8d;
export const RC_SESSION_TAKEN_OVER = 0x8e;
export const RC_TOPIC_FILTER_INVALID = 0x8f;
export const RC_TOPIC_NAME_INVALID = 0x90;
export const RC_PACKET_IDENTIFIER_IN_USE = 0x91;
export const RC_PACKET_IDENTIFIER_NOT_FOUND = 0x92;
export const RC_RECEIVE_MAXIMUM_EXCEEDED = 0x93;
export const RC_TOPIC_ALIAS_INVALID = 0x94;
export const RC_PACKET_TOO_LARGE = 0x95;
export const RC_MESSAGE_RATE_TOO_HIGH = 0x96;
export const RC_QUOTA_EXCEEDED = 0x97;
export const RC_ADMINISTRATIVE_ACTION = 0x98;
export const RC_PAYLOAD_FORMAT_INVALID = 0x99;
export const RC_RETAIN_NOT_SUPPORTED = 0x9a;
export const RC_QOS_NOT_SUPPORTED = 0x9b;
export const RC_USE_ANOTHER_SERVER = 0x9c;
export const RC_SERVER_MOVED = 0x9d;
export const RC_SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9e;
export const RC_CONNECTION_RATE_EXCEEDED = 0x9f;
export const RC_MAXIMUM_CONNECT_TIME = 0xa0;
export const RC_SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xa1;
export const RC_WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xa2;

/** Packets that carry a reason code in MQTT 5. */
export type ReasonPacket =
  | 'connack'
  | 'puback'
  | 'pubrec'
  | 'pubrel'
  | 'pubcomp'
  | 'suback'
  | 'unsuback'
  | 'disconnect'
  | 'auth';

interface Row {
  readonly name: string;
  readonly packets: readonly ReasonPacket[];
}

// Table 2-6. Values shared between meanings list the packets of each meaning, so
// `name(code, packet)` can pick the right one.
const ACKS: readonly ReasonPacket[] = ['connack', 'puback', 'pubrec', 'suback', 'unsuback', 'disconnect'];
const TABLE: ReadonlyMap<number, readonly Row[]> = new Map<number, readonly Row[]>([
  [0x00, [
    { name: 'success', packets: ['connack', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback', 'auth'] },
    { name: 'normal_disconnection', packets: ['disconnect'] },
    { name: 'granted_qos_0', packets: ['suback'] },
  ]],
  [0x01, [{ name: 'granted_qos_1', packets: ['suback'] }]],
  [0x02, [{ name: 'granted_qos_2', packets: ['suback'] }]],
  [0x04, [{ name: 'disconnect_with_will_message', packets: ['disconnect'] }]],
  [0x10, [{ name: 'no_matching_subscribers', packets: ['puback', 'pubrec'] }]],
  [0x11, [{ name: 'no_subscription_existed', packets: ['unsuback'] }]],
  [0x18, [{ name: 'continue_authentication', packets: ['auth'] }]],
  [0x19, [{ name: 're_authenticate', packets: ['auth'] }]],
  [0x80, [{ name: 'unspecified_error', packets: ACKS }]],
  [0x81, [{ name: 'malformed_packet', packets: ['connack', 'disconnect'] }]],
  [0x82, [{ name: 'protocol_error', packets: ['connack', 'disconnect'] }]],
  [0x83, [{ name: 'implementation_specific_error', packets: ACKS }]],
  [0x84, [{ name: 'unsupported_protocol_version', packets: ['connack'] }]],
  [0x85, [{ name: 'client_identifier_not_valid', packets: ['connack'] }]],
  [0x86, [{ name: 'bad_user_name_or_password', packets: ['connack'] }]],
  [0x87, [{ name: 'not_authorized', packets: ACKS }]],
  [0x88, [{ name: 'server_unavailable', packets: ['connack'] }]],
  [0x89, [{ name: 'server_busy', packets: ['connack', 'disconnect'] }]],
  [0x8a, [{ name: 'banned', packets: ['connack'] }]],
  [0x8b, [{ name: 'server_shutting_down', packets: ['disconnect'] }]],
  [0x8c, [{ name: 'bad_authentication_method', packets: ['connack', 'disconnect'] }]],
  [0x8d, [{ name: 'keep_alive_timeout', packets: ['disconnect'] }]],
  [0x8e, [{ name: 'session_taken_over', packets: ['disconnect'] }]],
  [0x8f, [{ name: 'topic_filter_invalid', packets: ['suback', 'unsuback', 'disconnect'] }]],
  [0x90, [{ name: 'topic_name_invalid', packets: ['connack', 'puback', 'pubrec', 'disconnect'] }]],
  [0x91, [{ name: 'packet_identifier_in_use', packets: ['puback', 'pubrec', 'suback', 'unsuback'] }]],
  [0x92, [{ name: 'packet_identifier_not_found', packets: ['pubrel', 'pubcomp'] }]],
  [0x93, [{ name: 'receive_maximum_exceeded', packets: ['disconnect'] }]],
  [0x94, [{ name: 'topic_alias_invalid', packets: ['disconnect'] }]],
  [0x95, [{ name: 'packet_too_large', packets: ['connack', 'disconnect'] }]],
  [0x96, [{ name: 'message_rate_too_high', packets: ['disconnect'] }]],
  [0x97, [{ name: 'quota_exceeded', packets: ['connack', 'puback', 'pubrec', 'suback', 'disconnect'] }]],
  [0x98, [{ name: 'administrative_action', packets: ['disconnect'] }]],
  [0x99, [{ name: 'payload_format_invalid', packets: ['connack', 'puback', 'pubrec', 'disconnect'] }]],
  [0x9a, [{ name: 'retain_not_supported', packets: ['connack', 'disconnect'] }]],
  [0x9b, [{ name: 'qos_not_supported', packets: ['connack', 'disconnect'] }]],
  [0x9c, [{ name: 'use_another_server', packets: ['connack', 'disconnect'] }]],
  [0x9d, [{ name: 'server_moved', packets: ['connack', 'disconnect'] }]],
  [0x9e, [{ name: 'shared_subscriptions_not_supported', packets: ['suback', 'disconnect'] }]],
  [0x9f, [{ name: 'connection_rate_exceeded', packets: ['connack', 'disconnect'] }]],
  [0xa0, [{ name: 'maximum_connect_time', packets: ['disconnect'] }]],
  [0xa1, [{ name: 'subscription_identifiers_not_supported', packets: ['suback', 'disconnect'] }]],
  [0xa2, [{ name: 'wildcard_subscriptions_not_supported', packets: ['suback', 'disconnect'] }]],
]);

/** Every defined reason code value, ascending. */
export const REASON_CODES: readonly number[] = [...TABLE.keys()];

/**
 * The snake_case name of a reason code (used in logs and close reasons), for the
 * meaning it has in `packet` when given; 'unknown_error' for an undefined code.
 */
export function reasonCodeName(code: number, packet?: ReasonPacket): string {
  const rows = TABLE.get(code);
  if (rows === undefined) return 'unknown_error';
  const row = packet === undefined ? rows[0] : (rows.find((r) => r.packets.includes(packet)) ?? rows[0]);
  return row?.name ?? 'unknown_error';
}

/**
 * True when table 2-6 defines `code` for `packet`. A sender must use one of its
 * packet's codes ([MQTT-3.4.2-1] for PUBACK, and alike for the others).
 */
export function isReasonCodeFor(code: number, packet: ReasonPacket): boolean {
  return TABLE.get(code)?.some((r) => r.packets.includes(packet)) ?? false;
}

/** Codes of 0x80 and above indicate failure (§2.4). */
export function isError(code: number): boolean {
  return code >= 0x80;
}

// MQTT 3.1.1 §3.2.2.3, table 3.1: the only CONNACK return codes a 3.1.1 client knows.
export const CONNACK_ACCEPTED = 0;
export const CONNACK_PROTO_VER = 1;
export const CONNACK_INVALID_ID = 2;
export const CONNACK_SERVER = 3;
export const CONNACK_CREDENTIALS = 4;
export const CONNACK_AUTH = 5;

export type ConnackReturnCode = 0 | 1 | 2 | 3 | 4 | 5;

const CONNACK_V3_NAMES = [
  'connection_accepted',
  'unacceptable_protocol_version',
  'identifier_rejected',
  'server_unavailable',
  'bad_user_name_or_password',
  'not_authorized',
] as const;

/** The snake_case name of a 3.1.1 CONNACK return code. */
export function connackReturnCodeName(code: number): string {
  return CONNACK_V3_NAMES[code] ?? 'unknown_error';
}

const CONNACK_COMPAT: ReadonlyMap<number, ConnackReturnCode> = new Map<number, ConnackReturnCode>([
  [RC_SUCCESS, CONNACK_ACCEPTED],
  [RC_UNSPECIFIED_ERROR, CONNACK_PROTO_VER],
  [RC_MALFORMED_PACKET, CONNACK_PROTO_VER],
  [RC_PROTOCOL_ERROR, CONNACK_PROTO_VER],
  [RC_IMPLEMENTATION_SPECIFIC_ERROR, CONNACK_PROTO_VER],
  [RC_UNSUPPORTED_PROTOCOL_VERSION, CONNACK_PROTO_VER],
  [RC_CLIENT_IDENTIFIER_NOT_VALID, CONNACK_INVALID_ID],
  [RC_BAD_USER_NAME_OR_PASSWORD, CONNACK_CREDENTIALS],
  [RC_NOT_AUTHORIZED, CONNACK_AUTH],
  [RC_SERVER_UNAVAILABLE, CONNACK_SERVER],
  [RC_SERVER_BUSY, CONNACK_SERVER],
  [RC_BANNED, CONNACK_AUTH],
  [RC_SERVER_SHUTTING_DOWN, CONNACK_SERVER],
  [RC_BAD_AUTHENTICATION_METHOD, CONNACK_AUTH],
  [RC_TOPIC_NAME_INVALID, CONNACK_SERVER],
  [RC_QUOTA_EXCEEDED, CONNACK_SERVER],
  [RC_USE_ANOTHER_SERVER, CONNACK_SERVER],
  [RC_SERVER_MOVED, CONNACK_SERVER],
  [RC_CONNECTION_RATE_EXCEEDED, CONNACK_SERVER],
]);

/**
 * The 3.1.1 CONNACK return code for a v5 CONNACK reason code, or undefined when no
 * 3.1.1 code applies; the server must then close the connection without a CONNACK
 * [MQTT-3.2.2-6].
 */
export function connackCompat(code: number): ConnackReturnCode | undefined {
  return CONNACK_COMPAT.get(code);
}

/**
 * The 3.1.1 SUBACK return code for a v5 SUBACK reason code: granted QoS 0..2 stay,
 * every failure becomes 0x80, the only failure code 3.1.1 has [MQTT-3.9.3-2].
 */
export function subackCompat(code: number): 0 | 1 | 2 | 0x80 {
  return code === 0 || code === 1 || code === 2 ? code : 0x80;
}
